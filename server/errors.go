package server

import (
	"context"

	"github.com/authgate/authgate/internal/storage"

	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/password"
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

// classify maps a domain error to an HTTP status, an RFC 6749 style error
// code and a description safe to show a client. It is the one place where
// authgate's sentinel errors become wire errors.
func classify(err error) (status int, code, description string) {
	var fe *accounts.FieldError
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, "invalid_request", fe.Error()
	case errors.Is(err, accounts.ErrNotFound):
		return http.StatusNotFound, "not_found", "The resource does not exist."
	case errors.Is(err, accounts.ErrDuplicateUsername):
		return http.StatusConflict, "conflict", "The username is taken."
	case errors.Is(err, accounts.ErrBadCredentials):
		return http.StatusUnauthorized, "invalid_grant", "authentication failure"
	case errors.Is(err, accounts.ErrLocked):
		return http.StatusUnauthorized, "invalid_grant", "authentication failure"
	case storage.IsUnavailable(err), errors.Is(err, password.ErrBusy):
		return http.StatusServiceUnavailable, "temporarily_unavailable", "The server is temporarily unable to handle the request; try again shortly."
	default:
		return http.StatusInternalServerError, "server_error", "The server met an unexpected condition."
	}
}

// writeError writes err as JSON and logs it when it is the server's fault.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	status, code, desc := classify(err)
	if status == http.StatusInternalServerError && r.Context().Err() != nil {
		// The request's deadline passed while it waited on the database.
		status, code, desc = classify(context.DeadlineExceeded)
	}
	if status >= 500 {
		logger.ErrorContext(r.Context(), "request failed", "request_id", RequestID(r.Context()), "error", err)
	}
	writeJSONError(w, status, code, desc)
}
