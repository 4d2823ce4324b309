package storage_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func newLockoutUser(t *testing.T, db *gorm.DB, id string) {
	t.Helper()
	now := time.Now()
	if err := db.Create(&models.User{ID: id, Username: id, Email: id + "@example.com", PasswordHash: "x",
		SecurityTokenHash: "t-" + id, TokenIssuedAt: now, PasswordChangedAt: now}).Error; err != nil {
		t.Fatal(err)
	}
}

// src is the source the tests' attempts come from.
const src = "198.51.100.1"

func reloadUser(t *testing.T, db *gorm.DB, id string) models.User {
	t.Helper()
	var u models.User
	if err := db.Where("id = ?", id).Take(&u).Error; err != nil {
		t.Fatal(err)
	}
	return u
}

func TestReserveAttempt(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s := storage.New(db)
		ctx := t.Context()
		newLockoutUser(t, db, "u1")
		p := storage.Lockout{Threshold: 3, Duration: 10 * time.Minute}
		now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		reserve := func(c storage.Counter, source string, at time.Time) storage.Reservation {
			t.Helper()
			r, err := s.ReserveAttempt(ctx, "u1", c, source, p, at)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}

		for i, wantLocked := range []bool{false, false, true} {
			r := reserve(storage.CounterLogin, src, now)
			if !r.Granted {
				t.Fatalf("reservation %d: got %+v, want granted", i+1, r)
			}
			locked, err := s.FailAttempt(ctx, r, p, now)
			if err != nil || locked != wantLocked {
				t.Fatalf("failure %d: lockedNow %t, %v; want %t", i+1, locked, err, wantLocked)
			}
		}
		u := reloadUser(t, db, "u1")
		if u.LoginFailures != 3 || u.LoginLockedUntil == nil || !u.LoginLockedUntil.Equal(now.Add(10*time.Minute)) {
			t.Fatalf("after 3 failures: failures %d, locked until %v; want 3, %v", u.LoginFailures, u.LoginLockedUntil, now.Add(10*time.Minute))
		}
		if u.LegacyFailures != 0 || u.LegacyLockedUntil != nil {
			t.Fatalf("legacy counter moved: %d, %v", u.LegacyFailures, u.LegacyLockedUntil)
		}
		if r := reserve(storage.CounterLogin, src, now.Add(time.Minute)); r.Granted || r.Busy {
			t.Fatalf("while locked: got %+v, want refused, not busy", r)
		}
		if r := reserve(storage.CounterLegacy, src, now); !r.Granted {
			t.Fatalf("other counter while login is locked: got %+v, want granted", r)
		}

		// Past the lock the count starts again; a success resets it.
		later := now.Add(10*time.Minute + time.Second)
		r := reserve(storage.CounterLogin, src, later)
		if !r.Granted {
			t.Fatalf("after the lock ran out: got %+v, want granted", r)
		}
		if u := reloadUser(t, db, "u1"); u.LoginFailures != 0 || u.LoginLockedUntil != nil {
			t.Fatalf("after the lock ran out: failures %d, locked until %v; want 0, nil", u.LoginFailures, u.LoginLockedUntil)
		}
		if _, err := s.FailAttempt(ctx, r, p, later); err != nil {
			t.Fatal(err)
		}
		r = reserve(storage.CounterLogin, src, later)
		if err := s.ReleaseAttempt(ctx, r, later); err != nil {
			t.Fatal(err)
		}
		if u := reloadUser(t, db, "u1"); u.LoginFailures != 0 {
			t.Fatalf("after a success: failures %d, want 0", u.LoginFailures)
		}
		// Two failures and a success, then two failures: not locked.
		for _, ok := range []bool{false, false, true, false, false} {
			r := reserve(storage.CounterLogin, src, later)
			var err error
			if ok {
				err = s.ReleaseAttempt(ctx, r, later)
			} else {
				_, err = s.FailAttempt(ctx, r, p, later)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if u := reloadUser(t, db, "u1"); u.LoginFailures != 2 || u.LoginLockedUntil != nil {
			t.Fatalf("after fail, fail, success, fail, fail: failures %d, locked until %v; want 2, nil", u.LoginFailures, u.LoginLockedUntil)
		}
		// An abandoned attempt counts neither in flight nor as a failure.
		for range 5 {
			r := reserve(storage.CounterLogin, src, later)
			if !r.Granted {
				t.Fatalf("after abandoned attempts: got %+v, want granted", r)
			}
			if err := s.AbandonAttempt(ctx, r); err != nil {
				t.Fatal(err)
			}
		}

		// A key that is no user's id (an unknown username's) counts alike.
		if r, err := s.ReserveAttempt(ctx, "u:nobody", storage.CounterLogin, src, p, now); err != nil || !r.Granted {
			t.Errorf("a key of no user: got %+v, %v; want granted", r, err)
		}
		if _, err := s.ReserveAttempt(ctx, "u1", storage.Counter(0), src, p, now); err == nil {
			t.Errorf("unknown counter: got nil error")
		}
	})
}

