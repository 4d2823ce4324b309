package signin_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// appPassword creates an app password of alice's for client ("" for any).
func (s *site) appPassword(t testing.TB, name, client string) (models.AppPassword, string) {
	t.Helper()
	p, v, err := s.apps.Create(context.Background(), "test", s.alice.ID, apppasswords.Spec{Name: name, ClientID: client})
	if err != nil {
		t.Fatal(err)
	}
	return p, v
}

func guess(t testing.TB) string {
	t.Helper()
	v, err := apppasswords.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Every failure of an app password costs what every failure of the
// password grant costs (two argon2id verifications), and none reaches the
// stored password hash: timing tells a revoked app password from a
// guessed one, or a locked user from an unknown one, no better than it
// does for passwords.
func TestAppPasswordFailuresCostTheSame(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			s := newSite(t, kind, cheap)
			ctx := context.Background()
			if err := s.db.Create(&models.Client{ID: "other", Name: "Other", GrantTypes: []string{"password"}, LegacyCredentials: models.LegacyBoth}).Error; err != nil {
				t.Fatal(err)
			}
			_, right := s.appPassword(t, "right", "appsonly")
			revoked, revokedValue := s.appPassword(t, "revoked", "appsonly")
			if err := s.apps.Revoke(ctx, "test", s.alice.ID, revoked.ID); err != nil {
				t.Fatal(err)
			}
			_, expiredValue := s.appPassword(t, "expired", "appsonly")
			if err := s.db.Model(&models.AppPassword{}).Where("name = ?", "expired").Update("expires_at", time.Now().Add(-time.Minute).UTC()).Error; err != nil {
				t.Fatal(err)
			}
			_, elsewhere := s.appPassword(t, "elsewhere", "other")
			cases := []failure{
				{"unknown user", "nobody", right, false},
				{"guessed value", "alice", guess(t), false},
				{"revoked", "alice", revokedValue, false},
				{"expired", "alice", expiredValue, false},
				{"bound to another client", "alice", elsewhere, false},
				{"malformed", "alice", right[:len(right)-1] + "!", false},
				{"password and token", "alice", alicePassword + s.token, false},
				{"locked user, right app password", "alice", right, true},
			}
			for _, f := range cases {
				t.Run(f.name, func(t *testing.T) {
					s.unlock(t)
					if f.locked {
						s.lock(t)
					}
					s.hasher.reset()
					status, code, err := s.grantAs("", "appsonly", f.username, f.password)
					if err != nil {
						t.Fatal(err)
					}
					if status != http.StatusBadRequest || code != "invalid_grant" {
						t.Fatalf("got %d %s, want 400 invalid_grant", status, code)
					}
					if got := s.hasher.total(); got != 2 {
						t.Errorf("argon2id verifications: got %d, want 2 (the password grant's cost)", got)
					}
					if got := s.hasher.verified(); got != 0 {
						t.Errorf("verifications against alice's stored hash: got %d, want 0", got)
					}
				})
			}
			s.unlock(t)
			if status, code, err := s.grantAs("", "appsonly", "alice", right); err != nil || status != http.StatusOK {
				t.Fatalf("the right app password: got %d %s %v, want 200", status, code, err)
			}
		})
	}
}

// A parallel burst of guessed app passwords hits the one lockout of the
// password grant: after it, alice's right app password and her password
// and token are refused from the attacker's source, work from another,
// and a revoked app password replayed is refused from anywhere.
func TestAppPasswordBurstHitsTheLockout(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			s := newSite(t, kind, cheap)
			ctx := context.Background()
			p, right := s.appPassword(t, "loader", "appsonly")
			codes := make(chan string, burst)
			var wg sync.WaitGroup
			for range burst {
				v := guess(t)
				wg.Go(func() {
					status, code, err := s.grantAs("", "appsonly", "alice", v)
					if err != nil {
						t.Error(err)
					}
					if status != http.StatusBadRequest {
						t.Errorf("a guessed app password got %d", status)
					}
					codes <- code
				})
			}
			wg.Wait()
			close(codes)
			for c := range codes {
				if c != "invalid_grant" {
					t.Errorf("a guessed app password got %q, want invalid_grant", c)
				}
			}
			if status, _, err := s.grantAs("", "appsonly", "alice", right); err != nil || status != http.StatusBadRequest {
				t.Fatalf("the right app password after the burst: got %d %v, want 400 (locked)", status, err)
			}
			if status, _, err := s.grant("alice", alicePassword+s.token); err != nil || status != http.StatusBadRequest {
				t.Fatalf("password and token after the burst: got %d %v, want 400 (the same lockout)", status, err)
			}
			events, total, err := s.accounts.ListLogins(ctx, accounts.LoginFilter{Username: "alice", Method: signin.MethodAppPassword, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for _, e := range events {
				counts[e.Result]++
			}
			if total != threshold+1 || counts[signin.ResultAppPasswordInvalid] != threshold || counts[signin.ResultLockout] != 1 {
				t.Errorf("history on app_password: %d events %v; want %d %q and 1 %q", total, counts, threshold, signin.ResultAppPasswordInvalid, signin.ResultLockout)
			}

			// From alice's own address, her app password works.
			if status, code, err := s.grantAs(otherSource, "appsonly", "alice", right); err != nil || status != http.StatusOK {
				t.Fatalf("the right app password from %s: got %d %s %v, want 200", otherSource, status, code, err)
			}
			// Revoked, it is refused when replayed, from either source.
			if err := s.apps.Revoke(ctx, "test", s.alice.ID, p.ID); err != nil {
				t.Fatal(err)
			}
			for _, src := range []string{otherSource, "127.0.0.3"} {
				if status, code, err := s.grantAs(src, "appsonly", "alice", right); err != nil || status != http.StatusBadRequest || code != "invalid_grant" {
					t.Errorf("the revoked app password replayed from %s: got %d %s %v, want 400 invalid_grant", src, status, code, err)
				}
			}
			var e models.LoginEvent
			if err := s.db.Where("method = ?", signin.MethodAppPassword).Order("id DESC").Take(&e).Error; err != nil {
				t.Fatal(err)
			}
			if e.Result != signin.ResultAppPasswordRevoked || e.AppPassword != "loader" {
				t.Errorf("history of the replay: got %q naming %q, want %q naming loader", e.Result, e.AppPassword, signin.ResultAppPasswordRevoked)
			}
		})
	}
}
