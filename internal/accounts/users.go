package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/authgate/authgate/internal/audit"
	"github.com/authgate/authgate/models"
)

// NewUser is the input to CreateUser.
type NewUser struct {
	Username string
	Email    string
	Name     string
	Password string
	Admin    bool
}

// UserUpdate changes the fields that are not nil.
type UserUpdate struct {
	Email *string
	Name  *string
	Admin *bool
}

// ListFilter selects users. Query matches a substring of the username or
// the email, ignoring case.
type ListFilter struct {
	Query  string
	Limit  int
	Offset int
}

// Page sizes for listings.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

func clampLimit(limit int) int {
	if limit <= 0 {
		return defaultLimit
	}
	return min(limit, maxLimit)
}

// CreateUser validates in, hashes the password and, in one transaction,
// stores the user with a fresh security token, writes the audit entry and
// enqueues the token email (reason "account created"). The username is
// stored in lower case.
func (s *Service) CreateUser(ctx context.Context, actor string, in NewUser) (models.User, error) {
	in.Username = normalizeUsername(in.Username)
	for _, err := range []error{validateUsername(in.Username), validateEmail(in.Email), validateName(in.Name), validatePassword(in.Password)} {
		if err != nil {
			return models.User{}, err
		}
	}
	id, err := newID()
	if err != nil {
		return models.User{}, err
	}
	// Hash before the transaction: argon2id is slow and SQLite has one writer.
	pwHash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return models.User{}, fmt.Errorf("create user: %w", err)
	}
	now := s.now()
	u := models.User{
		ID:                id,
		Username:          in.Username,
		Email:             in.Email,
		Name:              in.Name,
		PasswordHash:      pwHash,
		Admin:             in.Admin,
		TokenIssuedAt:     now,
		PasswordChangedAt: now,
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var taken int64
		if err := tx.Model(&models.User{}).Where("username = ?", u.Username).Count(&taken).Error; err != nil {
			return err
		}
		if taken > 0 {
			return ErrDuplicateUsername
		}
		token, err := s.issueToken(ctx, tx, u.ID, func(sp *gorm.DB, hash string) error {
			row := u
			row.SecurityTokenHash = hash
			if err := sp.Create(&row).Error; err != nil {
				return err
			}
			u = row
			return nil
		})
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return ErrDuplicateUsername // lost a race for the username
		}
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, actor, "user.create", u.Username, fmt.Sprintf("id=%s email=%s admin=%t", u.ID, u.Email, u.Admin)); err != nil {
			return err
		}
		return s.sendTokenEmail(ctx, tx, u, token, reasonCreated)
	})
	if err != nil {
		return models.User{}, fmt.Errorf("create user %q: %w", in.Username, err)
	}
	s.log.InfoContext(ctx, "user created", "user_id", u.ID, "username", u.Username, "actor", actor)
	return u, nil
}

// GetUser returns the user with username (case-insensitive), or ErrNotFound.
func (s *Service) GetUser(ctx context.Context, username string) (models.User, error) {
	var u models.User
	err := s.db.WithContext(ctx).Where("username = ?", normalizeUsername(username)).Take(&u).Error
	if err != nil {
		return models.User{}, fmt.Errorf("get user %q: %w", username, notFound(err))
	}
	return u, nil
}

// GetUserByID returns the user with id, or ErrNotFound.
func (s *Service) GetUserByID(ctx context.Context, id string) (models.User, error) {
	var u models.User
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&u).Error; err != nil {
		return models.User{}, fmt.Errorf("get user by id: %w", notFound(err))
	}
	return u, nil
}

// likePattern escapes s for LIKE ... ESCAPE '\' and wraps it in %.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// ListUsers returns one page of users ordered by username, and the number
// of users matching f.
func (s *Service) ListUsers(ctx context.Context, f ListFilter) ([]models.User, int64, error) {
	q := s.db.WithContext(ctx).Model(&models.User{})
	if f.Query != "" {
		p := likePattern(f.Query)
		q = q.Where(`(LOWER(username) LIKE ? ESCAPE '\' OR LOWER(email) LIKE ? ESCAPE '\')`, p, p)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	var out []models.User
	err := q.Order("username").Limit(clampLimit(f.Limit)).Offset(max(f.Offset, 0)).Find(&out).Error
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return out, total, nil
}

// lockedUser reads the user whose column equals value inside tx, holding its row lock
// on PostgreSQL (SQLite transactions already hold the write lock).
func lockedUser(ctx context.Context, tx *gorm.DB, column, value string) (models.User, error) {
	var u models.User
	err := tx.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Where(column+" = ?", value).Take(&u).Error
	return u, notFound(err)
}

// UpdateUser changes the email, name or admin flag of username and records
// what changed in the audit log.
func (s *Service) UpdateUser(ctx context.Context, actor, username string, up UserUpdate) (models.User, error) {
	username = normalizeUsername(username)
	if up.Email != nil {
		if err := validateEmail(*up.Email); err != nil {
			return models.User{}, err
		}
	}
	if up.Name != nil {
		if err := validateName(*up.Name); err != nil {
			return models.User{}, err
		}
	}
	var u models.User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if u, err = lockedUser(ctx, tx, "username", username); err != nil {
			return err
		}
		fields := map[string]any{}
		var changes []string
		if up.Email != nil && *up.Email != u.Email {
			fields["email"] = *up.Email
			changes = append(changes, fmt.Sprintf("email %s -> %s", u.Email, *up.Email))
			u.Email = *up.Email
		}
		if up.Name != nil && *up.Name != u.Name {
			fields["name"] = *up.Name
			changes = append(changes, fmt.Sprintf("name %q -> %q", u.Name, *up.Name))
			u.Name = *up.Name
		}
		if up.Admin != nil && *up.Admin != u.Admin {
			fields["admin"] = *up.Admin
			changes = append(changes, fmt.Sprintf("admin %t -> %t", u.Admin, *up.Admin))
			u.Admin = *up.Admin
		}
		if len(fields) == 0 {
			return nil
		}
		if err := tx.Model(&models.User{}).Where("id = ?", u.ID).Updates(fields).Error; err != nil {
			return err
		}
		if err := tx.Where("id = ?", u.ID).Take(&u).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "user.update", u.Username, strings.Join(changes, "; "))
	})
	if err != nil {
		return models.User{}, fmt.Errorf("update user %q: %w", username, err)
	}
	return u, nil
}

