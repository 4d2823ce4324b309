package clients

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// Grant types a client may hold.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	// GrantPassword is the legacy password grant; SetLegacy adds and
	// removes it.
	GrantPassword = "password"
	// GrantDeviceCode is the device authorization grant (RFC 8628), for
	// public and confidential clients; off unless listed.
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

// SupportedGrantTypes lists every grant type a client may hold.
var SupportedGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantPassword, GrantDeviceCode}

// The service's errors. Invalid input is an *apperr.Error for its field
// (apperr.Field), with a message fit to show the administrator next to
// that field.
var (
	// ErrNotFound is returned when no client has the given id.
	ErrNotFound = apperr.New(apperr.NotFound, "client not found")
	// ErrPublicClient is returned by RotateSecret for a public client,
	// which has no secret.
	ErrPublicClient = apperr.New(apperr.Invalid, "public clients have no secret")
	// ErrProtected refuses deleting or changing a client the server
	// needs (the admin console's own, which authgate maintains).
	ErrProtected = apperr.New(apperr.Conflict, "this client is the admin console's own: authgate maintains it, and it cannot be changed or deleted")
)

// Limits on input; the database columns are sized to match where they
// have a size.
const (
	maxName         = 200
	maxRedirectURIs = 50
	maxURILen       = 2000
	maxAudiences    = 50
	maxAudienceLen  = 2000
)

// cleanList trims every element, drops empty ones and duplicates, and
// keeps the order. It never returns nil, so that an empty list is stored
// as [] rather than null.
func cleanList(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// orList renders {a, b, c} as "a, b or c".
func orList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

func validateName(s string) error {
	switch {
	case s == "":
		return apperr.Field("name", "is required")
	case !utf8.ValidString(s):
		return apperr.Field("name", "must be valid UTF-8")
	case utf8.RuneCountInString(s) > maxName:
		return apperr.Field("name", fmt.Sprintf("must be at most %d characters", maxName))
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return apperr.Field("name", "must not contain control characters")
		}
	}
	return nil
}

func validateGrantTypes(grants []string, requireOne bool) error {
	if requireOne && len(grants) == 0 {
		return apperr.Field("grant_types", "at least one is required: "+orList(SupportedGrantTypes))
	}
	for _, g := range grants {
		if !slices.Contains(SupportedGrantTypes, g) {
			return apperr.Field("grant_types", fmt.Sprintf("%q is not a supported grant type; use %s", g, orList(SupportedGrantTypes)))
		}
	}
	return nil
}

func validateScopes(scopes []string) error {
	for _, s := range scopes {
		if !slices.Contains(oauth.SupportedScopes, s) {
			return apperr.Field("scopes", fmt.Sprintf("%q is not a supported scope; use %s", s, orList(oauth.SupportedScopes)))
		}
	}
	return nil
}

func validateFormat(f string) error {
	if f != oauth.FormatOpaque && f != oauth.FormatJWT {
		return apperr.Field("access_token_format", fmt.Sprintf("%q must be %s or %s", f, oauth.FormatOpaque, oauth.FormatJWT))
	}
	return nil
}

func validateAudience(aud []string) error {
	if len(aud) > maxAudiences {
		return apperr.Field("audience", fmt.Sprintf("at most %d entries are allowed", maxAudiences))
	}
	for _, a := range aud {
		if len(a) > maxAudienceLen || !utf8.ValidString(a) || strings.ContainsFunc(a, unicode.IsSpace) || strings.ContainsFunc(a, unicode.IsControl) {
			return apperr.Field("audience", fmt.Sprintf("%q must be a single word or URL of at most %d bytes", a, maxAudienceLen))
		}
	}
	return nil
}

// isLoopback reports whether host names this machine; only such redirect
// URIs may use plain http (RFC 8252 section 7.3).
func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || strings.EqualFold(host, "localhost")
}

