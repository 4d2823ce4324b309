package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// rpKey is a relying party's signing key and its public JWKS.
type rpKey struct {
	key  any
	kid  string
	alg  jwt.SigningMethod
	jwks string
}

func newRSAKey(t *testing.T, kid string) rpKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return rpKey{key: k, kid: kid, alg: jwt.SigningMethodRS256, jwks: jwksOf(t, &k.PublicKey, kid, "RS256")}
}

func newECKey(t *testing.T, kid string) rpKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return rpKey{key: k, kid: kid, alg: jwt.SigningMethodES256, jwks: jwksOf(t, &k.PublicKey, kid, "ES256")}
}

func jwksOf(t *testing.T, pub any, kid, alg string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: kid, Algorithm: alg}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertion is an RFC 7523 client assertion of clientID for aud, signed
// with k; edit changes its claims before signing.
func (k rpKey) assertion(t *testing.T, clientID, aud string, edit func(jwt.MapClaims)) string {
	t.Helper()
	now := time.Now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	claims := jwt.MapClaims{
		"iss": clientID, "sub": clientID, "aud": aud, "jti": hex.EncodeToString(jti),
		"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
	}
	if edit != nil {
		edit(claims)
	}
	tok := jwt.NewWithClaims(k.alg, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clientCredentials asks for a token with a client assertion and returns
// the status and the OAuth error code, if any.
func assertClientCredentials(t *testing.T, in *instance, clientID, assertion string, extra url.Values) (int, string) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_assertion_type": {assertionType}, "client_assertion": {assertion}}
	for k, v := range extra {
		form[k] = v
	}
	resp, err := http.PostForm(in.issuer+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error       string `json:"error"`
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode == http.StatusOK && body.AccessToken == "" {
		t.Fatal("200 without an access token")
	}
	return resp.StatusCode, body.Error
}

// push sends a pushed authorization request and returns the status and
// the decoded answer.
func push(t *testing.T, in *instance, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(in.issuer+"/oauth2/par", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func createKeyClient(t *testing.T, in *instance, name string, grants []string, auth clients.Auth) string {
	t.Helper()
	nc := clients.NewClient{Name: name, GrantTypes: grants, Scopes: []string{"openid", "profile"}, Auth: auth}
	if len(grants) > 0 && grants[0] == clients.GrantAuthorizationCode {
		nc.RedirectURIs = []string{callback}
	}
	c, secret, err := in.app.Clients.Create(context.Background(), "test", nc)
	if err != nil {
		t.Fatalf("create client %s: %v", name, err)
	}
	if auth.Method == "private_key_jwt" && secret != "" {
		t.Fatalf("a private_key_jwt client got a secret")
	}
	return c.ID
}

func TestClientAuthEndToEnd(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testClientAuthEndToEnd(t, testdb.URL(t, kind))
		})
	}
}

func testClientAuthEndToEnd(t *testing.T, dbURL string) {
	in := startServer(t, dbURL, map[string]string{
		"AUTHGATE_OUTBOUND_ALLOW_PRIVATE": "true", // the jwks_uri below listens on loopback
		"AUTHGATE_RATE_LIMIT_PER_MINUTE":  "0",
	})
	ctx := context.Background()
	in.createUser("alice", "correct horse battery", false)
	rsaKey, ecKey, stranger := newRSAKey(t, "rsa-1"), newECKey(t, "ec-1"), newRSAKey(t, "rsa-1")
	tokenURL := in.issuer + "/oauth2/token"

	webID := createKeyClient(t, in, "Web", []string{clients.GrantAuthorizationCode},
		clients.Auth{Method: "private_key_jwt", JWKS: rsaKey.jwks})
	svcID := createKeyClient(t, in, "Service", []string{clients.GrantClientCredentials},
		clients.Auth{Method: "private_key_jwt", SigningAlg: "ES256", JWKS: ecKey.jwks})

	t.Run("discovery lists private_key_jwt and the PAR endpoint", func(t *testing.T) {
		resp, err := http.Get(in.issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Methods []string `json:"token_endpoint_auth_methods_supported"`
			Algs    []string `json:"token_endpoint_auth_signing_alg_values_supported"`
			PAR     string   `json:"pushed_authorization_request_endpoint"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if !strings.Contains(strings.Join(m.Methods, ","), "private_key_jwt") || len(m.Algs) == 0 || m.PAR != in.issuer+"/oauth2/par" {
			t.Fatalf("discovery: got %+v", m)
		}
	})

	t.Run("PAR and the code flow with private_key_jwt, x/oauth2 and go-oidc", func(t *testing.T) {
		provider, err := oidc.NewProvider(ctx, in.issuer)
		if err != nil {
			t.Fatal(err)
		}
		verifier := oauth2.GenerateVerifier()
		form := url.Values{
			"response_type": {"code"}, "client_id": {webID}, "redirect_uri": {callback}, "scope": {"openid profile"},
			"state": {"state-par-123456"}, "nonce": {"nonce-par-123456"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
			"client_assertion_type": {assertionType}, "client_assertion": {rsaKey.assertion(t, webID, in.issuer, nil)},
		}
		status, par := push(t, in, form)
		requestURI, _ := par["request_uri"].(string)
		if status != http.StatusCreated || !strings.HasPrefix(requestURI, "urn:ietf:params:oauth:request_uri:") || par["expires_in"] == nil {
			t.Fatalf("PAR: got %d %v, want 201 with a request_uri", status, par)
		}
		b := in.browser()
		authURL := in.issuer + "/oauth2/authorize?" + url.Values{"client_id": {webID}, "request_uri": {requestURI}}.Encode()
		loc := codeFlow(t, in, b, authURL, "alice", "correct horse battery", true)
		if loc.Query().Get("state") != "state-par-123456" || loc.Query().Get("code") == "" {
			t.Fatalf("callback: got %s, want the pushed state and a code", loc)
		}
		conf := &oauth2.Config{ClientID: webID, RedirectURL: callback,
			Endpoint: oauth2.Endpoint{AuthURL: provider.Endpoint().AuthURL, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}}
		tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier),
			oauth2.SetAuthURLParam("client_assertion_type", assertionType),
			oauth2.SetAuthURLParam("client_assertion", rsaKey.assertion(t, webID, tokenURL, nil)))
		if err != nil {
			t.Fatalf("exchange with private_key_jwt: %v", err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := provider.Verifier(&oidc.Config{ClientID: webID}).Verify(ctx, rawID)
		if err != nil || idt.Nonce != "nonce-par-123456" {
			t.Fatalf("id token: %v (nonce %q)", err, idt.Nonce)
		}

		// The request_uri gave its one response: the signed-in browser
		// that consented gets no second code for it.
		resp, err := noRedirect(b).Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if loc := resp.Header.Get("Location"); strings.Contains(loc, "code=") || resp.StatusCode < 400 && !strings.Contains(loc, "error=") {
			t.Fatalf("replayed request_uri: got %d %s %s, want a refusal", resp.StatusCode, loc, body)
		}
		// A secret is no way in for a private_key_jwt client.
		_, err = (&oauth2.Config{ClientID: webID, ClientSecret: "anything", Endpoint: conf.Endpoint}).Exchange(ctx, "x")
		assertOAuthError(t, err, "invalid_client")
	})

	t.Run("client_credentials with an ES256 assertion", func(t *testing.T) {
		if status, code := assertClientCredentials(t, in, svcID, ecKey.assertion(t, svcID, tokenURL, nil), nil); status != http.StatusOK {
			t.Fatalf("got %d %s, want 200", status, code)
		}
	})

	t.Run("refused assertions", func(t *testing.T) {
		for _, tc := range []struct {
			name, clientID, assertion string
		}{
			{"wrong aud", svcID, ecKey.assertion(t, svcID, "https://elsewhere.example/token", nil)},
			{"expired", svcID, ecKey.assertion(t, svcID, tokenURL, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })},
			{"no exp", svcID, ecKey.assertion(t, svcID, tokenURL, func(c jwt.MapClaims) { delete(c, "exp") })},
			{"exp too far ahead", svcID, ecKey.assertion(t, svcID, tokenURL, func(c jwt.MapClaims) { c["exp"] = time.Now().Add(24 * time.Hour).Unix() })},
			{"iat in the future", svcID, ecKey.assertion(t, svcID, tokenURL, func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() })},
			{"another client's, sent as this one", svcID, ecKey.assertion(t, webID, tokenURL, nil)},
			{"signed by a stranger's key", webID, stranger.assertion(t, webID, tokenURL, nil)},
			{"not the registered algorithm", svcID, rsaKey.assertion(t, svcID, tokenURL, nil)},
		} {
			if status, code := assertClientCredentials(t, in, tc.clientID, tc.assertion, nil); status == http.StatusOK || code != "invalid_client" && code != "invalid_request" {
				t.Errorf("%s: got %d %q, want invalid_client", tc.name, status, code)
			}
		}
	})

	t.Run("a replayed assertion: of a parallel burst one wins", func(t *testing.T) {
		a := ecKey.assertion(t, svcID, tokenURL, nil)
		const n = 12
		var ok, refused atomic.Int32
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				status, code := assertClientCredentials(t, in, svcID, a, nil)
				switch {
				case status == http.StatusOK:
					ok.Add(1)
				case code == "invalid_client":
					refused.Add(1)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 1 || refused.Load() != n-1 {
			t.Fatalf("got %d accepted and %d refused, want 1 and %d", ok.Load(), refused.Load(), n-1)
		}
		if status, _ := assertClientCredentials(t, in, svcID, a, nil); status == http.StatusOK {
			t.Fatal("the assertion was accepted again later")
		}
	})

	t.Run("jwks_uri: fetched, cached", func(t *testing.T) {
		key := newRSAKey(t, "uri-1")
		var fetches atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fetches.Add(1)
			w.Header().Set("Content-Type", "application/jwk-set+json")
			_, _ = w.Write([]byte(key.jwks))
		}))
		t.Cleanup(srv.Close)
		id := createKeyClient(t, in, "By URI", []string{clients.GrantClientCredentials},
			clients.Auth{Method: "private_key_jwt", JWKSURI: srv.URL + "/jwks"})
		for range 3 {
			if status, code := assertClientCredentials(t, in, id, key.assertion(t, id, tokenURL, nil), nil); status != http.StatusOK {
				t.Fatalf("got %d %s, want 200", status, code)
			}
		}
		if got := fetches.Load(); got != 1 {
			t.Errorf("the key set was fetched %d times for 3 requests, want 1 (cached)", got)
		}
	})

	t.Run("request_uri of another client, expired, replayed", func(t *testing.T) {
		plain := createKeyClient(t, in, "Other", []string{clients.GrantAuthorizationCode}, clients.Auth{})
		pushFor := func() string {
			status, par := push(t, in, url.Values{
				"response_type": {"code"}, "client_id": {webID}, "redirect_uri": {callback}, "scope": {"openid"}, "state": {"state-other-1234"},
				"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
				"client_assertion_type": {assertionType}, "client_assertion": {rsaKey.assertion(t, webID, in.issuer+"/oauth2/par", nil)},
			})
			if status != http.StatusCreated {
				t.Fatalf("PAR: got %d %v", status, par)
			}
			return par["request_uri"].(string)
		}
		b := in.browser()
		codeFor := func(clientID, requestURI string) (int, string) {
			resp, err := noRedirect(b).Get(in.issuer + "/oauth2/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {requestURI}}.Encode())
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			return resp.StatusCode, resp.Header.Get("Location")
		}
		uri := pushFor()
		if status, loc := codeFor(plain, uri); status < 400 && !strings.Contains(loc, "error=") {
			t.Fatalf("another client's request_uri: got %d %s, want a refusal", status, loc)
		}
		if err := in.app.Store.Conn(ctx).Exec("UPDATE pushed_auth_requests SET expires_at = ?", time.Now().Add(-time.Second).UTC()).Error; err != nil {
			t.Fatal(err)
		}
		if status, loc := codeFor(webID, uri); status < 400 && !strings.Contains(loc, "error=") || strings.Contains(loc, "/login") {
			t.Fatalf("expired request_uri: got %d %s, want a refusal", status, loc)
		}
		if status, loc := codeFor(webID, "urn:ietf:params:oauth:request_uri:made-up"); status < 400 && !strings.Contains(loc, "error=") {
			t.Fatalf("unknown request_uri: got %d %s, want a refusal", status, loc)
		}
	})

	t.Run("PAR needs client authentication", func(t *testing.T) {
		status, out := push(t, in, url.Values{"response_type": {"code"}, "client_id": {webID}, "redirect_uri": {callback}, "scope": {"openid"}})
		if status != http.StatusUnauthorized && status != http.StatusBadRequest || out["error"] != "invalid_client" {
			t.Fatalf("unauthenticated PAR: got %d %v, want invalid_client", status, out)
		}
	})

	t.Run("a client that requires PAR refuses plain requests with a page", func(t *testing.T) {
		id := createKeyClient(t, in, "Strict", []string{clients.GrantAuthorizationCode},
			clients.Auth{Method: "private_key_jwt", JWKS: rsaKey.jwks, RequirePAR: true})
		plain := in.issuer + "/oauth2/authorize?" + url.Values{"client_id": {id}, "response_type": {"code"}, "redirect_uri": {callback}, "state": {"state-strict-1234"},
			"scope": {"openid"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}.Encode()
		req, _ := http.NewRequest(http.MethodGet, plain, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := noRedirect(in.browser()).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "announce") {
			t.Fatalf("plain request, browser: got %d %s: %s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		resp, err = noRedirect(in.browser()).Get(plain)
		if err != nil {
			t.Fatal(err)
		}
		body = readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"invalid_request"`) {
			t.Fatalf("plain request, API: got %d: %s", resp.StatusCode, body)
		}
		status, par := push(t, in, url.Values{
			"response_type": {"code"}, "client_id": {id}, "redirect_uri": {callback}, "scope": {"openid"}, "state": {"state-strict-5678"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
			"client_assertion_type": {assertionType}, "client_assertion": {rsaKey.assertion(t, id, tokenURL, nil)},
		})
		if status != http.StatusCreated {
			t.Fatalf("PAR of a client that requires it: got %d %v", status, par)
		}
		resp, err = noRedirect(in.browser()).Get(in.issuer + "/oauth2/authorize?" + url.Values{"client_id": {id}, "request_uri": {par["request_uri"].(string)}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Fatalf("pushed request: got %d %s, want the login page", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("PKCE is required of new confidential clients", func(t *testing.T) {
		c, secret, err := in.app.Clients.Create(ctx, "test", clients.NewClient{Name: "Confidential", GrantTypes: []string{clients.GrantAuthorizationCode},
			RedirectURIs: []string{callback}, Scopes: []string{"openid"}})
		if err != nil || secret == "" || !c.RequirePKCE {
			t.Fatalf("create: %+v %v", c.ClientAuth, err)
		}
		conf := &oauth2.Config{ClientID: c.ID, ClientSecret: secret, RedirectURL: callback, Scopes: []string{"openid"},
			Endpoint: oauth2.Endpoint{AuthURL: in.issuer + "/oauth2/authorize", TokenURL: tokenURL}}
		resp, err := noRedirect(in.browser()).Get(conf.AuthCodeURL("state-nopkce-1234"))
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if loc := resp.Header.Get("Location"); !strings.Contains(loc, "error=invalid_request") || !strings.Contains(loc, "code_challenge") {
			t.Fatalf("without PKCE: got %d %s, want invalid_request", resp.StatusCode, loc)
		}
		// An existing client (created before migration 0015) keeps its
		// behaviour: no PKCE needed.
		legacySecret := in.createClient(models.Client{ID: "older", Name: "Older", RedirectURIs: []string{callback},
			GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, Scopes: []string{"openid"}})
		old := &oauth2.Config{ClientID: "older", ClientSecret: legacySecret, RedirectURL: callback, Scopes: []string{"openid"}, Endpoint: conf.Endpoint}
		loc := codeFlow(t, in, in.browser(), old.AuthCodeURL("state-older-1234"), "alice", "correct horse battery", true)
		if _, err := old.Exchange(ctx, loc.Query().Get("code")); err != nil {
			t.Fatalf("older client without PKCE: %v", err)
		}
	})
}

// TestClientJWKSURIPrivateAddressesRefused: without
// AUTHGATE_OUTBOUND_ALLOW_PRIVATE a jwks_uri on loopback or the cloud
// metadata address is never fetched.
func TestClientJWKSURIPrivateAddressesRefused(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			in := startServer(t, testdb.URL(t, kind), map[string]string{"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0"})
			key := newRSAKey(t, "k")
			var fetches atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fetches.Add(1)
				_, _ = w.Write([]byte(key.jwks))
			}))
			t.Cleanup(srv.Close)
			for _, uri := range []string{srv.URL + "/jwks", "https://169.254.169.254/latest/jwks"} {
				id := createKeyClient(t, in, "Inside", []string{clients.GrantClientCredentials}, clients.Auth{Method: "private_key_jwt", JWKSURI: uri})
				start := time.Now()
				if status, code := assertClientCredentials(t, in, id, key.assertion(t, id, in.issuer+"/oauth2/token", nil), nil); status == http.StatusOK || code != "invalid_client" {
					t.Errorf("%s: got %d %q, want invalid_client", uri, status, code)
				}
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("%s: refused after %s, want at once (no connection is tried)", uri, d)
				}
			}
			if n := fetches.Load(); n != 0 {
				t.Fatalf("the loopback jwks_uri was fetched %d times, want 0", n)
			}
		})
	}
}
