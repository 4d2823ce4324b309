package server_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// accountSite is the public server on a real database, served over HTTP,
// with one user, alice, and one other user, bob.
type accountSite struct {
	url       string
	transport http.RoundTripper
	db        *gorm.DB
	keys      *keyring.Keyring
	accounts  *accounts.Service
	app       *app.App
	alice     models.User
	bob       models.User
}

const (
	alicePassword = "alice-password-1"
	aliceEmail    = "alice@example.com"
)

func newAccountSite(t *testing.T, kind string) *accountSite {
	t.Helper()
	return newAccountSiteOn(t, kind, false)
}

// eachSite runs fn once per database kind, with a fresh site.
func eachSite(t *testing.T, fn func(t *testing.T, site *accountSite, db *gorm.DB)) {
	t.Helper()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			site := newAccountSite(t, kind)
			fn(t, site, site.db)
		})
	}
}

// newAccountSiteOn builds the application through the composition root
// and serves its public handler, over HTTPS when tls is set, with an https
// issuer: its cookies are then Secure and __Host- prefixed.
func newAccountSiteOn(t *testing.T, kind string, tls bool) *accountSite {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	// Plain HTTP on loopback, so that the cookie jar sends the cookies back.
	cfg.Issuer = "http://127.0.0.1"
	if tls {
		cfg.Issuer = "https://127.0.0.1"
	}
	cfg.AdminURL = "http://127.0.0.1:1"
	cfg.Secret = "account-test-secret-0123456789abcdefghij"
	cfg.Organization = "Acme"
	cfg.DatabaseURL = testdb.URL(t, kind)
	cfg.Mail.Outbox = t.TempDir()
	a, err := app.New(ctx, cfg, app.Options{Argon2: &password.Params{Time: 1, Memory: 8 * 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	// The test's own connection, for rows no service writes.
	db, err := storage.Open(ctx, cfg.DatabaseURL, storage.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = storage.Close(db) })
	srv := httptest.NewUnstartedServer(a.Public)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)

	acc := a.Accounts
	alice, err := acc.CreateUser(ctx, "test", accounts.NewUser{Username: "alice", Email: aliceEmail, Password: alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := acc.CreateUser(ctx, "test", accounts.NewUser{Username: "bob", Email: "bob@example.com", Password: "bob-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	return &accountSite{url: srv.URL, transport: srv.Client().Transport, db: db, keys: a.Keyring, accounts: acc, app: a, alice: alice, bob: bob}
}

// browser is an HTTP client with cookies that does not follow redirects,
// so tests see where each answer sends it.
type browser struct {
	t      *testing.T
	site   *accountSite
	client *http.Client
}

func (s *accountSite) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, site: s, client: &http.Client{
		Transport:     s.transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a finished request: status, headers and body.
type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.site.url+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browser) get(path string) response { return b.do(http.MethodGet, path, nil) }

func (b *browser) post(path string, form url.Values) response {
	return b.do(http.MethodPost, path, form)
}

// page GETs path and wants a 200 page.
func (b *browser) page(path string) response {
	b.t.Helper()
	r := b.get(path)
	if r.status != http.StatusOK {
		b.t.Fatalf("GET %s: got status %d, want 200; body:\n%s", path, r.status, r.body)
	}
	return r
}

// wantRedirect checks that r sends the browser to want.
func (b *browser) wantRedirect(what string, r response, want string) {
	b.t.Helper()
	if r.status != http.StatusSeeOther && r.status != http.StatusFound {
		b.t.Fatalf("%s: got status %d, want a redirect to %s; body:\n%s", what, r.status, want, r.body)
	}
	if got := r.header.Get("Location"); got != want {
		b.t.Fatalf("%s: got redirect to %q, want %q", what, got, want)
	}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the CSRF token of the first form on a page.
func (b *browser) csrf(r response) string {
	b.t.Helper()
	m := csrfInput.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("no csrf_token input on the page:\n%s", r.body)
	}
	return html.UnescapeString(m[1])
}

// signIn goes through the real login form.
func (b *browser) signIn(username, pw string) {
	b.t.Helper()
	form := b.page("/login?return_to=/account")
	r := b.post("/login", url.Values{
		"csrf_token": {b.csrf(form)}, "return_to": {"/account"},
		"username": {username}, "password": {pw},
	})
	b.wantRedirect("sign in", r, "/account")
}

// follow GETs the page a redirect points to.
func (b *browser) follow(r response) response {
	b.t.Helper()
	loc := r.header.Get("Location")
	if loc == "" {
		b.t.Fatalf("got status %d without a Location, want a redirect; body:\n%s", r.status, r.body)
	}
	return b.page(loc)
}

// wantElement checks that the page has an element with the id whose text
// contains want.
func wantElement(t *testing.T, r response, id, want string) {
	t.Helper()
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no element with id %q on the page:\n%s", id, r.body)
	}
	if got := html.UnescapeString(m[1]); !strings.Contains(got, want) {
		t.Fatalf("#%s: got %q, want it to contain %q", id, got, want)
	}
}

// mail returns the token emails of addr in the outbox, oldest first, with
// the token each carries.
func (s *accountSite) mail(t *testing.T, addr string) []string {
	t.Helper()
	var rows []models.MailMessage
	if err := s.db.Where(`"to" = ?`, addr).Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	tokenLine := regexp.MustCompile(`Your new security token:\s+([A-Za-z0-9]{24})\s`)
	var tokens []string
	for _, row := range rows {
		body, err := s.keys.Open("mail-outbox", row.BodySealed)
		if err != nil {
			t.Fatalf("open mail %d: %v", row.ID, err)
		}
		m := tokenLine.FindSubmatch(body)
		if m == nil {
			t.Fatalf("mail %d has no token:\n%s", row.ID, body)
		}
		tokens = append(tokens, string(m[1]))
	}
	return tokens
}

// user reloads a user from the database.
func (s *accountSite) user(t *testing.T, id string) models.User {
	t.Helper()
	u, err := s.accounts.GetUserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAccountRequiresSignIn(t *testing.T) {
	t.Parallel()
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		b := site.browser(t)
		for _, path := range []string{"/account", "/account/security-token", "/account/password"} {
			b.wantRedirect("GET "+path, b.get(path), "/login?return_to="+url.QueryEscape(path))
		}

		// A valid CSRF token is not a session.
		csrf := b.csrf(b.page("/login"))
		b.wantRedirect("POST /account/security-token", b.post("/account/security-token", url.Values{"csrf_token": {csrf}}), "/login?return_to=%2Faccount%2Fsecurity-token")
		if got := site.mail(t, aliceEmail); len(got) != 1 {
			t.Fatalf("got %d token emails to alice, want only the one from her creation", len(got))
		}

		// An expired session is no session.
		b.signIn("alice", alicePassword)
		b.page("/account")
		if err := db.Model(&models.LoginSession{}).Where("user_id = ?", site.alice.ID).
			Update("expires_at", time.Now().Add(-time.Minute).UTC()).Error; err != nil {
			t.Fatal(err)
		}
		b.wantRedirect("GET /account after the session expired", b.get("/account"), "/login?return_to=%2Faccount")
	})
}

func TestAccountOverview(t *testing.T) {
	t.Parallel()
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		ctx := context.Background()
		if err := db.Create(&models.Client{ID: "loader", Name: "Data Loader", GrantTypes: []string{"password"}}).Error; err != nil {
			t.Fatal(err)
		}
		for _, e := range []models.LoginEvent{
			{UserID: site.alice.ID, Username: "alice", ClientID: "loader", SourceIP: "198.51.100.7", Method: accounts.MethodPasswordGrant, Result: accounts.ResultInvalidPassword, Time: time.Now().Add(-time.Hour)},
			{UserID: site.bob.ID, Username: "bob", SourceIP: "203.0.113.99", Method: accounts.MethodLoginPage, Result: accounts.ResultSuccess},
		} {
			if err := site.accounts.RecordLogin(ctx, e); err != nil {
				t.Fatal(err)
			}
		}

		b := site.browser(t)
		b.signIn("alice", alicePassword)
		r := b.page("/account")
		for _, want := range []string{
			`id="username">alice<`, `id="email">alice@example.com<`,
			`id="reset-token"`, `href="/account/security-token"`, `id="change-password"`, `href="/account/password"`,
			// The sign-in just made, through the login page.
			"Sign-in page", accounts.ResultSuccess, "127.0.0.1",
			// The legacy attempt, with the client's name.
			"Password and security token (legacy)", accounts.ResultInvalidPassword, "198.51.100.7", "Data Loader (loader)",
			// The sign-out form carries the CSRF token.
			`action="/logout"`,
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the overview lacks %q", want)
			}
		}
		if strings.Contains(r.body, "203.0.113.99") {
			t.Errorf("the overview shows bob's sign-in from 203.0.113.99 to alice")
		}
		if got := strings.Count(r.body, "<tr>") - 1; got != 2 {
			t.Errorf("got %d history rows, want 2", got)
		}
		for name, want := range map[string]string{
			"Cache-Control":           "no-store",
			"X-Frame-Options":         "DENY",
			"Content-Security-Policy": "frame-ancestors 'none'",
		} {
			if got := r.header.Get(name); !strings.Contains(got, want) {
				t.Errorf("%s: got %q, want it to contain %q", name, got, want)
			}
		}
	})
}

