package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// deviceClient is a public CLI client with the device grant.
func deviceClient(id string) models.Client {
	return models.Client{
		ID: id, Name: "Acme CLI", Public: true,
		GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
		Scopes:     []string{"openid", "profile", "email", "offline_access"},
	}
}

var userCodeShape = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// The device flow end to end: golang.org/x/oauth2's device client (found
// through discovery) polls while a person signs in and approves in
// Chromium; the tokens are what the code flow gives.
func TestDeviceFlowEndToEnd(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testDeviceFlowEndToEnd(t, testdb.URL(t, kind))
		})
	}
}

func testDeviceFlowEndToEnd(t *testing.T, dbURL string) {
	in := startServer(t, dbURL, map[string]string{"AUTHGATE_DEVICE_POLL_INTERVAL": "1s"})
	ctx := context.Background()
	const pw = "alice passphrase 1"
	user := in.createUser("alice", pw, false)
	in.createClient(deviceClient("cli"))

	provider, err := oidc.NewProvider(ctx, in.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	if provider.Endpoint().DeviceAuthURL != in.issuer+"/oauth2/device/authorize" {
		t.Fatalf("discovery's device_authorization_endpoint: got %q", provider.Endpoint().DeviceAuthURL)
	}
	conf := &oauth2.Config{ClientID: "cli", Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "offline_access"}}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	if !userCodeShape.MatchString(da.UserCode) || da.VerificationURI != in.issuer+"/device" || da.Interval != 1 ||
		da.VerificationURIComplete != in.issuer+"/device?user_code="+da.UserCode || time.Until(da.Expiry) < 9*time.Minute {
		t.Fatalf("device authorization response: got %+v", da)
	}

	type result struct {
		tok *oauth2.Token
		err error
	}
	polled := make(chan result, 1)
	pollCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	go func() {
		tok, err := conf.DeviceAccessToken(pollCtx, da)
		polled <- result{tok, err}
	}()

	b := newBrowser(t)
	err = chromedp.Do(b,
		chromedp.Navigate(da.VerificationURIComplete),
		signIn("alice", pw),
		chromedp.WaitVisible(chromedp.ID("user_code")),
	)
	if err != nil {
		t.Fatalf("sign in at /device: %v", err)
	}
	// The link filled the code in, and nothing was approved by it.
	filled, err := chromedp.Run(b, chromedp.Value(chromedp.ID("user_code")))
	if err != nil || filled != da.UserCode {
		t.Fatalf("code field: got %q, %v, want %q", filled, err, da.UserCode)
	}
	select {
	case r := <-polled:
		t.Fatalf("the device got an answer before anyone approved: %+v", r)
	default:
	}
	if err := chromedp.Do(b, chromedp.Click(chromedp.ID("continue")), chromedp.WaitVisible(chromedp.ID("approve"))); err != nil {
		t.Fatalf("enter code: %v", err)
	}
	if got := text(t, b, "#client-name"); got != "Acme CLI" {
		t.Errorf("client name: got %q", got)
	}
	if got := text(t, b, "#warning"); !strings.Contains(got, "Continue only if you started this yourself, just now") {
		t.Errorf("warning: got %q", got)
	}
	if got := text(t, b, "#source-ip"); got != "127.0.0.1" {
		t.Errorf("source address: got %q, want 127.0.0.1", got)
	}
	if got := text(t, b, "#user-agent"); !strings.Contains(got, "Go-http-client") {
		t.Errorf("user agent: got %q, want the device's", got)
	}
	if got := text(t, b, "#scopes"); !strings.Contains(got, "offline_access") || !strings.Contains(got, "profile") {
		t.Errorf("scopes: got %q", got)
	}
	if err := chromedp.Do(b, chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("notice"))); err != nil {
		t.Fatalf("approve: %v", err)
	}

	var r result
	select {
	case r = <-polled:
	case <-time.After(90 * time.Second):
		t.Fatal("the device got no token within 90s of the approval")
	}
	if r.err != nil {
		t.Fatalf("device access token: %v", r.err)
	}
	tok := r.tok
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("tokens: got access %t refresh %t, want both", tok.AccessToken != "", tok.RefreshToken != "")
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "cli"}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	var claims map[string]any
	_ = idt.Claims(&claims)
	if idt.Subject != user.ID || claims["preferred_username"] != "alice" || claims["auth_time"] == nil {
		t.Fatalf("id token: got sub %q claims %v", idt.Subject, claims)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != user.ID {
		t.Fatalf("userinfo: got %+v, %v", info, err)
	}

	// The refresh token works (public client, rotation as in the code flow).
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, &old).Token()
	if err != nil || fresh.AccessToken == "" || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: got %v, %v", fresh, err)
	}

	// The approval is in the login history with its own method, and the
	// history filter takes that method.
	events, _, err := in.accounts.ListLogins(ctx, accounts.LoginFilter{Username: "alice", Method: accounts.MethodDevice})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Result != signin.ResultSuccess || events[0].ClientID != "cli" || events[0].SourceIP != "127.0.0.1" {
		t.Fatalf("device history: got %+v, want one success for cli", events)
	}

	// The same code again: the device gets invalid_grant, the page says
	// it was used.
	if _, err := conf.DeviceAccessToken(ctx, da); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("second redemption: got %v, want invalid_grant", err)
	}
	err = chromedp.Do(b,
		chromedp.Navigate(in.issuer+"/device?"+url.Values{"user_code": {strings.ToLower(da.UserCode)}}.Encode()),
		chromedp.WaitVisible(chromedp.ID("continue")),
		chromedp.Click(chromedp.ID("continue")),
		chromedp.WaitVisible(chromedp.ID("error-code")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := text(t, b, "#error-code"); got != "already_decided" {
		t.Errorf("used code at /device: got %q, want already_decided", got)
	}
	resp, err := http.Get(in.issuer + "/device")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/login" || resp.Request.URL.Query().Get("return_to") != "/device" {
		t.Errorf("/device without a session: ended at %s, want the login page returning to /device", resp.Request.URL)
	}
}
