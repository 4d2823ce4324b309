package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/legacy"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/server"
	"github.com/authgate/authgate/server/adminapi"
	"github.com/authgate/authgate/server/console"
)

func cmdServe(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "serve", "[--config FILE]")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	// The server logs a line per request: batch the writes.
	lw := newLogWriter(env.stderr, 200*time.Millisecond)
	defer lw.Close()
	env = &cliEnv{serving: true, getenv: env.getenv, stdin: env.stdin, stdout: env.stdout, stderr: lw}
	a, closeApp, err := openApp(ctx, env, f.configPath)
	if err != nil {
		return err
	}
	defer closeApp()
	return serve(ctx, a)
}

// serve builds everything from a and runs the listeners until ctx ends,
// then shuts down gracefully.
func serve(ctx context.Context, a *app) error {
	cfg, logger := a.cfg, a.logger
	m := a.metrics
	keys := oauth.NewKeyManager(a.store, a.keyring, cfg.TokenRetention())
	if err := keys.Ensure(ctx); err != nil {
		return err
	}
	store := oauth.NewStore(a.store, a.keyring, logger)
	store.SetGuard(&legacy.Guard{Users: a.accounts, Disabled: cfg.LegacyGrantDisabled})
	resolver := clientip.New(cfg.TrustedProxies, cfg.ForwardedHeader)
	ranges := trustedips.New(a.store)
	hasher := &oauth.SecretHasher{Keys: a.keyring, Argon2: a.hasher}
	provider := oauth.NewProvider(oauth.Settings{
		Issuer:                cfg.Issuer,
		AccessTokenLifespan:   cfg.AccessTokenLifespan,
		RefreshTokenLifespan:  cfg.RefreshTokenLifespan,
		AuthorizeCodeLifespan: cfg.AuthorizeCodeLifespan,
		IDTokenLifespan:       cfg.IDTokenLifespan,
	}, store, keys, a.keyring, hasher, func(p *oauth.Provider) fosite.TokenEndpointHandler {
		g := legacy.New(p, a.accounts, ranges, cfg.LegacyGrantDisabled, logger)
		// Lockouts reach the metrics through the sign-in core (app.go).
		g.Observe = func(clientID, result string, _ bool) { m.Legacy(clientID, result) }
		g.IsProxy = resolver.IsProxy
		return g
	})

	ready := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return a.store.Ping(ctx)
	}
	public, err := server.New(server.Deps{
		Logger:            logger,
		Config:            cfg,
		Store:             a.store,
		Keys:              a.keyring,
		Provider:          provider,
		Users:             a.accounts,
		ClientIP:          resolver,
		Ready:             ready,
		Metrics:           m,
		TokenResponseHook: legacy.SunsetHeaders,
	})
	if err != nil {
		return err
	}
	sender, err := newMailSender(a)
	if err != nil {
		return err
	}
	if cfg.Mail.SMTPHost == "" {
		logger.Info("mail goes to an outbox folder; set AUTHGATE_SMTP_HOST to send real email", "outbox", cfg.Mail.Outbox)
	}
	if err := console.EnsureClient(ctx, a.store, a.keyring, cfg.AdminURL); err != nil {
		return err
	}
	clientService := clientServiceOn(a, store)
	adminUI, err := console.New(console.Deps{
		Logger: logger, Config: cfg, Store: a.store, Keys: a.keyring, Accounts: a.accounts,
		Clients: clientService, Trust: ranges, TokenTransport: inProcess{public},
	})
	if err != nil {
		return err
	}
	adminMux := http.NewServeMux()
	adminMux.Handle("/admin/", adminUI)
	adminMux.Handle("/admin/api/", adminapi.NewAPI(adminapi.APIDeps{
		Logger: logger, Provider: provider, Accounts: a.accounts,
		Clients: clientService, Trust: ranges, Keys: keys, AuditLog: a.store, Mail: sender,
	}))
	adminMux.Handle("GET /metrics", m.Handler())
	if cfg.Pprof {
		adminMux.HandleFunc("/debug/pprof/", pprof.Index)
		adminMux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		adminMux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		adminMux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	}
	adminMux.Handle("GET /{$}", http.RedirectHandler("/admin/", http.StatusFound))
	adminMux.HandleFunc("GET /health/alive", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
	})

	m.WatchMail(func(ctx context.Context) (int64, int64, error) {
		st, err := sender.Stats(ctx)
		return st.Queued, st.Failed, err
	})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = sender.Run(ctx) }()
	// Requests only read the keys in memory; they are refreshed here.
	go func() { defer wg.Done(); keys.Run(ctx, keyRefreshInterval, logger) }()
	go func() { defer wg.Done(); janitor(ctx, a, store) }()

	servers := []*http.Server{newHTTPServer(cfg.Listen, public, logger), newHTTPServer(cfg.AdminListen, adminMux, logger)}
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		ln, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("listen on %s: %w", srv.Addr, err)
		}
		logger.Info("listening", "addr", ln.Addr().String())
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	logger.Info("authgate started", "issuer", cfg.Issuer, "public", cfg.Listen, "admin", cfg.AdminListen)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	logger.Info("shutting down", "grace", cfg.ShutdownGrace.String())
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancelShutdown()
	// Both listeners stop at once: shutting them down one after the other
	// would leave the second accepting connections while the first drains.
	var drain sync.WaitGroup
	for _, srv := range servers {
		drain.Go(func() {
			if err := srv.Shutdown(shutdownCtx); err != nil {
				logger.Warn("shutdown did not finish in time", "addr", srv.Addr, "error", err)
			}
		})
	}
	drain.Wait()
	cancel()
	wg.Wait()
	return serveErr
}

