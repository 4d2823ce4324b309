package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

func TestEnsureClient(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		const adminURL = "https://admin.example.com:8443/"
		keys, err := keyring.New([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		hasher := &oauth.SecretHasher{Keys: keys}
		if err := EnsureClient(ctx, storage.New(db), keys, adminURL); err != nil {
			t.Fatal(err)
		}
		var first models.Client
		if err := db.Where("id = ?", ClientID).Take(&first).Error; err != nil {
			t.Fatal(err)
		}
		check := func(c models.Client) {
			t.Helper()
			if c.Name != "authgate admin console" || c.Public || !c.FirstParty || c.AccessTokenFormat != "opaque" {
				t.Errorf("got name %q public %t first-party %t format %q", c.Name, c.Public, c.FirstParty, c.AccessTokenFormat)
			}
			// Confidential: the secret derived from the system secret
			// matches, and nothing else does.
			if err := hasher.Compare(ctx, []byte(c.SecretHash), []byte(clientSecret(keys))); err != nil {
				t.Errorf("the console's own secret does not match its client: %v", err)
			}
			if err := hasher.Compare(ctx, []byte(c.SecretHash), []byte("")); err == nil {
				t.Error("an empty secret matches the console client")
			}
			if want := []string{"https://admin.example.com:8443/admin/callback"}; !slices.Equal(c.RedirectURIs, want) {
				t.Errorf("redirect URIs: got %v, want %v", c.RedirectURIs, want)
			}
			if want := []string{"authorization_code"}; !slices.Equal(c.GrantTypes, want) {
				t.Errorf("grant types: got %v, want %v", c.GrantTypes, want)
			}
			if want := []string{"code"}; !slices.Equal(c.ResponseTypes, want) {
				t.Errorf("response types: got %v, want %v", c.ResponseTypes, want)
			}
			if want := []string{"openid", "profile", "authgate:admin"}; !slices.Equal(c.Scopes, want) {
				t.Errorf("scopes: got %v, want %v", c.Scopes, want)
			}
		}
		check(first)

		// Someone edits the client; the next start restores it.
		if err := db.Model(&models.Client{}).Where("id = ?", ClientID).Updates(map[string]any{
			"name": "hijacked", "public": true, "secret_hash": "",
		}).Error; err != nil {
			t.Fatal(err)
		}
		if err := EnsureClient(ctx, storage.New(db), keys, adminURL); err != nil {
			t.Fatalf("second call: %v", err)
		}
		var again models.Client
		if err := db.Where("id = ?", ClientID).Take(&again).Error; err != nil {
			t.Fatal(err)
		}
		check(again)
		if !again.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("created_at changed: got %v, want %v", again.CreatedAt, first.CreatedAt)
		}

		// Replicas starting together.
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- EnsureClient(ctx, storage.New(db), keys, adminURL)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent call: %v", err)
			}
		}
		if n := countRows(t, db, &models.Client{}, "id = ?", ClientID); n != 1 {
			t.Errorf("got %d console clients, want 1", n)
		}
	})
}

func TestUnauthenticatedRedirectsToLogin(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.browser()
		for path, want := range map[string]string{
			"/admin/":               "/admin/login",
			"/admin/clients":        "/admin/login?next=%2Fadmin%2Fclients",
			"/admin/users?q=al":     "/admin/login?next=%2Fadmin%2Fusers%3Fq%3Dal",
			"/admin/trusted-ips":    "/admin/login?next=%2Fadmin%2Ftrusted-ips",
			"/admin/login-history":  "/admin/login?next=%2Fadmin%2Flogin-history",
			"/admin/clients/abc123": "/admin/login?next=%2Fadmin%2Fclients%2Fabc123",
		} {
			r := b.get(path)
			wantStatus(t, r, http.StatusFound)
			if got := r.location(); got != want {
				t.Errorf("GET %s: redirected to %q, want %q", path, got, want)
			}
		}
		r := b.postRaw("/admin/trusted-ips", url.Values{"cidr": {"10.0.0.0/8"}})
		wantStatus(t, r, http.StatusSeeOther)
		if r.location() != "/admin/login" {
			t.Errorf("POST without a session: redirected to %q, want /admin/login", r.location())
		}
		if n := countRows(t, db, &models.TrustedRange{}, ""); n != 0 {
			t.Errorf("a POST without a session added %d ranges", n)
		}
	})
}

