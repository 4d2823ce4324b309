package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

// TestCLIClientAuth: "clients create" registers a private_key_jwt client
// from a key set file (no secret printed), "clients update" switches PAR
// and PKCE and refuses bad keys with the field's message.
func TestCLIClientAuth(t *testing.T) {
	t.Parallel()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(file, []byte(jwksOf(t, &k.PublicKey, "k1", "ES256")), 0o600); err != nil {
		t.Fatal(err)
	}
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		var created map[string]any
		h.json(&created, "", "clients", "create", "--name", "Service", "--grant-types", "client_credentials",
			"--token-endpoint-auth-method", "private_key_jwt", "--token-endpoint-auth-signing-alg", "ES256", "--jwks", "@"+file, "--json")
		if created["client_secret"] != nil || created["token_endpoint_auth_method"] != "private_key_jwt" ||
			created["token_endpoint_auth_signing_alg"] != "ES256" || created["jwks"] == nil || created["require_pkce"] != true {
			t.Fatalf("create private_key_jwt: got %v", created)
		}
		id := created["client_id"].(string)
		var got map[string]any
		h.json(&got, "", "clients", "update", id, "--require-par", "true", "--require-pkce", "false", "--json")
		if got["require_pushed_authorization_requests"] != true || got["require_pkce"] != false || got["jwks"] == nil {
			t.Errorf("update --require-par --require-pkce: got %v", got)
		}
		h.fails(1, "jwks: ", "", "clients", "update", id, "--jwks", `{"keys":[]}`)
		h.fails(1, "token_endpoint_auth_method: ", "", "clients", "update", id, "--token-endpoint-auth-method", "client_secret_jwt")
		h.fails(1, "it has keys, not a secret", "", "clients", "rotate-secret", id)
	})
}
