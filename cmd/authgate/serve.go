package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/authgate/authgate/internal/app"
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
	a, closeApp, err := openApp(ctx, env, f.configPath, true)
	if err != nil {
		return err
	}
	defer closeApp()
	return serve(ctx, a)
}

// serve runs the application's background work and both listeners until
// ctx ends, then shuts down gracefully.
func serve(ctx context.Context, a *app.App) error {
	cfg, logger := a.Config, a.Logger
	if err := a.Prepare(ctx); err != nil {
		return err
	}
	setMemoryLimit(cfg.MemoryLimit(), os.Getenv, logger)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(ctx) })

	servers := []*http.Server{newHTTPServer(cfg.Listen, a.Public, logger), newHTTPServer(cfg.AdminListen, a.Admin, logger)}
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

// setMemoryLimit gives the Go runtime its soft memory limit, unless
// GOMEMLIMIT (which the runtime has already applied) or the setting says
// otherwise.
func setMemoryLimit(limit int64, getenv func(string) string, logger *slog.Logger) {
	if getenv("GOMEMLIMIT") != "" {
		logger.Info("memory limit from GOMEMLIMIT", "bytes", debug.SetMemoryLimit(-1))
		return
	}
	if limit <= 0 {
		return
	}
	debug.SetMemoryLimit(limit)
	logger.Info("memory limit set", "mib", limit>>20)
}
