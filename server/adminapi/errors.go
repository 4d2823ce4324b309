package adminapi

import (
	"github.com/authgate/authgate/internal/storage"

	"context"
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/trustedips"
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
// FieldErrors read: "limit: must be a number".
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

// classify maps any error a handler meets to its HTTP status, its body and
// its WWW-Authenticate challenge. It is the one place where errors become
// wire errors; debug detail never reaches the client.
func classify(err error) (status int, body errorBody, challenge string) {
	var (
		ae          *apiError
		maxBytes    *http.MaxBytesError
		accountsErr *accounts.FieldError
		clientsErr  *clients.FieldError
		trustErr    *trustedips.FieldError
		oauthErr    *fosite.RFC6749Error
	)
	invalid := func(field, description string) (int, errorBody, string) {
		return http.StatusBadRequest, errorBody{Error: codeInvalidRequest, Description: description, Field: field}, ""
	}
	notFound := func(description string) (int, errorBody, string) {
		return http.StatusNotFound, errorBody{Error: codeNotFound, Description: description}, ""
	}
	conflict := func(description string) (int, errorBody, string) {
		return http.StatusConflict, errorBody{Error: codeConflict, Description: description}, ""
	}
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.body, ae.challenge
	case errors.As(err, &maxBytes):
		return errTooLarge.status, errTooLarge.body, ""
	case errors.As(err, &accountsErr):
		return invalid(accountsErr.Field, accountsErr.Error())
	case errors.As(err, &clientsErr):
		return invalid(clientsErr.Field, clientsErr.Error())
	case errors.As(err, &trustErr):
		return invalid(trustErr.Field, trustErr.Error())
	case errors.Is(err, clients.ErrPublicClient):
		return invalid("", "The client is public: it has no secret.")
	case errors.Is(err, clients.ErrInvalid), errors.Is(err, trustedips.ErrInvalid):
		return invalid("", "The request is invalid.")
	case errors.Is(err, accounts.ErrNotFound):
		return notFound("The user does not exist.")
	case errors.Is(err, clients.ErrNotFound):
		return notFound("The client does not exist.")
	case errors.Is(err, trustedips.ErrNotFound):
		return notFound("The trusted range does not exist.")
	case errors.Is(err, accounts.ErrDuplicateUsername):
		return conflict("The username is taken.")
	case errors.Is(err, trustedips.ErrDuplicate):
		return conflict("The range is already trusted.")
	case unavailable(err):
		// Checked before fosite's errors: token introspection wraps a
		// database failure in a 401 error.
		return http.StatusServiceUnavailable, errorBody{Error: codeUnavailable,
			Description: "The server is temporarily unable to handle the request; try again shortly."}, ""
	case errors.As(err, &oauthErr) && oauthErr.CodeField < http.StatusInternalServerError:
		return errInvalidToken.status, errInvalidToken.body, errInvalidToken.challenge
	default:
		return http.StatusInternalServerError, errorBody{Error: codeServerError, Description: descriptionServerError}, ""
	}
}

// unavailable reports whether the database is unreachable, or the client
// went away.
func unavailable(err error) bool {
	return errors.Is(err, context.Canceled) || storage.IsUnavailable(err)
}

// writeError writes err as JSON, and logs it when it is the server's
// fault. A client that went away is not logged as a failure.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body, challenge := classify(err)
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
