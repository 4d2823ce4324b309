package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v3"
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
	// LegacyCredentials is what the password grant accepts
	// (models.LegacyToken, LegacyAppPassword or LegacyBoth).
	LegacyCredentials string
	// Brownouts are the client's brownout windows that had not ended when
	// the client was read, by start.
	Brownouts []Brownout
	// AuthMethod is the client's token_endpoint_auth_method; see
	// models.ClientAuth.
	AuthMethod string
	// SigningAlg is the one algorithm of a private_key_jwt client's
	// assertions.
	SigningAlg string
	// Keys is the key set a private_key_jwt client registered inline (nil
	// when none, or when what is stored does not parse), JWKSURI where it
	// publishes them.
	Keys    *jose.JSONWebKeySet
	JWKSURI string
	// RequirePAR refuses authorization requests that were not pushed.
	RequirePAR bool
	// RequirePKCE makes a confidential client send a PKCE challenge too.
	RequirePKCE bool
}

// Client authentication methods (token_endpoint_auth_method). A client
// registered with either secret method may send its secret either way.
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthNone          = "none"
)

// AuthMethods lists the client authentication methods authgate supports.
var AuthMethods = []string{AuthSecretBasic, AuthSecretPost, AuthPrivateKeyJWT, AuthNone}

// AssertionAlgs lists the algorithms a private_key_jwt client may sign
// its assertions with (fosite verifies RSA, RSA-PSS and ECDSA).
var AssertionAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// keyClient is a private_key_jwt client. Only these are fosite
// OpenIDConnectClients: fosite then verifies their assertions and refuses
// them a secret, while the secret clients, which are not, keep taking
// their secret by Basic or in the form alike.
type keyClient struct{ *Client }

var _ fosite.OpenIDConnectClient = keyClient{}

func (c keyClient) GetRequestURIs() []string                 { return nil }
func (c keyClient) GetJSONWebKeys() *jose.JSONWebKeySet      { return c.Keys }
func (c keyClient) GetJSONWebKeysURI() string                { return c.JWKSURI }
func (c keyClient) GetRequestObjectSigningAlgorithm() string { return "" }
func (c keyClient) GetTokenEndpointAuthMethod() string       { return AuthPrivateKeyJWT }
func (c keyClient) GetTokenEndpointAuthSigningAlgorithm() string {
	return c.SigningAlg
}

// fositeClient is c as fosite should see it.
func fositeClient(c *Client) fosite.Client {
	if c.AuthMethod == AuthPrivateKeyJWT {
		return keyClient{c}
	}
	return c
}

// ParseJWKS parses a registered JSON Web Key Set. Every key must be
// public; a key without "use" is taken as a signing key.
func ParseJWKS(s string) (*jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(s), &set); err != nil {
		return nil, fmt.Errorf("parse key set: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("the key set has no key")
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		if !k.IsPublic() {
			return nil, fmt.Errorf("key %d (%q) is not a public key", i, k.KeyID)
		}
		if k.Use == "" {
			k.Use = "sig"
		}
	}
	return &set, nil
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
		AuthMethod:             m.TokenEndpointAuthMethod,
		SigningAlg:             m.TokenEndpointAuthSigningAlg,
		JWKSURI:                m.JWKSURI,
		RequirePAR:             m.RequirePAR,
		RequirePKCE:            m.RequirePKCE,
		LegacyCredentials:      m.LegacyCredentials,
	}
	if m.JWKS != "" {
		// Validated when registered; a set that no longer parses leaves
		// the client without keys, so its assertions are refused.
		c.Keys, _ = ParseJWKS(m.JWKS)
	}
	if m.SecretHash != "" {
		c.Secret = []byte(m.SecretHash)
	}
	return c
}

// AcceptsToken reports whether c's password grant takes a password with
// a security token; a nil c (a client authgate did not load) does.
func (c *Client) AcceptsToken() bool {
	return c == nil || models.Client{LegacyCredentials: c.LegacyCredentials}.AcceptsToken()
}

// AcceptsAppPasswords reports whether c's password grant takes app
// passwords.
func (c *Client) AcceptsAppPasswords() bool {
	return c != nil && models.Client{LegacyCredentials: c.LegacyCredentials}.AcceptsAppPasswords()
}

// ClientOf returns the authgate client behind a fosite client, if any.
func ClientOf(c fosite.Client) (*Client, bool) {
	switch c := c.(type) {
	case *Client:
		return c, true
	case keyClient:
		return c.Client, true
	}
	return nil, false
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
