package signin_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
)

// burst is how many wrong passwords the attacker sends at once.
const burst = 24

// otherSource is a second loopback address: alice's own, not the
// attacker's.
const otherSource = "127.0.0.2"

// A burst of parallel wrong passwords cannot outrun the lockout: at most
// threshold of them reach alice's stored hash, and the right password
// afterwards is refused while the lock runs — on the login page and on the
// legacy grant, over real HTTP. From another source her password still
// works.
func TestParallelBurstCannotPassTheLockout(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			s := newSite(t, kind, cheap)
			t.Run("login page", func(t *testing.T) {
				forms := make([]loginForm, burst)
				for i := range forms {
					forms[i] = s.openLogin(t)
				}
				s.hasher.reset()
				statuses := make(chan int, burst)
				var wg sync.WaitGroup
				for i, f := range forms {
					wg.Go(func() {
						status, err := f.submit(s, "alice", fmt.Sprintf("wrong-password-%d", i))
						if err != nil {
							t.Error(err)
						}
						statuses <- status
					})
				}
				wg.Wait()
				close(statuses)
				for st := range statuses {
					if st != http.StatusUnauthorized {
						t.Errorf("a wrong password got status %d, want 401", st)
					}
				}
				if got := s.hasher.verified(); got > threshold || got == 0 {
					t.Fatalf("verifications against alice's hash during the burst: got %d, want 1..%d", got, threshold)
				}
				before := s.hasher.verified()
				if got := s.login(t, "alice", alicePassword); got != http.StatusUnauthorized {
					t.Fatalf("right password after the burst: got %d, want 401 (locked)", got)
				}
				if got := s.hasher.verified(); got != before {
					t.Errorf("the right password was verified while locked (%d verifications, want %d)", got, before)
				}
				s.wantHistory(t, signin.MethodLoginPage)
				// The attacker's failures locked alice out from its
				// source only: from another, her password works.
				f := s.openLoginFrom(t, otherSource)
				if got, err := f.submit(s, "alice", alicePassword); err != nil || got != http.StatusSeeOther {
					t.Fatalf("right password from %s: got %d %v, want 303 (signed in)", otherSource, got, err)
				}
			})
			t.Run("password grant", func(t *testing.T) {
				s.hasher.reset()
				type answer struct {
					status int
					code   string
				}
				answers := make(chan answer, burst)
				var wg sync.WaitGroup
				for i := range burst {
					wg.Go(func() {
						status, code, err := s.grant("alice", fmt.Sprintf("wrong-%d", i))
						if err != nil {
							t.Error(err)
						}
						answers <- answer{status, code}
					})
				}
				wg.Wait()
				close(answers)
				for a := range answers {
					if a.status != http.StatusBadRequest || a.code != "invalid_grant" {
						t.Errorf("a wrong password got %d %s, want 400 invalid_grant", a.status, a.code)
					}
				}
				// A short wrong password costs one verification against
				// the stored hash (and one dummy).
				if got := s.hasher.verified(); got > threshold || got == 0 {
					t.Fatalf("verifications against alice's hash during the burst: got %d, want 1..%d", got, threshold)
				}
				before := s.hasher.verified()
				if status, code, err := s.grant("alice", alicePassword+s.token); err != nil || status != http.StatusBadRequest || code != "invalid_grant" {
					t.Fatalf("right password and token after the burst: got %d %s %v, want 400 invalid_grant (locked)", status, code, err)
				}
				if got := s.hasher.verified(); got != before {
					t.Errorf("the right password was verified while locked (%d verifications, want %d)", got, before)
				}
				s.wantHistory(t, signin.MethodPasswordGrant)
				if status, code, err := s.grantFrom(otherSource, "alice", alicePassword+s.token); err != nil || status != http.StatusOK {
					t.Fatalf("right password and token from %s: got %d %s %v, want 200", otherSource, status, code, err)
				}
			})
		})
	}
}

// wantHistory checks alice's history on method after a burst: the
// exactly threshold wrong passwords and the rest lockouts.
func (s *site) wantHistory(t *testing.T, method string) {
	t.Helper()
	events, total, err := s.accounts.ListLogins(context.Background(), accounts.LoginFilter{Username: "alice", Method: method, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range events {
		counts[e.Result]++
	}
	// Every verified failure has its row; the refusals of the lock are one
	// episode, aggregated into one row, however many requests it refused.
	if want := threshold + 1; total != int64(want) || counts[signin.ResultInvalidPassword] != threshold || counts[signin.ResultLockout] != 1 {
		t.Errorf("history on %s: %d events %v; want %d: %d %q and 1 %q", method, total, counts, want,
			threshold, signin.ResultInvalidPassword, signin.ResultLockout)
	}
}
