package console

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/notices"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/internal/workbench"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

const (
	testSecret = "console-test-secret-0123456789-abcdefghijklmnop"
	// testIssuer is reachable only through the fake transport: a request
	// that reaches it proves the console used Deps.TokenTransport.
	testIssuer = "https://id.invalid"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a console served over HTTP against a real database, with a fake
// issuer behind its token transport.
type env struct {
	t        *testing.T
	db       *gorm.DB
	keys     *keyring.Keyring
	accounts *accounts.Service
	clients  *clients.Service
	trust    *trustedips.Ranges
	clock    *clock
	cfg      config.Config
	srv      *httptest.Server
	issuer   *fakeIssuer
	apps     *apppasswords.Service
}

func newEnv(t *testing.T, db *gorm.DB) *env {
	t.Helper()
	keys, err := keyring.New([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{Time: 1, Memory: 8192, Threads: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2030, 3, 14, 9, 26, 53, 0, time.UTC)}
	e := &env{
		t:     t,
		db:    db,
		keys:  keys,
		clock: clk,
		accounts: accounts.New(storage.New(db), keys, hasher, accounts.Options{
			Organization: "Acme", Now: clk.Now,
		}),
		clients: clients.New(storage.New(db), &oauth.SecretHasher{Keys: keys, Argon2: hasher}, clients.Options{Now: clk.Now}),
		trust:   trustedips.New(storage.New(db)),
	}
	e.srv = httptest.NewServer(nil)
	t.Cleanup(e.srv.Close)
	e.cfg = config.Default()
	e.cfg.Issuer = testIssuer
	e.cfg.AdminURL = e.srv.URL
	e.cfg.Organization = "Acme"
	e.issuer = newFakeIssuer(t, e)
	e.apps = apppasswords.New(storage.New(db), keys, apppasswords.Options{Now: clk.Now})
	h, err := New(Deps{
		AppPasswords:   e.apps,
		Config:         e.cfg,
		Store:          storage.New(db),
		Keys:           keys,
		Accounts:       e.accounts,
		Clients:        e.clients,
		Trust:          e.trust,
		TokenTransport: e.issuer,
		Now:            clk.Now,
		Workbench: workbench.New(storage.New(db), workbench.Options{PasswordMethod: accounts.MethodPasswordGrant,
			RefreshMethod: accounts.MethodPasswordGrantRefresh, Success: accounts.ResultSuccess, Now: clk.Now}),
		WorkbenchActor: &workbench.Actor{Clients: e.clients, Notices: notices.New(storage.New(db), keys, notices.Options{
			Organization: "Acme", Issuer: testIssuer, Days: []int{30, 7, 1}, Lookback: 90 * 24 * time.Hour,
			Methods: accounts.LegacyMethods(), Success: accounts.ResultSuccess, Now: clk.Now})},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = h
	if err := EnsureClient(context.Background(), storage.New(db), e.keys, e.cfg.AdminURL); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) createUser(username string, admin bool) models.User {
	e.t.Helper()
	u, err := e.accounts.CreateUser(context.Background(), "test", accounts.NewUser{
		Username: username, Email: username + "@example.com", Name: strings.ToUpper(username[:1]) + username[1:],
		Password: "correct horse battery", Admin: admin,
	})
	if err != nil {
		e.t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t    *testing.T
	e    *env
	hc   *http.Client
	csrf string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, e: e, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// signedIn returns a browser holding a console session of u.
func (e *env) signedIn(u models.User) *browser {
	e.t.Helper()
	b := e.browser()
	cookies, token, err := SignInForTest(context.Background(), storage.New(e.db), e.keys, u.ID, e.clock.Now(), time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	base, _ := url.Parse(e.srv.URL + "/admin/")
	b.hc.Jar.SetCookies(base, cookies)
	b.csrf = token
	return b
}

type response struct {
	status int
	header http.Header
	body   string
	resp   *http.Response
}

func (r response) location() string { return r.header.Get("Location") }

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(body), resp: resp}
}

func (b *browser) get(path string) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post submits form to path with the browser's CSRF token, unless the
// form already says otherwise or omitCSRF is set.
func (b *browser) post(path string, form url.Values) response {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form[csrfField]; !ok && b.csrf != "" {
		form.Set(csrfField, b.csrf)
	}
	return b.postRaw(path, form)
}

func (b *browser) postRaw(path string, form url.Values) response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.e.srv.URL + "/admin/")
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func wantStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s %s: got status %d, want %d; body:\n%s", r.resp.Request.Method, r.resp.Request.URL.Path, r.status, want, r.body)
	}
}

func wantContains(t *testing.T, body string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(body, s) {
			t.Fatalf("page does not contain %q:\n%s", s, body)
		}
	}
}

func countRows(t *testing.T, db *gorm.DB, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	q := db.Model(model)
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// fakeIssuer plays authgate's public endpoints for the console: token,
// userinfo, JWKS and revocation. It is an http.RoundTripper, standing in
// for the in-process transport the server passes as Deps.TokenTransport.
type fakeIssuer struct {
	t   *testing.T
	e   *env
	key *rsa.PrivateKey

	mu     sync.Mutex
	codes  map[string]issuedCode
	tokens map[string]string // access token -> subject
	// revoked counts revocation requests.
	revoked int
}

// issuedCode is what the fake authorization endpoint remembers of a code.
type issuedCode struct {
	Subject     string
	Challenge   string
	Nonce       string
	RedirectURI string
	Scope       string
}

func newFakeIssuer(t *testing.T, e *env) *fakeIssuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeIssuer{t: t, e: e, key: key, codes: map[string]issuedCode{}, tokens: map[string]string{}}
}

// authorize plays the issuer's authorization endpoint for a sign-in that
// the browser started at authURL: it issues a code for subject and
// returns the callback path with code and state.
func (f *fakeIssuer) authorize(authURL, subject string) string {
	f.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		f.t.Fatal(err)
	}
	q := u.Query()
	code, _ := keyring.RandomString(16)
	f.mu.Lock()
	f.codes[code] = issuedCode{Subject: subject, Challenge: q.Get("code_challenge"), Nonce: q.Get("nonce"), RedirectURI: q.Get("redirect_uri"), Scope: q.Get("scope")}
	f.mu.Unlock()
	return CallbackPath + "?" + url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
}

