package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

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
// password is verified. A granted reservation ends with exactly one of
// ReleaseAttempt (success), FailAttempt (failure) or AbandonAttempt (no
// decision).
type Reservation struct {
	UserID  string
	Counter Counter
	// Source is where the attempt came from (see ReserveAttempt).
	Source string
	// Granted is true when the attempt may verify a password.
	Granted bool
	// Busy is true when the attempt was refused only because the source's
	// attempts in flight and failures fill the threshold: it may be tried
	// again once one of them ends. Refused and not Busy means locked.
	Busy bool
}

// StalePending is how long an attempt may be in flight: one reserved
// longer ago (by a process that died while verifying) no longer counts.
const StalePending = time.Minute

// ReserveAttempt counts one attempt on counter c of the user with userID
// (or the key an unknown username stands for: it is counted alike) from
// source (an address or prefix; "" when unknown) before its password
// is verified, in one atomic step: it is granted only while the source's
// attempts in flight plus its consecutive failures are below the threshold
// and the counter is not locked for the source. So, whatever the
// parallelism, at most p.Threshold attempts per user, source and lock
// window are ever verified, and failures from one source never lock
// another. Past an expired lock the count starts again.
//
// The user's own columns (legacy_failures, legacy_locked_until and the
// login_ pair) summarise for display: the failures of the source that last
// attempted, and the end of the latest lock any source started.
func (s *Store) ReserveAttempt(ctx context.Context, userID string, c Counter, source string, p Lockout, now time.Time) (Reservation, error) {
	fcol, lcol, err := c.columns()
	if err != nil {
		return Reservation{}, err
	}
	if p.Threshold < 1 || p.Duration <= 0 {
		return Reservation{}, fmt.Errorf("reserve attempt: invalid lockout policy %+v", p)
	}
	now = now.UTC()
	stale := now.Add(-StalePending)
	r := Reservation{UserID: userID, Counter: c, Source: source}
	// No transaction: one statement decides, and the row lock
	// (PostgreSQL) or the write lock (SQLite) orders concurrent
	// reservations, so each sees the counts the previous one left. What
	// follows only labels a refusal and updates the display summary.
	err = func() error {
		tx := s.Conn(ctx)
		var failures []int
		err := tx.Raw(
			"INSERT INTO signin_attempts (user_id, counter, source, failures, pending, pending_since, locked_until, updated_at)"+
				" VALUES (?, ?, ?, 0, 1, ?, NULL, ?)"+
				" ON CONFLICT (user_id, counter, source) DO UPDATE SET"+
				" failures = CASE WHEN signin_attempts.locked_until IS NULL THEN signin_attempts.failures ELSE 0 END,"+
				" pending = CASE WHEN signin_attempts.locked_until IS NULL AND signin_attempts.pending_since >= ? THEN signin_attempts.pending + 1 ELSE 1 END,"+
				" pending_since = excluded.pending_since, locked_until = NULL, updated_at = excluded.updated_at"+
				" WHERE (signin_attempts.locked_until IS NULL AND signin_attempts.failures +"+
				" CASE WHEN signin_attempts.pending_since >= ? THEN signin_attempts.pending ELSE 0 END < ?)"+
				" OR signin_attempts.locked_until <= ?"+
				" RETURNING failures",
			userID, int(c), source, now, now, stale, stale, p.Threshold, now).Scan(&failures).Error
		if err != nil {
			return err
		}
		if len(failures) == 0 {
			var locked int64
			if err := tx.Raw("SELECT COUNT(*) FROM signin_attempts WHERE user_id = ? AND counter = ? AND source = ? AND locked_until > ?",
				userID, int(c), source, now).Scan(&locked).Error; err != nil {
				return err
			}
			r.Busy = locked == 0
			return nil
		}
		r.Granted = true
		return tx.Model(&models.User{}).Where("id = ?", userID).UpdateColumns(map[string]any{
			fcol: failures[0],
			lcol: gorm.Expr("CASE WHEN "+lcol+" <= ? THEN NULL ELSE "+lcol+" END", now),
		}).Error
	}()
	if err != nil {
		return Reservation{}, fmt.Errorf("reserve %s attempt: %w", c, err)
	}
	return r, nil
}

// endPending is the SET clause that ends one attempt in flight.
const endPending = "pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END"

// whereReservation selects r's row.
func whereReservation(r Reservation) (string, []any) {
	return " WHERE user_id = ? AND counter = ? AND source = ?", []any{r.UserID, int(r.Counter), r.Source}
}

