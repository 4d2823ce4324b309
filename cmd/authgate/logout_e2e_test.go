package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/internal/logout"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

const afterLogout = "http://127.0.0.1:1/after-logout"

// logoutToken is one logout token a receiver accepted, with its verified
// claims and header.
type logoutToken struct {
	Typ    string
	Claims map[string]any
}

// receiver is a relying party's back-channel logout endpoint on a random
// loopback port. It verifies every logout token through the provider's
// JWKS with go-oidc (signature, iss, aud, exp) and checks the rest of
// OpenID Connect Back-Channel Logout 1.0 section 2.6 itself. Its first
// failFirst requests answer 500, as a relying party that is briefly down.
type receiver struct {
	srv       *httptest.Server
	mu        sync.Mutex
	failFirst int
	requests  int
	accepted  []logoutToken
	bad       []string
	got       chan logoutToken
}

func newReceiver(t *testing.T, verifier *oidc.IDTokenVerifier, failFirst int) *receiver {
	rc := &receiver{failFirst: failFirst, got: make(chan logoutToken, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.requests++
		fail := rc.requests <= rc.failFirst
		rc.mu.Unlock()
		if fail {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		raw := r.PostFormValue("logout_token")
		lt, err := checkLogoutToken(r.Context(), verifier, raw)
		if err != nil {
			rc.mu.Lock()
			rc.bad = append(rc.bad, err.Error())
			rc.mu.Unlock()
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.accepted = append(rc.accepted, lt)
		rc.mu.Unlock()
		rc.got <- lt
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func checkLogoutToken(ctx context.Context, verifier *oidc.IDTokenVerifier, raw string) (logoutToken, error) {
	sig, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		return logoutToken{}, err
	}
	typ, _ := sig.Signatures[0].Protected.ExtraHeaders["typ"].(string)
	tok, err := verifier.Verify(ctx, raw)
	if err != nil {
		return logoutToken{}, fmt.Errorf("verify: %w", err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return logoutToken{}, err
	}
	events, _ := claims["events"].(map[string]any)
	if _, ok := events[logout.EventBackchannelLogout]; !ok {
		return logoutToken{}, fmt.Errorf("no back-channel logout event in %v", claims["events"])
	}
	if _, ok := claims["nonce"]; ok {
		return logoutToken{}, fmt.Errorf("a logout token carries a nonce")
	}
	if claims["jti"] == nil || claims["iat"] == nil || (claims["sub"] == nil && claims["sid"] == nil) {
		return logoutToken{}, fmt.Errorf("missing claims: %v", claims)
	}
	return logoutToken{Typ: typ, Claims: claims}, nil
}

func (rc *receiver) counts() (requests, accepted int, bad []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests, len(rc.accepted), append([]string(nil), rc.bad...)
}

// wait returns the next accepted token, failing after 30 seconds.
func (rc *receiver) wait(t *testing.T) logoutToken {
	t.Helper()
	select {
	case lt := <-rc.got:
		return lt
	case <-time.After(30 * time.Second):
		req, acc, bad := rc.counts()
		t.Fatalf("no logout token accepted within 30s (%d requests, %d accepted, refused: %v)", req, acc, bad)
		return logoutToken{}
	}
}

// noRedirect is a browser that stops at every redirect, to look at it.
func noRedirect(b *http.Client) *http.Client {
	c := *b
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

func get(t *testing.T, b *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readBody(t, resp)
}

// codeSignIn runs the code flow for username in browser b (logging in
// when login is set) and returns the ID token and its sid.
func codeSignIn(t *testing.T, in *instance, b *http.Client, conf *oauth2.Config, verifier *oidc.IDTokenVerifier, username string, login bool) (rawID, sid string) {
	t.Helper()
	ctx := context.Background()
	verifierPKCE := oauth2.GenerateVerifier()
	pw := ""
	if login {
		pw = "correct horse battery"
	}
	loc := codeFlow(t, in, b, conf.AuthCodeURL("state-0123456789", oidc.Nonce("nonce-0123456789"), oauth2.S256ChallengeOption(verifierPKCE)), username, pw, false)
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifierPKCE))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ = tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, rawID)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		SID string `json:"sid"`
	}
	_ = idt.Claims(&claims)
	if claims.SID == "" {
		t.Fatal("the ID token carries no sid")
	}
	return rawID, claims.SID
}

// signInAs signs username in, in a browser of its own.
func signInAs(t *testing.T, in *instance, conf *oauth2.Config, verifier *oidc.IDTokenVerifier, username string) (rawID, sid string) {
	t.Helper()
	return codeSignIn(t, in, in.browser(), conf, verifier, username, true)
}

func TestLogoutEndToEnd(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testLogoutEndToEnd(t, testdb.URL(t, kind))
		})
	}
}