// setCode replaces what the issuer remembers of code (to forge a nonce).
func (f *fakeIssuer) editCode(callbackPath string, edit func(*issuedCode)) {
	u, _ := url.Parse(callbackPath)
	code := u.Query().Get("code")
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.codes[code]
	edit(&c)
	f.codes[code] = c
}

func (f *fakeIssuer) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.String(), testIssuer+"/") {
		f.t.Errorf("console called %s, outside the issuer", req.URL)
	}
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func (f *fakeIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch r.URL.Path {
	case "/oauth2/token":
		_ = r.ParseForm()
		f.mu.Lock()
		c, ok := f.codes[r.PostForm.Get("code")]
		delete(f.codes, r.PostForm.Get("code"))
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		id, secret, _ := r.BasicAuth()
		switch {
		case r.PostForm.Get("grant_type") != "authorization_code":
			writeJSON(http.StatusBadRequest, map[string]string{"error": "invalid_request"})
			return
		case id != ClientID || secret != clientSecret(f.e.keys):
			// The console is a confidential client: HTTP Basic with the
			// secret derived from the system secret.
			writeJSON(http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
			return
		case !ok || c.RedirectURI != r.PostForm.Get("redirect_uri"):
			writeJSON(http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		case base64.RawURLEncoding.EncodeToString(sum[:]) != c.Challenge:
			writeJSON(http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "PKCE verifier does not match"})
			return
		}
		at, _ := keyring.RandomString(24)
		f.mu.Lock()
		f.tokens[at] = c.Subject
		f.mu.Unlock()
		now := f.e.clock.Now()
		idToken := f.sign(map[string]any{
			"iss": testIssuer, "sub": c.Subject, "aud": []string{ClientID},
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": c.Nonce,
		})
		writeJSON(http.StatusOK, map[string]any{
			"access_token": at, "token_type": "bearer", "expires_in": 3600, "id_token": idToken, "scope": c.Scope,
		})
	case "/userinfo":
		f.mu.Lock()
		sub, ok := f.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		f.mu.Unlock()
		if !ok {
			writeJSON(http.StatusUnauthorized, map[string]string{"error": "invalid_token"})
			return
		}
		writeJSON(http.StatusOK, map[string]string{"sub": sub})
	case "/.well-known/jwks.json":
		writeJSON(http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	case "/oauth2/revoke":
		_ = r.ParseForm()
		f.mu.Lock()
		delete(f.tokens, r.PostForm.Get("token"))
		f.revoked++
		f.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeIssuer) sign(claims map[string]any) string {
	f.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: f.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		f.t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		f.t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}
