package clients

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// Auth is how a client authenticates and sends its authorization
// requests (see models.ClientAuth).
type Auth struct {
	// Method is the token_endpoint_auth_method: client_secret_basic (the
	// default for confidential clients; a secret may then be sent by
	// Basic or in the form), client_secret_post, private_key_jwt, or none
	// (public clients, the only method they have).
	Method string
	// SigningAlg is a private_key_jwt client's assertion algorithm
	// (default RS256); JWKS (inline, JSON) or JWKSURI its public keys.
	SigningAlg string
	JWKS       string
	JWKSURI    string
	// RequirePAR refuses authorization requests not pushed first.
	RequirePAR bool
	// RequirePKCE, nil for the default (on), makes a confidential client
	// send a PKCE challenge too.
	RequirePKCE *bool
}

// maxJWKS bounds an inline key set.
const maxJWKS = 64 << 10

// ErrKeyClient is returned by RotateSecret for a private_key_jwt client,
// which authenticates with its keys.
var ErrKeyClient = apperr.New(apperr.Invalid, "this client authenticates with private_key_jwt: it has keys, not a secret")

// setAuth fills c's authentication settings for Create.
func setAuth(c *models.Client, a Auth) {
	c.TokenEndpointAuthMethod = strings.TrimSpace(a.Method)
	if c.TokenEndpointAuthMethod == "" {
		c.TokenEndpointAuthMethod = oauth.AuthSecretBasic
		if c.Public {
			c.TokenEndpointAuthMethod = oauth.AuthNone
		}
	}
	c.TokenEndpointAuthSigningAlg = strings.TrimSpace(a.SigningAlg)
	c.JWKS, c.JWKSURI = compactJSON(a.JWKS), strings.TrimSpace(a.JWKSURI)
	c.RequirePAR = a.RequirePAR
	c.RequirePKCE = a.RequirePKCE == nil || *a.RequirePKCE
	defaultAlg(c)
}

// applyAuth copies the authentication fields of up that are set into c.
// Moving off private_key_jwt drops the keys, moving onto it the secret.
func applyAuth(c *models.Client, up ClientUpdate) {
	if up.TokenEndpointAuthMethod != nil {
		c.TokenEndpointAuthMethod = strings.TrimSpace(*up.TokenEndpointAuthMethod)
	}
	if up.TokenEndpointAuthSigningAlg != nil {
		c.TokenEndpointAuthSigningAlg = strings.TrimSpace(*up.TokenEndpointAuthSigningAlg)
	}
	if up.JWKS != nil {
		c.JWKS = compactJSON(string(*up.JWKS))
	}
	if up.JWKSURI != nil {
		c.JWKSURI = strings.TrimSpace(*up.JWKSURI)
	}
	if up.RequirePAR != nil {
		c.RequirePAR = *up.RequirePAR
	}
	if up.RequirePKCE != nil {
		c.RequirePKCE = *up.RequirePKCE
	}
	if c.TokenEndpointAuthMethod == oauth.AuthPrivateKeyJWT {
		c.SecretHash = ""
	} else if up.TokenEndpointAuthMethod != nil {
		c.TokenEndpointAuthSigningAlg, c.JWKS, c.JWKSURI = "", "", ""
	}
	defaultAlg(c)
}

func defaultAlg(c *models.Client) {
	if c.TokenEndpointAuthMethod == oauth.AuthPrivateKeyJWT && c.TokenEndpointAuthSigningAlg == "" {
		c.TokenEndpointAuthSigningAlg = "RS256"
	}
}

// compactJSON trims s and, when it is JSON, compacts it; "" and the JSON
// string "" (how the admin API clears the key set) become "".
func compactJSON(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s == `""` || s == "null" {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, []byte(s)) != nil {
		return s // validateAuth says what is wrong
	}
	return b.String()
}

// validateAuth checks c's authentication settings.
func validateAuth(c models.Client) error {
	m := c.TokenEndpointAuthMethod
	switch {
	case !slices.Contains(oauth.AuthMethods, m):
		return apperr.Field("token_endpoint_auth_method", fmt.Sprintf("%q is not supported; use %s", m, orList(oauth.AuthMethods)))
	case c.Public && m != oauth.AuthNone:
		return apperr.Field("token_endpoint_auth_method", "a public client has no credentials: its method is none")
	case !c.Public && m == oauth.AuthNone:
		return apperr.Field("token_endpoint_auth_method", "none is for public clients; a confidential client uses a secret or private_key_jwt")
	}
	if m != oauth.AuthPrivateKeyJWT {
		if c.JWKS != "" || c.JWKSURI != "" || c.TokenEndpointAuthSigningAlg != "" {
			return apperr.Field("token_endpoint_auth_method", "jwks, jwks_uri and token_endpoint_auth_signing_alg are for private_key_jwt clients")
		}
		return nil
	}
	alg := c.TokenEndpointAuthSigningAlg
	if !slices.Contains(oauth.AssertionAlgs, alg) {
		return apperr.Field("token_endpoint_auth_signing_alg", fmt.Sprintf("%q is not supported; use %s", alg, orList(oauth.AssertionAlgs)))
	}
	switch {
	case c.JWKS == "" && c.JWKSURI == "":
		return apperr.Field("jwks", "a private_key_jwt client needs its public keys: a jwks or a jwks_uri")
	case c.JWKS != "" && c.JWKSURI != "":
		return apperr.Field("jwks", "give a jwks or a jwks_uri, not both")
	case c.JWKSURI != "":
		return validateJWKSURI(c.JWKSURI)
	}
	if len(c.JWKS) > maxJWKS {
		return apperr.Field("jwks", fmt.Sprintf("a key set of %d bytes is too large; at most %d are allowed", len(c.JWKS), maxJWKS))
	}
	set, err := oauth.ParseJWKS(c.JWKS)
	if err != nil {
		return apperr.Field("jwks", err.Error())
	}
	for _, k := range set.Keys {
		switch k.Key.(type) {
		case *rsa.PublicKey:
			if strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS") {
				return nil
			}
		case *ecdsa.PublicKey:
			if strings.HasPrefix(alg, "ES") {
				return nil
			}
		}
	}
	return apperr.Field("jwks", fmt.Sprintf("has no key for %s", alg))
}

// validateJWKSURI accepts an https URL (http on a loopback host, for
// development: its address is refused at fetch time unless private
// addresses are allowed).
func validateJWKSURI(raw string) error {
	return renameField(validateRedirectURI(raw), "jwks_uri")
}

// describeAuth summarises c's authentication settings for the audit log.
func describeAuth(c models.Client) string {
	out := fmt.Sprintf(" token_endpoint_auth_method=%s require_par=%t require_pkce=%t", c.TokenEndpointAuthMethod, c.RequirePAR, c.RequirePKCE)
	if c.TokenEndpointAuthMethod == oauth.AuthPrivateKeyJWT {
		out += fmt.Sprintf(" token_endpoint_auth_signing_alg=%s jwks_uri=%s jwks=%t", c.TokenEndpointAuthSigningAlg, c.JWKSURI, c.JWKS != "")
	}
	return out
}
