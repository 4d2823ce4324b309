package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// chromiumPath finds Chromium. Without it the browser tests skip, unless
// AUTHGATE_REQUIRE_BROWSER=1 (CI sets it), when they fail.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("AUTHGATE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("AUTHGATE_REQUIRE_BROWSER") == "1" {
		t.Fatal("Chromium is required (AUTHGATE_REQUIRE_BROWSER=1) but not found; install Debian's chromium")
	}
	t.Skip("Chromium not found; install Debian's chromium (AUTHGATE_REQUIRE_BROWSER=1 makes this fail)")
	return ""
}

// newBrowser starts a headless Chromium of its own. On failure the test's
// last page is saved as a screenshot whose path is logged.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			saveScreenshot(t, ctx)
		}
		cancelCtx()
		cancelAlloc()
	})
	// Bound each test's browser work; the browser itself lives on ctx.
	stepCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return stepCtx
}

func saveScreenshot(t *testing.T, ctx context.Context) {
	dir := os.Getenv("AUTHGATE_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "authgate-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	shotCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(shotCtx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	name := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png")
	if err := os.WriteFile(name, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot of the failing page saved to %s", name)
}

// signIn fills the public login form the browser is on.
func signIn(username, pw string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), username),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.ID("sign-in")),
		// The login page is gone once the browser has moved on.
		chromedp.WaitNotPresent(chromedp.ID("password")),
	)
}

// text returns the text of the element matched by sel.
func text(t *testing.T, ctx context.Context, sel chromedp.CSS) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// toggleLegacy turns the loader client's legacy grant over through the
// console's confirmation page, and returns the state the list then shows.
func toggleLegacy(t *testing.T, ctx context.Context) string {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("legacy-toggle-loader")),
		chromedp.WaitVisible(chromedp.ID("confirm")),
		chromedp.Click(chromedp.ID("confirm-submit")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	)
	if err != nil {
		t.Fatalf("toggle legacy: %v", err)
	}
	return text(t, ctx, "#legacy-state-loader")
}

func TestBrowserAdminTogglesLegacyGrant(t *testing.T) {
	in := startServer(t, testdb.URL(t, "sqlite"), nil)
	ctx := newBrowser(t)
	const pw = "admin passphrase 1"
	in.createUser("root", pw, true)
	in.createUser("alice", "alice passphrase 1", false)
	token, _ := in.deliveredToken(t, "alice@example.com", 0)
	secret := in.createClient(models.Client{ID: "loader", Name: "Data Loader", GrantTypes: []string{"password"}, Scopes: []string{"profile"}})
	grant := func() grantResult {
		return passwordGrant(t, http.DefaultClient, in, "loader", secret, "alice", "alice passphrase 1"+token, nil)
	}
	if got := grant(); got.status != http.StatusOK {
		t.Fatalf("before: got %d %v", got.status, got.body)
	}

	err := chromedp.Do(ctx,
		chromedp.Navigate(in.admin+"/admin/"),
		signIn("root", pw),
		chromedp.WaitVisible(chromedp.ID("logins-chart")),
		chromedp.Navigate(in.admin+"/admin/clients"),
		chromedp.WaitVisible(chromedp.ID("legacy-toggle-loader")),
	)
	if err != nil {
		t.Fatalf("admin sign-in: %v", err)
	}
	if state := toggleLegacy(t, ctx); state != "Off" {
		t.Fatalf("legacy state after turning off: got %q, want Off", state)
	}
	if got := grant(); got.status != http.StatusBadRequest || got.body["error"] != "unauthorized_client" {
		t.Fatalf("password grant after turning legacy off: got %d %v, want 400 unauthorized_client", got.status, got.body)
	}
	if state := toggleLegacy(t, ctx); state != "On" {
		t.Fatalf("legacy state after turning on: got %q, want On", state)
	}
	if got := grant(); got.status != http.StatusOK {
		t.Fatalf("password grant after turning legacy back on: got %d %v", got.status, got.body)
	}
}

