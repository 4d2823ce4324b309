package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/storage"
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
	// Disabled true stops the user signing in on every channel and ends
	// their browser sessions and tokens at once; false lets them in again.
	Disabled *bool
	// RequireMFA true makes the user sign in with a second factor (and on
	// the password grant with a TOTP code in place of the token).
	RequireMFA *bool
	// EmailVerified marks the address verified (or not) by an
	// administrator. A new Email given without it is not verified.
	EmailVerified *bool
}

// ListFilter selects users. Query matches a substring of the username or
// the email, ignoring case.
type ListFilter = storage.UserFilter

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
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		taken, err := s.store.UsernameTaken(ctx, u.Username)
		if err != nil {
			return err
		}
		if taken {
			return ErrDuplicateUsername
		}
		token, err := s.issueToken(ctx, u.ID, func(ctx context.Context, hash string) error {
			row := u
			row.SecurityTokenHash = hash
			if err := s.store.CreateUser(ctx, &row); err != nil {
				return err
			}
			u = row
			return nil
		})
		if errors.Is(err, storage.ErrConflict) {
			return ErrDuplicateUsername // lost a race for the username
		}
		if err != nil {
			return err
		}
		if err := s.store.Audit(ctx, actor, "user.create", u.Username, fmt.Sprintf("id=%s email=%s admin=%t", u.ID, u.Email, u.Admin)); err != nil {
			return err
		}
		if err := s.sendTokenEmail(ctx, u, token, reasonCreated, ""); err != nil {
			return err
		}
		if s.opts.VerifyOnCreate {
			return s.sendVerification(ctx, u)
		}
		return nil
	})
	if err != nil {
		return models.User{}, fmt.Errorf("create user %q: %w", in.Username, err)
	}
	s.log.InfoContext(ctx, "user created", "user_id", u.ID, "username", u.Username, "actor", actor)
	return u, nil
}

// GetUser returns the user with username (case-insensitive), or ErrNotFound.
func (s *Service) GetUser(ctx context.Context, username string) (models.User, error) {
	u, err := s.store.UserByUsername(ctx, normalizeUsername(username))
	if err != nil {
		return models.User{}, fmt.Errorf("get user %q: %w", username, notFound(err))
	}
	return u, nil
}

// GetUserByID returns the user with id, or ErrNotFound.
func (s *Service) GetUserByID(ctx context.Context, id string) (models.User, error) {
	u, err := s.store.UserByID(ctx, id)
	if err != nil {
		return models.User{}, fmt.Errorf("get user by id: %w", notFound(err))
	}
	return u, nil
}

// ListUsers returns one page of users ordered by username, and the number
// of users matching f.
func (s *Service) ListUsers(ctx context.Context, f ListFilter) ([]models.User, int64, error) {
	f.Limit = clampLimit(f.Limit)
	out, total, err := s.store.ListUsers(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return out, total, nil
}

// UpdateUser changes the email, name, admin flag or disabled flag of
// username and records what changed in the audit log, all in one
// transaction: an invalid field changes nothing. Demoting or disabling the
// last administrator who can sign in is ErrLastAdmin.
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
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		admins := -1
		if up.Admin != nil && !*up.Admin || up.Disabled != nil && *up.Disabled {
			// A demotion or disabling may take the last administrator:
			// count them under their locks, before the user's own lock.
			var err error
			if admins, err = s.store.LockAdmins(ctx); err != nil {
				return err
			}
		}
		var err error
		if u, err = s.store.LockUserByUsername(ctx, username); err != nil {
			return notFound(err)
		}
		if u.Admin && !u.Disabled && admins >= 0 && admins <= 1 {
			return ErrLastAdmin
		}
		var change storage.UserChange
		var changes []string
		if up.Email != nil && *up.Email != u.Email {
			change.Email = up.Email
			changes = append(changes, fmt.Sprintf("email %s -> %s", u.Email, *up.Email))
			u.Email = *up.Email
		}
		if up.Name != nil && *up.Name != u.Name {
			change.Name = up.Name
			changes = append(changes, fmt.Sprintf("name %q -> %q", u.Name, *up.Name))
			u.Name = *up.Name
		}
		if up.Admin != nil && *up.Admin != u.Admin {
			change.Admin = up.Admin
			changes = append(changes, fmt.Sprintf("admin %t -> %t", u.Admin, *up.Admin))
			u.Admin = *up.Admin
		}
		if up.Disabled != nil && *up.Disabled != u.Disabled {
			change.Disabled = up.Disabled
			changes = append(changes, fmt.Sprintf("disabled %t -> %t", u.Disabled, *up.Disabled))
			u.Disabled = *up.Disabled
		}
		verified := up.EmailVerified
		if verified == nil && change.Email != nil && u.EmailVerified {
			no := false
			verified = &no
		}
		if verified != nil && *verified != u.EmailVerified {
			change.EmailVerified = verified
			changes = append(changes, fmt.Sprintf("email_verified %t -> %t", u.EmailVerified, *verified))
			u.EmailVerified = *verified
		}
		if up.RequireMFA != nil && *up.RequireMFA != u.RequireMFA {
			change.RequireMFA = up.RequireMFA
			changes = append(changes, fmt.Sprintf("require_mfa %t -> %t", u.RequireMFA, *up.RequireMFA))
			u.RequireMFA = *up.RequireMFA
		}
		if len(changes) == 0 {
			return nil
		}
		if err := s.store.UpdateUser(ctx, u.ID, change); err != nil {
			return err
		}
		if u, err = s.store.UserByID(ctx, u.ID); err != nil {
			return err
		}
		return s.store.Audit(ctx, actor, "user.update", u.Username, strings.Join(changes, "; "))
	})
	if err != nil {
		return models.User{}, fmt.Errorf("update user %q: %w", username, err)
	}
	return u, nil
}