func TestLoginRedirectsToIssuer(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.browser()
		r := b.get("/admin/login?next=" + url.QueryEscape("/admin/users"))
		wantStatus(t, r, http.StatusFound)
		u, err := url.Parse(r.location())
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Scheme + "://" + u.Host + u.Path; got != testIssuer+"/oauth2/authorize" {
			t.Fatalf("redirected to %s, want the issuer's authorization endpoint", got)
		}
		q := u.Query()
		for k, want := range map[string]string{
			"response_type":         "code",
			"client_id":             ClientID,
			"redirect_uri":          e.srv.URL + "/admin/callback",
			"code_challenge_method": "S256",
			"scope":                 "openid profile authgate:admin",
		} {
			if got := q.Get(k); got != want {
				t.Errorf("%s: got %q, want %q", k, got, want)
			}
		}
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			if len(q.Get(k)) < 32 {
				t.Errorf("%s: got %q, want a long random value", k, q.Get(k))
			}
		}
		if q.Has("prompt") {
			t.Errorf("prompt: got %q, want none", q.Get("prompt"))
		}
		var login *http.Cookie
		for _, c := range r.resp.Cookies() {
			if c.Name == loginCookie {
				login = c
			}
		}
		if login == nil || !login.HttpOnly || login.Path != "/" || login.SameSite != http.SameSiteLaxMode || login.MaxAge <= 0 {
			t.Fatalf("login cookie: got %+v, want HttpOnly, Path=/, SameSite=Lax, short-lived", login)
		}
		for _, v := range []string{q.Get("state"), q.Get("nonce")} {
			if strings.Contains(login.Value, v) {
				t.Error("the login cookie holds the state or nonce in the clear")
			}
		}

		r = b.get("/admin/login?prompt=login")
		if u, _ := url.Parse(r.location()); u.Query().Get("prompt") != "login" {
			t.Errorf("prompt=login was not passed on: %s", r.location())
		}
	})
}

func TestCallback(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		adminUser := e.createUser("root", true)
		plain := e.createUser("alice", false)

		// start begins a sign-in in b and returns the issuer's URL.
		start := func(b *browser, next string) string {
			t.Helper()
			path := "/admin/login"
			if next != "" {
				path += "?next=" + url.QueryEscape(next)
			}
			r := b.get(path)
			wantStatus(t, r, http.StatusFound)
			return r.location()
		}
		sessions := func() int64 { return countRows(t, db, &models.LoginSession{}, "") }

		t.Run("wrong state is refused", func(t *testing.T) {
			b := e.browser()
			cb := e.issuer.authorize(start(b, ""), adminUser.ID)
			u, _ := url.Parse(cb)
			q := u.Query()
			q.Set("state", "forged-state-forged-state-forged-state")
			before := sessions()
			r := b.get(CallbackPath + "?" + q.Encode())
			wantStatus(t, r, http.StatusBadRequest)
			wantContains(t, r.body, `id="error"`, "role=\"alert\"", "Sign-in refused", `id="sign-in"`)
			if b.cookie(sessionCookie) != nil || sessions() != before {
				t.Fatal("a callback with a wrong state created a session")
			}
			// The attempt is spent: even the right state no longer works.
			r = b.get(cb)
			wantStatus(t, r, http.StatusBadRequest)
			if sessions() != before {
				t.Fatal("a spent sign-in created a session")
			}
		})

		t.Run("without a sign-in in progress", func(t *testing.T) {
			b := e.browser()
			r := b.get(CallbackPath + "?code=abc&state=def")
			wantStatus(t, r, http.StatusBadRequest)
			wantContains(t, r.body, "expired")
		})

		t.Run("wrong nonce is refused", func(t *testing.T) {
			b := e.browser()
			cb := e.issuer.authorize(start(b, ""), adminUser.ID)
			e.issuer.editCode(cb, func(c *issuedCode) { c.Nonce = "another-nonce" })
			r := b.get(cb)
			wantStatus(t, r, http.StatusBadRequest)
			wantContains(t, r.body, "nonce")
			if b.cookie(sessionCookie) != nil {
				t.Fatal("a wrong nonce created a session")
			}
		})

		t.Run("a non-admin gets no session", func(t *testing.T) {
			b := e.browser()
			before := sessions()
			r := b.get(e.issuer.authorize(start(b, ""), plain.ID))
			wantStatus(t, r, http.StatusForbidden)
			wantContains(t, r.body, "Only administrators can use the console", "alice", `id="sign-in"`, "prompt=login")
			if b.cookie(sessionCookie) != nil || sessions() != before {
				t.Fatal("a non-admin got a console session")
			}
		})

		t.Run("an admin signs in and out", func(t *testing.T) {
			b := e.browser()
			revoked := e.issuer.revoked
			r := b.get(e.issuer.authorize(start(b, "/admin/users"), adminUser.ID))
			wantStatus(t, r, http.StatusSeeOther)
			if r.location() != "/admin/users" {
				t.Fatalf("after sign-in: redirected to %q, want /admin/users", r.location())
			}
			if e.issuer.revoked != revoked+1 {
				t.Error("the access token was not revoked after use")
			}
			var sc *http.Cookie
			for _, c := range r.resp.Cookies() {
				if c.Name == sessionCookie {
					sc = c
				}
			}
			if sc == nil || !sc.HttpOnly || sc.Path != "/" || sc.SameSite != http.SameSiteLaxMode || sc.MaxAge <= 0 || sc.MaxAge > int((8*time.Hour).Seconds()) {
				t.Fatalf("session cookie: got %+v", sc)
			}
			var ls models.LoginSession
			if err := db.Where("id_hash = ?", e.keys.MAC(purposeSession, []byte(sc.Value))).Take(&ls).Error; err != nil {
				t.Fatalf("no session row for the cookie: %v", err)
			}
			if ls.UserID != adminUser.ID {
				t.Errorf("session user: got %q, want %q", ls.UserID, adminUser.ID)
			}
			if d := ls.ExpiresAt.Sub(e.clock.Now()); d > 8*time.Hour {
				t.Errorf("session lasts %s, want at most 8h", d)
			}

			r = b.get("/admin/")
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.body, `id="sign-out"`, "root")
			// Sign out offers the choice: the console only, or everywhere.
			r = b.get("/admin/logout")
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.body, `id="sign-out-console"`, `id="sign-out-everywhere"`)
			token := csrfFrom(t, r.body)

			r = b.postRaw("/admin/logout", url.Values{})
			wantStatus(t, r, http.StatusForbidden)
			r = b.postRaw("/admin/logout", url.Values{csrfField: {token}})
			wantStatus(t, r, http.StatusSeeOther)
			if r.location() != "/admin/signed-out" {
				t.Errorf("after sign-out: redirected to %q", r.location())
			}
			if n := countRows(t, db, &models.LoginSession{}, "id_hash = ?", ls.IDHash); n != 0 {
				t.Error("sign-out left the session row")
			}
			r = b.get("/admin/")
			wantStatus(t, r, http.StatusFound)
			r = b.get("/admin/signed-out")
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.body, `id="sign-in"`)
		})
	})
}

