package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/password"
)

func TestProblem(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	netDown := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tt := range []struct {
		name   string
		ctx    context.Context
		err    error
		status int
		code   apperr.Code
		text   string
	}{
		{"field", context.Background(), fmt.Errorf("create: %w", apperr.Field("email", "is required")), 400, apperr.Invalid, "email: is required"},
		{"not found", context.Background(), fmt.Errorf("get: %w", apperr.New(apperr.NotFound, "user not found")), 404, apperr.NotFound, "user not found"},
		{"conflict", context.Background(), apperr.New(apperr.Conflict, "username already taken"), 409, apperr.Conflict, "username already taken"},
		{"unauthenticated", context.Background(), apperr.New(apperr.Unauthenticated, "bad credentials"), 401, apperr.Unauthenticated, "bad credentials"},
		{"forbidden", context.Background(), apperr.New(apperr.Forbidden, "admins only"), 403, apperr.Forbidden, "admins only"},
		{"too many", context.Background(), fmt.Errorf("reset: %w", apperr.New(apperr.TooMany, "try again later")), 429, apperr.TooMany, "try again later"},
		{"database down", context.Background(), fmt.Errorf("list users: %w", netDown), 503, apperr.Unavailable, MessageUnavailable},
		{"hashing saturated", context.Background(), fmt.Errorf("%w: %w", password.ErrBusy, context.Canceled), 503, apperr.Unavailable, MessageUnavailable},
		{"deadline passed", canceled, errors.New("sql: something odd"), 503, apperr.Unavailable, MessageUnavailable},
		{"anything else", context.Background(), errors.New("boom: secret detail"), 500, apperr.Internal, MessageInternal},
	} {
		status, e := Problem(tt.ctx, tt.err)
		if status != tt.status || e.Code != tt.code || e.Text() != tt.text {
			t.Errorf("%s: got %d %s %q, want %d %s %q", tt.name, status, e.Code, e.Text(), tt.status, tt.code, tt.text)
		}
		if Status(e.Code) != status {
			t.Errorf("%s: Status(%s) = %d, want %d", tt.name, e.Code, Status(e.Code), status)
		}
	}
}
