package server

import (
	"context"
	"net/http"

	"github.com/authgate/authgate/database"
)

// unavailable reports whether a request failed because the database is
// unreachable or too slow (the request's own deadline passed while it
// waited), rather than because it was wrong.
func unavailable(ctx context.Context, err error) bool {
	return err != nil && (database.IsUnavailable(err) || ctx.Err() != nil)
}

// writeUnavailable answers 503 with an RFC 6749 style body and a hint to
// retry soon.
func writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The server is temporarily unable to handle the request; try again shortly.")
}