// csrfFrom returns the CSRF token of the first form on a page.
func csrfFrom(t *testing.T, body string) string {
	t.Helper()
	const marker = `name="csrf_token" value="`
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatalf("no CSRF token on the page:\n%s", body)
	}
	rest := body[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestSessions(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		root := e.createUser("root", true)

		t.Run("expire", func(t *testing.T) {
			b := e.signedIn(root)
			wantStatus(t, b.get("/admin/"), http.StatusOK)
			e.clock.Advance(time.Hour + time.Second)
			r := b.get("/admin/")
			wantStatus(t, r, http.StatusFound)
			if r.location() != "/admin/login" {
				t.Errorf("expired session: redirected to %q", r.location())
			}
		})

		t.Run("end when the admin role goes", func(t *testing.T) {
			bob := e.createUser("bob", true)
			b := e.signedIn(bob)
			wantStatus(t, b.get("/admin/"), http.StatusOK)
			no := false
			if _, err := e.accounts.UpdateUser(context.Background(), "test", "bob", accounts.UserUpdate{Admin: &no}); err != nil {
				t.Fatal(err)
			}
			r := b.get("/admin/")
			wantStatus(t, r, http.StatusForbidden)
			wantContains(t, r.body, "Only administrators can use the console")
			if n := countRows(t, db, &models.LoginSession{}, "user_id = ?", bob.ID); n != 0 {
				t.Error("the session of a former admin was kept")
			}
		})

		t.Run("public session cookie does not open the console", func(t *testing.T) {
			b := e.signedIn(root)
			c := b.cookie(sessionCookie)
			other := e.browser()
			u, _ := url.Parse(e.srv.URL + "/")
			other.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "authgate_session", Value: c.Value, Path: "/"}})
			wantStatus(t, other.get("/admin/"), http.StatusFound)
		})
	})
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.signedIn(e.createUser("root", true))
		for _, path := range []string{"/admin/", "/admin/login", "/admin/static/style.css", "/admin/nowhere"} {
			r := b.get(path)
			h := r.header
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
				!strings.Contains(csp, "style-src 'self'") || !strings.Contains(csp, "img-src 'self' data:") {
				t.Errorf("%s: Content-Security-Policy %q", path, csp)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s: headers %v", path, h)
			}
		}
		r := b.get("/admin/")
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("dashboard Cache-Control: %q", r.header.Get("Cache-Control"))
		}
		if r := b.get("/admin/static/style.css"); r.status != http.StatusOK || !strings.Contains(r.body, ".series-legacy") {
			t.Errorf("stylesheet: status %d", r.status)
		}
	})
}

