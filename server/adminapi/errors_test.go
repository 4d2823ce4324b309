package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/internal/trustedips"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	netDown := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		name   string
		err    error
		status int
		code   string
		field  string
	}{
		{"accounts field", fmt.Errorf("create: %w", apperr.Field("email", "is required")), 400, codeInvalidRequest, "email"},
		{"clients field", apperr.Field("redirect_uris", "must use https"), 400, codeInvalidRequest, "redirect_uris"},
		{"trust field", apperr.Field("cidr", "is required"), 400, codeInvalidRequest, "cidr"},
		{"api field", fieldError("limit", "must be a number"), 400, codeInvalidRequest, "limit"},
		{"public client", fmt.Errorf("rotate: %w", clients.ErrPublicClient), 400, codeInvalidRequest, ""},
		{"user not found", fmt.Errorf("get: %w", accounts.ErrNotFound), 404, codeNotFound, ""},
		{"client not found", fmt.Errorf("get: %w", clients.ErrNotFound), 404, codeNotFound, ""},
		{"range not found", fmt.Errorf("%w: 10.0.0.0/8", trustedips.ErrNotFound), 404, codeNotFound, ""},
		{"duplicate username", fmt.Errorf("create: %w", accounts.ErrDuplicateUsername), 409, codeConflict, ""},
		{"duplicate range", fmt.Errorf("%w: 10.0.0.0/8", trustedips.ErrDuplicate), 409, codeConflict, ""},
		{"body too large", &http.MaxBytesError{Limit: maxBodyBytes}, 413, codeInvalidRequest, "body"},
		{"network down", fmt.Errorf("list users: %w", netDown), 503, codeUnavailable, ""},
		{"postgres shutting down", fmt.Errorf("list: %w", &pgconn.PgError{Code: "57P01"}), 503, codeUnavailable, ""},
		{"postgres connection failure", &pgconn.PgError{Code: "08006"}, 503, codeUnavailable, ""},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 503, codeUnavailable, ""},
		{"connection dropped mid-query", fmt.Errorf("list users: %w", io.ErrUnexpectedEOF), 503, codeUnavailable, ""},
		{"database down while checking a token", fosite.ErrRequestUnauthorized.WithWrap(netDown), 503, codeUnavailable, ""},
		{"expired token", fosite.ErrTokenExpired, 401, codeInvalidToken, ""},
		{"unknown token", fosite.ErrRequestUnauthorized.WithWrap(fosite.ErrNotFound), 401, codeInvalidToken, ""},
		{"fosite server error", fosite.ErrServerError.WithWrap(errors.New("boom")), 500, codeServerError, ""},
		{"postgres constraint", &pgconn.PgError{Code: "23505"}, 500, codeServerError, ""},
		{"anything else", errors.New("boom"), 500, codeServerError, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := classify(context.Background(), tc.err)
			if status != tc.status || body.Error != tc.code || body.Field != tc.field {
				t.Errorf("got %d %q field %q, want %d %q field %q", status, body.Error, body.Field, tc.status, tc.code, tc.field)
			}
			if strings.Contains(body.Description, "boom") {
				t.Errorf("got description %q, which leaks the cause", body.Description)
			}
		})
	}
}

func TestWriteErrorLogsServerFaultsOnly(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	a := &api{APIDeps: APIDeps{Logger: slog.New(slog.NewTextHandler(&logs, nil))}}
	r := httptest.NewRequest("GET", "/admin/api/users", nil)

	w := httptest.NewRecorder()
	a.writeError(w, r, errors.New("disk on fire"))
	if w.Code != 500 || strings.Contains(w.Body.String(), "disk on fire") {
		t.Errorf("got %d %s, want 500 without the cause", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the log lacks the cause of a 500: %s", logs.String())
	}

	logs.Reset()
	w = httptest.NewRecorder()
	a.writeError(w, r, apperr.Field("cidr", "is required"))
	if logs.Len() != 0 {
		t.Errorf("a client mistake was logged: %s", logs.String())
	}
	var body errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if want := (errorBody{Error: codeInvalidRequest, Description: "cidr: is required", Field: "cidr"}); body != want {
		t.Errorf("got %+v, want %+v", body, want)
	}
}

func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(NewAPI(APIDeps{}))
	defer srv.Close()
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/admin/api/nothing-here", http.StatusNotFound, ""},
		{"GET", "/elsewhere", http.StatusNotFound, ""},
		{"PUT", "/admin/api/clients", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"POST", "/admin/api/openapi.json", http.StatusMethodNotAllowed, "GET, HEAD"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			r := response{status: resp.StatusCode, header: resp.Header, body: b}
			code := codeNotFound
			if tc.status == http.StatusMethodNotAllowed {
				code = codeInvalidRequest
			}
			r.wantError(t, tc.status, code, "")
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("got Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

// TestDatabaseUnreachable cuts the connection to PostgreSQL under a
// running API: requests then get 503 temporarily_unavailable, not a 401
// that would send a client to fetch a new token, nor a 500.
func TestDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	db, proxy := testdb.Cuttable(t)
	e := newEnv(t, db)
	// Cleanups run last-first: the database is back before newEnv's checks.
	t.Cleanup(func() { proxy.SetDown(false) })

	e.do(t, "GET", "/admin/api/users", e.adminToken, nil).want(t, http.StatusOK, nil)
	proxy.SetDown(true)
	for _, r := range []struct{ method, path, token string }{
		{"GET", "/admin/api/users", e.adminToken},
		{"GET", "/admin/api/clients", e.clientToken},
	} {
		resp := e.do(t, r.method, r.path, r.token, nil)
		resp.wantError(t, http.StatusServiceUnavailable, codeUnavailable, "")
		if got := resp.header.Get("WWW-Authenticate"); got != "" {
			t.Errorf("got WWW-Authenticate %q on an outage, want none", got)
		}
	}
	proxy.SetDown(false)
	e.do(t, "GET", "/admin/api/users", e.adminToken, nil).want(t, http.StatusOK, nil)
}
