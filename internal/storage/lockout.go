package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authgate/authgate/models"
)

// Counter names one of a user's failure counters. The legacy password grant
// and the login page count separately, so that failures on one never lock
// the other.
type Counter int

const (
	// CounterLegacy counts attempts of the legacy password grant.
	CounterLegacy Counter = iota + 1
	// CounterLogin counts attempts of the login page and of the
	// current-password check of a password change.
	CounterLogin
)

func (c Counter) String() string {
	switch c {
	case CounterLegacy:
		return "legacy"
	case CounterLogin:
		return "login"
	default:
		return fmt.Sprintf("Counter(%d)", int(c))
	}
}

// columns returns the users columns that hold c's count and lock. The
// names come from this switch only, never from input.
func (c Counter) columns() (failures, lockedUntil string, err error) {
	switch c {
	case CounterLegacy:
		return "legacy_failures", "legacy_locked_until", nil
	case CounterLogin:
		return "login_failures", "login_locked_until", nil
	default:
		return "", "", fmt.Errorf("unknown counter %d", int(c))
	}
}

// Lockout is the lockout policy: Threshold attempts without a success
// lock the counter for Duration.
type Lockout struct {
	Threshold int
	Duration  time.Duration
}

// Reservation is one attempt counted by ReserveAttempt before its
// password is verified.
type Reservation struct {
	UserID  string
	Counter Counter
	// Granted is true when the attempt may verify a password. It is false
	// while the counter is locked or has reached the threshold.
	Granted bool
	// Locks is true when this reservation reached the threshold: the
	// counter is locked from the moment of the reservation. If the
	// attempt fails the lock stands (the attempt locked the user); if it
	// succeeds, ReleaseAttempt lifts it.
	Locks bool
}

// ErrUserNotFound is returned by ReserveAttempt when no user has the id.
var ErrUserNotFound = errors.New("user not found")

// ReserveAttempt counts one attempt on counter c of the user with userID
// before its password is verified, in one atomic step: the count goes up
// only while it is below the threshold and the counter is not locked, so
// whatever the parallelism at most p.Threshold attempts per lock window are
// ever granted. The reservation that reaches the threshold locks the
// counter until now+p.Duration. Past an expired lock the count starts
// again at one. A granted attempt stays counted unless ReleaseAttempt
// reports its success.
func (s *Store) ReserveAttempt(ctx context.Context, userID string, c Counter, p Lockout, now time.Time) (Reservation, error) {
	fcol, lcol, err := c.columns()
	if err != nil {
		return Reservation{}, err
	}
	if p.Threshold < 1 || p.Duration <= 0 {
		return Reservation{}, fmt.Errorf("reserve attempt: invalid lockout policy %+v", p)
	}
	now = now.UTC()
	r := Reservation{UserID: userID, Counter: c}
	err = s.InTx(ctx, func(ctx context.Context) error {
		tx := s.Conn(ctx)
		// One statement decides: the row lock (PostgreSQL) or the write
		// lock (SQLite) orders concurrent reservations, and each sees the
		// count the previous one left.
		var counts []int
		err := tx.Raw(
			"UPDATE users SET "+fcol+" = CASE WHEN "+lcol+" IS NULL THEN "+fcol+" + 1 ELSE 1 END, "+lcol+" = NULL"+
				" WHERE id = ? AND (("+lcol+" IS NULL AND "+fcol+" < ?) OR "+lcol+" <= ?)"+
				" RETURNING "+fcol,
			userID, p.Threshold, now).Scan(&counts).Error
		if err != nil {
			return err
		}
		if len(counts) == 0 {
			var n int64
			if err := tx.Model(&models.User{}).Where("id = ?", userID).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return ErrUserNotFound
			}
			return nil // locked, or at the threshold
		}
		r.Granted = true
		if counts[0] < p.Threshold {
			return nil
		}
		r.Locks = true
		return tx.Model(&models.User{}).Where("id = ?", userID).UpdateColumn(lcol, now.Add(p.Duration)).Error
	})
	if err != nil {
		return Reservation{}, fmt.Errorf("reserve %s attempt: %w", c, err)
	}
	return r, nil
}

// ReleaseAttempt records that the granted attempt r succeeded: the count
// starts over. It lifts the lock r's own reservation set, and never another
// that is still running (only an administrator's unlock does that).
func (s *Store) ReleaseAttempt(ctx context.Context, r Reservation, now time.Time) error {
	fcol, lcol, err := r.Counter.columns()
	if err != nil {
		return err
	}
	if !r.Granted {
		return errors.New("release attempt: the attempt was not granted")
	}
	q := s.Conn(ctx).Model(&models.User{}).Where("id = ?", r.UserID)
	if !r.Locks {
		q = q.Where("("+lcol+" IS NULL OR "+lcol+" <= ?)", now.UTC())
	}
	if err := q.UpdateColumns(map[string]any{fcol: 0, lcol: nil}).Error; err != nil {
		return fmt.Errorf("release %s attempt: %w", r.Counter, err)
	}
	return nil
}
