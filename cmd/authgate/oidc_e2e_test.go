package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

const callback = "http://127.0.0.1:1/callback"

// codeFlow drives a browser through authorize, login and consent, and
// returns the redirect to the client's callback.
func codeFlow(t *testing.T, in *instance, b *http.Client, authURL, username, pw string, expectConsent bool) *url.URL {
	t.Helper()
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if resp.Request.URL.Path == "/login" {
		mustStatus(t, resp, http.StatusOK, body)
		form := hiddenFields(t, body)
		form.Set("username", username)
		form.Set("password", pw)
		resp, err = b.PostForm(in.issuer+"/login", form)
		if err != nil {
			t.Fatal(err)
		}
		body = readBody(t, resp)
	}
	if expectConsent {
		mustStatus(t, resp, http.StatusOK, body)
		if !strings.Contains(body, `name="consent" value="allow"`) {
			t.Fatalf("want the consent page, got: %s", body)
		}
		form := hiddenFields(t, body)
		form.Set("consent", "allow")
		resp, err = b.PostForm(in.issuer+"/oauth2/authorize", form)
		if err != nil {
			t.Fatal(err)
		}
		body = readBody(t, resp)
	}
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("want a redirect to the client, got %d: %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestOIDCEndToEnd(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testOIDCEndToEnd(t, testdb.URL(t, kind))
		})
	}
}

