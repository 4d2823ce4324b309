package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/loadtest"
	"github.com/authgate/authgate/internal/testdb"
)

// TestCodeFlowNeverStallsThePool runs the whole authorization code flow
// (login, consent, code exchange with an ID token) at four times the pool
// size, and with a pool of one connection, while the signing keys are
// reloaded all the time and rotated once. Every flow must finish: nothing
// on a request path may wait for a second connection while it holds one.
// (It used to: the exchange holds a transaction, and a stale key cache made
// it query the keys through the pool.)
func TestCodeFlowNeverStallsThePool(t *testing.T) {
	// The default pool on PostgreSQL is 20 connections; SQLite's is 4.
	cases := map[string][]int{"sqlite": {1, 4}, "postgres": {1, 20}}
	for _, kind := range testdb.Kinds {
		for _, pool := range cases[kind] {
			t.Run(fmt.Sprintf("%s/pool=%d", kind, pool), func(t *testing.T) {
				runCodeFlowUnderLoad(t, kind, pool, 4*pool)
			})
		}
	}
}

func runCodeFlowUnderLoad(t *testing.T, kind string, pool, concurrency int) {
	ctx := t.Context()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	cfg := testConfig(t, kind)
	cfg.Issuer = issuer
	cfg.DBMaxOpenConns = pool
	// 80 sign-ins queue for two argon2id slots at first, on a machine the
	// other test packages share: give them time, but less than the load
	// tool waits. (A stalled pool fails the flows at this deadline.)
	cfg.RequestTimeout = 20 * time.Second
	// Every sign-in comes from one address, for one user: no per-source
	// limit, and a lockout threshold above the number of sign-ins in
	// flight.
	cfg.RateLimit.PerMinute = 0
	cfg.LockoutThreshold = 1000
	// The keys are reloaded by the application's refresher every 20 ms
	// (hundreds of times in a run), and rotated once mid-run: the exchange
	// signs ID tokens throughout.
	a := newApp(t, cfg, app.Options{KeyRefresh: 20 * time.Millisecond})
	if kind == "sqlite" {
		// SQLite's pool is fixed at 4 connections; make it the one asked for.
		sqlDB, err := a.Store.SQLDB()
		if err != nil {
			t.Fatal(err)
		}
		sqlDB.SetMaxOpenConns(pool)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: a.Public}}
	srv.Start()
	t.Cleanup(srv.Close)

	if _, err := a.Accounts.CreateUser(ctx, "test", accounts.NewUser{
		Username: "ada", Email: "ada@example.com", Password: "correct horse battery staple",
	}); err != nil {
		t.Fatal(err)
	}
	const redirect = "http://127.0.0.1:1/callback"
	client, secret, err := a.Clients.Create(ctx, "test", clients.NewClient{
		Name: "App", RedirectURIs: []string{redirect},
		GrantTypes: []string{clients.GrantAuthorizationCode}, Scopes: []string{"openid", "profile"},
	})
	if err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan struct{})
	go func() { defer close(ran); a.Run(runCtx) }()
	rotated := make(chan error, 1)
	go func() {
		select {
		case <-runCtx.Done():
			rotated <- nil
		case <-time.After(300 * time.Millisecond):
			_, err := a.Keys.Rotate(runCtx, "test", "", true)
			rotated <- err
		}
	}()

	res, err := loadtest.Run(ctx, loadtest.Config{
		Scenario:     loadtest.AuthorizationCode,
		Issuer:       issuer,
		ClientID:     client.ID,
		ClientSecret: secret,
		Username:     "ada",
		Password:     "correct horse battery staple",
		Scope:        "openid profile",
		RedirectURI:  redirect,
		ReuseSession: true,
		Concurrency:  concurrency,
		Requests:     3 * concurrency,
		Timeout:      30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	<-ran
	if err := <-rotated; err != nil && runCtx.Err() == nil {
		t.Errorf("rotate during the run: %v", err)
	}
	if res.Requests != int64(3*concurrency) || res.Failures() != 0 {
		t.Fatalf("flows: got %d of which %d failed (%+v), want %d all finished", res.Requests, res.Failures(), res.Errors, 3*concurrency)
	}
	t.Logf("%d flows at concurrency %d on a pool of %d: %.0f/s, p99 %v", res.Requests, concurrency, pool, res.Rate(), res.Latency.P99)
}
