package accounts

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// TestResetTokenLimits: a user resets at most once a minute, and nobody
// gets a user more than TokenResetsPerDay new tokens in 24 hours; a refused
// reset changes nothing and says when a reset is possible again.
func TestResetTokenLimits(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		ctx := t.Context()
		u := f.mustCreate(t, "dora", "dora-password")
		state := func() (history, mails int64, hash string) {
			t.Helper()
			return count(t, db, &models.SecurityTokenHistory{}, "user_id = ?", u.ID),
				count(t, db, &models.MailMessage{}, ""), f.reload(t, u.ID).SecurityTokenHash
		}
		wantRefused := func(what string, err error, says string) {
			t.Helper()
			h, m, hash := state()
			if !errors.Is(err, ErrTooManyResets) || apperr.CodeOf(err) != apperr.TooMany {
				t.Fatalf("%s: got %v, want ErrTooManyResets with code %s", what, err, apperr.TooMany)
			}
			if e, _ := apperr.As(err); !strings.Contains(e.Text(), says) || !strings.Contains(e.Text(), "can be reset again after") {
				t.Errorf("%s: message %q, want it to say %q and when to try again", what, e.Text(), says)
			}
			if h2, m2, hash2 := state(); h2 != h || m2 != m || hash2 != hash {
				t.Errorf("%s: a refused reset changed history/mail/token", what)
			}
		}

		// Right after the account was created: its first token does not count.
		if err := f.svc.ResetToken(ctx, "user:dora", "dora", true); err != nil {
			t.Fatalf("first reset by the user: %v", err)
		}
		f.clock.Advance(59 * time.Second)
		err := f.svc.ResetToken(ctx, "user:dora", "dora", true)
		wantRefused("second reset by the user within the minute", err, "less than a minute ago")
		if e, _ := apperr.As(err); !strings.Contains(e.Text(), "2030-03-14 09:27:53 UTC") {
			t.Errorf("message %q, want the time a minute after the first reset", e.Text())
		}
		// An administrator is not held to the minute.
		if err := f.svc.ResetToken(ctx, "cli:root", "dora", false); err != nil {
			t.Fatalf("administrator's reset right after the user's: %v", err)
		}
		// A password change issues a token too, and counts.
		if err := f.svc.SetPassword(ctx, "cli:root", "dora", "dora-password-2"); err != nil {
			t.Fatal(err)
		}
		wantRefused("user's reset right after a password change", f.svc.ResetToken(ctx, "user:dora", "dora", true), "less than a minute ago")

		// 3 tokens so far; 7 more reach the daily bound.
		for i := range TokenResetsPerDay - 3 {
			f.clock.Advance(time.Minute)
			if err := f.svc.ResetToken(ctx, "user:dora", "dora", true); err != nil {
				t.Fatalf("reset %d of the day: %v", i+4, err)
			}
		}
		f.clock.Advance(time.Hour)
		wantRefused("the user's reset past the daily bound", f.svc.ResetToken(ctx, "user:dora", "dora", true), "in the last 24 hours")
		wantRefused("an administrator's reset past the daily bound", f.svc.ResetToken(ctx, "cli:root", "dora", false), "in the last 24 hours")
		// The first reset of the day leaves the window 24 hours after it.
		f.clock.Advance(23 * time.Hour)
		if err := f.svc.ResetToken(ctx, "user:dora", "dora", true); err != nil {
			t.Fatalf("reset a day after the first: %v", err)
		}
		if h, _, _ := state(); h != 1+TokenResetsPerDay+1 {
			t.Errorf("history rows = %d, want %d", h, 1+TokenResetsPerDay+1)
		}
	})
}

// TestResetTokenParallel: parallel resets by the user, as from many
// browser tabs or a script holding the session, issue one token.
func TestResetTokenParallel(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		u := f.mustCreate(t, "erin", "erin-password")
		const parallel = 20
		var wg sync.WaitGroup
		errs := make(chan error, parallel)
		for range parallel {
			wg.Go(func() { errs <- f.svc.ResetToken(t.Context(), "user:erin", "erin", true) })
		}
		wg.Wait()
		close(errs)
		ok := 0
		for err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrTooManyResets):
				t.Errorf("parallel reset: %v, want success or ErrTooManyResets", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d of %d parallel resets succeeded, want 1", ok, parallel)
		}
		if n := count(t, db, &models.SecurityTokenHistory{}, "user_id = ?", u.ID); n != 2 {
			t.Errorf("history rows = %d, want 2 (creation and one reset)", n)
		}
		if n := count(t, db, &models.MailMessage{}, ""); n != 2 {
			t.Errorf("queued mails = %d, want 2 (creation and one reset)", n)
		}
	})
}