func TestAccountHistoryShowsTwentyNewest(t *testing.T) {
	t.Parallel()
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		start := time.Now().Add(-time.Hour)
		for i := range 25 {
			e := models.LoginEvent{UserID: site.alice.ID, Username: "alice", SourceIP: "192.0.2." + string(rune('a'+i)),
				Method: accounts.MethodPasswordGrant, Result: accounts.ResultSuccess, Time: start.Add(time.Duration(i) * time.Minute)}
			if err := site.accounts.RecordLogin(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
		b := site.browser(t)
		b.signIn("alice", alicePassword)
		r := b.page("/account")
		if got := strings.Count(r.body, "<tr>") - 1; got != 20 {
			t.Errorf("got %d history rows, want 20", got)
		}
		if !strings.Contains(r.body, "of 26") {
			t.Errorf("the overview does not say it shows 20 of 26 sign-ins")
		}
		// The sign-in just made is the newest; of the 25 seeded, the
		// oldest six do not fit.
		for ip, want := range map[string]bool{"192.0.2.y": true, "192.0.2.g": true, "192.0.2.f": false, "192.0.2.a": false} {
			if got := strings.Contains(r.body, "<td>"+ip+"</td>"); got != want {
				t.Errorf("%s shown: got %v, want %v", ip, got, want)
			}
		}
	})
}