func TestBrowserUserResetsSecurityToken(t *testing.T) {
	in := startServer(t, testdb.URL(t, "sqlite"), nil)
	ctx := newBrowser(t)
	const pw = "user passphrase 1"
	in.createUser("alice", pw, false)
	oldToken, _ := in.deliveredToken(t, "alice@example.com", 0)
	secret := in.createClient(models.Client{ID: "loader", Name: "Data Loader", GrantTypes: []string{"password"}, Scopes: []string{"profile"}})

	err := chromedp.Do(ctx,
		chromedp.Navigate(in.issuer+"/account"),
		signIn("alice", pw),
		chromedp.WaitVisible(chromedp.ID("reset-token")),
		chromedp.Click(chromedp.ID("reset-token")),
		chromedp.WaitVisible(chromedp.ID("confirm-reset")),
		chromedp.Click(chromedp.ID("confirm-reset")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	)
	if err != nil {
		t.Fatalf("reset token: %v", err)
	}
	if notice := text(t, ctx, "#notice"); !strings.Contains(notice, "emailed") {
		t.Errorf("notice: got %q, want it to say the token was emailed", notice)
	}
	page, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	newToken, _ := in.deliveredToken(t, "alice@example.com", 1)
	if strings.Contains(page, newToken) || strings.Contains(page, oldToken) {
		t.Fatal("the page shows a security token")
	}
	if got := passwordGrant(t, http.DefaultClient, in, "loader", secret, "alice", pw+oldToken, nil); got.status != http.StatusBadRequest {
		t.Fatalf("old token after reset: got %d, want 400", got.status)
	}
	if got := passwordGrant(t, http.DefaultClient, in, "loader", secret, "alice", pw+newToken, nil); got.status != http.StatusOK {
		t.Fatalf("token from the email: got %d %v, want 200", got.status, got.body)
	}
}

func TestBrowserConsoleRefusesNonAdminsAndForgedPosts(t *testing.T) {
	in := startServer(t, testdb.URL(t, "sqlite"), nil)
	in.createUser("alice", "alice passphrase 1", false)
	in.createUser("root", "admin passphrase 1", true)
	in.createClient(models.Client{ID: "loader", Name: "Data Loader", GrantTypes: []string{"password"}, Scopes: []string{"profile"}})

	t.Run("non-admin", func(t *testing.T) {
		ctx := newBrowser(t)
		err := chromedp.Do(ctx,
			chromedp.Navigate(in.admin+"/admin/"),
			signIn("alice", "alice passphrase 1"),
			chromedp.WaitVisible(chromedp.CSS("main")),
		)
		if err != nil {
			t.Fatal(err)
		}
		if body := text(t, ctx, "main"); !strings.Contains(body, "Only administrators") {
			t.Fatalf("a non-admin got: %q", body)
		}
		err = chromedp.Do(ctx, chromedp.Navigate(in.admin+"/admin/clients"), chromedp.WaitVisible(chromedp.CSS("main")))
		if err != nil {
			t.Fatal(err)
		}
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#clients').length`))
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatal("a non-admin sees the clients page")
		}
	})

	t.Run("POST without CSRF token", func(t *testing.T) {
		ctx := newBrowser(t)
		err := chromedp.Do(ctx,
			chromedp.Navigate(in.admin+"/admin/clients"),
			signIn("root", "admin passphrase 1"),
			chromedp.WaitVisible(chromedp.ID("legacy-toggle-loader")),
			chromedp.Click(chromedp.ID("legacy-toggle-loader")),
			chromedp.WaitVisible(chromedp.ID("confirm-submit")),
		)
		if err != nil {
			t.Fatal(err)
		}
		// Strip the form's CSRF token, as a forged cross-site form would lack it.
		removed, err := chromedp.Run(ctx, chromedp.Evaluate[int](
			`(() => { const f = document.querySelectorAll('input[name=csrf_token]'); f.forEach(e => e.remove()); return f.length })()`))
		if err != nil || removed == 0 {
			t.Fatalf("remove csrf_token: removed %d, %v", removed, err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("confirm-submit")), chromedp.WaitNotPresent(chromedp.ID("confirm-submit")), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
			t.Fatal(err)
		}
		body := strings.ToLower(text(t, ctx, "main"))
		if !strings.Contains(body, "refused") && !strings.Contains(body, "expired") && !strings.Contains(body, "csrf") {
			t.Errorf("forged POST page: got %q, want a refusal", body)
		}
		db, err := storage.Open(context.Background(), in.dbURL, storage.Options{MaxOpenConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer storage.Close(db)
		var c models.Client
		if err := db.Where("id = ?", "loader").Take(&c).Error; err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(c.GrantTypes, ","), "password") {
			t.Fatal("a POST without its CSRF token changed the client")
		}
	})
}
