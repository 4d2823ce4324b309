package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/server/web"
)

// unavailable reports whether a request failed because the database is
// unreachable or too slow (the request's own deadline passed while it
// waited), rather than because it was wrong.
//
// fosite's revocation handler reports a storage failure as a bare
// ErrTemporarilyUnavailable, without the cause, and WriteRevocationResponse
// would answer it with 200; it is caught here.
func unavailable(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	_, e := web.Problem(ctx, err)
	return e.Code == apperr.Unavailable || errors.Is(err, fosite.ErrTemporarilyUnavailable)
}

// writeUnavailable answers 503 with an RFC 6749 style body and a hint to
// retry soon.
func writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", web.MessageUnavailable)
}