func TestAccountResetToken(t *testing.T) {
	t.Parallel()
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		before := site.mail(t, aliceEmail)
		if len(before) != 1 {
			t.Fatalf("got %d token emails after creating alice, want 1", len(before))
		}
		oldToken := before[0]
		if !site.accounts.TokenMatches(site.user(t, site.alice.ID), oldToken) {
			t.Fatal("the token from alice's first email does not match her")
		}

		b := site.browser(t)
		b.signIn("alice", alicePassword)
		form := b.page("/account/security-token")
		for _, want := range []string{`id="confirm-reset"`, "a***@example.com"} {
			if !strings.Contains(form.body, want) {
				t.Errorf("the confirmation page lacks %q", want)
			}
		}
		r := b.post("/account/security-token", url.Values{"csrf_token": {b.csrf(form)}})
		b.wantRedirect("reset", r, "/account")
		done := b.follow(r)
		wantElement(t, done, "notice", "A new security token was emailed to a***@example.com")

		after := site.mail(t, aliceEmail)
		if len(after) != 2 {
			t.Fatalf("got %d token emails, want 2", len(after))
		}
		newToken := after[1]
		if newToken == oldToken {
			t.Fatalf("the reset emailed the old token again")
		}
		alice := site.user(t, site.alice.ID)
		if !site.accounts.TokenMatches(alice, newToken) {
			t.Errorf("the emailed token does not match alice")
		}
		if site.accounts.TokenMatches(alice, oldToken) {
			t.Errorf("the old token still matches alice")
		}
		for what, body := range map[string]string{"reset answer": r.body, "page after reset": done.body, "page reloaded": b.page("/account").body} {
			if strings.Contains(body, newToken) {
				t.Errorf("the %s shows the new token", what)
			}
		}
		if got := site.mail(t, "bob@example.com"); len(got) != 1 {
			t.Errorf("got %d token emails to bob, want only the one from his creation", len(got))
		}
		if strings.Contains(b.page("/account").body, `id="notice"`) {
			t.Errorf("the notice is shown again on the next visit")
		}
	})
}