// validateRedirectURI accepts an absolute https URL, or an http URL on a
// loopback host, without a fragment or user information.
func validateRedirectURI(raw string) error {
	bad := func(format string, args ...any) error {
		return apperr.Field("redirect_uris", fmt.Sprintf("%q ", raw)+fmt.Sprintf(format, args...))
	}
	if len(raw) > maxURILen {
		return apperr.Field("redirect_uris", fmt.Sprintf("a URI of %d bytes is too long; at most %d are allowed", len(raw), maxURILen))
	}
	if !utf8.ValidString(raw) || strings.ContainsFunc(raw, unicode.IsControl) {
		return bad("must not contain control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return bad("is not a valid URL: %v", err)
	}
	if !u.IsAbs() || u.Opaque != "" || u.Hostname() == "" {
		return bad("is not an absolute URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return bad("must use https; http is allowed only for 127.0.0.1, ::1 and localhost")
		}
	default:
		return bad("must use https (or http for 127.0.0.1, ::1 and localhost)")
	}
	if u.User != nil {
		return bad("must not contain a user name or password")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bad("must not contain a fragment")
	}
	return nil
}

// validate checks a whole client as it would be stored. requireGrant is
// false only where removing a grant type may leave none (disabling the
// legacy grant must always succeed).
func validate(c models.Client, requireGrant bool) error {
	if err := validateName(c.Name); err != nil {
		return err
	}
	if err := validateGrantTypes(c.GrantTypes, requireGrant); err != nil {
		return err
	}
	if c.Public {
		for _, g := range []string{GrantClientCredentials, GrantPassword} {
			if slices.Contains(c.GrantTypes, g) {
				return apperr.Field("grant_types", fmt.Sprintf("a public client cannot use %s: it has no secret to authenticate with", g))
			}
		}
	}
	hasCode := slices.Contains(c.GrantTypes, GrantAuthorizationCode)
	switch {
	case hasCode && len(c.RedirectURIs) == 0:
		return apperr.Field("redirect_uris", "at least one is required with the authorization_code grant")
	case !hasCode && len(c.RedirectURIs) > 0:
		return apperr.Field("redirect_uris", "are used only by the authorization_code grant; remove them or add that grant")
	case len(c.RedirectURIs) > maxRedirectURIs:
		return apperr.Field("redirect_uris", fmt.Sprintf("at most %d are allowed", maxRedirectURIs))
	}
	for _, u := range c.RedirectURIs {
		if err := validateRedirectURI(u); err != nil {
			return err
		}
	}
	if err := validateScopes(c.Scopes); err != nil {
		return err
	}
	if c.LegacyCredentials != "" && !slices.Contains(models.LegacyCredentialChoices(), c.LegacyCredentials) {
		return apperr.Field("legacy_credentials", fmt.Sprintf("%q must be %s", c.LegacyCredentials, orList(models.LegacyCredentialChoices())))
	}
	if err := validateAudience(c.Audience); err != nil {
		return err
	}
	if err := validateLogout(c); err != nil {
		return err
	}
	if err := validateAuth(c); err != nil {
		return err
	}
	if err := validateAlg("id_token_signed_response_alg", c.IDTokenAlg); err != nil {
		return err
	}
	if err := validateAlg("access_token_signed_response_alg", c.AccessTokenAlg); err != nil {
		return err
	}
	return validateFormat(c.AccessTokenFormat)
}

// validateAlg checks a signing algorithm a client chose (in the words of
// RFC 7591's invalid_client_metadata).
func validateAlg(field, alg string) error {
	if !slices.Contains(oauth.SigningAlgorithms, alg) {
		return apperr.Field(field, fmt.Sprintf("%q is not a supported signing algorithm; use %s", alg, orList(oauth.SigningAlgorithms)))
	}
	return nil
}

// responseTypes derives the response types from the grant types.
func responseTypes(grants []string) []string {
	if slices.Contains(grants, GrantAuthorizationCode) {
		return []string{"code"}
	}
	return []string{}
}

// withOfflineAccess adds the offline_access scope to a client with the
// refresh_token grant: a refresh token is offline access, and fosite's
// refresh handler checks that the client may hold that scope. Without it a
// legacy tool given a refresh token could never use it.
func withOfflineAccess(grants, scopes []string) []string {
	if !slices.Contains(grants, GrantRefreshToken) || slices.Contains(scopes, oauth.ScopeOfflineAccess) {
		return scopes
	}
	return append(slices.Clone(scopes), oauth.ScopeOfflineAccess)
}