// DeleteUser removes username together with its browser sessions,
// consents and every OAuth token issued to it. The token history stays, so its tokens are never issued again,
// and so does the login history.
func (s *Service) DeleteUser(ctx context.Context, actor, username string) error {
	username = normalizeUsername(username)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		u, err := lockedUser(ctx, tx, "username", username)
		if err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", u.ID).Delete(&models.LoginSession{}).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", u.ID).Delete(&models.Consent{}).Error; err != nil {
			return err
		}
		if err := tx.Where("subject = ?", u.ID).Delete(&models.OAuthRequest{}).Error; err != nil {
			return err
		}
		if err := tx.Where("id = ?", u.ID).Delete(&models.User{}).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "user.delete", u.Username, "id="+u.ID)
	})
	if err != nil {
		return fmt.Errorf("delete user %q: %w", username, err)
	}
	s.log.InfoContext(ctx, "user deleted", "username", username, "actor", actor)
	return nil
}

// SetPassword sets the password of username (the admin and CLI path),
// regenerates the security token and emails it with reason
// "password changed".
func (s *Service) SetPassword(ctx context.Context, actor, username, newPassword string) error {
	username = normalizeUsername(username)
	if err := validatePassword(newPassword); err != nil {
		return err
	}
	if err := s.changePassword(ctx, actor, "username", username, newPassword, "user.password.set"); err != nil {
		return fmt.Errorf("set password of %q: %w", username, err)
	}
	return nil
}

// ChangeOwnPassword is the self-service change: it verifies current first
// (ErrBadCredentials if wrong, counted on the login channel; ErrLocked while
// that channel is locked), then sets newPassword, regenerates the security
// token and emails it with reason "password changed".
func (s *Service) ChangeOwnPassword(ctx context.Context, userID, current, newPassword string) error {
	if err := validatePassword(newPassword); err != nil {
		return err
	}
	u, err := s.checkCurrentPassword(ctx, userID, current)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if err := s.changePassword(ctx, u.Username, "id", u.ID, newPassword, "user.password.change"); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}

// changePassword hashes pw and, in one transaction, stores it with a new
// security token, the audit entry and the token email.
func (s *Service) changePassword(ctx context.Context, actor, column, value, pw, action string) error {
	pwHash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		u, err := lockedUser(ctx, tx, column, value)
		if err != nil {
			return err
		}
		now := s.now()
		token, err := s.setToken(ctx, tx, &u, map[string]any{"password_hash": pwHash, "password_changed_at": now})
		if err != nil {
			return err
		}
		u.PasswordHash, u.PasswordChangedAt = pwHash, now
		if err := audit.Record(ctx, tx, actor, action, u.Username, "password changed; security token regenerated"); err != nil {
			return err
		}
		return s.sendTokenEmail(ctx, tx, u, token, reasonPasswordChanged)
	})
}

// ResetToken gives username a new security token at once (the old one
// stops matching when the transaction commits) and emails it with reason
// "reset by the user" or "reset by an administrator".
func (s *Service) ResetToken(ctx context.Context, actor, username string, byUser bool) error {
	username = normalizeUsername(username)
	reason := reasonResetByAdmin
	if byUser {
		reason = reasonResetByUser
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		u, err := lockedUser(ctx, tx, "username", username)
		if err != nil {
			return err
		}
		token, err := s.setToken(ctx, tx, &u, nil)
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, actor, "user.token.reset", u.Username, "security token "+reason); err != nil {
			return err
		}
		return s.sendTokenEmail(ctx, tx, u, token, reason)
	})
	if err != nil {
		return fmt.Errorf("reset security token of %q: %w", username, err)
	}
	return nil
}

// Unlock clears the failure counters and lockouts of both channels.
func (s *Service) Unlock(ctx context.Context, actor, username string) error {
	username = normalizeUsername(username)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&models.User{}).Where("username = ?", username).Updates(map[string]any{
			"legacy_failures": 0, "legacy_locked_until": nil,
			"login_failures": 0, "login_locked_until": nil,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return audit.Record(ctx, tx, actor, "user.unlock", username, "cleared legacy and login lockouts")
	})
	if err == nil {
		err = s.store.ClearAttempts(ctx, username)
	}
	if err != nil {
		return fmt.Errorf("unlock %q: %w", username, err)
	}
	return nil
}
