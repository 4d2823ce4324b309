package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRequestLogLevels: every request gets a line at info, except the
// successful metadata and health requests, which are logged at debug; a
// failing one of those is logged at info, a 5xx at error.
func TestRequestLogLevels(t *testing.T) {
	for _, tc := range []struct {
		path   string
		status int
		info   bool // logged at info level or above
	}{
		{"/.well-known/openid-configuration", 200, false},
		{"/.well-known/jwks.json", 304, false},
		{"/health/ready", 200, false},
		{"/health/ready", 503, true},
		{"/.well-known/nope", 404, true},
		{"/oauth2/token", 200, true},
		{"/login", 500, true},
		{"/well-known/openid-configuration", 200, true},
	} {
		for _, lvl := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
			var buf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: lvl}))
			h := logRequests(logger)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(tc.status) }))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.path, nil))
			want := tc.info || lvl == slog.LevelDebug
			if got := strings.Contains(buf.String(), `"path":"`+tc.path+`"`); got != want {
				t.Errorf("%s %d at level %s: logged %v, want %v (%q)", tc.path, tc.status, lvl, got, want, buf.String())
			}
		}
	}
}