func testOIDCEndToEnd(t *testing.T, dbURL string) {
	in := startServer(t, dbURL, nil)
	ctx := context.Background()
	user := in.createUser("alice", "correct horse battery", false)
	secret := in.createClient(models.Client{
		ID: "webapp", Name: "Web App", RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile", "email", "offline_access"},
	})

	provider, err := oidc.NewProvider(ctx, in.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := &oauth2.Config{
		ClientID: "webapp", ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "profile", "email", "offline_access"},
	}
	verifier := oauth2.GenerateVerifier()
	state, nonce := "state-123456789", "nonce-123456789"
	b := in.browser()
	loc := codeFlow(t, in, b, conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), "alice", "correct horse battery", true)
	if got := loc.Query().Get("state"); got != state {
		t.Fatalf("state: got %q, want %q", got, state)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("no code in redirect %s", loc)
	}
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "webapp"}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	if idt.Subject != user.ID || idt.Nonce != nonce {
		t.Fatalf("id token: got sub %q nonce %q, want %q %q", idt.Subject, idt.Nonce, user.ID, nonce)
	}
	if tok.RefreshToken == "" {
		t.Fatal("want a refresh token for offline_access")
	}

	t.Run("userinfo", func(t *testing.T) {
		info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]any
		_ = info.Claims(&claims)
		if info.Subject != user.ID || info.Email != "alice@example.com" || claims["preferred_username"] != "alice" {
			t.Fatalf("userinfo: got %v", claims)
		}
	})

	t.Run("second authorization reuses session and consent", func(t *testing.T) {
		v2 := oauth2.GenerateVerifier()
		loc := codeFlow(t, in, b, conf.AuthCodeURL("state-abcdefghij", oauth2.S256ChallengeOption(v2)), "", "", false)
		if loc.Query().Get("code") == "" {
			t.Fatalf("no code: %s", loc)
		}
	})

	var first struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idt.Claims(&first); err != nil || first.AuthTime == 0 {
		t.Fatalf("auth_time of the first ID token: %d, %v", first.AuthTime, err)
	}
	firstAuthTime := first.AuthTime

	t.Run("prompt and max_age", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			opts      []oauth2.AuthCodeOption
			wantLogin bool
		}{
			{"prompt=none with a session", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "none")}, false},
			{"recent enough for max_age", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "3600")}, false},
			{"prompt=login", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login")}, true},
			{"max_age=0", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("max_age", "0")}, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v := oauth2.GenerateVerifier()
				authURL := conf.AuthCodeURL("state-prompt-123", append(tc.opts, oauth2.S256ChallengeOption(v))...)
				resp, err := b.Get(authURL)
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, resp)
				if gotLogin := resp.Request.URL.Path == "/login"; gotLogin != tc.wantLogin {
					t.Fatalf("login page shown: got %v, want %v (ended at %s)", gotLogin, tc.wantLogin, resp.Request.URL)
				}
				before := time.Now().Add(-time.Second)
				loc := codeFlow(t, in, b, authURL, "alice", "correct horse battery", false)
				code := loc.Query().Get("code")
				if code == "" {
					t.Fatalf("no code: %s", loc)
				}
				tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(v))
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := tok.Extra("id_token").(string)
				idt, err := provider.Verifier(&oidc.Config{ClientID: "webapp"}).Verify(ctx, raw)
				if err != nil {
					t.Fatal(err)
				}
				var claims struct {
					AuthTime int64 `json:"auth_time"`
				}
				if err := idt.Claims(&claims); err != nil {
					t.Fatal(err)
				}
				switch {
				case tc.wantLogin && time.Unix(claims.AuthTime, 0).Before(before.Truncate(time.Second)):
					t.Errorf("auth_time %s: want the fresh login's", time.Unix(claims.AuthTime, 0).UTC())
				case !tc.wantLogin && claims.AuthTime != firstAuthTime:
					t.Errorf("auth_time: got %d, want the session's %d", claims.AuthTime, firstAuthTime)
				}
			})
		}
	})

	t.Run("refresh rotates and reuse revokes the grant", func(t *testing.T) {
		old := tok.RefreshToken
		expired := &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Hour)}
		fresh, err := conf.TokenSource(ctx, expired).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if fresh.RefreshToken == "" || fresh.RefreshToken == old {
			t.Fatalf("refresh token not rotated")
		}
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Hour)}).Token()
		if err == nil {
			t.Fatal("reusing a rotated refresh token: want an error")
		}
		// Reuse revoked the whole grant: the newest refresh token is dead too.
		_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: fresh.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
		if err == nil {
			t.Fatal("after reuse, the rotated refresh token must be revoked")
		}
		if !strings.Contains(in.stderr.String(), "refresh token reuse detected") {
			t.Error("reuse was not logged as a warning")
		}
		if active := introspect(t, in, "webapp", secret, fresh.AccessToken)["active"]; active != false {
			t.Errorf("access token of a revoked grant: got active=%v, want false", active)
		}
	})

	t.Run("replayed code is refused and revokes what it issued", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		loc := codeFlow(t, in, b, conf.AuthCodeURL("state-replay-1234", oauth2.S256ChallengeOption(v)), "", "", false)
		c := loc.Query().Get("code")
		first, err := conf.Exchange(ctx, c, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		_, err = conf.Exchange(ctx, c, oauth2.VerifierOption(v))
		assertOAuthError(t, err, "invalid_grant")
		if got := introspect(t, in, "webapp", secret, first.AccessToken)["active"]; got != false {
			t.Errorf("token issued by a replayed code: got active=%v, want false", got)
		}
	})

	cc := &clientcredentials.Config{ClientID: "service", TokenURL: provider.Endpoint().TokenURL}
	cc.ClientSecret = in.createClient(models.Client{ID: "service", Name: "Service", GrantTypes: []string{"client_credentials"}, Scopes: []string{"profile"}})

	t.Run("client credentials, introspection and revocation", func(t *testing.T) {
		at, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("client credentials: %v", err)
		}
		if at.RefreshToken != "" {
			t.Error("client credentials must not return a refresh token")
		}
		got := introspect(t, in, "service", cc.ClientSecret, at.AccessToken)
		if got["active"] != true || got["client_id"] != "service" {
			t.Fatalf("introspection: got %v", got)
		}
		form := url.Values{"token": {at.AccessToken}}
		req, _ := http.NewRequest(http.MethodPost, in.issuer+"/oauth2/revoke", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("service", cc.ClientSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		mustStatus(t, resp, http.StatusOK, readBody(t, resp))
		if got := introspect(t, in, "service", cc.ClientSecret, at.AccessToken); got["active"] != false {
			t.Fatalf("after revocation: got %v, want inactive", got)
		}
	})

	t.Run("JWT access tokens verify through the JWKS", func(t *testing.T) {
		jc := &clientcredentials.Config{ClientID: "jwt-service", TokenURL: provider.Endpoint().TokenURL, Scopes: []string{"profile"}}
		jc.ClientSecret = in.createClient(models.Client{ID: "jwt-service", Name: "JWT", GrantTypes: []string{"client_credentials"}, Scopes: []string{"profile"}, AccessTokenFormat: "jwt"})
		at, err := jc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(in.issuer + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(readBody(t, resp)), &set); err != nil {
			t.Fatal(err)
		}
		parsed, err := jwt.Parse(at.AccessToken, func(tk *jwt.Token) (any, error) {
			kid, _ := tk.Header["kid"].(string)
			keys := set.Key(kid)
			if len(keys) == 0 {
				return nil, jwt.ErrTokenUnverifiable
			}
			return keys[0].Key, nil
		}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(in.issuer))
		if err != nil {
			t.Fatalf("verify JWT access token: %v", err)
		}
		if typ := parsed.Header["typ"]; typ != "at+jwt" {
			t.Errorf("typ: got %v, want at+jwt", typ)
		}
		claims := parsed.Claims.(jwt.MapClaims)
		if claims["client_id"] != "jwt-service" || claims["scope"] != "profile" {
			t.Errorf("claims: got %v", claims)
		}
		if got := introspect(t, in, "jwt-service", jc.ClientSecret, at.AccessToken); got["active"] != true {
			t.Errorf("introspect JWT: got %v", got)
		}
	})
}

func introspect(t *testing.T, in *instance, clientID, secret, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, in.issuer+"/oauth2/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	mustStatus(t, resp, http.StatusOK, body)
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("introspection body %q: %v", body, err)
	}
	return out
}

func assertOAuthError(t *testing.T, err error, want string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if err == nil {
		t.Fatalf("got no error, want %s", want)
	}
	if !asRetrieveError(err, &re) {
		t.Fatalf("got %v, want OAuth error %s", err, want)
	}
	if re.ErrorCode != want {
		t.Fatalf("got error %q (%s), want %q", re.ErrorCode, re.ErrorDescription, want)
	}
}