// However many attempts arrive at once, at most Threshold are in flight;
// the rest are busy, not locked. Attempts in flight for longer than
// StalePending no longer count.
func TestReserveAttemptConcurrent(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s := storage.New(db)
		newLockoutUser(t, db, "u2")
		p := storage.Lockout{Threshold: 5, Duration: time.Hour}
		now := time.Now()
		const n = 24
		var wg sync.WaitGroup
		results := make(chan storage.Reservation, n)
		for range n {
			wg.Go(func() {
				r, err := s.ReserveAttempt(t.Context(), "u2", storage.CounterLegacy, src, p, now)
				if err != nil {
					t.Errorf("ReserveAttempt: %v", err)
				}
				results <- r
			})
		}
		wg.Wait()
		close(results)
		var granted []storage.Reservation
		busy := 0
		for r := range results {
			if r.Granted {
				granted = append(granted, r)
			}
			if r.Busy {
				busy++
			}
		}
		if len(granted) != p.Threshold || busy != n-p.Threshold {
			t.Fatalf("granted %d, busy %d; want %d, %d", len(granted), busy, p.Threshold, n-p.Threshold)
		}
		// They all fail: exactly one locks.
		var locks atomic.Int32
		for _, r := range granted {
			wg.Go(func() {
				locked, err := s.FailAttempt(t.Context(), r, p, now)
				if err != nil {
					t.Errorf("FailAttempt: %v", err)
				}
				if locked {
					locks.Add(1)
				}
			})
		}
		wg.Wait()
		if got := locks.Load(); got != 1 {
			t.Errorf("failures reporting lockedNow: got %d, want exactly 1", got)
		}
		if u := reloadUser(t, db, "u2"); u.LegacyFailures != p.Threshold || u.LegacyLockedUntil == nil {
			t.Errorf("failures %d, locked until %v; want %d and a lock", u.LegacyFailures, u.LegacyLockedUntil, p.Threshold)
		}

		// Attempts abandoned by a dead process stop counting after StalePending.
		newLockoutUser(t, db, "u4")
		for range p.Threshold {
			if _, err := s.ReserveAttempt(t.Context(), "u4", storage.CounterLogin, src, p, now); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := s.ReserveAttempt(t.Context(), "u4", storage.CounterLogin, src, p, now); err != nil || !r.Busy {
			t.Fatalf("with the threshold in flight: got %+v, %v; want busy", r, err)
		}
		if r, err := s.ReserveAttempt(t.Context(), "u4", storage.CounterLogin, src, p, now.Add(storage.StalePending+time.Second)); err != nil || !r.Granted {
			t.Fatalf("after StalePending: got %+v, %v; want granted", r, err)
		}
	})
}

// Failures from one source lock the user out from that source only; the
// user's columns show the lock; an unlock clears every source.
func TestReserveAttemptPerSource(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s := storage.New(db)
		ctx := t.Context()
		newLockoutUser(t, db, "u3")
		p := storage.Lockout{Threshold: 2, Duration: time.Hour}
		now := time.Now()
		for range 2 {
			r, err := s.ReserveAttempt(ctx, "u3", storage.CounterLogin, "203.0.113.66", p, now)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.FailAttempt(ctx, r, p, now); err != nil {
				t.Fatal(err)
			}
		}
		if r, err := s.ReserveAttempt(ctx, "u3", storage.CounterLogin, "203.0.113.66", p, now); err != nil || r.Granted {
			t.Fatalf("the attacking source after the threshold: got %+v, %v; want refused", r, err)
		}
		if u := reloadUser(t, db, "u3"); u.LoginLockedUntil == nil || u.LoginFailures != 2 {
			t.Fatalf("user columns: failures %d, locked until %v; want 2 and a lock", u.LoginFailures, u.LoginLockedUntil)
		}
		r, err := s.ReserveAttempt(ctx, "u3", storage.CounterLogin, "192.0.2.10", p, now)
		if err != nil || !r.Granted {
			t.Fatalf("another source: got %+v, %v; want granted", r, err)
		}
		if err := s.ClearAttempts(ctx, "u3"); err != nil {
			t.Fatal(err)
		}
		if r, err := s.ReserveAttempt(ctx, "u3", storage.CounterLogin, "203.0.113.66", p, now); err != nil || !r.Granted {
			t.Fatalf("the attacking source after an unlock: got %+v, %v; want granted", r, err)
		}
		if n, err := s.PruneAttempts(ctx, now.Add(time.Minute), now); err != nil || n != 1 {
			t.Fatalf("prune: got %d, %v; want 1 row", n, err)
		}
	})
}
