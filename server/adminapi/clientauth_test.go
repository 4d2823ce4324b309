package adminapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
)

// The admin API registers a private_key_jwt client with an inline key set
// (a JSON object; no secret), changes its PAR and PKCE flags and removes
// its keys with "".
func TestClientAuthAPI(t *testing.T) {
	t.Parallel()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1"}}}
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		var created createdClientJSON
		e.do(t, "POST", "/admin/api/clients", e.adminToken, map[string]any{
			"name": "svc", "grant_types": []string{"client_credentials"},
			"token_endpoint_auth_method": "private_key_jwt", "token_endpoint_auth_signing_alg": "ES256", "jwks": set,
		}).want(t, http.StatusCreated, &created)
		c := created.Client
		if created.ClientSecret != "" || c.TokenEndpointAuthMethod != "private_key_jwt" || c.TokenEndpointAuthSigningAlg != "ES256" || !c.RequirePKCE {
			t.Fatalf("created: %+v (secret %q)", c, created.ClientSecret)
		}
		var back jose.JSONWebKeySet
		if err := json.Unmarshal(c.JWKS, &back); err != nil || len(back.Keys) != 1 || back.Keys[0].KeyID != "k1" {
			t.Errorf("jwks: got %s, %v", c.JWKS, err)
		}
		var got clients.View
		e.do(t, "PATCH", "/admin/api/clients/"+c.ClientID, e.adminToken, map[string]any{
			"require_pushed_authorization_requests": true, "require_pkce": false,
		}).want(t, http.StatusOK, &got)
		if !got.RequirePAR || got.RequirePKCE || string(got.JWKS) == "null" {
			t.Errorf("PATCH flags: got %+v", got)
		}
		e.do(t, "PATCH", "/admin/api/clients/"+c.ClientID, e.adminToken, map[string]any{"jwks": ""}).want(t, http.StatusBadRequest, nil)
		e.do(t, "PATCH", "/admin/api/clients/"+c.ClientID, e.adminToken, map[string]any{
			"jwks": "", "jwks_uri": "https://svc.example.com/jwks.json",
		}).want(t, http.StatusOK, &got)
		if string(got.JWKS) != "null" || got.JWKSURI != "https://svc.example.com/jwks.json" {
			t.Errorf("PATCH jwks to jwks_uri: got %+v", got)
		}
	})
}
