package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

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

// problem is what an error page tells a person: what went wrong and what
// they can do, in words, with the error code (and, for a refused
// authorization request, the description its client would read) in small
// print.
type problem struct {
	Title, Message string
	Code, Detail   string
}

// wantsHTML reports whether the caller is a person's browser rather than
// an API client: its Accept header ranks text/html above
// application/json. A request without Accept, or one listing both at the
// same weight, gets JSON, which is what every API client has always got.
func wantsHTML(r *http.Request) bool {
	var html, json float64
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mediaType, params, _ := strings.Cut(part, ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(mediaType)) {
		case "text/html":
			html = max(html, q)
		case "application/json":
			json = max(json, q)
		}
	}
	return html > 0 && html > json
}

// renderProblem writes p as the site's error page with status.
func (s *Server) renderProblem(w http.ResponseWriter, r *http.Request, status int, p problem) {
	pg := s.page(w, r, p.Title, p.Message, false)
	pg.Code, pg.Detail = p.Code, p.Detail
	s.pages.Render(w, r, status, "error", pg)
}

// notFound is the page of an address the public listener does not serve.
var notFound = problem{
	Title:   "Page not found",
	Message: "There is no page at this address. Check the address for typing mistakes, or go to your account page.",
	Code:    "not_found",
}
