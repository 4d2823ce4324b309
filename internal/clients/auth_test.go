package clients

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/testdb"
)

func testJWKS(t *testing.T, key any) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k1"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAuthSettings(t *testing.T) {
	t.Parallel()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaSet, ecSet, privateSet := testJWKS(t, &rsaKey.PublicKey), testJWKS(t, &ecKey.PublicKey), testJWKS(t, rsaKey)
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		ctx := t.Context()
		for _, tc := range []struct {
			name  string
			auth  Auth
			pub   bool
			field string // "" when valid
		}{
			{"default", Auth{}, false, ""},
			{"public default", Auth{}, true, ""},
			{"inline keys", Auth{Method: "private_key_jwt", JWKS: rsaSet}, false, ""},
			{"EC keys for ES256", Auth{Method: "private_key_jwt", SigningAlg: "ES256", JWKS: ecSet}, false, ""},
			{"jwks_uri", Auth{Method: "private_key_jwt", JWKSURI: "https://rp.example/jwks"}, false, ""},
			{"unknown method", Auth{Method: "client_secret_jwt"}, false, "token_endpoint_auth_method"},
			{"public with keys", Auth{Method: "private_key_jwt", JWKS: rsaSet}, true, "token_endpoint_auth_method"},
			{"confidential none", Auth{Method: "none"}, false, "token_endpoint_auth_method"},
			{"no keys", Auth{Method: "private_key_jwt"}, false, "jwks"},
			{"both", Auth{Method: "private_key_jwt", JWKS: rsaSet, JWKSURI: "https://rp.example/jwks"}, false, "jwks"},
			{"a private key", Auth{Method: "private_key_jwt", JWKS: privateSet}, false, "jwks"},
			{"not JSON", Auth{Method: "private_key_jwt", JWKS: "{keys"}, false, "jwks"},
			{"no key for the algorithm", Auth{Method: "private_key_jwt", SigningAlg: "ES256", JWKS: rsaSet}, false, "jwks"},
			{"HS256", Auth{Method: "private_key_jwt", SigningAlg: "HS256", JWKS: rsaSet}, false, "token_endpoint_auth_signing_alg"},
			{"plain http jwks_uri", Auth{Method: "private_key_jwt", JWKSURI: "http://rp.example/jwks"}, false, "jwks_uri"},
			{"keys on a secret client", Auth{JWKS: rsaSet}, false, "token_endpoint_auth_method"},
		} {
			in := webApp()
			in.Public, in.Auth = tc.pub, tc.auth
			if tc.pub {
				in.GrantTypes = []string{GrantAuthorizationCode}
			}
			c, secret, err := f.svc.Create(ctx, "admin", in)
			if tc.field != "" {
				if e, ok := apperr.As(err); !ok || e.Field != tc.field {
					t.Errorf("%s: got %v, want an error for %s", tc.name, err, tc.field)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			wantMethod := map[bool]string{true: "none", false: "client_secret_basic"}[tc.pub]
			if tc.auth.Method != "" {
				wantMethod = tc.auth.Method
			}
			if c.TokenEndpointAuthMethod != wantMethod || !c.RequirePKCE {
				t.Errorf("%s: got method %q, require_pkce %t, want %q and true", tc.name, c.TokenEndpointAuthMethod, c.RequirePKCE, wantMethod)
			}
			if keys := wantMethod == "private_key_jwt"; keys != (secret == "" && c.SecretHash == "") && !tc.pub {
				t.Errorf("%s: secret %q, hash %q: a private_key_jwt client, and only it, has none", tc.name, secret, c.SecretHash)
			}
		}

		// Moving a client onto private_key_jwt drops its secret; it
		// cannot rotate one; moving it off drops its keys.
		c, _ := f.mustCreate(t, webApp())
		method, set := "private_key_jwt", json.RawMessage(rsaSet)
		c, err := f.svc.Update(ctx, "admin", c.ID, ClientUpdate{TokenEndpointAuthMethod: &method, JWKS: &set})
		if err != nil || c.SecretHash != "" || c.TokenEndpointAuthSigningAlg != "RS256" || c.JWKS == "" {
			t.Fatalf("onto private_key_jwt: got %+v, %v", c.ClientAuth, err)
		}
		if _, err := f.svc.RotateSecret(ctx, "admin", c.ID); !errors.Is(err, ErrKeyClient) {
			t.Errorf("RotateSecret(private_key_jwt): got %v, want ErrKeyClient", err)
		}
		entries := auditEntries(t, db, c.ID)
		if last := entries[len(entries)-1]; !strings.Contains(last.Detail, "private_key_jwt") || strings.Contains(last.Detail, `"keys"`) {
			t.Errorf("audit: got %q, want the method and no key material", last.Detail)
		}
		method = "client_secret_basic"
		par := true
		if c, err = f.svc.Update(ctx, "admin", c.ID, ClientUpdate{TokenEndpointAuthMethod: &method, RequirePAR: &par}); err != nil || c.JWKS != "" || c.TokenEndpointAuthSigningAlg != "" || !c.RequirePAR {
			t.Fatalf("off private_key_jwt: got %+v, %v", c.ClientAuth, err)
		}
		if v := ViewOf(c); v.TokenEndpointAuthMethod != "client_secret_basic" || string(v.JWKS) != "null" || !v.RequirePAR || !v.RequirePKCE {
			t.Errorf("view: got %+v", v)
		}
	})
}
