package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/oauth"
)

// principal is who acts through the API: "user:<username>" for a user's
// token, "client:<client_id>" for a client's own (client credentials).
type principal string

type principalKey struct{}

// actorOf returns the principal that authenticate put in ctx, or "" when
// none did.
func actorOf(ctx context.Context) string {
	p, _ := ctx.Value(principalKey{}).(principal)
	return string(p)
}

// authenticate admits a request that carries, in its Authorization
// header, an access token issued by this server with the authgate:admin
// scope granted, held by an admin user or by a client. Tokens in the query
// or the body are not looked at: they would end up in logs.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.principal(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// principal checks the request's bearer token and returns who holds it.
func (a *api) principal(r *http.Request) (principal, error) {
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return "", errMissingToken
	}
	ctx := r.Context()
	use, ar, err := a.Provider.IntrospectToken(ctx, token, fosite.AccessToken, oauth.NewSession(""))
	if err != nil {
		// classify tells an unreachable database (503) from a bad token (401).
		return "", fmt.Errorf("introspect admin token: %w", err)
	}
	if use != fosite.AccessToken {
		// fosite falls back to refresh tokens; a refresh token is no bearer.
		return "", fmt.Errorf("%w: a %s was presented", errInvalidToken, use)
	}
	if !ar.GetGrantedScopes().Has(oauth.AdminScope) {
		return "", errInsufficientScope
	}
	subject := ar.GetSession().GetSubject()
	if subject == "" {
		// Only client credentials issue a token without a user.
		return principal("client:" + ar.GetClient().GetID()), nil
	}
	user, err := a.Accounts.GetUserByID(ctx, subject)
	if errors.Is(err, accounts.ErrNotFound) {
		return "", fmt.Errorf("%w: its user no longer exists", errInvalidToken)
	}
	if err != nil {
		return "", err
	}
	if !user.Admin {
		return "", fmt.Errorf("%w: user %s", errNotAdmin, user.Username)
	}
	return principal(accounts.UserActor(user.Username)), nil
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 7235 section 2.1).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
