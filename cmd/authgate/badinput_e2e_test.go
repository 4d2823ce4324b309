package main

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// TestBadInput sends the server what a careless or hostile client would,
// and checks each is answered with the RFC 6749 error it calls for.
func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testBadInput(t, testdb.URL(t, kind))
		})
	}
}

// badInput is a running server with a user, its clients and a browser
// signed in as the user.
type badInput struct {
	in        *instance
	webSecret string
	signedIn  *http.Client
}

const (
	badUser = "alice"
	badPW   = "correct horse battery"
)

func testBadInput(t *testing.T, dbURL string) {
	in := startServer(t, dbURL, nil)
	in.createUser(badUser, badPW, false)
	scopes := []string{"openid", "profile", "offline_access"}
	bi := &badInput{in: in}
	bi.webSecret = in.createClient(models.Client{
		ID: "webapp", Name: "Web App", FirstParty: true, RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, Scopes: scopes,
	})
	in.createClient(models.Client{
		ID: "spa", Name: "SPA", Public: true, FirstParty: true, RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"}, Scopes: scopes,
	})
	in.createClient(models.Client{
		ID: "thirdparty", Name: "Third Party", RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, Scopes: scopes,
	})
	bi.signedIn = in.browser()
	bi.signIn(t, bi.signedIn)

	t.Run("authorize", bi.testAuthorize)
	t.Run("token endpoint", bi.testToken)
	t.Run("csrf", bi.testCSRF)
	t.Run("security headers on pages", bi.testPageHeaders)
	t.Run("body over the limit", bi.testBodyLimit)
}

// noFollow returns b without following redirects, sharing its cookies.
func noFollow(b *http.Client) *http.Client {
	nb := *b
	nb.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &nb
}

// signIn signs b in through the login page.
func (bi *badInput) signIn(t *testing.T, b *http.Client) {
	t.Helper()
	resp, err := b.Get(bi.in.issuer + "/login")
	if err != nil {
		t.Fatal(err)
	}
	form := hiddenFields(t, readBody(t, resp))
	form.Set("username", badUser)
	form.Set("password", badPW)
	resp, err = noFollow(b).PostForm(bi.in.issuer+"/login", form)
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, resp, http.StatusSeeOther, readBody(t, resp))
	if !hasSession(b, bi.in.issuer) {
		t.Fatal("no session cookie after signing in")
	}
}

func hasSession(b *http.Client, issuer string) bool {
	u, _ := url.Parse(issuer)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "authgate_session" && c.Value != "" {
			return true
		}
	}
	return false
}

// authParams are the parameters of a valid authorization request for
// client with PKCE for verifier.
func authParams(client, verifier string) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {client},
		"redirect_uri":          {callback},
		"scope":                 {"openid profile"},
		"state":                 {"state-" + rand.Text()},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}
}

// authorize sends an authorization request from b without following
// redirects.
func (bi *badInput) authorize(t *testing.T, b *http.Client, q url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := noFollow(b).Get(bi.in.issuer + "/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return resp, readBody(t, resp)
}

// code runs a valid authorization request for client as the signed-in
// user and returns the code.
func (bi *badInput) code(t *testing.T, client, verifier string) string {
	t.Helper()
	resp, body := bi.authorize(t, bi.signedIn, authParams(client, verifier))
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: got %d Location %q, want a code: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return loc.Query().Get("code")
}

// errorField returns the "error" of a JSON error body.
func errorField(t *testing.T, body string) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, body)
	}
	return e.Error
}

