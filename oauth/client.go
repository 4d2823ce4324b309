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
	LegacySunset      *time.Time
	// LegacyDeprecatedAt is when the sunset was announced.
	LegacyDeprecatedAt *time.Time
	// PostLogoutRedirectURIs are where the end_session_endpoint may send
	// the browser back to for this client (exact match).
	PostLogoutRedirectURIs []string
	// RequireMFA makes its users sign in with a second factor.
	RequireMFA bool
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
		LegacySunset:           m.LegacySunset,
		LegacyDeprecatedAt:     m.LegacyDeprecatedAt,
		PostLogoutRedirectURIs: m.PostLogoutRedirectURIs,
		RequireMFA:             m.RequireMFA,
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
