package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// relyingParty is a client's web server on a random loopback port: its
// callback hands codes to the test, its front-channel logout pages record
// what they were called with.
type relyingParty struct {
	srv    *httptest.Server
	codes  chan string
	frames chan *url.URL
}

func newRelyingParty(t *testing.T) *relyingParty {
	rp := &relyingParty{codes: make(chan string, 10), frames: make(chan *url.URL, 10)}
	rp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch {
		case r.URL.Path == "/cb":
			rp.codes <- r.URL.Query().Get("code")
			_, _ = w.Write([]byte(`<!doctype html><title>app</title><p id="signed-in">signed in</p>`))
		case strings.HasPrefix(r.URL.Path, "/fc"):
			rp.frames <- r.URL
			_, _ = w.Write([]byte(`<!doctype html><title>bye</title>`))
		case r.URL.Path == "/bye":
			_, _ = w.Write([]byte(`<!doctype html><title>bye</title><p id="rp-signed-out">signed out at the app</p>`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *relyingParty) code(t *testing.T) string {
	t.Helper()
	select {
	case c := <-rp.codes:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("the relying party got no code within 30s")
		return ""
	}
}

// TestBrowserFrontChannelLogout: a browser signs in to two applications,
// then one of them starts a logout; the logout page frames both
// applications' front-channel logout URIs (the one that asked for it with
// iss and sid), real Chromium loads them under the page's
// Content-Security-Policy, and the browser ends on the registered
// post-logout redirect URI with the state.
func TestBrowserFrontChannelLogout(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) { testBrowserFrontChannelLogout(t, testdb.URL(t, kind)) })
	}
}

func testBrowserFrontChannelLogout(t *testing.T, dbURL string) {
	in := startServer(t, dbURL, map[string]string{"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0"})
	ctx := newBrowser(t)
	in.createUser("alice", "alice passphrase 1", false)
	rp := newRelyingParty(t)
	secrets := map[string]string{}
	for _, c := range []models.Client{
		{ID: "app1", Name: "App One", FrontchannelLogoutURI: rp.srv.URL + "/fc1", FrontchannelLogoutSessionRequired: true, PostLogoutRedirectURIs: []string{rp.srv.URL + "/bye"}},
		{ID: "app2", Name: "App Two", FrontchannelLogoutURI: rp.srv.URL + "/fc2"},
	} {
		c.RedirectURIs, c.GrantTypes, c.ResponseTypes = []string{rp.srv.URL + "/cb"}, []string{"authorization_code"}, []string{"code"}
		c.Scopes, c.FirstParty = []string{"openid"}, true
		secrets[c.ID] = in.createClient(c)
	}
	provider, err := oidc.NewProvider(context.Background(), in.issuer)
	if err != nil {
		t.Fatal(err)
	}
	sids := map[string]string{}
	for i, id := range []string{"app1", "app2"} {
		conf := &oauth2.Config{ClientID: id, ClientSecret: secrets[id], Endpoint: provider.Endpoint(), RedirectURL: rp.srv.URL + "/cb", Scopes: []string{oidc.ScopeOpenID}}
		v := oauth2.GenerateVerifier()
		steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(conf.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(v)))}
		if i == 0 {
			steps = append(steps, signIn("alice", "alice passphrase 1"))
		}
		steps = append(steps, chromedp.WaitVisible(chromedp.ID("signed-in")))
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("sign in to %s: %v", id, err)
		}
		tok, err := conf.Exchange(context.Background(), rp.code(t), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: id}).Verify(context.Background(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			SID string `json:"sid"`
		}
		_ = idt.Claims(&claims)
		sids[id] = claims.SID
	}
	if sids["app1"] == "" || sids["app1"] != sids["app2"] {
		t.Fatalf("sids: %v, want one session's", sids)
	}

	// App One starts a logout without a hint: the user confirms.
	q := url.Values{"client_id": {"app1"}, "post_logout_redirect_uri": {rp.srv.URL + "/bye"}, "state": {"s-42"}}
	var location string
	err = chromedp.Do(ctx,
		chromedp.Navigate(in.issuer+"/oauth2/logout?"+q.Encode()),
		chromedp.WaitVisible(chromedp.ID("confirm-logout")),
		chromedp.Click(chromedp.ID("confirm-logout")),
		chromedp.WaitVisible(chromedp.ID("rp-signed-out")),
	)
	if err != nil {
		t.Fatalf("logout: %v", err)
	}
	location = currentLocation(t, ctx)
	if want := rp.srv.URL + "/bye?state=s-42"; location != want {
		t.Errorf("after logout: at %q, want %q", location, want)
	}
	got := map[string]*url.URL{}
	for len(got) < 2 {
		select {
		case u := <-rp.frames:
			got[u.Path] = u
		case <-time.After(30 * time.Second):
			t.Fatalf("front-channel requests: got %v, want /fc1 and /fc2", got)
		}
	}
	if fc1 := got["/fc1"].Query(); fc1.Get("iss") != in.issuer || fc1.Get("sid") != sids["app1"] {
		t.Errorf("/fc1 query: got %v, want iss %s and sid %s", fc1, in.issuer, sids["app1"])
	}
	if fc2 := got["/fc2"].Query(); len(fc2) != 0 {
		t.Errorf("/fc2 query: got %v, want none (it did not ask for the session)", fc2)
	}
	// The session really ended: authorizing asks to log in.
	err = chromedp.Do(ctx,
		chromedp.Navigate(in.issuer+"/oauth2/authorize?"+url.Values{"client_id": {"app2"}, "response_type": {"code"}, "scope": {"openid"},
			"redirect_uri": {rp.srv.URL + "/cb"}, "state": {"state-0123456789"}}.Encode()),
		chromedp.WaitVisible(chromedp.ID("password")),
	)
	if err != nil {
		t.Fatalf("authorize after logout: %v", err)
	}
}

