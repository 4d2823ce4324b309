package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
)

// Messages of the failures that are nobody's fault but the server's.
const (
	MessageUnavailable = "The server is temporarily unable to handle the request; try again shortly."
	MessageInternal    = "The server met an unexpected condition."
)

// Problem returns what a surface may show of err, and its HTTP status.
// An *apperr.Error keeps its code, field and message. A database that
// cannot be reached, a request whose deadline passed or whose client went
// away, and a full password-hashing queue are Unavailable (503). Anything
// else is Internal (500) with a message that gives nothing away. Problem
// is the one place where errors become HTTP statuses; each surface only
// chooses how to write them.
func Problem(ctx context.Context, err error) (int, *apperr.Error) {
	if e, ok := apperr.As(err); ok && e.Code != apperr.Internal {
		return Status(e.Code), e
	}
	if storage.IsUnavailable(err) || errors.Is(err, context.Canceled) || errors.Is(err, password.ErrBusy) || ctx.Err() != nil {
		return http.StatusServiceUnavailable, &apperr.Error{Code: apperr.Unavailable, Message: MessageUnavailable, Err: err}
	}
	return http.StatusInternalServerError, &apperr.Error{Code: apperr.Internal, Message: MessageInternal, Err: err}
}

// Status is the HTTP status of an error code.
func Status(c apperr.Code) int {
	switch c {
	case apperr.Invalid:
		return http.StatusBadRequest
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Unauthenticated:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.TooMany:
		return http.StatusTooManyRequests
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