// keyRefreshInterval is how soon a replica sees a key rotated by another.
const keyRefreshInterval = 10 * time.Second

func newHTTPServer(addr string, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// janitor deletes what has expired: tokens, login sessions, and login
// history past its retention.
func janitor(ctx context.Context, a *app, store *oauth.Store) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	// Sunsets pass on their own and the global switch has no change event:
	// the sweep revokes what the legacy grant issued to clients that may no
	// longer use it (their tokens are refused from the moment already).
	revoker := &legacy.Revoker{Grants: store, Clients: clientServiceOn(a, store), Disabled: a.cfg.LegacyGrantDisabled, Logger: a.logger}
	for {
		if err := revoker.Sweep(ctx); err != nil && ctx.Err() == nil {
			a.logger.Warn("revoke the legacy grant's tokens", "error", err)
		}
		now := time.Now().UTC()
		if n, err := store.PruneExpired(ctx, now.Add(-time.Hour)); err != nil && ctx.Err() == nil {
			a.logger.Warn("prune expired tokens", "error", err)
		} else if n > 0 {
			a.logger.Info("pruned expired tokens", "count", n)
		}
		if _, err := a.store.DeleteExpiredSessions(ctx, now); err != nil && ctx.Err() == nil {
			a.logger.Warn("prune expired sessions", "error", err)
		}
		if _, err := a.accounts.PruneLogins(ctx, now.Add(-a.cfg.LoginHistoryRetention)); err != nil && ctx.Err() == nil {
			a.logger.Warn("prune login history", "error", err)
		}
		// A source's failures are forgotten after a day without attempts.
		if _, err := a.store.PruneAttempts(ctx, now.Add(-24*time.Hour), now); err != nil && ctx.Err() == nil {
			a.logger.Warn("prune sign-in attempts", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// inProcess is an http.RoundTripper that serves requests with a handler in
// this process. The admin console is an OAuth client of this server; it
// reaches the token and userinfo endpoints this way because the public
// issuer URL may not be reachable from the server itself (a load balancer
// in front, split DNS).
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.RemoteAddr = "127.0.0.1:0"
	req.RequestURI = req.URL.RequestURI()
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
