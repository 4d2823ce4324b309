package server_test

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"gorm.io/gorm"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/testutil"
	"github.com/authgate/authgate/models"
)

const (
	errCallback = "http://127.0.0.1:1/callback"
	htmlAccept  = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

// errorClients registers a confidential client with one redirect URI, a
// public one, and one with two redirect URIs (so a request without
// redirect_uri names none of them).
func errorClients(t *testing.T, db *gorm.DB) {
	t.Helper()
	for _, c := range []models.Client{
		{ID: "webapp", Name: "Web App", SecretHash: "not-used-here", RedirectURIs: []string{errCallback}},
		{ID: "spa", Name: "Single Page App", Public: true, RedirectURIs: []string{errCallback}},
		{ID: "two", Name: "Two Callbacks", SecretHash: "not-used-here", RedirectURIs: []string{errCallback, errCallback + "2"}},
	} {
		c.GrantTypes, c.ResponseTypes = []string{"authorization_code"}, []string{"code"}
		c.Scopes, c.AccessTokenFormat = []string{"openid", "profile"}, "opaque"
		if err := db.Create(&c).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// authorizeQuery is a valid authorization request of client, with PKCE.
func authorizeQuery(client string) url.Values {
	return url.Values{
		"response_type": {"code"}, "client_id": {client}, "redirect_uri": {errCallback},
		"scope": {"openid profile"}, "state": {"state-0123456789"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}
}

// getWith GETs path with the Accept header (none when empty).
func (b *browser) getWith(path, accept string) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.site.url+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

var errorCode = regexp.MustCompile(`id="error-code">([^<]*)<`)

// Where a person is looking, an error the client cannot be trusted to
// receive is a page in words with the OAuth code in small print; an API
// client asking for JSON gets JSON. Neither is ever a redirect.
func TestErrorPages(t *testing.T) {
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		errorClients(t, db)
		with := func(client string, edit func(url.Values)) string {
			q := authorizeQuery(client)
			edit(q)
			return "/oauth2/authorize?" + q.Encode()
		}
		tests := []struct {
			name       string
			path       string
			wantStatus int // of the page
			wantCode   string
			wantWords  string
			jsonStatus int
		}{
			{"no parameters", "/oauth2/authorize", http.StatusBadRequest, "invalid_client", "no application sent this request", http.StatusUnauthorized},
			{"unknown client", with("nope", func(url.Values) {}), http.StatusBadRequest, "invalid_client", "is not registered", http.StatusUnauthorized},
			{"confidential client, unregistered redirect URI", with("webapp", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }), http.StatusBadRequest, "invalid_request", "has not registered", http.StatusBadRequest},
			{"confidential client, loopback on another port", with("webapp", func(q url.Values) { q.Set("redirect_uri", strings.Replace(errCallback, ":1/", ":2/", 1)) }), http.StatusBadRequest, "invalid_request", "has not registered", http.StatusBadRequest},
			{"public client, unregistered redirect URI", with("spa", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }), http.StatusBadRequest, "invalid_request", "has not registered", http.StatusBadRequest},
			{"missing redirect URI, two registered", with("two", func(q url.Values) { q.Del("redirect_uri"); q.Set("scope", "profile") }), http.StatusBadRequest, "invalid_request", "has not registered", http.StatusBadRequest},
			{"unknown page", "/no/such/page", http.StatusNotFound, "not_found", "There is no page at this address", http.StatusNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b := site.browser(t)
				r := b.getWith(tc.path, htmlAccept)
				if loc := r.header.Get("Location"); loc != "" {
					t.Fatalf("page: redirected to %q, want no redirect", loc)
				}
				if r.status != tc.wantStatus || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
					t.Fatalf("page: got %d %s, want %d text/html: %s", r.status, r.header.Get("Content-Type"), tc.wantStatus, r.body)
				}
				if m := errorCode.FindStringSubmatch(r.body); m == nil || m[1] != tc.wantCode {
					t.Errorf("page: got error code %v, want %q:\n%s", m, tc.wantCode, r.body)
				}
				if !strings.Contains(html.UnescapeString(r.body), tc.wantWords) {
					t.Errorf("page: want it to say %q:\n%s", tc.wantWords, r.body)
				}
				if !strings.Contains(r.body, `href="/static/style.css"`) {
					t.Errorf("page: not in the site's layout:\n%s", r.body)
				}

				for _, accept := range []string{"application/json", "", "application/json, text/html"} {
					r := b.getWith(tc.path, accept)
					var e struct {
						Error string `json:"error"`
					}
					if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error != tc.wantCode || r.status != tc.jsonStatus {
						t.Errorf("Accept %q: got %d %q, want %d JSON with error %q", accept, r.status, r.body, tc.jsonStatus, tc.wantCode)
					}
					if loc := r.header.Get("Location"); loc != "" {
						t.Errorf("Accept %q: redirected to %q, want no redirect", accept, loc)
					}
				}
			})
		}
	})
}