func TestAccountChangePassword(t *testing.T) {
	t.Parallel()
	const newPassword = "a-brand-new-password"
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		ctx := context.Background()
		b := site.browser(t)
		b.signIn("alice", alicePassword)
		other := site.browser(t)
		other.signIn("alice", alicePassword)

		form := b.page("/account/password")
		for _, want := range []string{
			`id="current-password"`, `autocomplete="current-password"`, `for="current-password"`,
			`id="new-password"`, `autocomplete="new-password"`, `for="new-password"`,
			`id="confirm-password"`, `for="confirm-password"`, `id="change-password-submit"`,
		} {
			if !strings.Contains(form.body, want) {
				t.Errorf("the form lacks %q", want)
			}
		}
		csrf := b.csrf(form)

		for _, tc := range []struct {
			name                   string
			current, next, confirm string
			status                 int
			want                   string
		}{
			{"wrong current password", "not-the-password", newPassword, newPassword, http.StatusBadRequest, "current password is incorrect"},
			{"confirmation differs", alicePassword, newPassword, newPassword + "x", http.StatusBadRequest, "do not match"},
			{"too short", alicePassword, "short", "short", http.StatusBadRequest, "The new password must be at least 8 characters"},
			{"empty", "", "", "", http.StatusBadRequest, "Enter your current password"},
		} {
			r := b.post("/account/password", url.Values{
				"csrf_token": {csrf}, "current_password": {tc.current}, "new_password": {tc.next}, "confirm_password": {tc.confirm},
			})
			if r.status != tc.status {
				t.Errorf("%s: got status %d, want %d", tc.name, r.status, tc.status)
			}
			if !strings.Contains(r.body, `role="alert" id="error"`) {
				t.Errorf("%s: the page has no alert", tc.name)
			}
			wantElement(t, r, "error", tc.want)
		}
		alice := site.user(t, site.alice.ID)
		if err := site.accounts.VerifyPassword(ctx, alice, alicePassword); err != nil {
			t.Fatalf("after refused changes, the old password: got %v, want it to work", err)
		}
		if got := site.mail(t, aliceEmail); len(got) != 1 {
			t.Fatalf("after refused changes: got %d token emails, want 1", len(got))
		}

		r := b.post("/account/password", url.Values{
			"csrf_token": {csrf}, "current_password": {alicePassword}, "new_password": {newPassword}, "confirm_password": {newPassword},
		})
		b.wantRedirect("change password", r, "/account")
		wantElement(t, b.follow(r), "notice", "A new security token was emailed to a***@example.com")

		alice = site.user(t, site.alice.ID)
		if err := site.accounts.VerifyPassword(ctx, alice, newPassword); err != nil {
			t.Errorf("the new password: got %v, want it to work", err)
		}
		if err := site.accounts.VerifyPassword(ctx, alice, alicePassword); !errors.Is(err, accounts.ErrBadCredentials) {
			t.Errorf("the old password: got %v, want %v", err, accounts.ErrBadCredentials)
		}
		tokens := site.mail(t, aliceEmail)
		if len(tokens) != 2 {
			t.Fatalf("got %d token emails, want 2", len(tokens))
		}
		if !site.accounts.TokenMatches(alice, tokens[1]) || tokens[1] == tokens[0] {
			t.Errorf("the emailed token is not alice's new token")
		}
		// This browser stays signed in; the other one is signed out.
		b.page("/account")
		other.wantRedirect("the other browser", other.get("/account"), "/login?return_to=%2Faccount")
	})
}

func TestAccountRefusesPostsWithoutCSRF(t *testing.T) {
	t.Parallel()
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		b := site.browser(t)
		b.signIn("alice", alicePassword)
		before := site.user(t, site.alice.ID)
		forged := b.csrf(site.browser(t).page("/login")) // valid, for another browser
		for _, tc := range []struct {
			path string
			form url.Values
		}{
			{"/account/security-token", url.Values{}},
			{"/account/security-token", url.Values{"csrf_token": {"forged"}}},
			{"/account/security-token", url.Values{"csrf_token": {forged}}},
			{"/account/password", url.Values{"current_password": {alicePassword}, "new_password": {"a-brand-new-password"}, "confirm_password": {"a-brand-new-password"}}},
			{"/account/password", url.Values{"csrf_token": {forged}, "current_password": {alicePassword}, "new_password": {"a-brand-new-password"}, "confirm_password": {"a-brand-new-password"}}},
			{"/logout", url.Values{}},
		} {
			r := b.post(tc.path, tc.form)
			if r.status != http.StatusForbidden {
				t.Errorf("POST %s with csrf_token %q: got status %d, want 403", tc.path, tc.form.Get("csrf_token"), r.status)
			}
			if !strings.Contains(r.body, "did not come from this site") {
				t.Errorf("POST %s: the 403 page does not say why:\n%s", tc.path, r.body)
			}
		}
		after := site.user(t, site.alice.ID)
		if after.SecurityTokenHash != before.SecurityTokenHash {
			t.Errorf("a refused POST changed the security token")
		}
		if after.PasswordHash != before.PasswordHash {
			t.Errorf("a refused POST changed the password")
		}
		if got := site.mail(t, aliceEmail); len(got) != 1 {
			t.Errorf("got %d token emails, want 1", len(got))
		}
		b.page("/account") // still signed in
	})
}