// legacyClient registers a confidential client with the legacy grant on.
func (e *env) legacyClient(name string) models.Client {
	e.t.Helper()
	c, _, err := e.clients.Create(context.Background(), "test", clients.NewClient{
		Name: name, GrantTypes: []string{clients.GrantPassword}, Scopes: []string{oauth.ScopeProfile},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func TestCSRFRefused(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.signedIn(e.createUser("root", true))
		cl := e.legacyClient("Data Loader")
		e.createUser("alice", false)
		mails := countRows(t, db, &models.MailMessage{}, "")
		audits := countRows(t, db, &models.AuditEntry{}, "")

		for _, tc := range []struct {
			path string
			form url.Values
		}{
			{"/admin/clients/" + cl.ID + "/legacy", url.Values{"enabled": {"false"}}},
			{"/admin/clients/" + cl.ID + "/legacy", url.Values{"enabled": {"false"}, csrfField: {"not-the-token"}}},
			{"/admin/clients/" + cl.ID + "/legacy", url.Values{"enabled": {"false"}, csrfField: {e.keys.MAC("csrf", []byte("x"))}}},
			{"/admin/users/alice/reset-token", nil},
			{"/admin/users/alice/admin", url.Values{"admin": {"true"}}},
			{"/admin/trusted-ips", url.Values{"cidr": {"10.0.0.0/8"}}},
			{"/admin/users", url.Values{"username": {"mallory"}, "email": {"m@example.com"}, "password": {"long enough pw"}, "admin": {"on"}}},
		} {
			form := tc.form
			if form == nil {
				form = url.Values{}
			}
			r := b.postRaw(tc.path, form)
			wantStatus(t, r, http.StatusForbidden)
			wantContains(t, r.body, `id="error"`, `role="alert"`, "Nothing was changed")
		}
		got, err := e.clients.Get(context.Background(), cl.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(got.GrantTypes, clients.GrantPassword) {
			t.Error("a POST without its CSRF token turned the legacy grant off")
		}
		if n := countRows(t, db, &models.MailMessage{}, ""); n != mails {
			t.Error("a POST without its CSRF token sent mail")
		}
		if n := countRows(t, db, &models.AuditEntry{}, ""); n != audits {
			t.Error("a POST without its CSRF token changed something")
		}
		if n := countRows(t, db, &models.User{}, "username = ?", "mallory"); n != 0 {
			t.Error("a POST without its CSRF token created a user")
		}
	})
}

func TestDashboardChart(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		root := e.createUser("root", true)
		alice := e.createUser("alice", false)
		cl := e.legacyClient("Data Loader")
		now := e.clock.Now()
		record := func(at time.Time, method string, n int) {
			for range n {
				if err := e.accounts.RecordLogin(ctx, models.LoginEvent{
					Time: at, UserID: alice.ID, Username: alice.Username, ClientID: cl.ID, Method: method, Result: accounts.ResultSuccess,
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
		record(now.Add(-time.Hour), accounts.MethodPasswordGrant, 2)
		record(now.Add(-time.Hour), accounts.MethodLoginPage, 1)
		record(now.AddDate(0, 0, -3), accounts.MethodPasswordGrant, 1)
		record(now.AddDate(0, 0, -3), accounts.MethodLoginPage, 4)
		record(now.AddDate(0, 0, -45), accounts.MethodPasswordGrant, 7) // before the chart
		if err := e.accounts.RecordLogin(ctx, models.LoginEvent{Time: now, Username: "alice", ClientID: cl.ID,
			Method: accounts.MethodPasswordGrant, Result: "Failed: Invalid security token"}); err != nil {
			t.Fatal(err)
		}

		r := e.signedIn(root).get("/admin/")
		wantStatus(t, r, http.StatusOK)
		today := now.Format("2006-01-02")
		threeAgo := now.AddDate(0, 0, -3).Format("2006-01-02")
		wantContains(t, r.body,
			`<svg id="logins-chart"`, `role="img"`, `<title id="chart-title">`, `<desc id="chart-desc">`,
			"3 legacy password-grant sign-ins and 5 OAuth login-page sign-ins",
			"Today: 2 legacy, 1 OAuth.",
			"<title>"+today+": 2 legacy, 1 OAuth</title>",
			"<title>"+threeAgo+": 1 legacy, 4 OAuth</title>",
			`class="series-legacy"`, `class="series-oauth"`, "Legacy password grant", "OAuth login page",
			`id="stat-legacy-clients">1</span>`,
			`id="legacy-usage"`, "alice", "Data Loader",
		)
		if n := strings.Count(r.body, `<g class="day">`); n != chartDays {
			t.Errorf("chart has %d days, want %d", n, chartDays)
		}
		if strings.Contains(r.body, "<script") {
			t.Error("the dashboard has a script")
		}
	})
}

func TestChartScale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ max, step int64 }{{0, 1}, {4, 1}, {5, 2}, {8, 2}, {9, 5}, {20, 5}, {21, 10}, {399, 100}, {401, 200}} {
		if got := niceStep(tc.max); got != tc.step {
			t.Errorf("niceStep(%d): got %d, want %d", tc.max, got, tc.step)
		}
	}
	today := time.Date(2030, 1, 31, 0, 0, 0, 0, time.UTC)
	ch := buildChart([]accounts.DayCount{{Day: today, Legacy: 8, OAuth: 2}}, today.AddDate(0, 0, -29), today)
	last := ch.Days[len(ch.Days)-1]
	if last.X != "744" || last.YLegacy != num(float64(chartTop)) || ch.YTicks[4].Label != "8" {
		t.Errorf("got last point (%s, %s), top tick %q; want (744, %d), 8", last.X, last.YLegacy, ch.YTicks[4].Label, chartTop)
	}
	if ch.Days[0].YLegacy != num(float64(chartBottom)) {
		t.Errorf("an empty day: got y %s, want the baseline %d", ch.Days[0].YLegacy, chartBottom)
	}
}

func TestLegacyToggle(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.signedIn(e.createUser("root", true))
		cl := e.legacyClient("Data Loader")
		ctx := context.Background()

		r := b.get("/admin/clients")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="legacy-toggle-`+cl.ID+`"`, `id="legacy-on-count">1<`)
		if strings.Contains(r.body, `id="legacy-toggle-`+ClientID+`"`) {
			t.Error("the console's own client has a legacy toggle")
		}

		r = b.post("/admin/clients/"+cl.ID+"/legacy/confirm", url.Values{"enabled": {"false"}})
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="confirm"`, `id="confirm-submit"`, `name="enabled" value="false"`, "unauthorized_client")
		if got, _ := e.clients.Get(ctx, cl.ID); !slices.Contains(got.GrantTypes, clients.GrantPassword) {
			t.Fatal("the confirmation page already changed the client")
		}

		r = b.post("/admin/clients/"+cl.ID+"/legacy", url.Values{"enabled": {"false"}})
		wantStatus(t, r, http.StatusSeeOther)
		if r.location() != "/admin/clients" {
			t.Errorf("redirected to %q, want /admin/clients", r.location())
		}
		got, err := e.clients.Get(ctx, cl.ID)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(got.GrantTypes, clients.GrantPassword) {
			t.Fatalf("grant types after turning legacy off: %v", got.GrantTypes)
		}
		var entry models.AuditEntry
		if err := db.Where("action = ? AND target = ?", clients.ActionLegacyDisable, cl.ID).Take(&entry).Error; err != nil {
			t.Fatalf("no audit entry: %v", err)
		}
		if entry.Actor != "user:root" {
			t.Errorf("audit actor: got %q, want user:root", entry.Actor)
		}
		r = b.get("/admin/clients")
		wantContains(t, r.body, `id="notice"`, "now off for Data Loader", `id="legacy-state-`+cl.ID+`">Off<`)
		if r = b.get("/admin/clients"); strings.Contains(r.body, `id="notice"`) {
			t.Error("the notice was shown twice")
		}

		// And back on, from the client's own page.
		r = b.post("/admin/clients/"+cl.ID+"/legacy", url.Values{"enabled": {"true"}, "back": {"/admin/clients/" + cl.ID}})
		wantStatus(t, r, http.StatusSeeOther)
		if r.location() != "/admin/clients/"+cl.ID {
			t.Errorf("redirected to %q", r.location())
		}
		if got, _ := e.clients.Get(ctx, cl.ID); !slices.Contains(got.GrantTypes, clients.GrantPassword) {
			t.Fatalf("grant types after turning legacy on: %v", got.GrantTypes)
		}

		r = b.post("/admin/clients/"+cl.ID+"/legacy", url.Values{"enabled": {"maybe"}})
		wantStatus(t, r, http.StatusBadRequest)

		// A public client cannot have it: the service says so, readably.
		pub, _, err := e.clients.Create(ctx, "test", clients.NewClient{Name: "SPA", Public: true,
			GrantTypes: []string{clients.GrantAuthorizationCode}, RedirectURIs: []string{"https://spa.example.com/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		r = b.post("/admin/clients/"+pub.ID+"/legacy", url.Values{"enabled": {"true"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="error"`, "public client cannot use the legacy password grant")
	})
}

func TestClientEdit(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.signedIn(e.createUser("root", true))
		ctx := context.Background()
		cl, _, err := e.clients.Create(ctx, "test", clients.NewClient{Name: "Web", GrantTypes: []string{clients.GrantAuthorizationCode, clients.GrantPassword},
			RedirectURIs: []string{"https://web.example.com/cb"}, Scopes: []string{"openid"}})
		if err != nil {
			t.Fatal(err)
		}
		r := b.get("/admin/clients/" + cl.ID)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="client-form"`, "https://web.example.com/cb", `id="sunset"`)

		r = b.post("/admin/clients/"+cl.ID, url.Values{"name": {"Web"}, "redirect_uris": {"http://web.example.com/cb"}, "scopes": {"openid"}, "grant_types": {"authorization_code"}, "access_token_format": {"opaque"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="error"`, `id="redirect_uris-error" role="alert"`, "must use https", `aria-invalid="true"`, "http://web.example.com/cb")

		r = b.post("/admin/clients/"+cl.ID, url.Values{"name": {"Web Portal"}, "redirect_uris": {"https://web.example.com/cb\r\nhttps://web.example.com/cb2"},
			"scopes": {"openid", "profile"}, "grant_types": {"authorization_code", "client_credentials"}, "first_party": {"on"}, "access_token_format": {"jwt"}})
		wantStatus(t, r, http.StatusSeeOther)
		got, _ := e.clients.Get(ctx, cl.ID)
		if got.Name != "Web Portal" || len(got.RedirectURIs) != 2 || !got.FirstParty || got.AccessTokenFormat != "jwt" || !slices.Equal(got.Scopes, []string{"openid", "profile"}) {
			t.Errorf("after saving: %+v", got)
		}
		// The form's grant types replace the others; the legacy grant
		// keeps its own switch (a forged "password" box changes nothing).
		if !slices.Equal(got.GrantTypes, []string{"authorization_code", "client_credentials", "password"}) {
			t.Errorf("grant types after saving: got %v, want authorization_code, client_credentials and the legacy grant kept", got.GrantTypes)
		}
		// The logout registration and the MFA requirement: a bad
		// back-channel URI is refused by field and changes nothing, then a
		// good form saves each field, and the page shows them again.
		logoutForm := func(backchannel string) url.Values {
			return url.Values{"name": {"Web Portal"}, "redirect_uris": {"https://web.example.com/cb\nhttps://web.example.com/cb2"},
				"scopes": {"openid", "profile"}, "grant_types": {"authorization_code", "client_credentials"}, "first_party": {"on"}, "access_token_format": {"jwt"},
				"require_mfa": {"on"}, "post_logout_redirect_uris": {"https://web.example.com/bye\r\nhttps://web.example.com/bye2"},
				"backchannel_logout_uri": {backchannel}, "backchannel_logout_session_required": {"on"},
				"frontchannel_logout_uri": {"https://web.example.com/fc"}, "frontchannel_logout_session_required": {"on"}}
		}
		r = b.post("/admin/clients/"+cl.ID, logoutForm("ftp://web.example.com/bc"))
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="backchannel_logout_uri-error" role="alert"`, "ftp://web.example.com/bc")
		if again, _ := e.clients.Get(ctx, cl.ID); again.RequireMFA || again.FrontchannelLogoutURI != "" || len(again.PostLogoutRedirectURIs) != 0 {
			t.Errorf("a refused save changed the client: %+v", again)
		}
		r = b.post("/admin/clients/"+cl.ID, logoutForm("https://web.example.com/bc"))
		wantStatus(t, r, http.StatusSeeOther)
		got, _ = e.clients.Get(ctx, cl.ID)
		if !got.RequireMFA || got.BackchannelLogoutURI != "https://web.example.com/bc" || !got.BackchannelLogoutSessionRequired ||
			got.FrontchannelLogoutURI != "https://web.example.com/fc" || !got.FrontchannelLogoutSessionRequired ||
			!slices.Equal(got.PostLogoutRedirectURIs, []string{"https://web.example.com/bye", "https://web.example.com/bye2"}) {
			t.Errorf("logout and MFA settings after saving: %+v", got)
		}
		r = b.get("/admin/clients/" + cl.ID)
		wantContains(t, r.body, `id="require_mfa" name="require_mfa" checked`, `value="https://web.example.com/bc"`, "https://web.example.com/bye2",
			`id="frontchannel_logout_session_required" name="frontchannel_logout_session_required" checked`)

		r = b.post("/admin/clients/"+cl.ID, url.Values{"name": {"Web Portal"}, "redirect_uris": {"https://web.example.com/cb"},
			"scopes": {"openid"}, "grant_types": {"client_credentials"}, "access_token_format": {"opaque"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="redirect_uris-error" role="alert"`, "used only by the authorization_code grant")
		if again, _ := e.clients.Get(ctx, cl.ID); !slices.Equal(again.GrantTypes, got.GrantTypes) || again.AccessTokenFormat != "jwt" || len(again.RedirectURIs) != 2 {
			t.Errorf("a refused save changed the client: %+v", again)
		}

		r = b.post("/admin/clients/"+cl.ID+"/sunset", url.Values{"sunset": {"31/12/2030"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="sunset-error" role="alert"`)
		r = b.post("/admin/clients/"+cl.ID+"/sunset", url.Values{"sunset": {"2030-12-31"}})
		wantStatus(t, r, http.StatusSeeOther)
		got, _ = e.clients.Get(ctx, cl.ID)
		// The date is the last day the grant works: it ends at the end of it.
		if got.LegacySunset == nil || !got.LegacySunset.Equal(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("sunset: got %v, want the end of 2030-12-31 UTC", got.LegacySunset)
		}
		r = b.get("/admin/clients/" + cl.ID)
		wantContains(t, r.body, `value="2030-12-31"`, `id="notice"`)

		// A date that has passed ends the grant at once: it needs the box ticked.
		r = b.post("/admin/clients/"+cl.ID+"/sunset", url.Values{"sunset": {"2001-01-01"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="sunset-error" role="alert"`, "has passed", `id="confirm_past"`)
		if got, _ = e.clients.Get(ctx, cl.ID); got.LegacySunset == nil || got.LegacySunset.Year() != 2031 {
			t.Errorf("a refused past sunset changed the client: %v", got.LegacySunset)
		}
		r = b.post("/admin/clients/"+cl.ID+"/sunset", url.Values{"sunset": {"2001-01-01"}, "confirm_past": {"on"}})
		wantStatus(t, r, http.StatusSeeOther)
		if got, _ = e.clients.Get(ctx, cl.ID); got.LegacySunset == nil || !got.LegacySunset.Equal(time.Date(2001, 1, 2, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("confirmed past sunset: got %v", got.LegacySunset)
		}
		r = b.post("/admin/clients/"+cl.ID+"/sunset", url.Values{"sunset": {""}})
		wantStatus(t, r, http.StatusSeeOther)
		if got, _ = e.clients.Get(ctx, cl.ID); got.LegacySunset != nil {
			t.Errorf("sunset not cleared: %v", got.LegacySunset)
		}

		r = b.post("/admin/clients/"+ClientID, url.Values{"name": {"mine"}, "access_token_format": {"opaque"}})
		wantStatus(t, r, http.StatusBadRequest)
		if c, _ := e.clients.Get(ctx, ClientID); c.Name != clientName {
			t.Error("the console's own client was edited")
		}
		wantStatus(t, b.get("/admin/clients/nope"), http.StatusNotFound)
	})
}

func TestCreateClient(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.signedIn(e.createUser("root", true))
		wantStatus(t, b.get("/admin/clients/new"), http.StatusOK)
		r := b.post("/admin/clients/new", url.Values{"name": {""}, "client_type": {"confidential"}, "grant_types": {"client_credentials"}, "access_token_format": {"opaque"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="name-error" role="alert"`)
		r = b.post("/admin/clients/new", url.Values{"name": {"Batch"}, "client_type": {"confidential"}, "grant_types": {"client_credentials", "password"}, "access_token_format": {"opaque"}})
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="client-secret"`, "never shown again")
		var c models.Client
		if err := db.Where("name = ?", "Batch").Take(&c).Error; err != nil {
			t.Fatal(err)
		}
		if c.Public || !slices.Contains(c.GrantTypes, "password") {
			t.Errorf("created client: %+v", c)
		}
	})
}

func TestUsers(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		root := e.createUser("root", true)
		alice := e.createUser("alice", false)
		e.createUser("albert", false)
		b := e.signedIn(root)

		r := b.get("/admin/users?q=al")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="user-search"`, `id="reset-token-alice"`, `id="reset-token-albert"`, `id="unlock-alice"`, `id="admin-toggle-alice"`)
		if strings.Contains(r.body, `id="reset-token-root"`) {
			t.Error("the search did not filter")
		}

		t.Run("reset token", func(t *testing.T) {
			var before models.User
			db.Where("id = ?", alice.ID).Take(&before)
			mails := countRows(t, db, &models.MailMessage{}, "")
			r := b.post("/admin/users/alice/reset-token/confirm", url.Values{"back": {"/admin/users?q=al"}})
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.body, `id="confirm"`, `id="confirm-submit"`, "alice@example.com")
			r = b.post("/admin/users/alice/reset-token", url.Values{"back": {"/admin/users?q=al"}})
			wantStatus(t, r, http.StatusSeeOther)
			if r.location() != "/admin/users?q=al" {
				t.Errorf("redirected to %q", r.location())
			}
			var after models.User
			db.Where("id = ?", alice.ID).Take(&after)
			if after.SecurityTokenHash == before.SecurityTokenHash {
				t.Error("the token did not change")
			}
			if n := countRows(t, db, &models.MailMessage{}, ""); n != mails+1 {
				t.Errorf("got %d new mails, want 1", n-mails)
			}
			r = b.get("/admin/users?q=al")
			wantContains(t, r.body, `id="notice"`, "emailed to alice at alice@example.com")
			token := lastToken(t, db, e.keys)
			if token == "" || strings.Contains(r.body, token) {
				t.Error("the page shows the security token")
			}
		})

		t.Run("unlock", func(t *testing.T) {
			for range 10 {
				if _, err := e.accounts.RecordFailure(ctx, alice.ID, accounts.ChannelLegacy); err != nil {
					t.Fatal(err)
				}
			}
			r := b.get("/admin/users?q=alice")
			wantContains(t, r.body, `id="locked-alice">legacy grant<`)
			r = b.post("/admin/users/alice/unlock", nil)
			wantStatus(t, r, http.StatusSeeOther)
			u, _ := e.accounts.GetUser(ctx, "alice")
			if e.accounts.IsLocked(u, accounts.ChannelLegacy) || u.LegacyFailures != 0 {
				t.Error("alice is still locked")
			}
		})

		t.Run("admin role", func(t *testing.T) {
			r := b.post("/admin/users/alice/admin/confirm", url.Values{"admin": {"true"}})
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.body, `id="confirm-submit"`, "Make alice an administrator?")
			r = b.post("/admin/users/alice/admin", url.Values{"admin": {"true"}})
			wantStatus(t, r, http.StatusSeeOther)
			if u, _ := e.accounts.GetUser(ctx, "alice"); !u.Admin {
				t.Error("alice is not an admin")
			}
			r = b.post("/admin/users/alice/admin", url.Values{"admin": {"false"}})
			wantStatus(t, r, http.StatusSeeOther)
			if u, _ := e.accounts.GetUser(ctx, "alice"); u.Admin {
				t.Error("alice is still an admin")
			}
			r = b.post("/admin/users/root/admin", url.Values{"admin": {"false"}})
			wantStatus(t, r, http.StatusBadRequest)
			wantContains(t, r.body, "cannot take the admin role from yourself")
			if u, _ := e.accounts.GetUser(ctx, "root"); !u.Admin {
				t.Error("root demoted themselves")
			}
		})

		t.Run("create", func(t *testing.T) {
			r := b.post("/admin/users", url.Values{"username": {"carol"}, "email": {"not-an-email"}, "name": {"Carol"}, "password": {"long enough pw"}})
			wantStatus(t, r, http.StatusBadRequest)
			wantContains(t, r.body, `id="error"`, `id="email-error" role="alert"`, `value="carol"`)
			if strings.Contains(r.body, "long enough pw") {
				t.Error("the password was echoed")
			}
			r = b.post("/admin/users", url.Values{"username": {"alice"}, "email": {"a2@example.com"}, "password": {"long enough pw"}})
			wantStatus(t, r, http.StatusConflict)
			wantContains(t, r.body, `id="username-error" role="alert"`)
			r = b.post("/admin/users", url.Values{"username": {"Carol"}, "email": {"carol@example.com"}, "name": {"Carol"}, "password": {"long enough pw"}, "admin": {"on"}})
			wantStatus(t, r, http.StatusSeeOther)
			u, err := e.accounts.GetUser(ctx, "carol")
			if err != nil || !u.Admin {
				t.Fatalf("carol: %+v, %v", u, err)
			}
		})

		wantStatus(t, b.post("/admin/users/nobody/unlock", nil), http.StatusNotFound)
	})
}

// lastToken reads the security token out of the newest queued email.
func lastToken(t *testing.T, db *gorm.DB, keys *keyring.Keyring) string {
	t.Helper()
	var m models.MailMessage
	if err := db.Order("id DESC").Take(&m).Error; err != nil {
		t.Fatal(err)
	}
	// The outbox seals bodies under this purpose (mail/outbox.go).
	body, err := keys.Open("mail-outbox", m.BodySealed)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(body), "Your new security token:\n\n    ")
	if !ok {
		t.Fatalf("no token in the email:\n%s", body)
	}
	return strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0])
}

func TestTrustedIPs(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.signedIn(e.createUser("root", true))
		r := b.post("/admin/trusted-ips", url.Values{"cidr": {"10.1.2.300/8"}, "description": {"office"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="error"`, `role="alert"`, `id="cidr-error"`, "is not a CIDR range", `value="10.1.2.300/8"`)
		r = b.post("/admin/trusted-ips", url.Values{"cidr": {"10.1.2.3/8"}, "description": {"office"}})
		wantStatus(t, r, http.StatusSeeOther)
		r = b.get("/admin/trusted-ips")
		wantContains(t, r.body, "10.0.0.0/8", "office", `id="notice"`, `id="remove-range-10-0-0-0-8"`)
		r = b.post("/admin/trusted-ips", url.Values{"cidr": {"10.0.0.0/8"}})
		wantStatus(t, r, http.StatusConflict)
		wantContains(t, r.body, "already trusted")
		r = b.post("/admin/trusted-ips/remove", url.Values{"cidr": {"10.0.0.0/8"}})
		wantStatus(t, r, http.StatusSeeOther)
		if n := countRows(t, db, &models.TrustedRange{}, ""); n != 0 {
			t.Errorf("got %d ranges after removing, want 0", n)
		}
		r = b.post("/admin/trusted-ips/remove", url.Values{"cidr": {"10.0.0.0/8"}})
		wantStatus(t, r, http.StatusNotFound)
	})
}

