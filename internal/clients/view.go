package clients

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"

	"github.com/authgate/authgate/models"
)

// View is how the admin API and the CLI show a client as JSON: never its
// secret hash. Times are in UTC and lists are never null.
type View struct {
	ClientID      string   `json:"client_id"`
	Name          string   `json:"name"`
	Public        bool     `json:"public"`
	FirstParty    bool     `json:"first_party"`
	GrantTypes    []string `json:"grant_types"`
	ResponseTypes []string `json:"response_types"`
	RedirectURIs  []string `json:"redirect_uris"`
	Scopes        []string `json:"scopes"`
	Audience      []string `json:"audience"`
	// AccessTokenFormat is "opaque" or "jwt".
	AccessTokenFormat string `json:"access_token_format"`
	// IDTokenAlg and AccessTokenAlg are the algorithms of the client's ID
	// tokens (and logout tokens) and JWT access tokens.
	IDTokenAlg     string `json:"id_token_signed_response_alg"`
	AccessTokenAlg string `json:"access_token_signed_response_alg"`
	// LegacyEnabled reports whether the client holds the password grant.
	LegacyEnabled      bool       `json:"legacy_enabled"`
	LegacySunset       *time.Time `json:"legacy_sunset"`
	LegacyDeprecatedAt *time.Time `json:"legacy_deprecated_at"`
	// The OpenID Connect logout registration.
	PostLogoutRedirectURIs            []string `json:"post_logout_redirect_uris"`
	BackchannelLogoutURI              string   `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired  bool     `json:"backchannel_logout_session_required"`
	FrontchannelLogoutURI             string   `json:"frontchannel_logout_uri"`
	FrontchannelLogoutSessionRequired bool     `json:"frontchannel_logout_session_required"`
	// LegacyMigrationURL is where the client's owners read how to move off
	// the password grant; empty when the configured default applies.
	LegacyMigrationURL string    `json:"legacy_migration_url"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	// RequireMFA makes the client's users sign in with a second factor.
	RequireMFA bool `json:"require_mfa"`
	// SalesforceCompat adds Salesforce's fields to the password grant's
	// responses, with InstanceURL as instance_url.
	SalesforceCompat bool   `json:"salesforce_compat"`
	InstanceURL      string `json:"instance_url"`
	// How the client authenticates and sends requests (see Auth); jwks is
	// null when the client registered none.
	TokenEndpointAuthMethod     string          `json:"token_endpoint_auth_method"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg,omitempty"`
	JWKS                        json.RawMessage `json:"jwks"`
	JWKSURI                     string          `json:"jwks_uri,omitempty"`
	RequirePAR                  bool            `json:"require_pushed_authorization_requests"`
	RequirePKCE                 bool            `json:"require_pkce"`
	// LegacyCredentials is what the password grant accepts: "token",
	// "app_password" or "both".
	LegacyCredentials string `json:"legacy_credentials"`
}

// ViewOf returns the View of c.
func ViewOf(c models.Client) View {
	return View{
		ClientID:                          c.ID,
		Name:                              c.Name,
		Public:                            c.Public,
		FirstParty:                        c.FirstParty,
		GrantTypes:                        orEmpty(c.GrantTypes),
		ResponseTypes:                     orEmpty(c.ResponseTypes),
		RedirectURIs:                      orEmpty(c.RedirectURIs),
		Scopes:                            orEmpty(c.Scopes),
		Audience:                          orEmpty(c.Audience),
		AccessTokenFormat:                 c.AccessTokenFormat,
		IDTokenAlg:                        c.IDTokenAlg,
		AccessTokenAlg:                    c.AccessTokenAlg,
		LegacyEnabled:                     slices.Contains(c.GrantTypes, GrantPassword),
		LegacySunset:                      utcPtr(c.LegacySunset),
		LegacyDeprecatedAt:                utcPtr(c.LegacyDeprecatedAt),
		PostLogoutRedirectURIs:            orEmpty(c.PostLogoutRedirectURIs),
		BackchannelLogoutURI:              c.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired:  c.BackchannelLogoutSessionRequired,
		FrontchannelLogoutURI:             c.FrontchannelLogoutURI,
		FrontchannelLogoutSessionRequired: c.FrontchannelLogoutSessionRequired,
		LegacyMigrationURL:                c.LegacyMigrationURL,
		CreatedAt:                         c.CreatedAt.UTC(),
		UpdatedAt:                         c.UpdatedAt.UTC(),
		RequireMFA:                        c.RequireMFA,
		SalesforceCompat:                  c.SalesforceCompat,
		InstanceURL:                       c.InstanceURL,
		TokenEndpointAuthMethod:           c.TokenEndpointAuthMethod,
		TokenEndpointAuthSigningAlg:       c.TokenEndpointAuthSigningAlg,
		JWKS:                              jwksOf(c.JWKS),
		JWKSURI:                           c.JWKSURI,
		RequirePAR:                        c.RequirePAR,
		RequirePKCE:                       c.RequirePKCE,
		LegacyCredentials:                 cmp.Or(c.LegacyCredentials, models.LegacyToken),
	}
}

func jwksOf(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
