package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// appPasswordClient is a legacy client accepting creds.
func appPasswordClient(id, name, creds string) models.Client {
	return models.Client{
		ID: id, Name: name, GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"openid", "profile", "offline_access"}, LegacyCredentials: creds,
	}
}

// App passwords end to end: alice creates one at /account in Chromium;
// golang.org/x/oauth2's password grant signs in with it on its client
// only; the page shows the last use; revoked or expired, it stops
// working and the tokens it obtained stop introspecting active.
func TestAppPasswordsEndToEnd(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testAppPasswordsEndToEnd(t, testdb.URL(t, kind))
		})
	}
}

func testAppPasswordsEndToEnd(t *testing.T, dbURL string) {
	in := startServer(t, dbURL, map[string]string{"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0"})
	ctx := context.Background()
	const pw = "alice passphrase 1"
	in.createUser("alice", pw, false)
	loaderSecret := in.createClient(appPasswordClient("loader", "Acme Loader", models.LegacyAppPassword))
	otherSecret := in.createClient(appPasswordClient("other", "Other Tool", models.LegacyBoth))
	conf := func(id, secret string) *oauth2.Config {
		return &oauth2.Config{ClientID: id, ClientSecret: secret, Scopes: []string{"openid"},
			Endpoint: oauth2.Endpoint{TokenURL: in.issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
	}
	loader, other := conf("loader", loaderSecret), conf("other", otherSecret)

	b := newBrowser(t)
	create := func(name string) string {
		t.Helper()
		err := chromedp.Do(b,
			chromedp.Navigate(in.issuer+"/account/app-passwords"),
			chromedp.WaitVisible(chromedp.ID("app-password-create")),
			chromedp.SendKeys(chromedp.ID("app-password-name"), name),
			chromedp.SetValue(chromedp.ID("app-password-client"), "loader"),
			chromedp.Click(chromedp.CSS(`input[name="scope"][value="openid"]`)),
			chromedp.Click(chromedp.CSS(`input[name="scope"][value="offline_access"]`)),
			chromedp.Click(chromedp.ID("app-password-submit")),
			chromedp.WaitVisible(chromedp.ID("app-password-value")),
		)
		if err != nil {
			t.Fatalf("create app password %q: %v", name, err)
		}
		return strings.TrimSpace(text(t, b, "#app-password-value"))
	}
	// Signed out, /account/app-passwords sends the browser to sign in
	// first and back.
	if err := chromedp.Do(b, chromedp.Navigate(in.issuer+"/account/app-passwords"), signIn("alice", pw)); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	value := create("Nightly export")
	if !strings.HasPrefix(value, "agp_") || len(value) != 40 {
		t.Fatalf("app password shown: got %q, want agp_ and 36 more characters", value)
	}

	tok, err := loader.PasswordCredentialsToken(ctx, "alice", value)
	if err != nil {
		t.Fatalf("password grant with the app password: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Error("an app password holding offline_access got no refresh token")
	}
	if active := introspect(t, in, "loader", loaderSecret, tok.AccessToken)["active"]; active != true {
		t.Fatalf("introspection of its access token: got %v, want active", active)
	}
	// Its client only.
	var re *oauth2.RetrieveError
	if _, err := other.PasswordCredentialsToken(ctx, "alice", value); !asRetrieveError(err, &re) || re.ErrorCode != "invalid_grant" ||
		!strings.Contains(re.ErrorDescription, "not valid for this client") {
		t.Fatalf("the app password on another client: got %v, want invalid_grant saying so", err)
	}
	// The password and security token are not what this client takes.
	if _, err := loader.PasswordCredentialsToken(ctx, "alice", pw); !asRetrieveError(err, &re) || !strings.Contains(re.ErrorDescription, "only app passwords") {
		t.Fatalf("a password on a client taking only app passwords: got %v", err)
	}

	// The page shows the last use: when, which client, from where.
	if err := chromedp.Do(b, chromedp.Navigate(in.issuer+"/account/app-passwords"), chromedp.WaitVisible(chromedp.ID("app-password-list"))); err != nil {
		t.Fatal(err)
	}
	if got := text(t, b, "tr.app-password.active .last-used-client"); got != "Acme Loader" {
		t.Errorf("last used by: got %q, want Acme Loader", got)
	}
	if got := text(t, b, "tr.app-password.active .last-used-ip"); got != "127.0.0.1" {
		t.Errorf("last used from: got %q, want 127.0.0.1", got)
	}
	if got := text(t, b, "tr.app-password.active .last-used time"); !strings.HasPrefix(got, time.Now().UTC().Format("2006-01-02")) {
		t.Errorf("last used at: got %q, want today", got)
	}

	// Revoked in the page: the value and its tokens stop working.
	err = chromedp.Do(b,
		chromedp.Click(chromedp.CSS("tr.app-password.active button.revoke")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if got := text(t, b, "tr.app-password .state"); got != "revoked" {
		t.Errorf("state after revoking: got %q, want revoked", got)
	}
	if _, err := loader.PasswordCredentialsToken(ctx, "alice", value); !asRetrieveError(err, &re) || !strings.Contains(re.ErrorDescription, "revoked") {
		t.Fatalf("the revoked app password: got %v, want invalid_grant saying revoked", err)
	}
	if active := introspect(t, in, "loader", loaderSecret, tok.AccessToken)["active"]; active != false {
		t.Errorf("a token the revoked app password obtained: active %v, want false", active)
	}
	if _, err := loader.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token(); err == nil {
		t.Error("the refresh token of a revoked app password still works")
	}

	// Expired: the same.
	second := create("Backup job")
	tok2, err := loader.PasswordCredentialsToken(ctx, "alice", second)
	if err != nil {
		t.Fatalf("the second app password: %v", err)
	}
	if err := in.app.Store.Conn(ctx).Model(&models.AppPassword{}).Where("name = ?", "Backup job").
		Update("expires_at", time.Now().Add(-time.Second).UTC()).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := loader.PasswordCredentialsToken(ctx, "alice", second); !asRetrieveError(err, &re) || !strings.Contains(re.ErrorDescription, "expired") {
		t.Fatalf("the expired app password: got %v, want invalid_grant saying expired", err)
	}
	if active := introspect(t, in, "loader", loaderSecret, tok2.AccessToken)["active"]; active != false {
		t.Errorf("a token the expired app password obtained: active %v, want false", active)
	}

	// Bad input: a clear message and nothing created.
	err = chromedp.Do(b,
		chromedp.Navigate(in.issuer+"/account/app-passwords"),
		chromedp.WaitVisible(chromedp.ID("app-password-create")),
		chromedp.SendKeys(chromedp.ID("app-password-name"), "Too late"),
		chromedp.SetValue(chromedp.ID("app-password-expires"), "2001-01-01"),
		chromedp.Click(chromedp.ID("app-password-submit")),
		chromedp.WaitVisible(chromedp.ID("error")),
	)
	if err != nil {
		t.Fatalf("create with an expiry in the past: %v", err)
	}
	if got := text(t, b, "#error"); !strings.Contains(got, "future") {
		t.Errorf("error for an expiry in the past: got %q", got)
	}
	var n int64
	in.app.Store.Conn(ctx).Model(&models.AppPassword{}).Where("name = ?", "Too late").Count(&n)
	if n != 0 {
		t.Errorf("a refused app password was stored (%d rows)", n)
	}

	// The history names the app password and its own method.
	events, _, err := in.accounts.ListLogins(ctx, accounts.LoginFilter{Username: "alice", Method: accounts.MethodAppPassword, Result: signin.ResultSuccess})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[1].AppPassword != "Nightly export" || events[1].ClientID != "loader" {
		t.Errorf("app password history: got %+v, want two successes, the first with Nightly export on loader", events)
	}
}
