package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// TestSigningAlgorithmsEndToEnd runs the code flow for clients that chose
// ES256 and EdDSA ID tokens and JWT access tokens, and verifies what they
// get with go-oidc and golang-jwt against the published JWKS.
func TestSigningAlgorithmsEndToEnd(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			in := startServer(t, testdb.URL(t, kind), nil)
			ctx := context.Background()
			user := in.createUser("alice", "correct horse battery", false)
			provider, err := oidc.NewProvider(ctx, in.issuer)
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			var meta struct {
				Algs []string `json:"id_token_signing_alg_values_supported"`
			}
			if err := provider.Claims(&meta); err != nil || !slices.Equal(meta.Algs, []string{"RS256", "ES256", "EdDSA"}) {
				t.Fatalf("id_token_signing_alg_values_supported: got %v (%v), want [RS256 ES256 EdDSA]", meta.Algs, err)
			}
			b := in.browser()
			for i, alg := range []string{"ES256", "EdDSA", "RS256"} {
				t.Run(alg, func(t *testing.T) {
					id := "app-" + strings.ToLower(alg)
					secret := in.createClient(models.Client{
						ID: id, Name: "App " + alg, RedirectURIs: []string{callback},
						GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
						Scopes: []string{"openid", "profile", "offline_access"}, AccessTokenFormat: "jwt",
						IDTokenAlg: alg, AccessTokenAlg: alg,
					})
					conf := &oauth2.Config{
						ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(),
						RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "profile", "offline_access"},
					}
					v := oauth2.GenerateVerifier()
					loc := codeFlow(t, in, b, conf.AuthCodeURL("state-"+alg+"-123456", oidc.Nonce("nonce-"+alg+"-123456"), oauth2.S256ChallengeOption(v)),
						"alice", "correct horse battery", true)
					if i > 0 && loc.Query().Get("code") == "" {
						t.Fatalf("no code: %s", loc)
					}
					tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
					if err != nil {
						t.Fatalf("exchange: %v", err)
					}
					raw, _ := tok.Extra("id_token").(string)
					// go-oidc accepts only the algorithm the client chose.
					idt, err := provider.Verifier(&oidc.Config{ClientID: id, SupportedSigningAlgs: []string{alg}}).Verify(ctx, raw)
					if err != nil {
						t.Fatalf("go-oidc: verify %s ID token: %v", alg, err)
					}
					if idt.Subject != user.ID || idt.Nonce != "nonce-"+alg+"-123456" {
						t.Errorf("ID token: sub %q nonce %q", idt.Subject, idt.Nonce)
					}
					if got := headerAlg(t, raw); got != alg {
						t.Errorf("ID token header alg: got %s, want %s", got, alg)
					}
					if alg != "EdDSA" {
						if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
							t.Errorf("at_hash: %v", err)
						}
					}
					if got := headerAlg(t, tok.AccessToken); got != alg {
						t.Errorf("JWT access token header alg: got %s, want %s", got, alg)
					}
					verifyJWT(t, in.issuer, tok.AccessToken, alg)
					if got := introspect(t, in, id, secret, tok.AccessToken); got["active"] != true {
						t.Errorf("introspect %s access token: got %v, want active", alg, got)
					}
					// A refresh signs the new ID token the same way.
					fresh, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
					if err != nil {
						t.Fatalf("refresh: %v", err)
					}
					raw2, _ := fresh.Extra("id_token").(string)
					if _, err := provider.Verifier(&oidc.Config{ClientID: id, SupportedSigningAlgs: []string{alg}}).Verify(ctx, raw2); err != nil {
						t.Errorf("go-oidc: verify refreshed %s ID token: %v", alg, err)
					}
				})
			}
		})
	}
}