func TestAccountSignOut(t *testing.T) {
	t.Parallel()
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		b := site.browser(t)
		b.signIn("alice", alicePassword)
		for _, path := range []string{"/account", "/account/security-token", "/account/password"} {
			if !strings.Contains(b.page(path).body, `action="/logout"`) {
				t.Errorf("%s has no sign-out form", path)
			}
		}
		page := b.page("/account/password")
		b.wantRedirect("sign out", b.post("/logout", url.Values{"csrf_token": {b.csrf(page)}}), "/login")
		b.wantRedirect("GET /account after signing out", b.get("/account"), "/login?return_to=%2Faccount")
	})
}

// TestCSRFPlantedAnonymousPair acts as the attacker of issue 9 item 11: a
// CSRF cookie and token fetched anonymously and planted in a signed-in
// victim's browser (as a sibling subdomain could) must not pass the check
// of a signed-in form; and a signed-in form's token dies at the next
// sign-in.
func TestCSRFPlantedAnonymousPair(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{false, true} {
		t.Run(map[bool]string{false: "http loopback", true: "https"}[tls], func(t *testing.T) {
			for _, kind := range testdb.Kinds {
				t.Run(kind, func(t *testing.T) { testCSRFPlantedAnonymousPair(t, newAccountSiteOn(t, kind, tls), tls) })
			}
		})
	}
}

func testCSRFPlantedAnonymousPair(t *testing.T, site *accountSite, tls bool) {
	attacker := site.browser(t)
	token := attacker.csrf(attacker.page("/login"))
	planted := attacker.client.Jar.Cookies(site.mustURL(t))
	if len(planted) == 0 {
		t.Fatal("the login page set no CSRF cookie")
	}
	wantPrefix := map[bool]string{false: "authgate_", true: "__Host-authgate_"}[tls]
	for _, c := range planted {
		if !strings.HasPrefix(c.Name, wantPrefix) {
			t.Errorf("cookie %s: want the prefix %s", c.Name, wantPrefix)
		}
	}

	victim := site.browser(t)
	victim.signIn("alice", alicePassword)
	before := site.user(t, site.alice.ID)
	victim.client.Jar.SetCookies(site.mustURL(t), planted)
	r := victim.post("/account/security-token", url.Values{"csrf_token": {token}})
	if r.status != http.StatusForbidden {
		t.Errorf("reset with a planted anonymous pair: got status %d, want 403", r.status)
	}
	if after := site.user(t, site.alice.ID); after.SecurityTokenHash != before.SecurityTokenHash {
		t.Error("a planted anonymous CSRF pair reset the victim's security token")
	}

	// The victim's own token works, and stops working when the
	// session changes at the next sign-in.
	own := victim.csrf(victim.page("/account/security-token"))
	victim.signIn("alice", alicePassword)
	if r := victim.post("/account/security-token", url.Values{"csrf_token": {own}}); r.status != http.StatusForbidden {
		t.Errorf("reset with the token of the previous session: got status %d, want 403", r.status)
	}
	fresh := victim.csrf(victim.page("/account/security-token"))
	if fresh == own {
		t.Error("the CSRF token did not change at sign-in")
	}
	victim.wantRedirect("reset with the session's token", victim.post("/account/security-token", url.Values{"csrf_token": {fresh}}), "/account")
}

func (s *accountSite) mustURL(t *testing.T) *url.URL {
	t.Helper()
	u, err := url.Parse(s.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	return u
}
