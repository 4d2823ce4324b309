package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/oauth"
)

const (
	authMethodUsage = "how the client authenticates: client_secret_basic (a secret, by Basic or in the form), client_secret_post, private_key_jwt (RFC 7523, with --jwks or --jwks-uri) or none (public clients)"
	jwksUsage       = "a private_key_jwt client's public keys: a JSON Web Key Set, or @FILE to read one"
	jwksURIUsage    = "where a private_key_jwt client publishes its public keys (https)"
	parUsage        = "refuse authorization requests that were not pushed to /oauth2/par first (RFC 9126)"
	pkceUsage       = "make a confidential client send a PKCE challenge too (public clients always must)"
)

// readJWKS returns v, or the file it names with a leading @.
func readJWKS(v string) (string, error) {
	if path, ok := strings.CutPrefix(strings.TrimSpace(v), "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read key set: %w", err)
		}
		return string(b), nil
	}
	return v, nil
}

// authFlags adds the authentication flags of "clients create".
func authFlags(f *flags, a *clients.Auth) {
	f.StringVar(&a.Method, "token-endpoint-auth-method", "", authMethodUsage+" (default client_secret_basic, none for --public)")
	f.StringVar(&a.SigningAlg, "token-endpoint-auth-signing-alg", "", "a private_key_jwt client's assertion algorithm: "+strings.Join(oauth.AssertionAlgs, ", ")+" (default RS256)")
	f.Func("jwks", jwksUsage, func(v string) (err error) {
		a.JWKS, err = readJWKS(v)
		return err
	})
	f.StringVar(&a.JWKSURI, "jwks-uri", "", jwksURIUsage)
	f.BoolVar(&a.RequirePAR, "require-par", false, parUsage)
	boolField(f, "require-pkce", pkceUsage+"; default true", &a.RequirePKCE)
}

// authUpdateFlags adds the authentication flags of "clients update".
func authUpdateFlags(f *flags, up *clients.ClientUpdate) {
	stringField(f, "token-endpoint-auth-method", authMethodUsage, &up.TokenEndpointAuthMethod)
	stringField(f, "token-endpoint-auth-signing-alg", "a private_key_jwt client's assertion algorithm: "+strings.Join(oauth.AssertionAlgs, ", "), &up.TokenEndpointAuthSigningAlg)
	f.Func("jwks", jwksUsage+" (\"\" for none)", func(v string) error {
		s, err := readJWKS(v)
		if err != nil {
			return err
		}
		raw := json.RawMessage(s)
		if strings.TrimSpace(s) == "" {
			raw = json.RawMessage(`""`)
		}
		up.JWKS = &raw
		return nil
	})
	stringField(f, "jwks-uri", jwksURIUsage+" (\"\" for none)", &up.JWKSURI)
	boolField(f, "require-par", parUsage, &up.RequirePAR)
	boolField(f, "require-pkce", pkceUsage, &up.RequirePKCE)
}