// DeleteUser removes username together with its browser sessions,
// consents and every OAuth token issued to it (storage.Store.DeleteUser),
// and records it in the audit log, in one transaction. The token history
// stays, so its tokens are never issued again, and so does the login
// history.
func (s *Service) DeleteUser(ctx context.Context, actor, username string) error {
	username = normalizeUsername(username)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		admins, err := s.store.LockAdmins(ctx)
		if err != nil {
			return err
		}
		u, err := s.store.LockUserByUsername(ctx, username)
		if err != nil {
			return notFound(err)
		}
		if u.Admin && !u.Disabled && admins <= 1 {
			return ErrLastAdmin
		}
		if err := s.store.DeleteUser(ctx, u.ID); err != nil {
			return notFound(err)
		}
		return s.store.Audit(ctx, actor, "user.delete", u.Username, "id="+u.ID)
	})
	if err != nil {
		return fmt.Errorf("delete user %q: %w", username, err)
	}
	s.log.InfoContext(ctx, "user deleted", "username", username, "actor", actor)
	return nil
}

// SetPassword sets the password of username (the admin API, CLI and
// console path), ends every browser session of the user, regenerates the
// security token and emails it with reason "password changed", all in one
// transaction.
func (s *Service) SetPassword(ctx context.Context, actor, username, newPassword string) error {
	username = normalizeUsername(username)
	if err := validatePassword(newPassword); err != nil {
		return err
	}
	if err := s.changePassword(ctx, actor, "username", username, newPassword, "user.password.set", ""); err != nil {
		return fmt.Errorf("set password of %q: %w", username, err)
	}
	return nil
}

// ChangeOwnPassword is the self-service change: it verifies current first
// (ErrBadCredentials if wrong, counted on the login channel; ErrLocked while
// that channel is locked), then sets newPassword, ends every browser
// session of the user but exceptSession (the hash of the session making
// the change; empty ends them all), regenerates the security token and
// emails it with reason "password changed".
func (s *Service) ChangeOwnPassword(ctx context.Context, userID, exceptSession, current, newPassword string) error {
	if err := validatePassword(newPassword); err != nil {
		return err
	}
	u, err := s.checkCurrentPassword(ctx, userID, current)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if err := s.changePassword(ctx, UserActor(u.Username), "id", u.ID, newPassword, "user.password.change", exceptSession); err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}

