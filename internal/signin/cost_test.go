package signin_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
)

var cheap = password.Params{Time: 1, Memory: 8 * 1024, Threads: 1}

// A failure kind: what is sent, and whether alice is locked first.
type failure struct {
	name     string
	username string
	password string
	locked   bool
}

// failures are the kinds every channel must price the same. secret is
// what the channel wants in the password field when right.
func failures(secret string) []failure {
	return []failure{
		{"unknown user", "nobody", secret, false},
		{"wrong password", "alice", "wrong-password-1", false},
		{"locked user, right password", "alice", secret, true},
		{"over-long input", "alice", strings.Repeat("x", 1025), false},
		{"over-long input, locked", "alice", strings.Repeat("x", 1025), true},
	}
}

// huge are 1 MiB inputs. Over HTTP the server refuses bodies that large
// before any sign-in, at no cost for every user alike; the core prices
// them like any other failure.
func huge(secret string) []failure {
	return []failure{
		{"1 MiB input", "alice", strings.Repeat("y", 1<<20), false},
		{"1 MiB input, locked", "alice", strings.Repeat("y", 1<<20), true},
		{"1 MiB input, unknown user", "nobody", strings.Repeat("y", 1<<20), false},
		{"1 MiB username", strings.Repeat("a", 1<<20), secret, false},
	}
}

// Every failure on a channel costs the same number of argon2id
// verifications, whatever went wrong, so that timing tells an attacker
// nothing: not whether the user exists, nor whether it is locked, nor how
// long the stored password is.
func TestEveryFailureCostsTheSame(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			s := newSite(t, kind, cheap)
			ctx := context.Background()

			// run prices one failure: want is the channel's cost.
			run := func(t *testing.T, f failure, want int64, attempt func() error) {
				t.Helper()
				s.unlock(t)
				if f.locked {
					s.lock(t)
				}
				s.hasher.reset()
				if err := attempt(); err != nil {
					t.Fatal(err)
				}
				if got := s.hasher.total(); got != want {
					t.Errorf("argon2id verifications: got %d (%d against the stored hash), want %d", got, s.hasher.verified(), want)
				}
				if f.locked && s.hasher.verified() != 0 {
					t.Errorf("a locked user's stored hash was verified %d times, want 0", s.hasher.verified())
				}
			}

			t.Run("login page", func(t *testing.T) {
				for _, f := range failures(alicePassword) {
					t.Run(f.name, func(t *testing.T) {
						run(t, f, 1, func() error {
							if got := s.login(t, f.username, f.password); got != http.StatusUnauthorized {
								return errors.New("status " + http.StatusText(got) + ", want 401")
							}
							return nil
						})
					})
				}
				for _, f := range huge(alicePassword) {
					t.Run(f.name, func(t *testing.T) {
						run(t, f, 0, func() error {
							if got := s.login(t, f.username, f.password); got != http.StatusBadRequest {
								return errors.New("status " + http.StatusText(got) + ", want 400")
							}
							return nil
						})
						run(t, f, 1, func() error {
							o, err := s.accounts.Attempt(ctx, signin.Request{Channel: signin.LoginPage, Subject: signin.Subject{Username: f.username}, Secret: f.password})
							if err == nil && o.OK() {
								return errors.New("the core admitted it")
							}
							return err
						})
					})
				}
			})

			t.Run("password grant", func(t *testing.T) {
				other := strings.Repeat("Q", 24)
				cases := append(failures(alicePassword+s.token),
					failure{"right password, no token", "alice", alicePassword, false},
					failure{"right password, wrong token", "alice", alicePassword + other, false},
					failure{"right token, wrong password", "alice", "wrong-password" + s.token, false},
					failure{"short wrong password", "alice", "x", false},
					failure{"over-long password, right token", "alice", strings.Repeat("x", 1025) + s.token, false},
				)
				for _, f := range cases {
					t.Run(f.name, func(t *testing.T) {
						run(t, f, 2, func() error {
							status, code, err := s.grant(f.username, f.password)
							if err != nil {
								return err
							}
							if status != http.StatusBadRequest || code != "invalid_grant" {
								return errors.New("got " + http.StatusText(status) + " " + code + ", want 400 invalid_grant")
							}
							return nil
						})
					})
				}
				for _, f := range huge(alicePassword + s.token) {
					t.Run(f.name, func(t *testing.T) {
						run(t, f, 0, func() error {
							status, code, err := s.grant(f.username, f.password)
							if err != nil {
								return err
							}
							if status != http.StatusBadRequest || code != "invalid_request" {
								return errors.New("got " + http.StatusText(status) + " " + code + ", want 400 invalid_request")
							}
							return nil
						})
					})
				}
			})

			t.Run("password change", func(t *testing.T) {
				for _, f := range append(failures(alicePassword), huge(alicePassword)...) {
					t.Run(f.name, func(t *testing.T) {
						id := s.alice.ID
						if f.username != "alice" {
							id = "no-such-user-id"
						}
						run(t, f, 1, func() error {
							err := s.accounts.ChangeOwnPassword(ctx, id, "", f.password, "a-new-password-2")
							if !errors.Is(err, accounts.ErrBadCredentials) && !errors.Is(err, accounts.ErrLocked) && !errors.Is(err, accounts.ErrNotFound) {
								return errors.New("ChangeOwnPassword: " + errString(err) + ", want a refusal")
							}
							return nil
						})
					})
				}
			})
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
