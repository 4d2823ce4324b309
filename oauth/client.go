package oauth

import (
	"time"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/models"
)

// Access token formats a client may receive.
const (
	FormatOpaque = "opaque"
	FormatJWT    = "jwt"
)

// Client is a registered client as fosite sees it, with authgate's own
// settings alongside.
type Client struct {
	fosite.DefaultClient
	Name              string
	FirstParty        bool
	AccessTokenFormat string
	// IDTokenAlg and AccessTokenAlg are the algorithms of the client's ID
	// (and logout) tokens and of its JWT access tokens.
	IDTokenAlg, AccessTokenAlg string
	LegacySunset               *time.Time
	// LegacyDeprecatedAt is when the sunset was announced.
	LegacyDeprecatedAt *time.Time
	// PostLogoutRedirectURIs are where the end_session_endpoint may send
	// the browser back to for this client (exact match).
	PostLogoutRedirectURIs []string
	// RequireMFA makes its users sign in with a second factor.
	RequireMFA bool
	// LegacyMigrationURL is where the client's owners read how to move off
	// the password grant ("" when none is set for the client).
	LegacyMigrationURL string
	// SalesforceCompat and InstanceURL: see models.Client.
	SalesforceCompat bool
	InstanceURL      string
	// Brownouts are the client's brownout windows that had not ended when
	// the client was read, by start.
	Brownouts []Brownout
}

// Brownout is a window [Start, End) during which the password grant is
// refused for a client.
type Brownout struct {
	Start, End time.Time
}

// BrownoutAt returns the brownout window of c that holds now, if any.
func (c *Client) BrownoutAt(now time.Time) (Brownout, bool) {
	for _, b := range c.Brownouts {
		if !now.Before(b.Start) && now.Before(b.End) {
			return b, true
		}
	}
	return Brownout{}, false
}

var _ fosite.Client = (*Client)(nil)

// NewClient converts a stored client.
func NewClient(m models.Client) *Client {
	c := &Client{
		DefaultClient: fosite.DefaultClient{
			ID:            m.ID,
			RedirectURIs:  m.RedirectURIs,
			GrantTypes:    m.GrantTypes,
			ResponseTypes: m.ResponseTypes,
			Scopes:        m.Scopes,
			Audience:      m.Audience,
			Public:        m.Public,
		},
		Name:                   m.Name,
		FirstParty:             m.FirstParty,
		AccessTokenFormat:      m.AccessTokenFormat,
		IDTokenAlg:             cmpAlg(m.IDTokenAlg),
		AccessTokenAlg:         cmpAlg(m.AccessTokenAlg),
		LegacySunset:           m.LegacySunset,
		LegacyDeprecatedAt:     m.LegacyDeprecatedAt,
		PostLogoutRedirectURIs: m.PostLogoutRedirectURIs,
		RequireMFA:             m.RequireMFA,
		LegacyMigrationURL:     m.LegacyMigrationURL,
		SalesforceCompat:       m.SalesforceCompat,
		InstanceURL:            m.InstanceURL,
	}
	if m.SecretHash != "" {
		c.Secret = []byte(m.SecretHash)
	}
	return c
}

// ClientOf returns the authgate client behind a fosite client, if any.
func ClientOf(c fosite.Client) (*Client, bool) {
	ac, ok := c.(*Client)
	return ac, ok
}

// UserClaims are the user's claims released for the granted scopes, in
// ID tokens and at userinfo alike.
func UserClaims(u models.User, granted fosite.Arguments) map[string]any {
	claims := map[string]any{"sub": u.ID}
	if granted.Has(ScopeProfile) {
		claims["preferred_username"] = u.Username
		if u.Name != "" {
			claims["name"] = u.Name
		}
	}
	if granted.Has(ScopeEmail) {
		claims["email"] = u.Email
		claims["email_verified"] = u.EmailVerified
	}
	return claims
}