func (bi *badInput) testAuthorize(t *testing.T) {
	verifier := oauth2.GenerateVerifier()
	with := func(client string, edit func(url.Values)) url.Values {
		q := authParams(client, verifier)
		edit(q)
		return q
	}

	// Errors the client cannot be trusted to receive: no redirect at all
	// (RFC 6749 section 4.1.2.1).
	t.Run("not redirected", func(t *testing.T) {
		tests := []struct {
			name       string
			query      url.Values
			wantStatus int
			wantError  string
		}{
			{"unregistered redirect URI", with("webapp", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/callback") }), http.StatusBadRequest, "invalid_request"},
			{"redirect URI with extra path", with("webapp", func(q url.Values) { q.Set("redirect_uri", callback+"/../evil") }), http.StatusBadRequest, "invalid_request"},
			{"redirect URI with extra query", with("webapp", func(q url.Values) { q.Set("redirect_uri", callback+"?next=https://evil.example") }), http.StatusBadRequest, "invalid_request"},
			{"redirect URI of another scheme", with("webapp", func(q url.Values) { q.Set("redirect_uri", strings.Replace(callback, "http:", "https:", 1)) }), http.StatusBadRequest, "invalid_request"},
			{"confidential client, loopback redirect URI on another port", with("webapp", func(q url.Values) { q.Set("redirect_uri", strings.Replace(callback, ":1/", ":2/", 1)) }), http.StatusBadRequest, "invalid_request"},
			{"unknown client", with("nope", func(url.Values) {}), http.StatusUnauthorized, "invalid_client"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := bi.authorize(t, bi.signedIn, tc.query)
				if loc := resp.Header.Get("Location"); loc != "" {
					t.Fatalf("redirected to %q, want no redirect", loc)
				}
				if resp.StatusCode != tc.wantStatus {
					t.Errorf("status: got %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
				}
				if got := errorField(t, body); got != tc.wantError {
					t.Errorf("error: got %q, want %q", got, tc.wantError)
				}
				if strings.Contains(body, "code=") {
					t.Errorf("body carries a code: %s", body)
				}
			})
		}
	})

	// Errors sent back to the registered redirect URI.
	t.Run("redirected with an error", func(t *testing.T) {
		tests := []struct {
			name      string
			browser   func() *http.Client
			query     url.Values
			wantError string
		}{
			{"public client without PKCE", func() *http.Client { return bi.signedIn }, with("spa", func(q url.Values) {
				q.Del("code_challenge")
				q.Del("code_challenge_method")
			}), "invalid_request"},
			{"code_challenge_method=plain", func() *http.Client { return bi.signedIn }, with("webapp", func(q url.Values) {
				q.Set("code_challenge", verifier)
				q.Set("code_challenge_method", "plain")
			}), "invalid_request"},
			{"public client with plain PKCE", func() *http.Client { return bi.signedIn }, with("spa", func(q url.Values) {
				q.Set("code_challenge", verifier)
				q.Set("code_challenge_method", "plain")
			}), "invalid_request"},
			{"unknown code_challenge_method", func() *http.Client { return bi.signedIn }, with("webapp", func(q url.Values) {
				q.Set("code_challenge_method", "S512")
			}), "invalid_request"},
			{"unsupported response type", func() *http.Client { return bi.signedIn }, with("webapp", func(q url.Values) {
				q.Set("response_type", "token")
			}), "unsupported_response_type"},
			{"scope the client may not ask for", func() *http.Client { return bi.signedIn }, with("webapp", func(q url.Values) {
				q.Set("scope", "openid authgate:admin")
			}), "invalid_scope"},
			{"prompt=none while signed out", bi.in.browser, with("webapp", func(q url.Values) {
				q.Set("prompt", "none")
			}), "login_required"},
			{"prompt=none without consent", func() *http.Client { return bi.signedIn }, with("thirdparty", func(q url.Values) {
				q.Set("prompt", "none")
			}), "consent_required"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := bi.authorize(t, tc.browser(), tc.query)
				if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("status: got %d, want a redirect to the client: %s", resp.StatusCode, body)
				}
				loc, err := url.Parse(resp.Header.Get("Location"))
				if err != nil {
					t.Fatal(err)
				}
				if got := loc.Scheme + "://" + loc.Host + loc.Path; got != callback {
					t.Fatalf("redirected to %s, want the registered %s", loc, callback)
				}
				params := loc.Query()
				if loc.Fragment != "" {
					params, _ = url.ParseQuery(loc.Fragment)
				}
				if got := params.Get("error"); got != tc.wantError {
					t.Errorf("error: got %q (%s), want %q", got, params.Get("error_description"), tc.wantError)
				}
				if got, want := params.Get("state"), tc.query.Get("state"); got != want {
					t.Errorf("state: got %q, want %q", got, want)
				}
				if params.Has("code") {
					t.Errorf("an error redirect carries a code: %s", loc)
				}
			})
		}
	})
}

// tokenCall is one request to the token endpoint.
type tokenCall struct {
	contentType string
	body        string
	// user and pass, when user is set, go in a Basic Authorization header.
	user, pass string
}

