package signin_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
)

// TestSprayAcrossUsernamesIsThrottled plays a password sprayer: one wrong
// password for each of many usernames from one source, which locks no
// single user. Past signin.DefaultSprayThreshold failures the source is
// refused, even with a right password, at the cost of a failure and with
// one history row for the episode; another source is not affected.
func TestSprayAcrossUsernamesIsThrottled(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			s := newSite(t, kind, password.Params{Time: 1, Memory: 8 * 1024, Threads: 1})
			f := s.openLogin(t)
			for i := range signin.DefaultSprayThreshold {
				if got, err := f.submit(s, fmt.Sprintf("user-%02d", i), "Summer2026!"); err != nil || got != http.StatusUnauthorized {
					t.Fatalf("spray attempt %d: got %d %v, want 401", i+1, got, err)
				}
			}
			verified, total := s.hasher.verified(), s.hasher.total()
			for range 3 {
				if got, err := f.submit(s, "alice", alicePassword); err != nil || got != http.StatusUnauthorized {
					t.Fatalf("right password from the throttled source: got %d %v, want 401", got, err)
				}
			}
			if got := s.hasher.verified(); got != verified {
				t.Errorf("the throttled source reached a stored hash: %d verifications, want %d", got, verified)
			}
			if got := s.hasher.total() - total; got != 3 {
				t.Errorf("three throttled refusals cost %d argon2id verifications, want 3 (one each, like a failure)", got)
			}
			// A signed-out alice elsewhere is not held back by the sprayer.
			if got, err := s.openLoginFrom(t, otherSource).submit(s, "alice", alicePassword); err != nil || got != http.StatusSeeOther {
				t.Fatalf("right password from %s: got %d %v, want 303", otherSource, got, err)
			}
			events, n, err := s.accounts.ListLogins(context.Background(), accounts.LoginFilter{Result: signin.ResultThrottled, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if n != 1 || len(events) != 1 || events[0].SourceIP != "127.0.0.1" {
				t.Errorf("history: %d %q rows (%+v), want one for the episode from 127.0.0.1", n, signin.ResultThrottled, events)
			}
		})
	}
}

// TestSprayBackoffDoubles checks the throttle's schedule on a clock: the
// first block lasts the backoff, the next twice as long, and a quiet window
// forgives.
func TestSprayBackoffDoubles(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := signin.NewSprayGuardForTest(3, 10*time.Minute, time.Minute)
	fail := func(n int) (started bool) {
		for range n {
			started = g.Failed("198.51.100.7", now)
		}
		return started
	}
	blocked := func() bool { b, _ := g.Blocked("198.51.100.7", now); return b }
	if !fail(3) || !blocked() {
		t.Fatal("three failures did not block the source")
	}
	if b, _ := g.Blocked("198.51.100.8", now); b {
		t.Fatal("another source was blocked")
	}
	now = now.Add(time.Minute)
	if blocked() {
		t.Fatal("still blocked after the first backoff (1m)")
	}
	if !fail(3) {
		t.Fatal("three more failures did not block again")
	}
	now = now.Add(time.Minute)
	if !blocked() {
		t.Fatal("the second block did not last twice the backoff")
	}
	now = now.Add(time.Minute)
	if blocked() {
		t.Fatal("still blocked after the second backoff (2m)")
	}
	now = now.Add(30 * time.Minute) // a quiet window
	fail(3)
	now = now.Add(time.Minute)
	if blocked() {
		t.Fatal("after a quiet window the backoff did not start over")
	}
}
