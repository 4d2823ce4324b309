package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"gorm.io/gorm"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/keyring"
	authmail "github.com/authgate/authgate/internal/mail"
	"github.com/authgate/authgate/internal/mfa"
	"github.com/authgate/authgate/internal/notices"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testutil"
	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/internal/workbench"
	"github.com/authgate/authgate/legacy"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/server"
)

// testSecret is the system secret of test servers.
const testSecret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

// Accounts and clients every env starts with.
const (
	adminName    = "root"
	adminEmail   = "root@example.com"
	adminPass    = "root-password-1"
	userName     = "bob"
	userEmail    = "bob@example.com"
	userPass     = "bob-password-1"
	adminActor   = "user:" + adminName
	loopbackCIDR = "127.0.0.1/32"
)

// env is a real authgate on one database: the public server (token,
// revocation endpoints and the legacy grant) and the admin API, each on
// its own httptest server, with real tokens for the admin API.
type env struct {
	db       *gorm.DB
	keys     *keyring.Keyring
	accounts *accounts.Service
	clients  *clients.Service
	trust    *trustedips.Ranges
	km       *oauth.KeyManager
	provider *oauth.Provider
	issuer   string
	api      string
	handler  *api
	sender   *authmail.Sender
	apps     *apppasswords.Service
	outbox   *outbox
	logs     *syncBuffer
	mfa      *mfa.Service

	// automation is a client_credentials client allowed authgate:admin.
	automation       models.Client
	automationSecret string
	// legacyApp is a password-grant client allowed authgate:admin.
	legacyApp       models.Client
	legacyAppSecret string
	// noScope is a client_credentials client without authgate:admin.
	noScope       models.Client
	noScopeSecret string
	webApp        models.Client
	webAppSecret  string

	clientToken  string // client credentials, authgate:admin
	adminToken   string // code flow for root (admin), authgate:admin
	adminRefresh string // the refresh token issued with adminToken
	userToken    string // code flow for bob (not an admin), who asked for authgate:admin
	noScopeToken string // client credentials without authgate:admin
	scopelessAdm string // password grant for root without authgate:admin

	// newProvider builds a provider like provider with another access
	// token lifespan.
	newProvider func(accessLifespan time.Duration) *oauth.Provider

	mu        sync.Mutex
	responses []string // every admin API response body, for secret checks
}

