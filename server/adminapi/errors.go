package adminapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/server/web"
)

// Error codes of the admin API. They are stable: clients may switch on them.
const (
	codeInvalidRequest     = "invalid_request"
	codeNotFound           = "not_found"
	codeConflict           = "conflict"
	codeInvalidToken       = "invalid_token"
	codeInsufficientScope  = "insufficient_scope"
	codeServerError        = "server_error"
	codeUnavailable        = "temporarily_unavailable"
	codeTooManyRequests    = "too_many_requests"
	realm                  = `Bearer realm="authgate-admin"`
	challengeInvalidToken  = realm + `, error="invalid_token"`
	challengeInsufficient  = realm + `, error="insufficient_scope", scope="authgate:admin"`
	descriptionServerError = "The server met an unexpected condition."
)

// errorBody is the one shape of every admin API error.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Field names the request field at fault, for invalid_request.
	Field string `json:"field,omitempty"`
}

// apiError is an error whose wire form is already decided: the API's own
// refusals (bad query parameters, malformed bodies, authentication).
type apiError struct {
	status int
	body   errorBody
	// challenge is the WWW-Authenticate value sent with the error.
	challenge string
}

func (e *apiError) Error() string { return e.body.Error + ": " + e.body.Description }

// fieldError reports an invalid request field, the way the services'
// field errors read: "limit: must be a number".
func fieldError(field, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, body: errorBody{Error: codeInvalidRequest, Description: field + ": " + message, Field: field}}
}

var (
	errMissingToken = &apiError{status: http.StatusUnauthorized, challenge: realm, body: errorBody{
		Error: codeInvalidToken, Description: "An access token is required: send Authorization: Bearer <token>."}}
	errInvalidToken = &apiError{status: http.StatusUnauthorized, challenge: challengeInvalidToken, body: errorBody{
		Error: codeInvalidToken, Description: "The access token is invalid, expired or revoked."}}
	errInsufficientScope = &apiError{status: http.StatusForbidden, challenge: challengeInsufficient, body: errorBody{
		Error: codeInsufficientScope, Description: "The access token was not granted the authgate:admin scope."}}
	errNotAdmin = &apiError{status: http.StatusForbidden, challenge: challengeInsufficient, body: errorBody{
		Error: codeInsufficientScope, Description: "The access token's user is not an administrator."}}
	errNoRoute = &apiError{status: http.StatusNotFound, body: errorBody{
		Error: codeNotFound, Description: "There is no such admin API route; see /admin/api/openapi.json."}}
	errMethodNotAllowed = &apiError{status: http.StatusMethodNotAllowed, body: errorBody{
		Error: codeInvalidRequest, Description: "The method is not allowed on this route; see the Allow header."}}
	errMediaType = &apiError{status: http.StatusUnsupportedMediaType, body: errorBody{
		Error: codeInvalidRequest, Description: "body: send JSON with Content-Type: application/json.", Field: "body"}}
	errTooLarge = &apiError{status: http.StatusRequestEntityTooLarge, body: errorBody{
		Error: codeInvalidRequest, Description: "body: is larger than the 1 MiB allowed.", Field: "body"}}
	errPanic = &apiError{status: http.StatusInternalServerError, body: errorBody{
		Error: codeServerError, Description: descriptionServerError}}
)

// apiCodes are the admin API's error codes for the application's.
var apiCodes = map[apperr.Code]string{
	apperr.Invalid: codeInvalidRequest, apperr.NotFound: codeNotFound, apperr.Conflict: codeConflict,
	apperr.Unauthenticated: codeInvalidToken, apperr.Forbidden: codeInsufficientScope,
	apperr.TooMany: codeTooManyRequests, apperr.Unavailable: codeUnavailable, apperr.Internal: codeServerError,
}

// classify maps any error a handler meets to its HTTP status, its body and
// its WWW-Authenticate challenge: the API's own refusals as decided,
// everything else through web.Problem. Debug detail never reaches the
// client.
func classify(ctx context.Context, err error) (status int, body errorBody, challenge string) {
	var (
		ae       *apiError
		maxBytes *http.MaxBytesError
		oauthErr *fosite.RFC6749Error
	)
	if errors.As(err, &ae) {
		return ae.status, ae.body, ae.challenge
	}
	if errors.As(err, &maxBytes) {
		return errTooLarge.status, errTooLarge.body, ""
	}
	status, e := web.Problem(ctx, err)
	// After web.Problem: token introspection wraps a database failure in
	// a 401 error, which must stay a 503.
	if e.Code == apperr.Internal && errors.As(err, &oauthErr) && oauthErr.CodeField < http.StatusInternalServerError {
		return errInvalidToken.status, errInvalidToken.body, errInvalidToken.challenge
	}
	return status, errorBody{Error: apiCodes[e.Code], Description: e.Text(), Field: e.Field}, ""
}

// writeError writes err as JSON, and logs it when it is the server's
// fault. A client that went away is not logged as a failure.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body, challenge := classify(r.Context(), err)
	switch {
	case status >= http.StatusInternalServerError && r.Context().Err() == nil:
		a.Logger.ErrorContext(r.Context(), "admin api request failed", "method", r.Method, "path", r.URL.Path,
			"actor", actorOf(r.Context()), "status", status, "error", err)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		// The cause tells an operator why a token was refused; it never
		// holds the token itself.
		a.Logger.InfoContext(r.Context(), "admin api request refused", "method", r.Method, "path", r.URL.Path,
			"status", status, "error", err)
	}
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	writeJSON(w, status, body)
}
