package accounts

import (
	"context"
	"errors"
	"fmt"

	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/storage"
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

func (c Channel) String() string { return c.counter().String() }

func (c Channel) counter() storage.Counter {
	switch c {
	case ChannelLegacy:
		return storage.CounterLegacy
	case ChannelLogin:
		return storage.CounterLogin
	default:
		return storage.Counter(0)
	}
}

// IsLocked reports whether channel ch of u is locked now for at least one
// source (attempts from other sources may still be admitted). An unknown
// channel counts as locked, so a mistake fails closed.
func (s *Service) IsLocked(u models.User, ch Channel) bool {
	switch ch {
	case ChannelLegacy:
		return u.LegacyLockedUntil != nil && s.now().Before(*u.LegacyLockedUntil)
	case ChannelLogin:
		return u.LoginLockedUntil != nil && s.now().Before(*u.LoginLockedUntil)
	default:
		return true
	}
}

// RecordFailure counts one failed attempt of unknown source on channel ch
// of the user with userID, as the sign-in core does for an attempt it
// reserves and that then fails; lockedNow is true when it reached the
// threshold and locked the channel for that source. While the channel is
// locked it counts nothing.
func (s *Service) RecordFailure(ctx context.Context, userID string, ch Channel) (lockedNow bool, err error) {
	if _, err := s.GetUserByID(ctx, userID); err != nil {
		return false, fmt.Errorf("record %s failure: %w", ch, err)
	}
	r, err := s.store.ReserveAttempt(ctx, userID, ch.counter(), "", s.lockout, s.now())
	if err != nil || !r.Granted {
		return false, err
	}
	return s.store.FailAttempt(ctx, r, s.lockout, s.now())
}

// VerifyPassword checks pw against u's password hash. It returns nil on a
// match and ErrBadCredentials on a mismatch. It decides no sign-in (no
// counting, no history): attempts go through Attempt.
func (s *Service) VerifyPassword(ctx context.Context, u models.User, pw string) error {
	if len(pw) > maxPassword {
		return ErrBadCredentials
	}
	err := s.hasher.Verify(ctx, u.PasswordHash, pw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, password.ErrMismatch), errors.Is(err, password.ErrMalformedHash):
		return ErrBadCredentials
	default:
		return fmt.Errorf("verify password: %w", err)
	}
}

// Attempt decides a sign-in attempt on any channel; see signin.Core.
func (s *Service) Attempt(ctx context.Context, req signin.Request) (signin.Outcome, error) {
	return s.signin.Attempt(ctx, req)
}

// FindUser implements signin.Users.
func (s *Service) FindUser(ctx context.Context, sub signin.Subject) (models.User, bool, error) {
	var u models.User
	var err error
	if sub.UserID != "" {
		u, err = s.GetUserByID(ctx, sub.UserID)
	} else {
		u, err = s.GetUser(ctx, sub.Username)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return models.User{}, false, nil
	case err != nil:
		return models.User{}, false, err
	}
	return u, true, nil
}

// checkCurrentPassword is the current-password check of a self-service
// password change, decided by the sign-in core on the login page's counter
// for the request's address (when ctx carries one).
// It returns ErrBadCredentials for a wrong password (with ErrLocked when
// that failure locked the channel), ErrLocked while the channel is locked
// and ErrNotFound when the user is gone.
func (s *Service) checkCurrentPassword(ctx context.Context, userID, current string) (models.User, error) {
	req := signin.Request{Channel: signin.PasswordChange, Subject: signin.Subject{UserID: userID}, Secret: current}
	if addr, ok := clientip.FromContext(ctx); ok {
		req.SourceIP = addr.String()
	}
	o, err := s.signin.Attempt(ctx, req)
	switch {
	case err != nil:
		return models.User{}, err
	case o.OK():
		return o.User, nil
	case o.Result == signin.ResultUnknownUser:
		return models.User{}, ErrNotFound
	case o.Result == signin.ResultLockout:
		return models.User{}, ErrLocked
	case o.LockedNow:
		return models.User{}, fmt.Errorf("%w; %w", ErrBadCredentials, ErrLocked)
	default:
		return models.User{}, ErrBadCredentials
	}
}
