package app_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/oauth"
)

// cheapArgon2 keeps sign-ins fast in tests.
var cheapArgon2 = password.Params{Time: 1, Memory: 8192, Threads: 1}

// testConfig is a valid configuration on a fresh database of the given kind.
func testConfig(t *testing.T, kind string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Issuer = "http://127.0.0.1:1"
	cfg.AdminURL = "http://127.0.0.1:2"
	cfg.Secret = "app-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
	cfg.DatabaseURL = testdb.URL(t, kind)
	cfg.Mail.Outbox = t.TempDir()
	return cfg
}

// newApp builds the application with a cheap hash cost unless opts says
// otherwise, and closes it when the test ends.
func newApp(t *testing.T, cfg config.Config, opts app.Options) *app.App {
	t.Helper()
	if opts.Argon2 == nil {
		opts.Argon2 = &cheapArgon2
	}
	a, err := app.New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// transport records what the mail sender hands it.
type transport struct{ to chan string }

func (tr transport) Send(_ context.Context, _, to string, _ []byte) error {
	tr.to <- to
	return nil
}

// New builds the application once on the configured database with the
// options given: the clock, the hash cost and the mail transport reach the
// services; the public handler serves the keys the key manager holds; a
// second application on the same database (a replica, or a CLI command)
// finds the first signing key instead of making another.
func TestNew(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			cfg := testConfig(t, kind)
			clock := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
			mailed := transport{to: make(chan string, 4)}
			a := newApp(t, cfg, app.Options{Now: func() time.Time { return clock }, MailTransport: mailed})

			c, _, err := a.Clients.Create(ctx, "test", clients.NewClient{Name: "svc", GrantTypes: []string{clients.GrantClientCredentials}})
			if err != nil {
				t.Fatal(err)
			}
			if !c.CreatedAt.Equal(clock) {
				t.Errorf("client created at %v, want the clock's %v", c.CreatedAt, clock)
			}

			rec := httptest.NewRecorder()
			a.Public.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/.well-known/jwks.json", nil))
			want, _, err := a.Keys.JWKSWithETag(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
				t.Errorf("GET jwks.json: %d %s, want 200 %s", rec.Code, rec.Body, want)
			}
			rec = httptest.NewRecorder()
			a.Admin.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/health/alive", nil))
			if rec.Code != http.StatusOK {
				t.Errorf("admin GET /health/alive: got %d, want 200", rec.Code)
			}

			// A user's security token goes out through the given transport
			// once Run sends the mail.
			if _, err := a.Accounts.CreateUser(ctx, "test", accounts.NewUser{Username: "ada", Email: "ada@example.com", Password: "correct horse battery staple"}); err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			ran := make(chan struct{})
			go func() { defer close(ran); a.Run(runCtx) }()
			select {
			case to := <-mailed.to:
				if to != "ada@example.com" {
					t.Errorf("mail to %q, want ada@example.com", to)
				}
			case <-time.After(10 * time.Second):
				t.Error("no mail through the given transport within 10s")
			}
			stop()
			<-ran

			b := newApp(t, cfg, app.Options{})
			keys, err := b.Keys.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != len(oauth.SigningAlgorithms) {
				t.Errorf("signing keys after a second New: got %d, want %d (one per algorithm)", len(keys), len(oauth.SigningAlgorithms))
			}
		})
	}
}