func (bi *badInput) token(t *testing.T, c tokenCall) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, bi.in.issuer+"/oauth2/token", strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.contentType == "" {
		c.contentType = "application/x-www-form-urlencoded"
	}
	req.Header.Set("Content-Type", c.contentType)
	if c.user != "" {
		req.SetBasicAuth(url.QueryEscape(c.user), url.QueryEscape(c.pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, readBody(t, resp)
}

func (bi *badInput) testToken(t *testing.T) {
	// exchange is the token request for a fresh code of client.
	exchange := func(t *testing.T, client string, edit func(form url.Values, verifier string)) tokenCall {
		v := oauth2.GenerateVerifier()
		form := url.Values{
			"grant_type":    {"authorization_code"},
			"code":          {bi.code(t, client, v)},
			"redirect_uri":  {callback},
			"code_verifier": {v},
		}
		edit(form, v)
		c := tokenCall{body: form.Encode(), user: client, pass: bi.webSecret}
		if client == "spa" {
			c.user = ""
			form.Set("client_id", "spa")
			c.body = form.Encode()
		}
		return c
	}
	unchanged := func(url.Values, string) {}

	tests := []struct {
		name       string
		call       func(t *testing.T) tokenCall
		wantStatus int
		wantError  string
	}{
		{"missing code_verifier", func(t *testing.T) tokenCall {
			return exchange(t, "webapp", func(f url.Values, _ string) { f.Del("code_verifier") })
		}, http.StatusBadRequest, "invalid_grant"},
		{"wrong code_verifier", func(t *testing.T) tokenCall {
			return exchange(t, "webapp", func(f url.Values, _ string) { f.Set("code_verifier", oauth2.GenerateVerifier()) })
		}, http.StatusBadRequest, "invalid_grant"},
		{"public client, wrong code_verifier", func(t *testing.T) tokenCall {
			return exchange(t, "spa", func(f url.Values, _ string) { f.Set("code_verifier", oauth2.GenerateVerifier()) })
		}, http.StatusBadRequest, "invalid_grant"},
		{"code_verifier too short", func(t *testing.T) tokenCall {
			return exchange(t, "webapp", func(f url.Values, v string) { f.Set("code_verifier", v[:20]) })
		}, http.StatusBadRequest, "invalid_grant"},
		{"unknown code", func(t *testing.T) tokenCall {
			return exchange(t, "webapp", func(f url.Values, _ string) { f.Set("code", "ory_ac_"+rand.Text()+"."+rand.Text()) })
		}, http.StatusBadRequest, "invalid_grant"},
		{"different redirect_uri", func(t *testing.T) tokenCall {
			return exchange(t, "webapp", func(f url.Values, _ string) { f.Set("redirect_uri", "https://evil.example/callback") })
		}, http.StatusBadRequest, "invalid_grant"},
		{"another client's code", func(t *testing.T) tokenCall {
			v := oauth2.GenerateVerifier()
			form := url.Values{"grant_type": {"authorization_code"}, "code": {bi.code(t, "spa", v)}, "redirect_uri": {callback}, "code_verifier": {v}}
			return tokenCall{body: form.Encode(), user: "webapp", pass: bi.webSecret}
		}, http.StatusBadRequest, "invalid_grant"},
		{"replayed code", func(t *testing.T) tokenCall {
			c := exchange(t, "webapp", unchanged)
			resp, body := bi.token(t, c)
			mustStatus(t, resp, http.StatusOK, body)
			return c
		}, http.StatusBadRequest, "invalid_grant"},
		{"wrong client secret", func(t *testing.T) tokenCall {
			c := exchange(t, "webapp", unchanged)
			c.pass = "not-the-secret"
			return c
		}, http.StatusUnauthorized, "invalid_client"},
		{"wrong client secret in the body", func(t *testing.T) tokenCall {
			c := exchange(t, "webapp", unchanged)
			form, _ := url.ParseQuery(c.body)
			form.Set("client_id", "webapp")
			form.Set("client_secret", "not-the-secret")
			return tokenCall{body: form.Encode()}
		}, http.StatusUnauthorized, "invalid_client"},
		{"unknown client", func(t *testing.T) tokenCall {
			return tokenCall{body: "grant_type=client_credentials", user: "nope", pass: "whatever"}
		}, http.StatusUnauthorized, "invalid_client"},
		{"unknown grant type", func(t *testing.T) tokenCall {
			return tokenCall{body: "grant_type=urn:example:no-such-grant", user: "webapp", pass: bi.webSecret}
		}, http.StatusBadRequest, "unsupported_grant_type"},
		{"grant type the client may not use", func(t *testing.T) tokenCall {
			return tokenCall{body: "grant_type=client_credentials", user: "webapp", pass: bi.webSecret}
		}, http.StatusBadRequest, "unauthorized_client"},
		{"missing grant type", func(t *testing.T) tokenCall {
			return tokenCall{body: "code=abc", user: "webapp", pass: bi.webSecret}
		}, http.StatusBadRequest, "invalid_request"},
		{"invalid percent-encoding", func(t *testing.T) tokenCall {
			return tokenCall{body: "grant_type=authorization_code&code=%zz&redirect_uri=" + url.QueryEscape(callback), user: "webapp", pass: bi.webSecret}
		}, http.StatusBadRequest, "invalid_request"},
		{"JSON body", func(t *testing.T) tokenCall {
			return tokenCall{contentType: "application/json", body: `{"grant_type":"client_credentials"}`, user: "webapp", pass: bi.webSecret}
		}, http.StatusBadRequest, "invalid_request"},
		{"empty body", func(t *testing.T) tokenCall {
			return tokenCall{body: "", user: "webapp", pass: bi.webSecret}
		}, http.StatusBadRequest, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			call := tc.call(t)
			resp, body := bi.token(t, call)
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status: got %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if got := errorField(t, body); got != tc.wantError {
				t.Errorf("error: got %q, want %q: %s", got, tc.wantError, body)
			}
			if strings.Contains(body, "access_token") {
				t.Errorf("an error response carries a token: %s", body)
			}
			// RFC 6749 section 5.2: a client that authenticated with the
			// Authorization header gets a challenge for its scheme.
			if tc.wantError == "invalid_client" && call.user != "" {
				if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic") {
					t.Errorf("WWW-Authenticate: got %q, want a Basic challenge", got)
				}
			}
			assertNoStore(t, resp)
		})
	}

	t.Run("successful response", func(t *testing.T) {
		resp, body := bi.token(t, exchange(t, "webapp", unchanged))
		mustStatus(t, resp, http.StatusOK, body)
		assertNoStore(t, resp)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type: got %q, want application/json", ct)
		}
	})
}