// The page of an unknown client must not drift unnoticed.
func TestErrorPageGolden(t *testing.T) {
	site := newAccountSite(t, "sqlite")
	r := site.browser(t).getWith("/oauth2/authorize?client_id=nope&response_type=code", htmlAccept)
	golden(t, "error-unknown-client.html", []byte(r.body))
}

// An error that can go back to a registered redirect URI still goes there
// (RFC 6749 section 4.1.2.1), whatever the Accept header; a public client
// without PKCE is refused before anyone is asked to sign in.
func TestAuthorizeRefusedBeforeLogin(t *testing.T) {
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		errorClients(t, db)
		tests := []struct {
			name string
			edit func(url.Values)
		}{
			{"public client without PKCE", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }},
			{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }},
			{"unknown PKCE method", func(q url.Values) { q.Set("code_challenge_method", "S512") }},
			{"unknown prompt", func(q url.Values) { q.Set("prompt", "select_account") }},
			{"prompt=none with another", func(q url.Values) { q.Set("prompt", "none login") }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				q := authorizeQuery("spa")
				tc.edit(q)
				for _, accept := range []string{htmlAccept, "application/json"} {
					r := site.browser(t).getWith("/oauth2/authorize?"+q.Encode(), accept)
					loc, err := url.Parse(r.header.Get("Location"))
					if r.status != http.StatusSeeOther && r.status != http.StatusFound || err != nil {
						t.Fatalf("Accept %q: got %d, want a redirect: %s", accept, r.status, r.body)
					}
					if got := loc.Scheme + "://" + loc.Host + loc.Path; got != errCallback || loc.Query().Get("error") != "invalid_request" {
						t.Fatalf("Accept %q: got redirect to %q, want %s with error=invalid_request (not the login page)", accept, loc, errCallback)
					}
				}
			})
		}
		// The same request with PKCE asks the user to sign in.
		r := site.browser(t).getWith("/oauth2/authorize?"+authorizeQuery("spa").Encode(), htmlAccept)
		if loc := r.header.Get("Location"); !strings.HasPrefix(loc, "/login?") {
			t.Fatalf("valid request: got %d to %q, want the login page", r.status, loc)
		}
	})
}

// A consent is remembered only with the authorization response it allowed:
// a request refused after the user pressed Allow leaves no consent row.
func TestRefusedRequestRemembersNoConsent(t *testing.T) {
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		errorClients(t, db)
		b := site.browser(t)
		b.signIn("alice", alicePassword)
		consents := func() int64 {
			var n int64
			if err := db.Model(&models.Consent{}).Where("user_id = ? AND client_id = ?", site.alice.ID, "webapp").Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		allow := func(q url.Values) response {
			page := b.page("/oauth2/authorize?" + q.Encode())
			form := url.Values{"csrf_token": {b.csrf(page)}, "consent": {"allow"}}
			for k := range q {
				form.Set(k, q.Get(k))
			}
			return b.post("/oauth2/authorize", form)
		}

		// id_token_hint can only be checked against the signed-in user, so
		// fosite refuses a bad one when the response is issued.
		q := authorizeQuery("webapp")
		q.Set("id_token_hint", "not-a-jwt")
		r := allow(q)
		loc, _ := url.Parse(r.header.Get("Location"))
		if loc == nil || loc.Query().Get("error") == "" || loc.Query().Get("code") != "" {
			t.Fatalf("bad id_token_hint: got %d to %q, want an error sent to the client", r.status, r.header.Get("Location"))
		}
		if n := consents(); n != 0 {
			t.Fatalf("after a refused request: got %d consent rows, want 0", n)
		}

		r = allow(authorizeQuery("webapp"))
		loc, _ = url.Parse(r.header.Get("Location"))
		if loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("valid request: got %d to %q, want a code", r.status, r.header.Get("Location"))
		}
		if n := consents(); n != 1 {
			t.Fatalf("after an allowed request: got %d consent rows, want 1", n)
		}
	})
}

// fosite calls any failure to load a client an unknown client; a person
// whose sign-in failed because the database is away is told to try again.
func TestErrorPageDatabaseDown(t *testing.T) {
	var proxy *testutil.CuttableProxy
	h, _, db := newServerOn(t, "postgres", func(cfg *config.Config) {
		u, err := url.Parse(cfg.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy = testutil.NewCuttableProxy(t, u.Host)
		u.Host = proxy.Addr()
		cfg.DatabaseURL = u.String()
	})
	errorClients(t, db)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	proxy.SetDown(true)
	t.Cleanup(func() { proxy.SetDown(false) })

	site := &accountSite{url: srv.URL, transport: srv.Client().Transport}
	r := site.browser(t).getWith("/oauth2/authorize?"+authorizeQuery("webapp").Encode(), htmlAccept)
	if m := errorCode.FindStringSubmatch(r.body); r.status != http.StatusServiceUnavailable || m == nil || m[1] != "temporarily_unavailable" {
		t.Fatalf("got %d with error code %v, want 503 temporarily_unavailable:\n%s", r.status, m, r.body)
	}
}
