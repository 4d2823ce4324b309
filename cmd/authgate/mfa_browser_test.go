package main

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// totpAt is the code an authenticator app shows for secret at t.
func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// secondStep types code into the second-step page the browser is on and
// submits it.
func secondStep(code string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.ID("verify")),
	)
}

// TestBrowserMFA: in real Chromium, a user sets up TOTP at /account (the
// test reads the key from the page and computes codes as an app would),
// signs in with the second step, is refused a wrong and a replayed code,
// uses a recovery code once; a client asking for MFA with acr_values gets
// an ID token whose amr says so (verified with go-oidc); the legacy grant
// takes password + code and, under the policy, refuses password + token.
func TestBrowserMFA(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			testBrowserMFA(t, testdb.URL(t, kind))
		})
	}
}

func testBrowserMFA(t *testing.T, dbURL string) {
	in := startServer(t, dbURL, map[string]string{"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0"})
	const pw = "alice passphrase 1"
	in.createUser("alice", pw, false)
	token, _ := in.deliveredToken(t, "alice@example.com", 0)
	loaderSecret := in.createClient(models.Client{ID: "loader", Name: "Data Loader", GrantTypes: []string{"password"}, Scopes: []string{"profile"}})

	// 1. Set up TOTP at /account/mfa.
	ctx := newBrowser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(in.issuer+"/account/mfa"),
		signIn("alice", pw),
		chromedp.WaitVisible(chromedp.ID("setup-mfa")),
		chromedp.Click(chromedp.ID("setup-mfa")),
		chromedp.WaitVisible(chromedp.ID("totp-qr")),
	)
	if err != nil {
		t.Fatalf("start set-up: %v", err)
	}
	secret := text(t, ctx, "#totp-secret")
	// Start at the beginning of a time step, so that the codes this test
	// replays are still in the window when it replays them.
	if into := time.Now().Unix() % 30; into > 10 {
		time.Sleep(time.Duration(30-into) * time.Second)
	}
	enrolled := time.Now()
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("code"), totpAt(t, secret, enrolled)),
		chromedp.Click(chromedp.ID("confirm-mfa")),
		chromedp.WaitVisible(chromedp.ID("recovery-codes")),
	)
	if err != nil {
		t.Fatalf("confirm set-up: %v", err)
	}
	codesText := text(t, ctx, "#recovery-codes")
	codes := regexp.MustCompile(`[a-z2-7]{5}-[a-z2-7]{5}`).FindAllString(codesText, -1)
	if len(codes) != 10 {
		t.Fatalf("recovery codes on the page: got %d, want 10", len(codes))
	}

	// 2. A new browser: password, then the second step.
	ctx2 := newBrowser(t)
	err = chromedp.Do(ctx2,
		chromedp.Navigate(in.issuer+"/account"),
		signIn("alice", pw),
		secondStep("000000"),
		chromedp.WaitVisible(chromedp.ID("error")),
	)
	if err != nil {
		t.Fatalf("wrong code: %v", err)
	}
	if msg := text(t, ctx2, "#error"); !strings.Contains(msg, "not correct") {
		t.Fatalf("wrong code: got %q", msg)
	}
	// The set-up's code is spent.
	// A fresh copy of the page (without the last error) for each attempt.
	again := chromedp.Navigate(in.issuer + "/login/verify")
	if err := chromedp.Do(ctx2, again, secondStep(totpAt(t, secret, enrolled)), chromedp.WaitVisible(chromedp.ID("error"))); err != nil {
		t.Fatalf("replayed code: %v", err)
	}
	if msg := text(t, ctx2, "#error"); !strings.Contains(msg, "already used") {
		t.Fatalf("replayed code: got %q", msg)
	}
	if err := chromedp.Do(ctx2, again, secondStep(totpAt(t, secret, enrolled.Add(30*time.Second))), chromedp.WaitVisible(chromedp.ID("login-history"))); err != nil {
		t.Fatalf("right code: %v", err)
	}

	// 3. A recovery code works once.
	ctx3 := newBrowser(t)
	if err := chromedp.Do(ctx3, chromedp.Navigate(in.issuer+"/account"), signIn("alice", pw), secondStep(codes[0]), chromedp.WaitVisible(chromedp.ID("login-history"))); err != nil {
		t.Fatalf("recovery code: %v", err)
	}
	ctx4 := newBrowser(t)
	if err := chromedp.Do(ctx4, chromedp.Navigate(in.issuer+"/account"), signIn("alice", pw), secondStep(codes[0]), chromedp.WaitVisible(chromedp.ID("error"))); err != nil {
		t.Fatalf("recovery code again: %v", err)
	}
	if msg := text(t, ctx4, "#error"); !strings.Contains(msg, "already used") {
		t.Fatalf("recovery code again: got %q", msg)
	}

	// 4. A client asks for MFA; browser 2 has an MFA session.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan url.Values, 1)
	cb := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.URL.Query():
		default:
		}
		_, _ = w.Write([]byte("<p id=\"done\">done</p>"))
	})}
	go func() { _ = cb.Serve(ln) }()
	t.Cleanup(func() { _ = cb.Close() })
	redirect := "http://" + ln.Addr().String() + "/callback"
	rpSecret := in.createClient(models.Client{
		ID: "rp", Name: "Relying party", GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		RedirectURIs: []string{redirect}, Scopes: []string{"openid", "profile"}, FirstParty: true,
	})
	bg := context.Background()
	provider, err := oidc.NewProvider(bg, in.issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: "rp", ClientSecret: rpSecret, Endpoint: provider.Endpoint(), RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "profile"}}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-mfa-0123456789", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("acr_values", "urn:authgate:mfa"), oidc.Nonce("nonce-mfa-0123456789"))
	if err := chromedp.Do(ctx2, chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.ID("done"))); err != nil {
		t.Fatalf("authorize: %v", err)
	}
	q := <-got
	tok, err := conf.Exchange(bg, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange of %v: %v", q, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "rp"}).Verify(bg, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var claims struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(claims.AMR, "otp") || !slices.Contains(claims.AMR, "mfa") || claims.ACR != "urn:authgate:mfa" {
		t.Fatalf("ID token: amr %v, acr %q; want otp and mfa, urn:authgate:mfa", claims.AMR, claims.ACR)
	}

	// 5. The legacy grant: password + code; under the policy the token no
	// longer works.
	if r := passwordGrant(t, http.DefaultClient, in, "loader", loaderSecret, "alice", pw+token, nil); r.status != http.StatusOK {
		t.Fatalf("password + token without a policy: got %d %v", r.status, r.body)
	}
	req := true
	if _, err := in.accounts.UpdateUser(bg, "test", "alice", accounts.UserUpdate{RequireMFA: &req}); err != nil {
		t.Fatal(err)
	}
	if r := passwordGrant(t, http.DefaultClient, in, "loader", loaderSecret, "alice", pw+token, nil); r.status != http.StatusBadRequest {
		t.Fatalf("password + token under the policy: got %d %v, want 400", r.status, r.body)
	}
	var e models.LoginEvent
	if err := in.app.Store.Conn(bg).Where("username = ? AND method = ?", "alice", signin.MethodPasswordGrant).Order("id DESC").Take(&e).Error; err != nil {
		t.Fatal(err)
	}
	if e.Result != signin.ResultMFARequired {
		t.Errorf("history of password + token under the policy: got %q", e.Result)
	}
	// The set-up used the step of enrolled and the sign-in the next one:
	// the step after those is accepted once the clock reaches the next.
	step := enrolled.Unix() / 30
	time.Sleep(time.Until(time.Unix((step+1)*30, 0)))
	fresh := totpAt(t, secret, time.Unix((step+2)*30, 0))
	if r := passwordGrant(t, http.DefaultClient, in, "loader", loaderSecret, "alice", pw+fresh, nil); r.status != http.StatusOK {
		t.Fatalf("password + a fresh code under the policy: got %d %v", r.status, r.body)
	}
	if r := passwordGrant(t, http.DefaultClient, in, "loader", loaderSecret, "alice", pw+fresh, nil); r.status != http.StatusBadRequest {
		t.Fatalf("password + the same code again: got %d %v, want 400", r.status, r.body)
	}
}