// assertNoStore checks a response that carries or refuses tokens may not
// be cached (RFC 6749 section 5.1).
func assertNoStore(t *testing.T, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	if got := resp.Header.Get("Pragma"); got != "no-cache" {
		t.Errorf("Pragma: got %q, want no-cache", got)
	}
}

func (bi *badInput) testCSRF(t *testing.T) {
	t.Run("login", func(t *testing.T) {
		tests := []struct {
			name string
			edit func(t *testing.T, form url.Values)
		}{
			{"without csrf_token", func(_ *testing.T, f url.Values) { f.Del("csrf_token") }},
			{"empty csrf_token", func(_ *testing.T, f url.Values) { f.Set("csrf_token", "") }},
			{"another browser's csrf_token", func(t *testing.T, f url.Values) {
				resp, err := bi.in.browser().Get(bi.in.issuer + "/login")
				if err != nil {
					t.Fatal(err)
				}
				f.Set("csrf_token", hiddenFields(t, readBody(t, resp)).Get("csrf_token"))
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b := bi.in.browser()
				q := authParams("webapp", oauth2.GenerateVerifier())
				resp, err := b.Get(bi.in.issuer + "/oauth2/authorize?" + q.Encode())
				if err != nil {
					t.Fatal(err)
				}
				form := hiddenFields(t, readBody(t, resp))
				if form.Get("csrf_token") == "" {
					t.Fatal("login page has no csrf_token")
				}
				form.Set("username", badUser)
				form.Set("password", badPW)
				tc.edit(t, form)
				resp, err = noFollow(b).PostForm(bi.in.issuer+"/login", form)
				if err != nil {
					t.Fatal(err)
				}
				body := readBody(t, resp)
				mustStatus(t, resp, http.StatusForbidden, body)
				if hasSession(b, bi.in.issuer) {
					t.Fatal("refused login set a session cookie")
				}
				// Still signed out: the authorization request goes back to login.
				resp, _ = bi.authorize(t, b, q)
				if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
					t.Fatalf("after a refused login: got %d to %q, want a redirect to /login", resp.StatusCode, loc)
				}
			})
		}
	})

	t.Run("consent", func(t *testing.T) {
		tests := []struct {
			name string
			edit func(form url.Values)
		}{
			{"without csrf_token", func(f url.Values) { f.Del("csrf_token") }},
			{"wrong csrf_token", func(f url.Values) { f.Set("csrf_token", strings.Repeat("0", 64)) }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b := bi.in.browser()
				bi.signIn(t, b)
				q := authParams("thirdparty", oauth2.GenerateVerifier())
				resp, body := bi.authorize(t, b, q)
				mustStatus(t, resp, http.StatusOK, body)
				if !strings.Contains(body, `name="consent" value="allow"`) {
					t.Fatalf("want the consent page, got: %s", body)
				}
				form := hiddenFields(t, body)
				form.Set("consent", "allow")
				tc.edit(form)
				resp, err := noFollow(b).PostForm(bi.in.issuer+"/oauth2/authorize", form)
				if err != nil {
					t.Fatal(err)
				}
				body = readBody(t, resp)
				mustStatus(t, resp, http.StatusForbidden, body)
				if loc := resp.Header.Get("Location"); loc != "" {
					t.Fatalf("refused consent redirected to %q", loc)
				}
				// Consent was not remembered: asking again shows the page again.
				resp, body = bi.authorize(t, b, authParams("thirdparty", oauth2.GenerateVerifier()))
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="consent"`) {
					t.Fatalf("after a refused consent: got %d Location %q, want the consent page again", resp.StatusCode, resp.Header.Get("Location"))
				}
			})
		}
	})
}

func (bi *badInput) testPageHeaders(t *testing.T) {
	pages := []struct {
		name  string
		fetch func(t *testing.T) *http.Response
	}{
		{"login page", func(t *testing.T) *http.Response {
			resp, err := bi.in.browser().Get(bi.in.issuer + "/login")
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}},
		{"consent page", func(t *testing.T) *http.Response {
			resp, err := noFollow(bi.signedIn).Get(bi.in.issuer + "/oauth2/authorize?" + authParams("thirdparty", oauth2.GenerateVerifier()).Encode())
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}},
		{"refused form", func(t *testing.T) *http.Response {
			resp, err := bi.in.browser().PostForm(bi.in.issuer+"/login", url.Values{"username": {"x"}, "password": {"y"}})
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}},
		{"authorization error", func(t *testing.T) *http.Response {
			resp, err := bi.in.browser().Get(bi.in.issuer + "/oauth2/authorize?client_id=nope")
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			resp := p.fetch(t)
			readBody(t, resp)
			csp := resp.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy: got %q, want frame-ancestors 'none'", csp)
			}
			for _, directive := range []string{"default-src 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, directive) {
					t.Errorf("Content-Security-Policy: got %q, want %s", csp, directive)
				}
			}
			for name, want := range map[string]string{
				"Referrer-Policy":        "no-referrer",
				"X-Frame-Options":        "DENY",
				"X-Content-Type-Options": "nosniff",
				"Cache-Control":          "no-store",
			} {
				if got := resp.Header.Get(name); got != want {
					t.Errorf("%s: got %q, want %q", name, got, want)
				}
			}
		})
	}
}

func (bi *badInput) testBodyLimit(t *testing.T) {
	// 64 KiB is the default max_body_bytes; send more.
	padding := strings.Repeat("a", 128<<10)
	t.Run("token endpoint", func(t *testing.T) {
		c := tokenCall{body: "grant_type=client_credentials&scope=openid&padding=" + padding, user: "webapp", pass: bi.webSecret}
		resp, body := bi.token(t, c)
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status: got %d, want 400 or 413: %s", resp.StatusCode, body)
		}
		if resp.StatusCode == http.StatusBadRequest {
			if got := errorField(t, body); got != "invalid_request" {
				t.Errorf("error: got %q, want invalid_request", got)
			}
		}
		if strings.Contains(body, "access_token") {
			t.Errorf("response carries a token: %s", body)
		}
	})
	t.Run("login", func(t *testing.T) {
		b := bi.in.browser()
		resp, err := b.Get(bi.in.issuer + "/login")
		if err != nil {
			t.Fatal(err)
		}
		form := hiddenFields(t, readBody(t, resp))
		form.Set("username", badUser)
		form.Set("password", badPW)
		form.Set("padding", padding)
		resp, err = noFollow(b).PostForm(bi.in.issuer+"/login", form)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status: got %d, want 400 or 413: %s", resp.StatusCode, body)
		}
		if hasSession(b, bi.in.issuer) {
			t.Fatal("an oversized login set a session cookie")
		}
	})
}
