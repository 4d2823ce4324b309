package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
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
	ids := newRequestIDs()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			id := ids.next()
			w.Header()["X-Request-Id"] = []string{id}
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
			// Straight to the handler: slog.Logger's methods would also
			// walk the stack for a source line this record does not need.
			rc := slog.NewRecord(time.Now(), level, "request", 0)
			rc.AddAttrs(slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", rec.Status()), slog.Int64("duration_ms", time.Since(start).Milliseconds()))
			if addr, ok := clientip.FromContext(ctx); ok {
				rc.AddAttrs(slog.String("client_ip", addr.String()))
			}
			_ = logger.Handler().Handle(ctx, rc)
		})
	}
}

// requestIDs names requests: a random prefix per process and a counter,
// unique across replicas without reading the system's random source on
// every request (an id is a label for logs and support, not a secret).
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	prefix, err := keyring.RandomString(6)
	if err != nil {
		prefix = strconv.FormatInt(time.Now().UnixNano()%(1<<40), 36)
	}
	return &requestIDs{prefix: prefix}
}

func (g *requestIDs) next() string {
	return g.prefix + "-" + strconv.FormatUint(g.n.Add(1), 36)
}

// quietPath reports the paths whose successful requests are logged at
// debug level, not info: the metadata documents and health checks that
// relying parties, caches and load balancers fetch all day. Writing a line
// for each was an eighth of the server's CPU on discovery. Their failures
// are logged as any other request's.
func quietPath(p string) bool {
	return strings.HasPrefix(p, "/.well-known/") || strings.HasPrefix(p, "/health/")
}

// metadataRequest reports the requests for the metadata documents
// (discovery, the authorization server metadata, the JWKS), which are
// answered from bytes in memory.
func metadataRequest(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, "/.well-known/")
}

// serverError is the public server's answer to a panic.
func serverError(w http.ResponseWriter, _ *http.Request) {
	writeJSONError(w, http.StatusInternalServerError, "server_error", "The server met an unexpected condition.")
}

// noStore marks responses that must never be cached (tokens, pages with
// forms, user data).
func noStore(next http.Handler) http.Handler {
	// Shared values under canonical keys, as in web.SecurityHeaders.
	cacheControl, pragma := []string{"no-store"}, []string{"no-cache"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Cache-Control"] = cacheControl[:1:1]
		h["Pragma"] = pragma[:1:1]
		next.ServeHTTP(w, r)
	})
}
