package storage

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/authgate/authgate/models"
)

// UserByUsername returns the user with exactly this (canonical, lower-case)
// username, or ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (models.User, error) {
	var u models.User
	err := s.conn(ctx).Where("username = ?", username).Take(&u).Error
	return u, mapErr(err)
}

// UserByID returns the user with id, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (models.User, error) {
	var u models.User
	err := s.conn(ctx).Where("id = ?", id).Take(&u).Error
	return u, mapErr(err)
}

// LockUserByUsername is UserByUsername holding the row's lock until the
// transaction in ctx ends (on SQLite the transaction already holds the
// write lock).
func (s *Store) LockUserByUsername(ctx context.Context, username string) (models.User, error) {
	return s.lockUser(ctx, "username", username)
}

// LockUserByID is UserByID holding the row's lock until the transaction in
// ctx ends.
func (s *Store) LockUserByID(ctx context.Context, id string) (models.User, error) {
	return s.lockUser(ctx, "id", id)
}

// LockAdmins locks every administrator's row until the transaction in ctx
// ends and returns how many administrators there are that are not
// disabled (those who can sign in). A change that could leave none
// (deleting, demoting or disabling an administrator) takes it before any
// other user row, so two such changes run one after the other and the
// second sees the first.
func (s *Store) LockAdmins(ctx context.Context) (int, error) {
	var rows []struct {
		ID       string
		Disabled bool
	}
	err := s.conn(ctx).Model(&models.User{}).Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("admin = ?", true).Order("id").Select("id", "disabled").Find(&rows).Error
	n := 0
	for _, r := range rows {
		if !r.Disabled {
			n++
		}
	}
	return n, mapErr(err)
}

func (s *Store) lockUser(ctx context.Context, column, value string) (models.User, error) {
	var u models.User
	err := s.conn(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Where(column+" = ?", value).Take(&u).Error
	return u, mapErr(err)
}

// UsernameTaken reports whether a user has username.
func (s *Store) UsernameTaken(ctx context.Context, username string) (bool, error) {
	var n int64
	err := s.conn(ctx).Model(&models.User{}).Where("username = ?", username).Count(&n).Error
	return n > 0, err
}

// UserFilter selects users. Query matches a substring of the username or
// the email, ignoring case.
type UserFilter struct {
	Query  string
	Limit  int
	Offset int
}

// likePattern escapes s for LIKE ... ESCAPE '\' and wraps it in %.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// ListUsers returns one page of users ordered by username, and the number
// of users matching f.
func (s *Store) ListUsers(ctx context.Context, f UserFilter) ([]models.User, int64, error) {
	q := s.conn(ctx).Model(&models.User{})
	if f.Query != "" {
		p := likePattern(f.Query)
		q = q.Where(`(LOWER(username) LIKE ? ESCAPE '\' OR LOWER(email) LIKE ? ESCAPE '\')`, p, p)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []models.User
	if err := q.Order("username").Limit(f.Limit).Offset(max(f.Offset, 0)).Find(&out).Error; err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// UsersByEmail returns at most limit users whose address is email
// (ignoring case), ordered by username.
func (s *Store) UsersByEmail(ctx context.Context, email string, limit int) ([]models.User, error) {
	var out []models.User
	err := s.conn(ctx).Where("LOWER(email) = ?", strings.ToLower(email)).Order("username").Limit(limit).Find(&out).Error
	return out, err
}

// UsersByID returns the users among ids that exist, in no order.
func (s *Store) UsersByID(ctx context.Context, ids []string) ([]models.User, error) {
	var out []models.User
	if len(ids) == 0 {
		return out, nil
	}
	err := s.conn(ctx).Where("id IN ?", ids).Find(&out).Error
	return out, err
}

// CreateUser stores u. A username or security token another user holds is
// ErrConflict; the statement runs in a savepoint, so the transaction in
// ctx survives it.
func (s *Store) CreateUser(ctx context.Context, u *models.User) error {
	return s.savepoint(ctx, func(db *gorm.DB) error { return db.Create(u).Error })
}

// UserChange lists the columns of a user to change; nil fields stay.
type UserChange struct {
	Email *string
	Name  *string
	Admin *bool
	// Disabled set to true also ends the user's browser sessions, revokes
	// their app passwords and deletes every OAuth token issued to them, in
	// the same transaction.
	Disabled          *bool
	RequireMFA        *bool
	EmailVerified     *bool
	SecurityTokenHash *string
	TokenIssuedAt     *time.Time
}

// UpdateUser changes the columns set in c of the user with id: ErrNotFound
// if there is none, ErrConflict if the security token is another user's
// (in a savepoint, so the transaction in ctx survives it).
func (s *Store) UpdateUser(ctx context.Context, id string, c UserChange) error {
	fields := map[string]any{}
	if c.Email != nil {
		fields["email"] = *c.Email
	}
	if c.Name != nil {
		fields["name"] = *c.Name
	}
	if c.Admin != nil {
		fields["admin"] = *c.Admin
	}
	if c.Disabled != nil {
		fields["disabled"] = *c.Disabled
	}
	if c.RequireMFA != nil {
		fields["require_mfa"] = *c.RequireMFA
	}
	if c.EmailVerified != nil {
		fields["email_verified"] = *c.EmailVerified
	}
	if c.SecurityTokenHash != nil {
		fields["security_token_hash"] = *c.SecurityTokenHash
	}
	if c.TokenIssuedAt != nil {
		fields["token_issued_at"] = c.TokenIssuedAt.UTC()
	}
	if len(fields) == 0 {
		return nil
	}
	update := func(db *gorm.DB) error {
		res := db.Model(&models.User{}).Where("id = ?", id).Updates(fields)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return gorm.ErrRecordNotFound
		}
		return nil
	}
	if c.Disabled == nil || !*c.Disabled {
		return s.savepoint(ctx, update)
	}
	// Disabling ends the user's access in the same transaction (which a
	// conflict then rolls back whole).
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.savepoint(ctx, update); err != nil {
			return err
		}
		return s.endUserAccess(ctx, id)
	})
}

