package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/server/web"
)

// errorBody is the one shape of every JSON error authgate writes outside
// fosite's token, introspection and revocation responses, which use the
// same fields (RFC 6749 section 5.2).
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeJSONError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: code, Description: description})
}

// codes are the public server's JSON error codes (RFC 6749 style) for the
// application's.
var codes = map[apperr.Code]string{
	apperr.Invalid: "invalid_request", apperr.NotFound: "not_found", apperr.Conflict: "conflict",
	apperr.Unauthenticated: "invalid_grant", apperr.Forbidden: "access_denied",
	apperr.TooMany: "temporarily_unavailable", apperr.Unavailable: "temporarily_unavailable", apperr.Internal: "server_error",
}

// classify maps an error to an HTTP status, an RFC 6749 style error code
// and a description safe to show a client (see web.Problem).
func classify(ctx context.Context, err error) (status int, code, description string) {
	status, e := web.Problem(ctx, err)
	description = e.Text()
	if e.Code == apperr.Unauthenticated {
		// A locked account reads like a wrong password.
		description = "authentication failure"
	}
	return status, codes[e.Code], description
}

// writeError writes err as JSON and logs it when it is the server's fault.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status, code, desc := classify(r.Context(), err)
	if status >= 500 {
		logger.ErrorContext(r.Context(), "request failed", "request_id", RequestID(r.Context()), "error", err)
	}
	writeJSONError(w, status, code, desc)
}