// newEnv builds the servers on db and mints the tokens. At the end of the
// test it checks that no response and no log line carried a hash, a
// security token or an access token.
func newEnv(t *testing.T, db *gorm.DB) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{db: db, outbox: &outbox{}, logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	var err error
	if e.keys, err = keyring.New([]byte(testSecret)); err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{Time: 1, Memory: 1024, Threads: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.accounts = accounts.New(storage.New(db), e.keys, hasher, accounts.Options{Organization: "Acme", LockoutThreshold: 3, Logger: logger})
	secretHasher := &oauth.SecretHasher{Keys: e.keys, Argon2: hasher}
	e.trust = trustedips.New(storage.New(db), trustedips.WithCacheTTL(0))
	e.km = oauth.NewKeyManager(storage.New(db), e.keys, oauth.KeyOptions{Retention: time.Hour, PrePublish: time.Minute})
	if err := e.km.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if e.sender, err = authmail.NewSender(storage.New(db), e.keys, e.outbox, authmail.SenderOptions{From: "Acme <no-reply@example.com>"}); err != nil {
		t.Fatal(err)
	}

	public := httptest.NewUnstartedServer(nil)
	e.issuer = "http://" + public.Listener.Addr().String()
	store := oauth.NewStore(storage.New(db), e.keys, logger)
	e.clients = clients.New(storage.New(db), secretHasher, clients.Options{Changed: store.ForgetClient})
	// newProvider builds the provider on the harness's parts; a test may
	// build one with another access token lifespan.
	e.newProvider = func(accessLifespan time.Duration) *oauth.Provider {
		return oauth.NewProvider(oauth.Settings{
			Issuer:                e.issuer,
			AccessTokenLifespan:   accessLifespan,
			RefreshTokenLifespan:  24 * time.Hour,
			AuthorizeCodeLifespan: 10 * time.Minute,
			IDTokenLifespan:       time.Hour,
		}, store, e.km, e.keys, secretHasher, func(fc *fosite.Config, st *oauth.Store, strategy *oauth.TokenStrategy) fosite.TokenEndpointHandler {
			return legacy.New(fc, st, strategy, e.accounts, e.trust, false, logger)
		})
	}
	e.provider = e.newProvider(time.Hour)
	cfg := config.Default()
	cfg.Issuer = e.issuer
	publicHandler, err := server.New(server.Deps{
		Logger:   logger,
		Config:   cfg,
		Store:    storage.New(db),
		Keys:     e.keys,
		Provider: e.provider,
		Users:    e.accounts,
		ClientIP: clientip.New(nil, clientip.AnyHeader),
		Ready:    func(context.Context) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	public.Config.Handler = publicHandler
	public.Start()
	t.Cleanup(public.Close)

	e.mfa = mfa.New(storage.New(db), e.keys, mfa.Options{Issuer: "Acme", Logger: logger})
	var adminHandler http.Handler
	e.apps = apppasswords.New(storage.New(db), e.keys, apppasswords.Options{})
	adminHandler, e.handler = newAPI(APIDeps{
		AppPasswords: e.apps,
		MFA:          e.mfa,
		Logger:       logger,
		Provider:     e.provider,
		Accounts:     e.accounts,
		Clients:      e.clients,
		Trust:        e.trust,
		Keys:         e.km,
		AuditLog:     storage.New(db),
		Mail:         e.sender,
		Workbench: workbench.New(storage.New(db), workbench.Options{PasswordMethod: accounts.MethodPasswordGrant,
			RefreshMethod: accounts.MethodPasswordGrantRefresh, Success: accounts.ResultSuccess}),
		WorkbenchActor: &workbench.Actor{Clients: e.clients, Notices: notices.New(storage.New(db), e.keys, notices.Options{
			Organization: "Acme", Issuer: e.issuer, Days: []int{30, 7, 1}, Lookback: 90 * 24 * time.Hour,
			Methods: accounts.LegacyMethods(), Success: accounts.ResultSuccess})},
	})
	adminServer := httptest.NewServer(adminHandler)
	t.Cleanup(adminServer.Close)
	e.api = adminServer.URL

	// From the loopback address the password alone passes the legacy grant.
	if _, err := e.trust.Add(ctx, "test", loopbackCIDR, "test servers"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []accounts.NewUser{
		{Username: adminName, Email: adminEmail, Password: adminPass, Admin: true},
		{Username: userName, Email: userEmail, Password: userPass},
	} {
		if _, err := e.accounts.CreateUser(ctx, "test", u); err != nil {
			t.Fatal(err)
		}
	}
	e.automation, e.automationSecret = e.createClient(t, clients.NewClient{
		Name: "automation", GrantTypes: []string{clients.GrantClientCredentials}, Scopes: []string{oauth.AdminScope},
	})
	e.legacyApp, e.legacyAppSecret = e.createClient(t, clients.NewClient{
		Name:       "legacy app",
		GrantTypes: []string{clients.GrantPassword, clients.GrantRefreshToken},
		Scopes:     []string{oauth.AdminScope, oauth.ScopeOfflineAccess},
	})
	e.noScope, e.noScopeSecret = e.createClient(t, clients.NewClient{
		Name: "reporting", GrantTypes: []string{clients.GrantClientCredentials},
	})
	// User tokens with the admin scope come only from the code flow.
	e.webApp, e.webAppSecret = e.createClient(t, clients.NewClient{
		Name:         "admin tool",
		GrantTypes:   []string{clients.GrantAuthorizationCode, clients.GrantRefreshToken},
		RedirectURIs: []string{webAppCallback},
		Scopes:       []string{oauth.ScopeOpenID, oauth.AdminScope, oauth.ScopeOfflineAccess},
		FirstParty:   true,
	})

	e.clientToken = e.clientCredentials(t, e.automation.ID, e.automationSecret, oauth.AdminScope).AccessToken
	e.noScopeToken = e.clientCredentials(t, e.noScope.ID, e.noScopeSecret).AccessToken
	tok, err := e.codeFlowToken(adminName, adminPass, oauth.AdminScope, oauth.ScopeOfflineAccess)
	if err != nil {
		t.Fatalf("code flow for %s: %v", adminName, err)
	}
	e.adminToken, e.adminRefresh = tok.AccessToken, tok.RefreshToken
	if e.adminRefresh == "" {
		t.Fatal("password grant issued no refresh token; the refresh-token-as-bearer test needs one")
	}
	if tok, err = e.codeFlowToken(userName, userPass, oauth.AdminScope); err != nil {
		t.Fatalf("code flow for %s: %v", userName, err)
	}
	e.userToken = tok.AccessToken
	if tok, err = e.passwordGrant(adminName, adminPass); err != nil {
		t.Fatalf("password grant for %s without scope: %v", adminName, err)
	}
	e.scopelessAdm = tok.AccessToken

	t.Cleanup(func() { e.checkNoSecrets(t) })
	return e
}

func (e *env) createClient(t *testing.T, in clients.NewClient) (models.Client, string) {
	t.Helper()
	c, s, err := e.clients.Create(context.Background(), "test", in)
	if err != nil {
		t.Fatalf("create client %q: %v", in.Name, err)
	}
	return c, s
}

// clientCredentials gets a token for a client by client credentials.
func (e *env) clientCredentials(t *testing.T, id, secret string, scopes ...string) *oauth2.Token {
	t.Helper()
	cc := clientcredentials.Config{
		ClientID: id, ClientSecret: secret, TokenURL: e.issuer + "/oauth2/token",
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader,
	}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("client credentials for %s: %v", id, err)
	}
	return tok
}

// webAppCallback is the redirect URI of webApp; nothing listens there: the
// code is read from the redirect.
const webAppCallback = "http://127.0.0.1:5555/callback"

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// codeFlowToken signs username in on the login page and gets a token through
// the code flow of webApp, the one way a user token can carry the admin
// scope.
func (e *env) codeFlowToken(username, pw string, scopes ...string) (*oauth2.Token, error) {
	ctx := context.Background()
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(e.issuer + "/login")
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfInput.FindSubmatch(body)
	if m == nil {
		return nil, errors.New("no CSRF field on the login page")
	}
	resp, err = browser.PostForm(e.issuer+"/login", url.Values{
		"csrf_token": {string(m[1])}, "username": {username}, "password": {pw}, "return_to": {"/account"},
	})
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("sign in as %s: status %d", username, resp.StatusCode)
	}
	cfg := oauth2.Config{
		ClientID: e.webApp.ID, ClientSecret: e.webAppSecret, Scopes: scopes, RedirectURL: webAppCallback,
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/oauth2/authorize", TokenURL: e.issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	verifier := oauth2.GenerateVerifier()
	resp, err = browser.Get(cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return nil, fmt.Errorf("authorize for %s: status %d, location %q", username, resp.StatusCode, resp.Header.Get("Location"))
	}
	return cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
}

// passwordGrant gets a token for a user through legacyApp.
func (e *env) passwordGrant(username, pw string, scopes ...string) (*oauth2.Token, error) {
	return e.passwordGrantVia(e.legacyApp.ID, e.legacyAppSecret, username, pw, scopes...)
}

func (e *env) passwordGrantVia(clientID, clientSecret, username, pw string, scopes ...string) (*oauth2.Token, error) {
	cfg := oauth2.Config{
		ClientID: clientID, ClientSecret: clientSecret, Scopes: scopes,
		Endpoint: oauth2.Endpoint{TokenURL: e.issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	return cfg.PasswordCredentialsToken(context.Background(), username, pw)
}

// revoke revokes token at the public revocation endpoint.
func (e *env) revoke(t *testing.T, clientID, clientSecret, token string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.issuer+"/oauth2/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("revoke: got status %d, want 200: %s", resp.StatusCode, body)
	}
}

// response is an admin API response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// rawBody marks a request body sent verbatim as application/json.
type rawBody string

// do sends a request to the admin API. body is nil (no body), a rawBody
// (sent verbatim), or a value encoded as JSON.
func (e *env) do(t *testing.T, method, path, token string, body any) response {
	t.Helper()
	return e.send(t, e.newRequest(t, method, path, token, body))
}

// newRequest builds an admin API request; a body goes as application/json.
func (e *env) newRequest(t *testing.T, method, path, token string, body any) *http.Request {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case rawBody:
		r = strings.NewReader(string(b))
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, e.api+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

func (e *env) send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.responses = append(e.responses, string(b))
	e.mu.Unlock()
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// want fails the test unless the response has status, and decodes its
// body into v when v is not nil.
func (r response) want(t *testing.T, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got status %d, want %d; body: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); r.status != http.StatusNoContent && !strings.HasPrefix(ct, "application/json") {
		t.Errorf("got Content-Type %q, want application/json", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("got Cache-Control %q, want no-store", cc)
	}
	if v != nil {
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
}

// wantError fails the test unless the response is the error code with
// status and, when field is not empty, names field both in "field" and
// at the start of error_description.
func (r response) wantError(t *testing.T, status int, code, field string) errorBody {
	t.Helper()
	var body errorBody
	r.want(t, status, &body)
	if body.Error != code {
		t.Errorf("got error %q, want %q (%s)", body.Error, code, r.body)
	}
	if body.Description == "" {
		t.Errorf("got no error_description in %s", r.body)
	}
	if field != "" {
		if body.Field != field {
			t.Errorf("got field %q, want %q (%s)", body.Field, field, r.body)
		}
		if !strings.HasPrefix(body.Description, field+": ") {
			t.Errorf("got error_description %q, want it to start with %q", body.Description, field+": ")
		}
	}
	return body
}

// auditEntries returns the audit entries with action and target, newest
// first.
func (e *env) auditEntries(t *testing.T, action, target string) []models.AuditEntry {
	t.Helper()
	list, err := storage.New(e.db).ListAudit(context.Background(), storage.AuditFilter{Action: action, Target: target})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// wantAudit fails unless the newest entry with action and target was made
// by actor.
func (e *env) wantAudit(t *testing.T, action, target, actor string) {
	t.Helper()
	list := e.auditEntries(t, action, target)
	if len(list) == 0 {
		t.Fatalf("no audit entry %s on %s, want one by %s", action, target, actor)
	}
	if list[0].Actor != actor {
		t.Errorf("audit %s on %s: got actor %q, want %q", action, target, list[0].Actor, actor)
	}
}

// outbox is a mail transport that keeps what it is given.
type outbox struct {
	mu   sync.Mutex
	msgs []*mail.Message
	raw  [][]byte
}

func (o *outbox) Send(_ context.Context, _, _ string, raw []byte) error {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.msgs = append(o.msgs, m)
	o.raw = append(o.raw, raw)
	return nil
}

var tokenInMail = regexp.MustCompile(`Your new security token:\s+([A-Za-z0-9]{24})\s`)

// mailedTokens delivers the outbox and returns every security token ever
// emailed to addr, oldest first.
func (e *env) mailedTokens(t *testing.T, addr string) []string {
	t.Helper()
	if _, err := e.sender.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.outbox.mu.Lock()
	defer e.outbox.mu.Unlock()
	var out []string
	for _, raw := range e.outbox.raw {
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		to, err := mail.ParseAddress(m.Header.Get("To"))
		if err != nil || (addr != "" && to.Address != addr) {
			continue
		}
		body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
		if err != nil {
			t.Fatal(err)
		}
		if match := tokenInMail.FindSubmatch(body); match != nil {
			out = append(out, string(match[1]))
		}
	}
	return out
}

// checkNoSecrets fails if any admin API response or log line holds a
// password hash, a client secret hash, a security token or its hash, or
// an access token.
func (e *env) checkNoSecrets(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	needles := map[string]string{"$argon2id$": "an argon2id hash", "hmac-sha256$": "a client secret hash"}
	var users []models.User
	if err := e.db.WithContext(ctx).Find(&users).Error; err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		needles[u.PasswordHash] = "the password hash of " + u.Username
		needles[u.SecurityTokenHash] = "the security token hash of " + u.Username
	}
	var history []models.SecurityTokenHistory
	if err := e.db.WithContext(ctx).Find(&history).Error; err != nil {
		t.Fatal(err)
	}
	for _, h := range history {
		needles[h.Hash] = "a security token hash"
	}
	var cs []models.Client
	if err := e.db.WithContext(ctx).Find(&cs).Error; err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.SecretHash != "" {
			needles[c.SecretHash] = "the secret hash of client " + c.ID
		}
	}
	for _, tok := range e.mailedTokens(t, "") {
		needles[tok] = "a security token"
	}
	for _, tok := range []string{e.clientToken, e.adminToken, e.adminRefresh, e.userToken, e.noScopeToken, e.scopelessAdm} {
		needles[tok] = "an OAuth token"
	}
	delete(needles, "")
	e.mu.Lock()
	responses := append([]string(nil), e.responses...)
	e.mu.Unlock()
	for needle, what := range needles {
		for _, body := range responses {
			if strings.Contains(body, needle) {
				t.Errorf("a response holds %s: %s", what, body)
			}
		}
		if strings.Contains(e.logs.String(), needle) {
			t.Errorf("the log holds %s", what)
		}
	}
}

type syncBuffer = testutil.SyncBuffer

// isOAuthError reports whether err is a token endpoint error with code.
func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// accountsUser is a user whose password is "<name>-password-1".
func accountsUser(name string, admin bool) accounts.NewUser {
	return accounts.NewUser{Username: name, Email: name + "@example.com", Password: name + "-password-1", Admin: admin}
}