// jwsHeader returns the protected header of a compact JWS.
func jwsHeader(t *testing.T, raw string) jose.Header {
	t.Helper()
	tok, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(tok.Signatures) != 1 {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return tok.Signatures[0].Protected
}

func headerAlg(t *testing.T, raw string) string { t.Helper(); return jwsHeader(t, raw).Algorithm }

func headerKID(t *testing.T, raw string) string { t.Helper(); return jwsHeader(t, raw).KeyID }

// fetchJWKS gets a JWKS and its Cache-Control header.
func fetchJWKS(t *testing.T, issuer string) (jose.JSONWebKeySet, string) {
	t.Helper()
	resp, err := http.Get(issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	mustStatus(t, resp, http.StatusOK, body)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatal(err)
	}
	return set, resp.Header.Get("Cache-Control")
}

// verifyWith checks a JWT access token against set.
func verifyWith(set jose.JSONWebKeySet, issuer, raw, alg string) error {
	_, err := jwt.Parse(raw, func(tk *jwt.Token) (any, error) {
		kid, _ := tk.Header["kid"].(string)
		keys := set.Key(kid)
		if len(keys) == 0 {
			return nil, jwt.ErrTokenUnverifiable
		}
		return keys[0].Key, nil
	}, jwt.WithValidMethods([]string{alg}), jwt.WithIssuer(issuer))
	return err
}

func verifyJWT(t *testing.T, issuer, raw, alg string) {
	t.Helper()
	set, _ := fetchJWKS(t, issuer)
	if err := verifyWith(set, issuer, raw, alg); err != nil {
		t.Errorf("verify %s JWT access token against the JWKS: %v", alg, err)
	}
}

func kidsOf(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

// cli runs an authgate command with in's settings.
func (in *instance) cli(args ...string) (stdout, stderr string) {
	in.t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, func(k string) string { return in.env[k] }, strings.NewReader(""), &out, &errOut); err != nil {
		in.t.Fatalf("authgate %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), errOut.String()
}

type listedKey struct {
	KID         string    `json:"kid"`
	Algorithm   string    `json:"algorithm"`
	State       string    `json:"state"`
	ActivatesAt time.Time `json:"activates_at"`
}

func (in *instance) keys() []listedKey {
	in.t.Helper()
	out, _ := in.cli("keys", "list", "--json")
	var keys []listedKey
	if err := json.Unmarshal([]byte(out), &keys); err != nil {
		in.t.Fatalf("keys list --json: %v\n%s", err, out)
	}
	return keys
}

// TestRotationAcrossReplicas runs two replicas on one PostgreSQL database
// and rotates with the CLI: both publish the new key before either signs
// with it, and a token signed right after the promotion verifies against
// a JWKS fetched before it. --now signs at once, with a warning.
func TestRotationAcrossReplicas(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t, "postgres")
	settings := map[string]string{
		"AUTHGATE_JWKS_MAX_AGE":          "2s",
		"AUTHGATE_KEY_REFRESH_INTERVAL":  "1s",
		"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0",
	}
	a := startServer(t, dbURL, settings)
	b := startServer(t, dbURL, settings)
	replicas := []*instance{a, b}
	ctx := context.Background()
	secret := a.createClient(models.Client{ID: "svc", Name: "Service", GrantTypes: []string{"client_credentials"}, Scopes: []string{"profile"},
		AccessTokenFormat: "jwt", AccessTokenAlg: "ES256"})
	token := func(in *instance) string {
		cc := &clientcredentials.Config{ClientID: "svc", ClientSecret: secret, TokenURL: in.issuer + "/oauth2/token"}
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("token from %s: %v", in.issuer, err)
		}
		return tok.AccessToken
	}
	for _, in := range replicas {
		if _, cc := fetchJWKS(t, in.issuer); cc != "public, max-age=2" {
			t.Errorf("JWKS Cache-Control: got %q, want public, max-age=2", cc)
		}
	}
	oldKID := headerKID(t, token(a))

	// Every 20ms until well after the promotion, each replica's JWKS and a
	// token from it, with the time each was seen.
	type seen struct {
		at        time.Time
		replica   int
		kid       string
		published []string
		raw       string
	}
	var (
		mu     sync.Mutex
		jwks   []seen
		tokens []seen
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, in := range replicas {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				set, _ := fetchJWKS(t, in.issuer)
				now := time.Now()
				raw := token(in)
				mu.Lock()
				jwks = append(jwks, seen{at: now, replica: i, published: kidsOf(set)})
				tokens = append(tokens, seen{at: time.Now(), replica: i, kid: headerKID(t, raw), raw: raw})
				mu.Unlock()
			}
		})
	}
	out, _ := a.cli("keys", "rotate", "--alg", "ES256")
	var rotated listedKey
	for _, k := range a.keys() {
		if k.Algorithm == "ES256" && k.State == "next" {
			rotated = k
		}
	}
	if rotated.KID == "" || !strings.Contains(out, rotated.KID) || !strings.Contains(out, "becomes current at") {
		t.Fatalf("keys rotate: got %q and no next ES256 key in keys list", out)
	}
	newKID := rotated.KID
	// A verifier fetches the JWKS once both replicas publish the key, and
	// before the promotion; it never fetches again.
	var cached jose.JSONWebKeySet
	deadline := time.Now().Add(10 * time.Second)
	for {
		setA, _ := fetchJWKS(t, a.issuer)
		setB, _ := fetchJWKS(t, b.issuer)
		if slices.Contains(kidsOf(setA), newKID) && slices.Contains(kidsOf(setB), newKID) {
			cached = setB
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replicas did not both publish the new key within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !time.Now().Before(rotated.ActivatesAt) {
		t.Fatalf("both replicas published the new key only at %v, not before its activation at %v", time.Now(), rotated.ActivatesAt)
	}
	time.Sleep(time.Until(rotated.ActivatesAt) + 500*time.Millisecond)
	close(stop)
	wg.Wait()

	// Per replica, when it first published the key and first signed with it.
	var firstPublished, firstSigned [2]time.Time
	for _, s := range jwks {
		if slices.Contains(s.published, newKID) && firstPublished[s.replica].IsZero() {
			firstPublished[s.replica] = s.at
		}
	}
	var afterPromotion []seen
	for _, s := range tokens {
		switch s.kid {
		case newKID:
			if firstSigned[s.replica].IsZero() {
				firstSigned[s.replica] = s.at
			}
			afterPromotion = append(afterPromotion, s)
		case oldKID:
		default:
			t.Errorf("replica %d signed with kid %s, neither the old %s nor the new %s", s.replica, s.kid, oldKID, newKID)
		}
	}
	for r := range 2 {
		if firstSigned[r].IsZero() {
			t.Fatalf("replica %d never signed with the new key", r)
		}
		if firstPublished[0].IsZero() || firstPublished[1].IsZero() {
			t.Fatalf("a replica never published the new key: %v", firstPublished)
		}
		for p := range 2 {
			if !firstPublished[p].Before(firstSigned[r]) {
				t.Errorf("replica %d signed with the new key at %v, before replica %d published it at %v", r, firstSigned[r], p, firstPublished[p])
			}
		}
		if firstSigned[r].Before(rotated.ActivatesAt.Add(-50 * time.Millisecond)) {
			t.Errorf("replica %d signed with the new key at %v, before its activation %v", r, firstSigned[r], rotated.ActivatesAt)
		}
	}
	// Tokens signed right after the promotion, by either replica, verify
	// against the JWKS fetched before it.
	for _, s := range afterPromotion {
		if err := verifyWith(cached, replicas[s.replica].issuer, s.raw, "ES256"); err != nil {
			t.Fatalf("token of replica %d at %v against the JWKS fetched before the promotion: %v", s.replica, s.at, err)
		}
	}
	t.Logf("new key published by both replicas %v and %v before activation; first signatures %v and %v after it",
		rotated.ActivatesAt.Sub(firstPublished[0]).Round(time.Millisecond), rotated.ActivatesAt.Sub(firstPublished[1]).Round(time.Millisecond),
		firstSigned[0].Sub(rotated.ActivatesAt).Round(time.Millisecond), firstSigned[1].Sub(rotated.ActivatesAt).Round(time.Millisecond))

	t.Run("now", func(t *testing.T) {
		out, warn := a.cli("keys", "rotate", "--alg", "ES256", "--now")
		if !strings.Contains(warn, "warning:") || !strings.Contains(out, "is current") {
			t.Fatalf("keys rotate --now: stdout %q stderr %q, want a warning and the key current", out, warn)
		}
		var now listedKey
		states := map[string]string{}
		for _, k := range a.keys() {
			states[k.KID] = k.State
			if k.Algorithm == "ES256" && k.State == "current" {
				now = k
			}
		}
		if now.KID == "" || now.KID == newKID || states[newKID] != "retired" || states[oldKID] != "retired" {
			t.Fatalf("keys list after --now: %v, want a new current ES256 key and %s, %s retired", states, newKID, oldKID)
		}
		// Each replica signs with it as soon as it loads the keys.
		for i, in := range replicas {
			deadline := time.Now().Add(5 * time.Second)
			for headerKID(t, token(in)) != now.KID {
				if time.Now().After(deadline) {
					t.Fatalf("replica %d does not sign with the --now key within 5s", i)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	})
}

// A client that chose EdDSA ID tokens gets its ID tokens and its
// back-channel logout tokens signed with EdDSA, and its EdDSA ID token is
// a good id_token_hint.
func TestLogoutTokenFollowsClientAlgorithm(t *testing.T) {
	t.Parallel()
	in := startServer(t, testdb.URL(t, "sqlite"), map[string]string{
		"AUTHGATE_OUTBOUND_ALLOW_PRIVATE": "true", // the receiver listens on loopback
		"AUTHGATE_RATE_LIMIT_PER_MINUTE":  "0",
	})
	ctx := context.Background()
	in.createUser("alice", "correct horse battery", false)
	provider, err := oidc.NewProvider(ctx, in.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "ed-app", SupportedSigningAlgs: []string{"EdDSA"}})
	rc := newReceiver(t, verifier, 0)
	secret := in.createClient(models.Client{
		ID: "ed-app", Name: "Ed App", RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile"}, FirstParty: true, IDTokenAlg: "EdDSA",
		PostLogoutRedirectURIs: []string{afterLogout}, BackchannelLogoutURI: rc.srv.URL + "/backchannel",
	})
	conf := &oauth2.Config{ClientID: "ed-app", ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID}}
	b := in.browser()
	rawID, sid := codeSignIn(t, in, b, conf, verifier, "alice", true)
	if got := headerAlg(t, rawID); got != "EdDSA" {
		t.Fatalf("ID token alg: got %s, want EdDSA", got)
	}
	resp, body := get(t, noRedirect(b), in.issuer+"/oauth2/logout?"+url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {afterLogout}}.Encode())
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout with an EdDSA hint: got %d, want 303: %.300s", resp.StatusCode, body)
	}
	lt := rc.wait(t)
	if lt.Claims["sid"] != sid || lt.Typ != "logout+jwt" {
		t.Errorf("logout token: got typ %q claims %v, want sid %q", lt.Typ, lt.Claims, sid)
	}
	if req, acc, bad := rc.counts(); acc != 1 || len(bad) != 0 {
		t.Errorf("receiver: %d requests, %d accepted, refused %v; want one EdDSA logout token accepted", req, acc, bad)
	}
}

