package server_test

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/authgate/authgate/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./server -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s drifted (if the change is intended, run go test ./server -update):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestDiscoveryGolden(t *testing.T) {
	t.Parallel()
	h, _ := newTestServer(t, nil)
	tests := []struct {
		path   string
		golden string
	}{
		{"/.well-known/openid-configuration", "openid-configuration.golden"},
		{"/.well-known/oauth-authorization-server", "oauth-authorization-server.golden"},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			rec := serveGET(t, h, tc.path, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: got status %d, want 200: %s", tc.path, rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type: got %q, want application/json", ct)
			}
			if cors := rec.Header().Get("Access-Control-Allow-Origin"); cors != "*" {
				t.Errorf("Access-Control-Allow-Origin: got %q, want *", cors)
			}
			body := rec.Body.Bytes()
			if !json.Valid(body) {
				t.Fatalf("body is not JSON: %s", body)
			}
			golden(t, tc.golden, body)

			tag := rec.Header().Get("ETag")
			if tag == "" {
				t.Fatal("no ETag")
			}
			again := serveGET(t, h, tc.path, http.Header{"If-None-Match": {tag}})
			if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
				t.Errorf("If-None-Match: got status %d with %d bytes, want 304 and no body", again.Code, again.Body.Len())
			}
		})
	}
}

// TestDiscoveryMatchesIssuer checks the rules OpenID Connect Discovery
// section 4.3 and RFC 8414 section 3.3 put on the documents, whatever the
// golden files say.
func TestDiscoveryMatchesIssuer(t *testing.T) {
	t.Parallel()
	h, _ := newTestServer(t, nil)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		t.Run(path, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(serveGET(t, h, path, nil).Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc["issuer"] != goldenIssuer {
				t.Errorf("issuer: got %v, want %s", doc["issuer"], goldenIssuer)
			}
			for _, field := range []string{"authorization_endpoint", "token_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint"} {
				s, _ := doc[field].(string)
				if len(s) <= len(goldenIssuer) || s[:len(goldenIssuer)+1] != goldenIssuer+"/" {
					t.Errorf("%s: got %q, want an URL under the issuer", field, s)
				}
			}
			if got := fmt.Sprint(doc["code_challenge_methods_supported"]); got != "[S256]" {
				t.Errorf("code_challenge_methods_supported: got %s, want [S256] (plain is refused)", got)
			}
			if got := fmt.Sprint(doc["response_types_supported"]); got != "[code]" {
				t.Errorf("response_types_supported: got %s, want [code]", got)
			}
		})
	}
}

func TestDiscoveryLegacyGrantDisabled(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		disabled     bool
		wantPassword bool
	}{
		{"enabled", false, true},
		{"disabled", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newTestServer(t, func(c *config.Config) { c.LegacyGrantDisabled = tc.disabled })
			var doc struct {
				Grants []string `json:"grant_types_supported"`
			}
			if err := json.Unmarshal(serveGET(t, h, "/.well-known/openid-configuration", nil).Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(doc.Grants, "password"); got != tc.wantPassword {
				t.Errorf("password in %v: got %v, want %v", doc.Grants, got, tc.wantPassword)
			}
		})
	}
}

// TestJWKSShape compares the JWKS with a golden file after replacing the
// values that change with every key (kid, modulus) by their shape.
func TestJWKSShape(t *testing.T) {
	t.Parallel()
	h, p := newTestServer(t, nil)
	if _, err := p.Keys.Rotate(t.Context(), "test", "", true); err != nil {
		t.Fatal(err)
	}
	rec := serveGET(t, h, "/.well-known/jwks.json", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET jwks: got status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("Content-Type: got %q, want application/jwk-set+json", ct)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=300" {
		t.Errorf("Cache-Control: got %q, want public, max-age=300 (the default jwks_max_age)", cc)
	}
	if len(set.Keys) != 4 {
		t.Fatalf("keys: got %d, want 4 (RS256 current and retired, ES256, EdDSA)", len(set.Keys))
	}
	// The order of keys made at the same moment is their kids'; the
	// shape is compared by algorithm.
	slices.SortStableFunc(set.Keys, func(a, b map[string]any) int { return cmp.Compare(a["alg"].(string), b["alg"].(string)) })
	kids := map[string]bool{}
	for _, k := range set.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Errorf("key %v publishes the private field %s", k["kid"], private)
			}
		}
		kid, _ := k["kid"].(string)
		if kid == "" || kids[kid] {
			t.Errorf("kid %q: want a unique, non-empty kid", kid)
		}
		kids[kid] = true
		k["kid"] = fmt.Sprintf("<%d characters>", len(kid))
		for field, what := range map[string]string{"n": "modulus", "x": "x", "y": "y"} {
			v, ok := k[field].(string)
			if !ok {
				continue
			}
			b, err := base64.RawURLEncoding.DecodeString(v)
			if err != nil {
				t.Errorf("%s: %v", field, err)
			}
			k[field] = fmt.Sprintf("<%d-bit %s>", len(b)*8, what)
		}
	}
	var shape bytes.Buffer
	enc := json.NewEncoder(&shape)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(set); err != nil {
		t.Fatal(err)
	}
	golden(t, "jwks-shape.golden", shape.Bytes())
}

// Over real HTTP the metadata documents carry their length (discovery is
// longer than net/http's buffer and was sent in chunks), their ETag, and
// answer a client holding that ETag with 304 and no body.
func TestMetadataDocumentsOverHTTP(t *testing.T) {
	t.Parallel()
	h, _ := newTestServer(t, nil)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"} {
		t.Run(path, func(t *testing.T) {
			resp, err := srv.Client().Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
			}
			if len(resp.TransferEncoding) != 0 || resp.ContentLength != int64(len(body)) {
				t.Errorf("sent with Transfer-Encoding %q and Content-Length %d for %d bytes; want the length", resp.TransferEncoding, resp.ContentLength, len(body))
			}
			tag := resp.Header.Get("ETag")
			if tag == "" || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Cache-Control") == "" {
				t.Fatalf("headers %v: want an ETag, Access-Control-Allow-Origin * and Cache-Control", resp.Header)
			}
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			req.Header.Set("If-None-Match", tag)
			again, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			rest, _ := io.ReadAll(again.Body)
			_ = again.Body.Close()
			if again.StatusCode != http.StatusNotModified || len(rest) != 0 || again.Header.Get("ETag") != tag {
				t.Errorf("If-None-Match: %d with %d bytes and ETag %q; want 304, no body, the same ETag", again.StatusCode, len(rest), again.Header.Get("ETag"))
			}
		})
	}
}
