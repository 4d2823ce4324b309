package storage_test

import (
	"errors"
	"sync"
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

func reloadUser(t *testing.T, db *gorm.DB, id string) models.User {
	t.Helper()
	var u models.User
	if err := db.Where("id = ?", id).Take(&u).Error; err != nil {
		t.Fatal(err)
	}
	return u
}

func TestReserveAttempt(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s := storage.New(db)
		ctx := t.Context()
		newLockoutUser(t, db, "u1")
		p := storage.Lockout{Threshold: 3, Duration: 10 * time.Minute}
		now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

		for i, wantLocks := range []bool{false, false, true} {
			r, err := s.ReserveAttempt(ctx, "u1", storage.CounterLogin, p, now)
			if err != nil || !r.Granted || r.Locks != wantLocks {
				t.Fatalf("reservation %d: got %+v, %v; want granted, locks %t", i+1, r, err, wantLocks)
			}
		}
		u := reloadUser(t, db, "u1")
		if u.LoginFailures != 3 || u.LoginLockedUntil == nil || !u.LoginLockedUntil.Equal(now.Add(10*time.Minute)) {
			t.Fatalf("after 3 reservations: failures %d, locked until %v; want 3, %v", u.LoginFailures, u.LoginLockedUntil, now.Add(10*time.Minute))
		}
		if u.LegacyFailures != 0 || u.LegacyLockedUntil != nil {
			t.Fatalf("legacy counter moved: %d, %v", u.LegacyFailures, u.LegacyLockedUntil)
		}
		if r, err := s.ReserveAttempt(ctx, "u1", storage.CounterLogin, p, now.Add(time.Minute)); err != nil || r.Granted {
			t.Fatalf("while locked: got %+v, %v; want refused", r, err)
		}
		if r, err := s.ReserveAttempt(ctx, "u1", storage.CounterLegacy, p, now); err != nil || !r.Granted {
			t.Fatalf("other counter while login is locked: got %+v, %v; want granted", r, err)
		}

		// A release that did not set the lock leaves it running.
		if err := s.ReleaseAttempt(ctx, storage.Reservation{UserID: "u1", Counter: storage.CounterLogin, Granted: true}, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if u := reloadUser(t, db, "u1"); u.LoginLockedUntil == nil {
			t.Fatalf("a release lifted a running lock it did not set")
		}

		// Past the lock the count starts again at one.
		later := now.Add(10*time.Minute + time.Second)
		r, err := s.ReserveAttempt(ctx, "u1", storage.CounterLogin, p, later)
		if err != nil || !r.Granted || r.Locks {
			t.Fatalf("after the lock ran out: got %+v, %v; want granted", r, err)
		}
		if u := reloadUser(t, db, "u1"); u.LoginFailures != 1 || u.LoginLockedUntil != nil {
			t.Fatalf("after the lock ran out: failures %d, locked until %v; want 1, nil", u.LoginFailures, u.LoginLockedUntil)
		}
		if err := s.ReleaseAttempt(ctx, r, later); err != nil {
			t.Fatal(err)
		}
		if u := reloadUser(t, db, "u1"); u.LoginFailures != 0 {
			t.Fatalf("after a success: failures %d, want 0", u.LoginFailures)
		}

		// The reservation that locked, when it succeeds, lifts its own lock.
		var last storage.Reservation
		for range 3 {
			if last, err = s.ReserveAttempt(ctx, "u1", storage.CounterLogin, p, later); err != nil {
				t.Fatal(err)
			}
		}
		if !last.Locks {
			t.Fatalf("third reservation: %+v, want Locks", last)
		}
		if err := s.ReleaseAttempt(ctx, last, later); err != nil {
			t.Fatal(err)
		}
		if u := reloadUser(t, db, "u1"); u.LoginFailures != 0 || u.LoginLockedUntil != nil {
			t.Fatalf("after the locking attempt succeeded: failures %d, locked until %v; want 0, nil", u.LoginFailures, u.LoginLockedUntil)
		}

		if _, err := s.ReserveAttempt(ctx, "nobody", storage.CounterLogin, p, now); !errors.Is(err, storage.ErrUserNotFound) {
			t.Errorf("unknown user: got %v, want ErrUserNotFound", err)
		}
		if _, err := s.ReserveAttempt(ctx, "u1", storage.Counter(0), p, now); err == nil {
			t.Errorf("unknown counter: got nil error")
		}
	})
}

// However many attempts arrive at once, exactly Threshold are granted and
// exactly one of them locks.
func TestReserveAttemptConcurrent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s := storage.New(db)
		newLockoutUser(t, db, "u2")
		p := storage.Lockout{Threshold: 5, Duration: time.Hour}
		const n = 24
		var wg sync.WaitGroup
		results := make(chan storage.Reservation, n)
		for range n {
			wg.Go(func() {
				r, err := s.ReserveAttempt(t.Context(), "u2", storage.CounterLegacy, p, time.Now())
				if err != nil {
					t.Errorf("ReserveAttempt: %v", err)
				}
				results <- r
			})
		}
		wg.Wait()
		close(results)
		granted, locks := 0, 0
		for r := range results {
			if r.Granted {
				granted++
			}
			if r.Locks {
				locks++
			}
		}
		if granted != p.Threshold || locks != 1 {
			t.Errorf("granted %d, locking %d; want %d, 1", granted, locks, p.Threshold)
		}
		if u := reloadUser(t, db, "u2"); u.LegacyFailures != p.Threshold || u.LegacyLockedUntil == nil {
			t.Errorf("failures %d, locked until %v; want %d and a lock", u.LegacyFailures, u.LegacyLockedUntil, p.Threshold)
		}
	})
}
