package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// oauth2ProxyVersion is the oauth2-proxy the relying-party test drives.
const oauth2ProxyVersion = "v7.15.6"

// oauth2ProxyBinary installs oauth2-proxy with go install into the user's
// cache (once; later runs reuse it) and returns its path. If the install
// fails the test skips, unless AUTHGATE_REQUIRE_OAUTH2_PROXY=1 (CI sets
// it), when it fails.
func oauth2ProxyBinary(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "authgate-test", "oauth2-proxy-"+oauth2ProxyVersion)
	bin := filepath.Join(dir, "oauth2-proxy")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/oauth2-proxy/oauth2-proxy/v7@"+oauth2ProxyVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err == nil {
		return bin
	}
	msg := fmt.Sprintf("go install oauth2-proxy %s failed: %v\n%s", oauth2ProxyVersion, err, out)
	if os.Getenv("AUTHGATE_REQUIRE_OAUTH2_PROXY") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg + "\n(AUTHGATE_REQUIRE_OAUTH2_PROXY=1 makes this fail)")
	return ""
}

// TestBrowserOAuth2Proxy puts oauth2-proxy, unchanged, in front of a small
// upstream with authgate as its OpenID Connect provider, and drives real
// Chromium through sign-in (the upstream sees the user's email) and
// RP-initiated logout (oauth2-proxy's sign_out hands the browser to
// authgate's end_session_endpoint, which ends the session and sends it
// back; the next visit asks for a password again).
func TestBrowserOAuth2Proxy(t *testing.T) {
	chromiumPath(t)
	bin := oauth2ProxyBinary(t)
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) { testOAuth2Proxy(t, bin, testdb.URL(t, kind)) })
	}
}

func testOAuth2Proxy(t *testing.T, bin, dbURL string) {
	in := startServer(t, dbURL, map[string]string{"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0"})
	in.createUser("alice", "alice passphrase 1", false)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>upstream</title><p id="upstream">hello %s</p>`, r.Header.Get("X-Forwarded-Email"))
	}))
	defer upstream.Close()
	proxyAddr := freePort(t)
	proxy := "http://" + proxyAddr
	secret := in.createClient(models.Client{
		ID: "proxy", Name: "oauth2-proxy", RedirectURIs: []string{proxy + "/oauth2/callback"},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "email", "profile", "offline_access"}, FirstParty: true,
		PostLogoutRedirectURIs: []string{proxy + "/"},
	})
	issuerHost := strings.TrimPrefix(in.issuer, "http://")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--provider=oidc",
		"--oidc-issuer-url="+in.issuer,
		"--client-id=proxy",
		"--client-secret="+secret,
		"--redirect-url="+proxy+"/oauth2/callback",
		"--http-address="+proxyAddr,
		"--upstream="+upstream.URL+"/",
		"--email-domain=*",
		"--cookie-secret=0123456789abcdef0123456789abcdef",
		"--cookie-secure=false",
		"--skip-provider-button=true",
		"--insecure-oidc-allow-unverified-email=true",
		"--code-challenge-method=S256",
		"--scope=openid email profile",
		"--whitelist-domain="+issuerHost,
	)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("oauth2-proxy log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(proxy + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("oauth2-proxy not ready after 30s: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	b := newBrowser(t)
	err := chromedp.Do(b,
		chromedp.Navigate(proxy+"/"),
		signIn("alice", "alice passphrase 1"),
		chromedp.WaitVisible(chromedp.ID("upstream")),
	)
	if err != nil {
		t.Fatalf("sign in through oauth2-proxy: %v", err)
	}
	if got := text(t, b, "#upstream"); got != "hello alice@example.com" {
		t.Fatalf("upstream page: got %q, want the user's email", got)
	}
	end := in.issuer + "/oauth2/logout?" + url.Values{"client_id": {"proxy"}, "post_logout_redirect_uri": {proxy + "/"}}.Encode()
	err = chromedp.Do(b,
		chromedp.Navigate(proxy+"/oauth2/sign_out?rd="+url.QueryEscape(end)),
		chromedp.WaitVisible(chromedp.ID("confirm-logout")),
		chromedp.Click(chromedp.ID("confirm-logout")),
		// Back at oauth2-proxy, which sends the browser to sign in again:
		// authgate asks for the password, the session is gone.
		chromedp.WaitVisible(chromedp.ID("password")),
	)
	if err != nil {
		t.Fatalf("logout through oauth2-proxy: %v", err)
	}
	if loc := currentLocation(t, b); !strings.HasPrefix(loc, in.issuer+"/login") {
		t.Fatalf("after logout: at %s, want authgate's login page", loc)
	}
}