// endUserAccess ends the browser sessions of the user with id (with the
// logout cascade: the clients they signed in to are told), revokes their
// app passwords and deletes every OAuth request (code, token, refresh
// token, PKCE, OpenID session) issued to them.
func (s *Store) endUserAccess(ctx context.Context, id string) error {
	if _, err := s.endSessions(ctx, time.Now(), "user_id = ?", id); err != nil {
		return err
	}
	if _, err := s.RevokeUserAppPasswords(ctx, id, time.Now()); err != nil {
		return err
	}
	return bySubject(s.conn(ctx), id).Delete(&models.OAuthRequest{}).Error
}

// SetPassword stores a new password hash for the user with id and, in the
// same transaction, ends every browser session of that user except the one
// whose hash is exceptSession (the session making the change; empty ends
// them all). ErrNotFound if there is no such user.
func (s *Store) SetPassword(ctx context.Context, id, passwordHash string, at time.Time, exceptSession string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		db := s.conn(ctx)
		res := db.Model(&models.User{}).Where("id = ?", id).
			Updates(map[string]any{"password_hash": passwordHash, "password_changed_at": at.UTC()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		_, err := s.endSessions(ctx, at, "user_id = ? AND id_hash <> ?", id, exceptSession)
		return err
	})
}

// DeleteUser removes the user with id and, in the same transaction, their
// browser sessions, consents, TOTP factor, recovery codes, app passwords,
// email links
// and every OAuth request (code, token, refresh token, PKCE and OpenID
// session) issued to them. The security token
// history stays, so that no token is issued twice, and so does the login
// history. ErrNotFound if there is no such user.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.DeleteUserSessions(ctx, id); err != nil {
			return err
		}
		if err := s.DeleteUserConsents(ctx, id); err != nil {
			return err
		}
		if _, err := s.DeleteUserWebAuthnCredentials(ctx, id); err != nil {
			return err
		}
		if _, err := s.DeleteTOTP(ctx, id); err != nil {
			return err
		}
		db := s.conn(ctx)
		if err := bySubject(db, id).Delete(&models.OAuthRequest{}).Error; err != nil {
			return err
		}
		if err := db.Where("user_id = ?", id).Delete(&models.LegacyNotice{}).Error; err != nil {
			return err
		}
		if err := db.Where("user_id = ?", id).Delete(&models.DeviceCode{}).Error; err != nil {
			return err
		}
		if err := db.Where("user_id = ?", id).Delete(&models.AppPassword{}).Error; err != nil {
			return err
		}
		if err := db.Where("user_id = ?", id).Delete(&models.EmailToken{}).Error; err != nil {
			return err
		}
		res := db.Where("id = ?", id).Delete(&models.User{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// UnlockUser clears the failure counters and lockouts of both channels of
// the user with username; ErrNotFound if there is none.
func (s *Store) UnlockUser(ctx context.Context, username string) error {
	res := s.conn(ctx).Model(&models.User{}).Where("username = ?", username).Updates(map[string]any{
		"legacy_failures": 0, "legacy_locked_until": nil,
		"login_failures": 0, "login_locked_until": nil,
	})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// TokenHashIssued reports whether hash was ever issued as a security
// token, to anyone.
func (s *Store) TokenHashIssued(ctx context.Context, hash string) (bool, error) {
	var n int64
	err := s.conn(ctx).Model(&models.SecurityTokenHistory{}).Where("hash = ?", hash).Count(&n).Error
	return n > 0, err
}

// TokenHashHeld reports whether a user currently holds hash as their
// security token.
func (s *Store) TokenHashHeld(ctx context.Context, hash string) (bool, error) {
	var n int64
	err := s.conn(ctx).Model(&models.User{}).Where("security_token_hash = ?", hash).Count(&n).Error
	return n > 0, err
}

// RecordTokenHash adds hash to the security token history of userID:
// ErrConflict if it was issued before (in a savepoint, so the transaction
// in ctx survives it). The history is never pruned by user deletion.
func (s *Store) RecordTokenHash(ctx context.Context, hash, userID string, at time.Time) error {
	return s.savepoint(ctx, func(db *gorm.DB) error {
		return db.Create(&models.SecurityTokenHistory{Hash: hash, UserID: userID, CreatedAt: at.UTC()}).Error
	})
}

// TokenReissuesSince returns when the security tokens issued to userID at
// or after since were issued, oldest first, leaving out the user's first
// token (the one the account was created with). Read after the user's row
// lock (LockUserByID), the answer holds until the transaction ends, on every
// replica.
func (s *Store) TokenReissuesSince(ctx context.Context, userID string, since time.Time) ([]time.Time, error) {
	first := s.conn(ctx).Model(&models.SecurityTokenHistory{}).Select("hash").
		Where("user_id = ?", userID).Order("created_at, hash").Limit(1)
	var out []time.Time
	err := s.conn(ctx).Model(&models.SecurityTokenHistory{}).
		Where("user_id = ? AND created_at >= ? AND hash <> (?)", userID, since.UTC(), first).
		Order("created_at").Pluck("created_at", &out).Error
	if err != nil {
		return nil, fmt.Errorf("token reissues: %w", err)
	}
	return out, nil
}

// TokenHistory returns the security token hashes issued to userID, oldest
// first.
func (s *Store) TokenHistory(ctx context.Context, userID string) ([]models.SecurityTokenHistory, error) {
	var out []models.SecurityTokenHistory
	err := s.conn(ctx).Where("user_id = ?", userID).Order("created_at, hash").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("token history: %w", err)
	}
	return out, nil
}
