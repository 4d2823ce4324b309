package web

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recorder wraps a ResponseWriter and remembers the status and the number
// of body bytes written through it. It is the one status-capturing
// wrapper: request logs, metrics and panic recovery read it.
type Recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

// NewRecorder wraps w.
func NewRecorder(w http.ResponseWriter) *Recorder { return &Recorder{ResponseWriter: w} }

// WriteHeader records the first status written.
func (r *Recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and counts the bytes.
func (r *Recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Started reports whether the response's header was sent.
func (r *Recorder) Started() bool { return r.status != 0 }

// Status is the status sent, 200 when the handler wrote nothing (the
// server then answers 200).
func (r *Recorder) Status() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// Bytes is the number of body bytes written.
func (r *Recorder) Bytes() int { return r.bytes }

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request's id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the id given to the request, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Recover turns a panic in a handler into a log line with the stack and,
// when the response has not begun, the surface's answer written by fail
// (a JSON error or an error page, always a 500). http.ErrAbortHandler
// passes through: it is how a handler aborts a response on purpose.
func Recover(logger *slog.Logger, fail func(w http.ResponseWriter, r *http.Request)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// A recorder outside (the request log's) already knows
			// whether the answer has begun.
			rec, ok := w.(*Recorder)
			if !ok {
				rec = NewRecorder(w)
			}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.ErrorContext(r.Context(), "panic serving request", "request_id", RequestID(r.Context()),
					"method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if rec.Started() {
					// Part of the answer is out: cut the connection rather
					// than let a truncated response look complete.
					panic(http.ErrAbortHandler)
				}
				fail(rec, r)
			}()
			next.ServeHTTP(rec, r)
		})
	}
}