// FailAttempt records that the granted attempt r failed: it counts as a
// consecutive failure of its source, and the failure that reaches the
// threshold locks the counter for the source until now+p.Duration
// (lockedNow is then true, for exactly one failure).
func (s *Store) FailAttempt(ctx context.Context, r Reservation, p Lockout, now time.Time) (lockedNow bool, err error) {
	fcol, lcol, err := r.Counter.columns()
	if err != nil {
		return false, err
	}
	if !r.Granted {
		return false, errors.New("fail attempt: the attempt was not granted")
	}
	now = now.UTC()
	where, args := whereReservation(r)
	err = s.InTx(ctx, func(ctx context.Context) error {
		tx := s.Conn(ctx)
		var failures []int
		if err := tx.Raw("UPDATE signin_attempts SET "+endPending+", failures = failures + 1, updated_at = ?"+where+" RETURNING failures",
			append([]any{now}, args...)...).Scan(&failures).Error; err != nil {
			return err
		}
		if len(failures) == 0 {
			return nil // cleared by an unlock meanwhile
		}
		summary := map[string]any{fcol: failures[0]}
		if failures[0] >= p.Threshold {
			until := now.Add(p.Duration)
			res := tx.Exec("UPDATE signin_attempts SET locked_until = ?"+where+" AND locked_until IS NULL", append([]any{until}, args...)...)
			if res.Error != nil {
				return res.Error
			}
			if lockedNow = res.RowsAffected == 1; lockedNow {
				summary[lcol] = until
			}
		}
		return tx.Model(&models.User{}).Where("id = ?", r.UserID).UpdateColumns(summary).Error
	})
	if err != nil {
		return false, fmt.Errorf("fail %s attempt: %w", r.Counter, err)
	}
	return lockedNow, nil
}

// ReleaseAttempt records that the granted attempt r succeeded: its
// source's failures start over. A lock that other attempts' failures
// started meanwhile stays (only an administrator's unlock lifts it).
func (s *Store) ReleaseAttempt(ctx context.Context, r Reservation, now time.Time) error {
	fcol, lcol, err := r.Counter.columns()
	if err != nil {
		return err
	}
	if !r.Granted {
		return errors.New("release attempt: the attempt was not granted")
	}
	now = now.UTC()
	where, args := whereReservation(r)
	// Two statements without a transaction: the summary is for display.
	err = func() error {
		tx := s.Conn(ctx)
		if err := tx.Exec("UPDATE signin_attempts SET "+endPending+","+
			" failures = CASE WHEN locked_until IS NULL OR locked_until <= ? THEN 0 ELSE failures END, updated_at = ?"+where,
			append([]any{now, now}, args...)...).Error; err != nil {
			return err
		}
		return tx.Model(&models.User{}).Where("id = ?", r.UserID).
			Where("("+lcol+" IS NULL OR "+lcol+" <= ?)", now).
			UpdateColumns(map[string]any{fcol: 0, lcol: nil}).Error
	}()
	if err != nil {
		return fmt.Errorf("release %s attempt: %w", r.Counter, err)
	}
	return nil
}

// AbandonAttempt ends the granted attempt r that reached no decision (the
// database or the hasher failed): it no longer counts as in flight, and
// not as a failure either.
func (s *Store) AbandonAttempt(ctx context.Context, r Reservation) error {
	if !r.Granted {
		return errors.New("abandon attempt: the attempt was not granted")
	}
	where, args := whereReservation(r)
	if err := s.Conn(ctx).Exec("UPDATE signin_attempts SET "+endPending+where, args...).Error; err != nil {
		return fmt.Errorf("abandon %s attempt: %w", r.Counter, err)
	}
	return nil
}

// ClearAttempts forgets every count and lock of the user with username,
// from every source (an administrator's unlock).
func (s *Store) ClearAttempts(ctx context.Context, username string) error {
	err := s.Conn(ctx).Exec("DELETE FROM signin_attempts WHERE user_id IN (SELECT id FROM users WHERE username = ?)", username).Error
	if err != nil {
		return fmt.Errorf("clear sign-in attempts: %w", err)
	}
	return nil
}

// PruneAttempts deletes the counts of sources that have not attempted
// since before and hold no running lock.
func (s *Store) PruneAttempts(ctx context.Context, before, now time.Time) (int64, error) {
	res := s.Conn(ctx).Exec("DELETE FROM signin_attempts WHERE updated_at < ? AND (locked_until IS NULL OR locked_until <= ?)", before.UTC(), now.UTC())
	if res.Error != nil {
		return 0, fmt.Errorf("prune sign-in attempts: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// LockedFrom reports whether counter c of the user with userID is locked
// for source at now (see ReserveAttempt), without counting an attempt.
func (s *Store) LockedFrom(ctx context.Context, userID string, c Counter, source string, now time.Time) (bool, error) {
	var locked int64
	err := s.Conn(ctx).Raw("SELECT COUNT(*) FROM signin_attempts WHERE user_id = ? AND counter = ? AND source = ? AND locked_until > ?",
		userID, int(c), source, now.UTC()).Scan(&locked).Error
	if err != nil {
		return false, fmt.Errorf("check %s lock: %w", c, err)
	}
	return locked > 0, nil
}