// changePassword hashes pw and, in one transaction, stores it, ends the
// user's browser sessions but exceptSession and the password-reset links
// sent before, and writes a new security token, the audit entry and the
// token email. also run in the transaction, under the user's row lock,
// before the change (a reset link is used there).
func (s *Service) changePassword(ctx context.Context, actor, column, value, pw, action, exceptSession string, also ...func(ctx context.Context, u models.User) error) error {
	pwHash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return err
	}
	return s.store.InTx(ctx, func(ctx context.Context) error {
		var u models.User
		var err error
		if column == "id" {
			u, err = s.store.LockUserByID(ctx, value)
		} else {
			u, err = s.store.LockUserByUsername(ctx, value)
		}
		if err != nil {
			return notFound(err)
		}
		for _, f := range also {
			if err := f(ctx, u); err != nil {
				return err
			}
		}
		now := s.now()
		if err := s.store.SetPassword(ctx, u.ID, pwHash, now, exceptSession); err != nil {
			return notFound(err)
		}
		if _, err := s.store.EndEmailTokens(ctx, u.ID, PurposeReset, now); err != nil {
			return err
		}
		u.PasswordHash, u.PasswordChangedAt = pwHash, now
		token, err := s.setToken(ctx, &u)
		if err != nil {
			return err
		}
		if err := s.store.Audit(ctx, actor, action, u.Username, "password changed; security token regenerated"); err != nil {
			return err
		}
		note, err := s.appPasswordsAfterChange(ctx, actor, u, now)
		if err != nil {
			return err
		}
		return s.sendTokenEmail(ctx, u, token, reasonPasswordChanged, note)
	})
}

// appPasswordsAfterChange applies the app-password policy of a password
// change to u, in the transaction in ctx, and returns the paragraph the
// token email adds about them (empty when u has none). By default app
// passwords survive a password change (each serves one integration, which
// should not break when the password changes) and the email lists them
// for review; with Options.RevokeAppPasswordsOnPasswordChange they are
// revoked, with an audit entry.
func (s *Service) appPasswordsAfterChange(ctx context.Context, actor string, u models.User, now time.Time) (string, error) {
	active, err := s.store.ActiveAppPasswords(ctx, u.ID, now)
	if err != nil || len(active) == 0 {
		return "", err
	}
	review := ""
	if s.opts.AccountURL != "" {
		review = " Review them at " + s.opts.AccountURL + "/app-passwords"
	}
	var b strings.Builder
	if s.opts.RevokeAppPasswordsOnPasswordChange {
		n, err := s.store.RevokeUserAppPasswords(ctx, u.ID, now)
		if err != nil {
			return "", err
		}
		if err := s.store.Audit(ctx, actor, "app_password.revoke_all", u.Username,
			fmt.Sprintf("revoked=%d reason=password change", n)); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "Your organisation's policy revokes app passwords when the password changes: these %d app passwords no longer work, and the applications that used them must get new ones:\n", len(active))
	} else {
		b.WriteString("Your app passwords keep working after a password change. These are active; revoke any you do not recognise or no longer need:\n")
	}
	for _, p := range active {
		fmt.Fprintf(&b, "- %s\n", oneLine(p.Name))
	}
	if review != "" {
		b.WriteString(strings.TrimSpace(review) + "\n")
	}
	return b.String(), nil
}

// ResetToken gives username a new security token at once (the old one
// stops matching when the transaction commits) and emails it with reason
// "reset by the user" or "reset by an administrator". A reset beyond the
// limits (TokenResetInterval for the user's own, TokenResetsPerDay for
// all) changes nothing and returns an error wrapping ErrTooManyResets.
func (s *Service) ResetToken(ctx context.Context, actor, username string, byUser bool) error {
	username = normalizeUsername(username)
	reason := reasonResetByAdmin
	if byUser {
		reason = reasonResetByUser
	}
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		u, err := s.store.LockUserByUsername(ctx, username)
		if err != nil {
			return notFound(err)
		}
		if err := s.checkResetLimit(ctx, u.ID, byUser); err != nil {
			return err
		}
		token, err := s.setToken(ctx, &u)
		if err != nil {
			return err
		}
		if err := s.store.Audit(ctx, actor, "user.token.reset", u.Username, "security token "+reason); err != nil {
			return err
		}
		return s.sendTokenEmail(ctx, u, token, reason, "")
	})
	if err != nil {
		return fmt.Errorf("reset security token of %q: %w", username, err)
	}
	return nil
}

// Unlock clears the failure counters and lockouts of both channels.
func (s *Service) Unlock(ctx context.Context, actor, username string) error {
	username = normalizeUsername(username)
	err := s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.store.UnlockUser(ctx, username); err != nil {
			return notFound(err)
		}
		return s.store.Audit(ctx, actor, "user.unlock", username, "cleared legacy and login lockouts")
	})
	if err == nil {
		err = s.store.ClearAttempts(ctx, username)
	}
	if err != nil {
		return fmt.Errorf("unlock %q: %w", username, err)
	}
	return nil
}