// The CLI sets a client's algorithms and refuses unknown ones; keys
// rotate pre-publishes, --now warns, keys list shows the states.
func TestCLISigningAlgorithms(t *testing.T) {
	t.Parallel()
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		var c map[string]any
		h.json(&c, "", "clients", "create", "--name", "ES app", "--grant-types", "client_credentials",
			"--id-token-alg", "ES256", "--access-token-alg", "EdDSA", "--json")
		if c["id_token_signed_response_alg"] != "ES256" || c["access_token_signed_response_alg"] != "EdDSA" {
			t.Fatalf("create --json = %v, want ES256 and EdDSA", c)
		}
		id := c["client_id"].(string)
		h.json(&c, "", "clients", "update", id, "--id-token-alg", "EdDSA", "--json")
		if c["id_token_signed_response_alg"] != "EdDSA" || c["access_token_signed_response_alg"] != "EdDSA" {
			t.Errorf("update --json = %v, want EdDSA for both", c)
		}
		if out := h.ok("", "clients", "get", id); !regexp.MustCompile(`(?m)^id_token_signed_response_alg: +EdDSA$`).MatchString(out) {
			t.Errorf("get does not show the ID token algorithm:\n%s", out)
		}
		h.fails(1, `id_token_signed_response_alg: "HS256" is not a supported signing algorithm; use RS256, ES256 or EdDSA`, "",
			"clients", "create", "--name", "X", "--grant-types", "client_credentials", "--id-token-alg", "HS256")
		h.fails(1, `access_token_signed_response_alg: "none" is not a supported signing algorithm`, "", "clients", "update", id, "--access-token-alg", "none")

		var keys []listedKey
		h.json(&keys, "", "keys", "list", "--json")
		algs := map[string]int{}
		for _, k := range keys {
			if k.State == "current" {
				algs[k.Algorithm]++
			}
		}
		if len(keys) != 3 || algs["RS256"] != 1 || algs["ES256"] != 1 || algs["EdDSA"] != 1 {
			t.Fatalf("keys list --json = %+v, want one current key per algorithm", keys)
		}
		if out := h.ok("", "keys", "rotate", "--alg", "EdDSA"); !strings.Contains(out, "becomes current at") || !strings.Contains(out, "5m10s") {
			t.Errorf("keys rotate: %q, want the activation 5m10s later (JWKS max-age 5m plus refresh 10s)", out)
		}
		h.json(&keys, "", "keys", "list", "--json")
		next := 0
		for _, k := range keys {
			if k.State == "next" && k.Algorithm == "EdDSA" && time.Until(k.ActivatesAt) > 5*time.Minute {
				next++
			}
		}
		if next != 1 {
			t.Errorf("keys list after rotate = %+v, want one next EdDSA key", keys)
		}
		out, warn, err := h.run("", "keys", "rotate", "--now")
		if err != nil || !strings.Contains(out, "RS256 signing key") || !strings.Contains(warn, "warning:") {
			t.Errorf("keys rotate --now: %q %q %v, want a current RS256 key and a warning", out, warn, err)
		}
		if text := h.ok("", "keys", "list"); !strings.Contains(text, "STATE") || !strings.Contains(text, "retired") || !strings.Contains(text, "next") {
			t.Errorf("keys list:\n%s\nwant a table with the states", text)
		}
		h.fails(2, `--alg "HS256" is not a supported signing algorithm`, "", "keys", "rotate", "--alg", "HS256")
	})
}