func TestLoginHistory(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		b := e.signedIn(e.createUser("root", true))
		now := e.clock.Now()
		for i := range 60 {
			result := accounts.ResultSuccess
			if i%3 == 0 {
				result = accounts.ResultInvalidPassword
			}
			if err := e.accounts.RecordLogin(ctx, models.LoginEvent{Time: now.Add(-time.Duration(i) * time.Hour), Username: "alice",
				ClientID: "loader", SourceIP: "192.0.2.7", Method: accounts.MethodPasswordGrant, Result: result, UserAgent: "<script>x</script>"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.accounts.RecordLogin(ctx, models.LoginEvent{Time: now, Username: "bob", ClientID: "web", Method: accounts.MethodLoginPage, Result: accounts.ResultSuccess}); err != nil {
			t.Fatal(err)
		}
		r := b.get("/admin/login-history")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="login-history"`, "Attempts 1–50 of 61", `id="next-page"`, "&lt;script&gt;")
		r = b.get("/admin/login-history?user=alice&result=" + url.QueryEscape(accounts.ResultInvalidPassword))
		wantContains(t, r.body, "Attempts 1–20 of 20")
		if strings.Contains(r.body, ">bob<") {
			t.Error("the user filter let bob through")
		}
		r = b.get("/admin/login-history?user=alice&page=2")
		wantContains(t, r.body, "Attempts 51–60 of 60", `id="prev-page"`)
		since := now.Add(-24 * time.Hour).Format("2006-01-02")
		// From 00:00 UTC yesterday: the 34 hourly attempts of the last 33 hours.
		r = b.get("/admin/login-history?client=loader&since=" + since)
		wantContains(t, r.body, "Attempts 1–34 of 34")
		r = b.get("/admin/login-history?since=yesterday")
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="since-error"`, `role="alert"`)
	})
}