// TestBrowserConsoleSignOutChoice: the console's sign-out offers the
// console only (authgate's session stays) or everywhere (authgate's
// session ends through the end_session_endpoint, without a second
// question, and the browser comes back to the console).
func TestBrowserConsoleSignOutChoice(t *testing.T) {
	in := startServer(t, testdb.URL(t, "sqlite"), nil)
	ctx := newBrowser(t)
	const pw = "admin passphrase 1"
	in.createUser("root", pw, true)
	var location string
	err := chromedp.Do(ctx,
		chromedp.Navigate(in.admin+"/admin/"),
		signIn("root", pw),
		chromedp.WaitVisible(chromedp.ID("logins-chart")),
		chromedp.Click(chromedp.ID("sign-out")),
		chromedp.WaitVisible(chromedp.ID("sign-out-everywhere")),
		chromedp.Click(chromedp.ID("sign-out-console")),
		chromedp.WaitVisible(chromedp.ID("sign-in")),
		// authgate's own session stays: the account page opens.
		chromedp.Navigate(in.issuer+"/account"),
		chromedp.WaitVisible(chromedp.ID("username")),
	)
	if err != nil {
		t.Fatalf("sign out of the console only: %v", err)
	}
	location = currentLocation(t, ctx)
	if !strings.HasSuffix(location, "/account") {
		t.Fatalf("after signing out of the console only: at %s, want the account page", location)
	}
	err = chromedp.Do(ctx,
		// Back into the console without a password: the session stayed.
		chromedp.Navigate(in.admin+"/admin/"),
		chromedp.WaitVisible(chromedp.ID("logins-chart")),
		chromedp.Click(chromedp.ID("sign-out")),
		chromedp.WaitVisible(chromedp.ID("sign-out-everywhere")),
		chromedp.Click(chromedp.ID("sign-out-everywhere")),
		chromedp.WaitVisible(chromedp.ID("message")),
	)
	if err != nil {
		t.Fatalf("sign out everywhere: %v", err)
	}
	message := text(t, ctx, "#message")
	location = currentLocation(t, ctx)
	if !strings.HasPrefix(location, in.admin+"/admin/signed-out") || !strings.Contains(message, "of Acme") {
		t.Fatalf("after signing out everywhere: at %s saying %q", location, message)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(in.issuer+"/account"),
		chromedp.WaitVisible(chromedp.ID("password")),
	)
	if err == nil {
		location = currentLocation(t, ctx)
	}
	if err != nil || !strings.Contains(location, "/login") {
		t.Fatalf("account page after signing out everywhere: at %s, %v; want the login page", location, err)
	}
}

// currentLocation returns the URL the browser is at.
func currentLocation(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("read the location: %v", err)
	}
	return loc
}
