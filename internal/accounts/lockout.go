package accounts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/models"
)

// Channel names a failure counter. The legacy password grant and the login
// page count separately, so that failures on one never lock the other.
type Channel int

const (
	// ChannelLegacy counts failures of the legacy password grant.
	ChannelLegacy Channel = iota + 1
	// ChannelLogin counts failures of the login page.
	ChannelLogin
)

func (c Channel) String() string {
	switch c {
	case ChannelLegacy:
		return "legacy"
	case ChannelLogin:
		return "login"
	default:
		return fmt.Sprintf("Channel(%d)", int(c))
	}
}

// columns returns the users columns that hold c's counter and lock.
func (c Channel) columns() (failures, lockedUntil string, err error) {
	switch c {
	case ChannelLegacy:
		return "legacy_failures", "legacy_locked_until", nil
	case ChannelLogin:
		return "login_failures", "login_locked_until", nil
	default:
		return "", "", fmt.Errorf("unknown channel %d", int(c))
	}
}

func (c Channel) state(u models.User) (failures int, lockedUntil *time.Time) {
	switch c {
	case ChannelLegacy:
		return u.LegacyFailures, u.LegacyLockedUntil
	case ChannelLogin:
		return u.LoginFailures, u.LoginLockedUntil
	default:
		return 0, nil
	}
}

// IsLocked reports whether channel ch of u is locked now. An unknown
// channel counts as locked, so a mistake fails closed.
func (s *Service) IsLocked(u models.User, ch Channel) bool {
	if _, _, err := ch.columns(); err != nil {
		return true
	}
	_, until := ch.state(u)
	return until != nil && s.now().Before(*until)
}

// RecordFailure counts one failure on channel ch of the user with userID.
// The counter is incremented atomically in the database; once it reaches
// the threshold the channel locks for the lockout duration and lockedNow is
// true. A failure after an expired lock starts a fresh count.
func (s *Service) RecordFailure(ctx context.Context, userID string, ch Channel) (lockedNow bool, err error) {
	fcol, lcol, err := ch.columns()
	if err != nil {
		return false, err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		// The UPDATE takes the row lock, so the read below and the lock
		// decision see no concurrent change.
		res := tx.Model(&models.User{}).Where("id = ?", userID).
			UpdateColumn(fcol, gorm.Expr(fcol+" + 1"))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		var u models.User
		if err := tx.Where("id = ?", userID).Take(&u).Error; err != nil {
			return err
		}
		failures, until := ch.state(u)
		fields := map[string]any{}
		if until != nil && !now.Before(*until) {
			// The previous lock has run out: this failure is the first of a new count.
			failures = 1
			until = nil
			fields[fcol] = 1
			fields[lcol] = nil
		}
		if until == nil && failures >= s.opts.LockoutThreshold {
			fields[lcol] = now.Add(s.opts.LockoutDuration)
			lockedNow = true
		}
		if len(fields) == 0 {
			return nil
		}
		return tx.Model(&models.User{}).Where("id = ?", userID).UpdateColumns(fields).Error
	})
	if err != nil {
		return false, fmt.Errorf("record %s failure: %w", ch, err)
	}
	if lockedNow {
		s.log.WarnContext(ctx, "account locked after repeated failures", "user_id", userID, "channel", ch.String(),
			"duration", s.opts.LockoutDuration.String())
	}
	return lockedNow, nil
}

// RecordSuccess resets the failure counter of channel ch. It never lifts a
// lock that is still running; only Unlock does that.
func (s *Service) RecordSuccess(ctx context.Context, userID string, ch Channel) error {
	fcol, lcol, err := ch.columns()
	if err != nil {
		return err
	}
	res := s.db.WithContext(ctx).Model(&models.User{}).
		Where("id = ?", userID).
		Where("("+lcol+" IS NULL OR "+lcol+" <= ?)", s.now()).
		UpdateColumns(map[string]any{fcol: 0, lcol: nil})
	if res.Error != nil {
		return fmt.Errorf("record %s success: %w", ch, res.Error)
	}
	return nil
}

// VerifyPassword checks pw against u's password hash. It returns nil on a
// match and ErrBadCredentials on a mismatch; any other error (the context
// ended while hashing was saturated) means no decision was made and must
// not count as a failure.
func (s *Service) VerifyPassword(ctx context.Context, u models.User, pw string) error {
	if len(pw) > maxPassword {
		// No stored password can be this long; don't spend a hash on it.
		return ErrBadCredentials
	}
	err := s.hasher.Verify(ctx, u.PasswordHash, pw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, password.ErrMismatch):
		return ErrBadCredentials
	case errors.Is(err, password.ErrMalformedHash):
		s.log.ErrorContext(ctx, "stored password hash is malformed", "user_id", u.ID)
		return ErrBadCredentials
	default:
		return fmt.Errorf("verify password: %w", err)
	}
}

// VerifyDummy spends the time of one password verification. Call it for an
// unknown user so that timing does not tell which usernames exist.
func (s *Service) VerifyDummy(ctx context.Context, pw string) {
	if len(pw) > maxPassword {
		pw = pw[:maxPassword]
	}
	_ = s.hasher.VerifyDummy(ctx, pw)
}

// LoginMeta describes where a login attempt came from.
type LoginMeta struct {
	SourceIP  string
	UserAgent string
	ClientID  string
}

// AuthenticateLogin is the login page's check of username and pw. It
// returns ErrBadCredentials for an unknown user or a wrong password and
// ErrLocked while the login channel is locked (both, when this failure
// locked it). Every decided attempt is written to the login history with
// Method "login_page".
func (s *Service) AuthenticateLogin(ctx context.Context, username, pw string, meta LoginMeta) (models.User, error) {
	event := models.LoginEvent{
		Username:  normalizeUsername(username),
		ClientID:  meta.ClientID,
		SourceIP:  meta.SourceIP,
		UserAgent: meta.UserAgent,
		Method:    MethodLoginPage,
	}
	record := func(result string, authErr error) error {
		event.Result = result
		if err := s.RecordLogin(ctx, event); err != nil {
			return fmt.Errorf("authenticate: %w", err)
		}
		return authErr
	}

	u, err := s.GetUser(ctx, username)
	if errors.Is(err, ErrNotFound) {
		s.VerifyDummy(ctx, pw)
		return models.User{}, record(ResultUnknownUser, ErrBadCredentials)
	}
	if err != nil {
		return models.User{}, fmt.Errorf("authenticate: %w", err)
	}
	event.UserID, event.Username = u.ID, u.Username

	if s.IsLocked(u, ChannelLogin) {
		return models.User{}, record(ResultLockout, ErrLocked)
	}
	if err := s.VerifyPassword(ctx, u, pw); err != nil {
		if !errors.Is(err, ErrBadCredentials) {
			return models.User{}, fmt.Errorf("authenticate: %w", err)
		}
		lockedNow, ferr := s.RecordFailure(ctx, u.ID, ChannelLogin)
		if ferr != nil {
			return models.User{}, fmt.Errorf("authenticate: %w", ferr)
		}
		if lockedNow {
			return models.User{}, record(ResultInvalidPassword, fmt.Errorf("%w; %w", ErrBadCredentials, ErrLocked))
		}
		return models.User{}, record(ResultInvalidPassword, ErrBadCredentials)
	}
	if err := s.RecordSuccess(ctx, u.ID, ChannelLogin); err != nil {
		return models.User{}, fmt.Errorf("authenticate: %w", err)
	}
	u.LoginFailures, u.LoginLockedUntil = 0, nil
	if err := record(ResultSuccess, nil); err != nil {
		return models.User{}, err
	}
	return u, nil
}