func testLogoutEndToEnd(t *testing.T, dbURL string) {
	in := startServer(t, dbURL, map[string]string{
		"AUTHGATE_OUTBOUND_ALLOW_PRIVATE": "true", // the receiver listens on loopback
		"AUTHGATE_RATE_LIMIT_PER_MINUTE":  "0",
	})
	ctx := context.Background()
	user := in.createUser("alice", "correct horse battery", false)
	provider, err := oidc.NewProvider(ctx, in.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		EndSession         string `json:"end_session_endpoint"`
		Backchannel        bool   `json:"backchannel_logout_supported"`
		BackchannelSession bool   `json:"backchannel_logout_session_supported"`
		Frontchannel       bool   `json:"frontchannel_logout_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.EndSession != in.issuer+"/oauth2/logout" || !meta.Backchannel || !meta.BackchannelSession || !meta.Frontchannel {
		t.Fatalf("discovery: got %+v", meta)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "webapp"})
	rc := newReceiver(t, verifier, 1)
	secret := in.createClient(models.Client{
		ID: "webapp", Name: "Web App", RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile"}, FirstParty: true,
		PostLogoutRedirectURIs: []string{afterLogout},
		BackchannelLogoutURI:   rc.srv.URL + "/backchannel", BackchannelLogoutSessionRequired: true,
	})
	conf := &oauth2.Config{
		ClientID: "webapp", ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "profile"},
	}
	signIn := func(b *http.Client, login bool) (rawID string, sid string) {
		t.Helper()
		return codeSignIn(t, in, b, conf, verifier, "alice", login)
	}
	logoutURL := func(q url.Values) string { return in.issuer + "/oauth2/logout?" + q.Encode() }

	in.createUser("bob", "correct horse battery", false)
	bobID, _ := signInAs(t, in, conf, verifier, "bob")
	b := in.browser()
	rawID, sid := signIn(b, true)
	// A later authorization in the same browser is the same session.
	if _, sid2 := signIn(b, false); sid2 != sid {
		t.Fatalf("second sign-in in one session: sid %q, want %q", sid2, sid)
	}

	t.Run("open redirect refused", func(t *testing.T) {
		// The attacker's page sends the victim's browser to the logout
		// endpoint with a redirect of its own, with and without a
		// genuine hint, or a registered URI of another client, or a
		// prefix/suffix trick.
		for _, q := range []url.Values{
			{"id_token_hint": {rawID}, "post_logout_redirect_uri": {"https://evil.example/"}},
			{"client_id": {"webapp"}, "post_logout_redirect_uri": {"https://evil.example/"}},
			{"post_logout_redirect_uri": {afterLogout}},
			{"client_id": {"webapp"}, "post_logout_redirect_uri": {afterLogout + "/../evil"}},
			{"client_id": {"webapp"}, "post_logout_redirect_uri": {afterLogout + "?x=1"}},
			{"client_id": {"nobody"}, "post_logout_redirect_uri": {afterLogout}},
			{"id_token_hint": {rawID[:len(rawID)-4] + "AAAA"}, "post_logout_redirect_uri": {afterLogout}},
			{"id_token_hint": {"not.a.token"}},
		} {
			resp, body := get(t, noRedirect(b), logoutURL(q))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("%v: got %d Location %q, want 400 without a redirect", q, resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "cannot be completed") {
				t.Errorf("%v: want the HTML error page, got %s: %.300s", q, resp.Header.Get("Content-Type"), body)
			}
		}
		// The session is still there: authorizing needs no login.
		if _, s := signIn(b, false); s != sid {
			t.Fatalf("after refused logouts: sid %q, want %q (session ended?)", s, sid)
		}
	})

	t.Run("a logout not tied to the user asks first, with CSRF", func(t *testing.T) {
		resp, body := get(t, noRedirect(b), logoutURL(url.Values{"client_id": {"webapp"}, "post_logout_redirect_uri": {afterLogout}, "state": {"s1"}}))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="confirm-logout"`) {
			t.Fatalf("want the confirmation page, got %d: %.300s", resp.StatusCode, body)
		}
		form := hiddenFields(t, body)
		forged := url.Values{}
		for k, v := range form {
			if k != "csrf_token" {
				forged[k] = v
			}
		}
		resp, err := noRedirect(b).PostForm(in.issuer+"/oauth2/logout", forged)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("confirmation without CSRF token: got %d, want 403", resp.StatusCode)
		}
		if _, s := signIn(b, false); s != sid {
			t.Fatal("a forged confirmation ended the session")
		}
		// Someone else's genuine ID token does not tie the request to
		// alice: the attacker's own hint still asks her first.
		resp, body = get(t, noRedirect(b), logoutURL(url.Values{"id_token_hint": {bobID}, "post_logout_redirect_uri": {afterLogout}}))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="confirm-logout"`) {
			t.Fatalf("logout with another user's hint: got %d, want the confirmation page: %.300s", resp.StatusCode, body)
		}
		if _, s := signIn(b, false); s != sid {
			t.Fatal("another user's hint ended the session")
		}
		resp, err = noRedirect(b).PostForm(in.issuer+"/oauth2/logout", form)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != afterLogout+"?state=s1" {
			t.Fatalf("confirmed logout: got %d to %q, want 303 to %s?state=s1", resp.StatusCode, resp.Header.Get("Location"), afterLogout)
		}
		lt := rc.wait(t)
		if lt.Claims["sid"] != sid || lt.Claims["sub"] != user.ID || lt.Typ != "logout+jwt" {
			t.Errorf("logout token: got typ %q claims %v, want sid %q sub %q", lt.Typ, lt.Claims, sid, user.ID)
		}
		if req, acc, bad := rc.counts(); req < 2 || acc != 1 || len(bad) != 0 {
			t.Errorf("receiver: %d requests, %d accepted, refused %v; want a failed first try, then one accepted", req, acc, bad)
		}
	})

	t.Run("RP-initiated logout with the hint", func(t *testing.T) {
		b := in.browser()
		rawID, sid := signIn(b, true)
		resp, body := get(t, noRedirect(b), logoutURL(url.Values{
			"id_token_hint": {rawID}, "post_logout_redirect_uri": {afterLogout}, "state": {"xyz 1/2"},
		}))
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: got %d, want 303: %.300s", resp.StatusCode, body)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if loc.Scheme+"://"+loc.Host+loc.Path != afterLogout || loc.Query().Get("state") != "xyz 1/2" {
			t.Fatalf("logout redirect: got %s, want %s with the state", loc, afterLogout)
		}
		// The session really ended: the next authorization asks to log in.
		resp, body = get(t, b, conf.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if resp.Request.URL.Path != "/login" {
			t.Fatalf("authorize after logout: landed on %s, want /login: %.200s", resp.Request.URL, body)
		}
		lt := rc.wait(t)
		if lt.Claims["sid"] != sid {
			t.Errorf("logout token sid: got %v, want %q", lt.Claims["sid"], sid)
		}
		// The same hint again: nothing to end, the RP still gets its
		// browser back (an expired session is no error).
		resp, _ = get(t, noRedirect(b), logoutURL(url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {afterLogout}}))
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != afterLogout {
			t.Errorf("logout again: got %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		// POST works the same way (RP-Initiated Logout 1.0 section 2).
		b = in.browser()
		rawID, _ = signIn(b, true)
		resp2, err := noRedirect(b).PostForm(in.issuer+"/oauth2/logout", url.Values{"id_token_hint": {rawID}, "post_logout_redirect_uri": {afterLogout}, "state": {"p"}})
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp2)
		if resp2.StatusCode != http.StatusSeeOther || resp2.Header.Get("Location") != afterLogout+"?state=p" {
			t.Errorf("POST logout: got %d to %q", resp2.StatusCode, resp2.Header.Get("Location"))
		}
		rc.wait(t)
	})

	t.Run("the outbox is empty once delivered", func(t *testing.T) {
		// The sender deletes a delivery once the receiver has answered.
		deadline := time.Now().Add(10 * time.Second)
		for {
			queued, failed, err := in.app.Store.LogoutCounts(ctx)
			if err == nil && queued == 0 && failed == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("LogoutCounts: got %d queued, %d failed, %v; want 0, 0", queued, failed, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, _, bad := rc.counts(); len(bad) != 0 {
			t.Fatalf("the receiver refused tokens: %v", bad)
		}
	})
}

// TestBackchannelExactlyOnceAcrossReplicas runs two replicas on one
// PostgreSQL database; many sessions end at once, and every logout token
// reaches the client exactly once, whichever replica sends it.
func TestBackchannelExactlyOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t, "postgres")
	env := map[string]string{"AUTHGATE_OUTBOUND_ALLOW_PRIVATE": "true"}
	a := startServer(t, dbURL, env)
	b := startServer(t, dbURL, env)
	ctx := context.Background()
	var mu sync.Mutex
	byJTI := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := r.PostFormValue("logout_token")
		var claims map[string]any
		sig, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
		if err == nil {
			_ = json.Unmarshal(sig.UnsafePayloadWithoutVerification(), &claims)
		}
		jti, _ := claims["jti"].(string)
		// A slow client keeps both replicas sending at once.
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		byJTI[jti]++
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	a.createClient(models.Client{
		ID: "webapp", Name: "Web App", RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, Scopes: []string{"openid"},
		BackchannelLogoutURI: srv.URL,
	})
	user := a.createUser("alice", "correct horse battery", false)
	const sessions = 40
	store := a.app.Store
	for i := range sessions {
		ls := models.LoginSession{
			IDHash: fmt.Sprintf("h%02d", i), UserID: user.ID, SID: fmt.Sprintf("sid-%02d", i),
			AuthTime: time.Now(), ExpiresAt: time.Now().Add(time.Hour), CreatedAt: time.Now(),
		}
		if err := store.CreateSession(ctx, ls); err != nil {
			t.Fatal(err)
		}
		if err := store.RecordSessionClient(ctx, ls.SID, user.ID, "webapp", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// One cascade queues every token; both replicas' senders race for them.
	if err := store.DeleteUserSessions(ctx, user.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		queued, _, err := store.LogoutCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := len(byJTI)
		mu.Unlock()
		if queued == 0 && got == sessions {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %d queued, %d distinct tokens received, want 0 and %d", queued, got, sessions)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("deliveries logged: replica A %d, replica B %d",
		strings.Count(a.stderr.String(), "back-channel logout delivered"), strings.Count(b.stderr.String(), "back-channel logout delivered"))
	mu.Lock()
	defer mu.Unlock()
	for jti, n := range byJTI {
		if n != 1 {
			t.Errorf("token %q delivered %d times, want once", jti, n)
		}
	}
}

var sessionForm = regexp.MustCompile(`<input type="hidden" name="csrf_token" value="([^"]+)"><input type="hidden" name="sid" value="([^"]+)">`)

// TestAccountSessionsAndGrants: /account lists the user's open sessions
// and the applications they allowed; ending another browser's session
// signs it out and tells the application through the back channel,
// revoking an application's access deletes its tokens and consent. Every
// change needs the page's CSRF token, and nobody can end another user's
// session.
func TestAccountSessionsAndGrants(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testAccountSessionsAndGrants(t, testdb.URL(t, kind))
		})
	}
}

func testAccountSessionsAndGrants(t *testing.T, dbURL string) {
	in := startServer(t, dbURL, map[string]string{
		"AUTHGATE_OUTBOUND_ALLOW_PRIVATE": "true",
		"AUTHGATE_RATE_LIMIT_PER_MINUTE":  "0",
	})
	ctx := context.Background()
	in.createUser("alice", "correct horse battery", false)
	bobUser := in.createUser("bob", "correct horse battery", false)
	provider, err := oidc.NewProvider(ctx, in.issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "webapp"})
	rc := newReceiver(t, verifier, 0)
	secret := in.createClient(models.Client{
		ID: "webapp", Name: "Web App", RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "profile"}, BackchannelLogoutURI: rc.srv.URL,
	})
	conf := &oauth2.Config{ClientID: "webapp", ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "profile"}}
	// Alice signs in to Web App in two browsers (consenting in the first).
	signInWith := func(b *http.Client, username string, consent bool) (*oauth2.Token, string) {
		t.Helper()
		v := oauth2.GenerateVerifier()
		loc := codeFlow(t, in, b, conf.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(v)), username, "correct horse battery", consent)
		tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := verifier.Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			SID string `json:"sid"`
		}
		_ = idt.Claims(&claims)
		return tok, claims.SID
	}
	b1, b2, bob := in.browser(), in.browser(), in.browser()
	tok1, sid1 := signInWith(b1, "alice", true)
	_, sid2 := signInWith(b2, "alice", false)
	_, bobSID := signInWith(bob, "bob", true)

	resp, page := get(t, b1, in.issuer+"/account")
	mustStatus(t, resp, http.StatusOK, page)
	forms := map[string]string{} // sid -> csrf token
	for _, m := range sessionForm.FindAllStringSubmatch(page, -1) {
		forms[m[2]] = m[1]
	}
	if len(forms) != 2 || forms[sid1] == "" || forms[sid2] == "" || strings.Count(page, "(this browser)") != 1 {
		t.Fatalf("the account page lists sessions %v, want alice's two (%s, %s) with this browser marked", forms, sid1, sid2)
	}
	if !strings.Contains(page, "Go-http-client") || !strings.Contains(page, "127.0.0.1") || !strings.Contains(page, "Web App") {
		t.Errorf("the account page lacks the browser, address or application: %s", page)
	}

	post := func(b *http.Client, path string, form url.Values) int {
		t.Helper()
		resp, err := noRedirect(b).PostForm(in.issuer+path, form)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		return resp.StatusCode
	}
	// Forged: no CSRF token; bob's own page's token for alice's sid.
	if code := post(b1, "/account/sessions/end", url.Values{"sid": {sid2}}); code != http.StatusForbidden {
		t.Errorf("ending a session without the CSRF token: got %d, want 403", code)
	}
	_, bobPage := get(t, bob, in.issuer+"/account")
	bobForms := sessionForm.FindAllStringSubmatch(bobPage, -1)
	if len(bobForms) != 1 || bobForms[0][2] != bobSID {
		t.Fatalf("bob's page lists %v, want only his session", bobForms)
	}
	if code := post(bob, "/account/sessions/end", url.Values{"csrf_token": {bobForms[0][1]}, "sid": {sid2}}); code != http.StatusSeeOther {
		t.Errorf("bob ending alice's session: got %d, want 303 (and nothing ended)", code)
	}
	if _, s := signInWith(b2, "alice", false); s != sid2 {
		t.Fatalf("alice's second session changed after the forged requests: sid %q, want %q", s, sid2)
	}

	// Alice ends her second browser's session from the first.
	if code := post(b1, "/account/sessions/end", url.Values{"csrf_token": {forms[sid2]}, "sid": {sid2}}); code != http.StatusSeeOther {
		t.Fatalf("ending the other session: got %d, want 303", code)
	}
	resp, body := get(t, b2, conf.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if resp.Request.URL.Path != "/login" {
		t.Fatalf("the ended browser authorizes without logging in: at %s: %.200s", resp.Request.URL, body)
	}
	if lt := rc.wait(t); lt.Claims["sid"] != sid2 {
		t.Errorf("logout token for the ended session: sid %v, want %q", lt.Claims["sid"], sid2)
	}

	// Revoking Web App's access ends its tokens and consent.
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok1)); err != nil {
		t.Fatalf("userinfo before revoking: %v", err)
	}
	_, page = get(t, b1, in.issuer+"/account")
	revoke := regexp.MustCompile(`<input type="hidden" name="csrf_token" value="([^"]+)"><input type="hidden" name="client_id" value="webapp">`).FindStringSubmatch(page)
	if revoke == nil {
		t.Fatalf("no revoke form for Web App: %s", page)
	}
	if code := post(b1, "/account/grants/revoke", url.Values{"client_id": {"webapp"}}); code != http.StatusForbidden {
		t.Errorf("revoking without the CSRF token: got %d, want 403", code)
	}
	if code := post(b1, "/account/grants/revoke", url.Values{"csrf_token": {revoke[1]}, "client_id": {"webapp"}}); code != http.StatusSeeOther {
		t.Fatalf("revoking: got %d, want 303", code)
	}
	if _, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok1)); err == nil {
		t.Error("the access token still works after its grant was revoked")
	}
	// The consent is gone: the next authorization asks again.
	signInWith(b1, "alice", true)
	// Bob's grant is untouched.
	if grants, err := in.app.Store.UserGrants(ctx, bobUser.ID, time.Now()); err != nil || len(grants) != 1 {
		t.Errorf("bob's grants after alice revoked hers: %v, %v", grants, err)
	}
}
