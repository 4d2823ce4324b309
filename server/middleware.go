package server

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/server/web"
)

// RequestID returns the id given to the request by the logging middleware.
func RequestID(ctx context.Context) string { return web.RequestID(ctx) }

// logRequests gives every request an id and logs one line when it ends:
// method, path (never the query, which may hold a code), status, duration.
func logRequests(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id, _ := keyring.RandomString(9)
			w.Header().Set("X-Request-Id", id)
			ctx := web.WithRequestID(r.Context(), id)
			rec := web.NewRecorder(w)
			next.ServeHTTP(rec, r.WithContext(ctx))
			level := slog.LevelInfo
			switch {
			case rec.Status() >= 500:
				level = slog.LevelError
			case rec.Status() < 400 && quietPath(r.URL.Path):
				level = slog.LevelDebug
			}
			if !logger.Enabled(ctx, level) {
				return
			}
			attrs := []any{
				"request_id", id, "method", r.Method, "path", r.URL.Path,
				"status", rec.Status(), "duration_ms", time.Since(start).Milliseconds(),
			}
			if addr, ok := clientip.FromContext(ctx); ok {
				attrs = append(attrs, "client_ip", addr.String())
			}
			logger.Log(ctx, level, "request", attrs...)
		})
	}
}

// quietPath reports the paths whose successful requests are logged at
// debug level, not info: the metadata documents and health checks that
// relying parties, caches and load balancers fetch all day. Writing a line
// for each was an eighth of the server's CPU on discovery. Their failures
// are logged as any other request's.
func quietPath(p string) bool {
	return strings.HasPrefix(p, "/.well-known/") || strings.HasPrefix(p, "/health/")
}

// serverError is the public server's answer to a panic.
func serverError(w http.ResponseWriter, _ *http.Request) {
	writeJSONError(w, http.StatusInternalServerError, "server_error", "The server met an unexpected condition.")
}

// noStore marks responses that must never be cached (tokens, pages with
// forms, user data).
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		next.ServeHTTP(w, r)
	})
}
