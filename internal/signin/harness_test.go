package signin_test

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ory/fosite"
	"gorm.io/gorm"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/legacy"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/server"
)

// countingHasher is the real argon2id hasher, counting what it verifies:
// real is a verification against a stored hash, dummy one that only
// spends the time.
type countingHasher struct {
	*password.Hasher
	real, dummy atomic.Int64
}

func (h *countingHasher) Verify(ctx context.Context, encoded, secret string) error {
	h.real.Add(1)
	return h.Hasher.Verify(ctx, encoded, secret)
}

func (h *countingHasher) VerifyDummy(ctx context.Context, secret string) error {
	h.dummy.Add(1)
	return h.Hasher.VerifyDummy(ctx, secret)
}

func (h *countingHasher) reset()          { h.real.Store(0); h.dummy.Store(0) }
func (h *countingHasher) total() int64    { return h.real.Load() + h.dummy.Load() }
func (h *countingHasher) verified() int64 { return h.real.Load() }

// site is the public server on a real database, served over loopback
// HTTP: the login page and the token endpoint with the legacy grant. It
// has one user, alice, and one legacy client, loader. No range is trusted,
// so the grant wants the security token.
type site struct {
	url      string
	db       *gorm.DB
	accounts *accounts.Service
	hasher   *countingHasher
	alice    models.User
	token    string // alice's security token
	// apps are the app passwords; the client appsonly takes only them.
	apps *apppasswords.Service
}

const (
	alicePassword = "alice-password-1"
	clientSecret  = "client-secret-for-the-site-0123456789"
	// threshold is the sites' lockout threshold, Salesforce's default.
	threshold = 10
)

func newSite(t testing.TB, kind string, params password.Params) *site {
	return newSiteWith(t, kind, params, threshold)
}

func newSiteWith(t testing.TB, kind string, params password.Params, lockAfter int) *site {
	t.Helper()
	ctx := context.Background()
	db := testdb.Open(t, kind)
	keys, err := keyring.New([]byte("signin-test-secret-0123456789abcdefghij"))
	if err != nil {
		t.Fatal(err)
	}
	ph, err := password.NewHasher(params, 0)
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingHasher{Hasher: ph}
	acc := accounts.New(storage.New(db), keys, ph, accounts.Options{Organization: "Acme", LockoutThreshold: lockAfter, LockoutDuration: time.Hour, SignInHasher: counter})
	km := oauth.NewKeyManager(storage.New(db), keys, oauth.KeyOptions{Retention: time.Hour})
	if err := km.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	store := oauth.NewStore(storage.New(db), keys, nil)
	apps := apppasswords.New(storage.New(db), keys, apppasswords.Options{})
	sh := &oauth.SecretHasher{Keys: keys, Argon2: ph}
	cfg := config.Default()
	cfg.Issuer = "http://127.0.0.1"
	// These tests play bursts against the lockout; the per-source rate
	// limit in front of it has its own attack test (e2e).
	cfg.RateLimit.PerMinute = 0
	p := oauth.NewProvider(oauth.Settings{Issuer: cfg.Issuer, AccessTokenLifespan: time.Hour, RefreshTokenLifespan: time.Hour, AuthorizeCodeLifespan: time.Minute, IDTokenLifespan: time.Hour},
		store, km, keys, sh, func(fc *fosite.Config, st *oauth.Store, strategy *oauth.TokenStrategy) fosite.TokenEndpointHandler {
			g := legacy.New(fc, st, strategy, acc, trustedips.New(storage.New(db)), false, nil)
			g.AppPasswords = apps
			return g
		})
	h, err := server.New(server.Deps{Config: cfg, Store: storage.New(db), Keys: keys, Provider: p, Users: acc, ClientIP: clientip.New(nil, clientip.AnyHeader)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	alice, err := acc.CreateUser(ctx, "test", accounts.NewUser{Username: "alice", Email: "alice@example.com", Password: alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := sh.Hash(ctx, []byte(clientSecret))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&models.Client{ID: "loader", Name: "Loader", SecretHash: string(hash), GrantTypes: []string{"password"}, AccessTokenFormat: "opaque"}).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&models.Client{ID: "appsonly", Name: "Apps only", SecretHash: string(hash), GrantTypes: []string{"password"},
		AccessTokenFormat: "opaque", LegacyCredentials: models.LegacyAppPassword}).Error; err != nil {
		t.Fatal(err)
	}
	var row models.MailMessage
	if err := db.Where(`"to" = ?`, "alice@example.com").Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	body, err := keys.Open("mail-outbox", row.BodySealed)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`token:\s+([A-Za-z0-9]{24})\s`).FindSubmatch(body)
	if m == nil {
		t.Fatal("no token in the welcome mail")
	}
	return &site{url: srv.URL, db: db, accounts: acc, hasher: counter, alice: alice, token: string(m[1]), apps: apps}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// loginForm is a browser that has the login form open: its cookies and
// the form's CSRF token.
type loginForm struct {
	client *http.Client
	csrf   string
}

// transportFrom is a transport whose connections leave from the loopback
// address local ("" for the default, 127.0.0.1).
func transportFrom(local string) http.RoundTripper {
	if local == "" {
		return http.DefaultTransport
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Transport{DialContext: d.DialContext}
}

// openLogin GETs the login page in a fresh browser.
func (s *site) openLogin(t testing.TB) loginForm { return s.openLoginFrom(t, "") }

// openLoginFrom GETs the login page in a fresh browser on the loopback
// address local.
func (s *site) openLoginFrom(t testing.TB, local string) loginForm {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Transport: transportFrom(local), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.url + "/login")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	m := csrfInput.FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatalf("no csrf_token on the login page:\n%s", raw)
	}
	return loginForm{client: c, csrf: html.UnescapeString(m[1])}
}

// submit posts the login form; it returns the status (303 on success, 401
// on a refused attempt) or an error.
func (f loginForm) submit(s *site, username, pw string) (int, error) {
	form := url.Values{"csrf_token": {f.csrf}, "return_to": {"/account"}, "username": {username}, "password": {pw}}
	resp, err := f.client.PostForm(s.url+"/login", form)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// login signs in through a fresh browser and returns the status.
func (s *site) login(t testing.TB, username, pw string) int {
	t.Helper()
	status, err := s.openLogin(t).submit(s, username, pw)
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// grant sends a password grant to the token endpoint; it returns the
// status and the OAuth error code (empty on success).
func (s *site) grant(username, pw string) (int, string, error) { return s.grantFrom("", username, pw) }

// grantFrom sends a password grant from the loopback address local.
func (s *site) grantFrom(local, username, pw string) (int, string, error) {
	return s.grantAs(local, "loader", username, pw)
}

// grantAs sends a password grant as client from the loopback address local.
func (s *site) grantAs(local, client, username, pw string) (int, string, error) {
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}}
	req, err := http.NewRequest(http.MethodPost, s.url+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, clientSecret)
	resp, err := (&http.Client{Transport: transportFrom(local)}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return resp.StatusCode, "", err
	}
	return resp.StatusCode, body.Error, nil
}

// unlock clears alice's counters.
func (s *site) unlock(t testing.TB) {
	t.Helper()
	if err := s.accounts.Unlock(context.Background(), "test", "alice"); err != nil {
		t.Fatal(err)
	}
}

// lock locks both of alice's counters for the loopback source the tests
// send from and for calls that carry no address, as threshold failures
// from there would.
func (s *site) lock(t testing.TB) { s.lockUser(t, s.alice.ID) }

func (s *site) lockUser(t testing.TB, userID string) {
	t.Helper()
	st := storage.New(s.db)
	for _, c := range []storage.Counter{storage.CounterLogin, storage.CounterLegacy} {
		for _, source := range []string{"127.0.0.1", ""} {
			p := storage.Lockout{Threshold: 1, Duration: time.Hour}
			r, err := st.ReserveAttempt(context.Background(), userID, c, source, p, time.Now())
			if err != nil || !r.Granted {
				t.Fatalf("lock %s from %q: got %+v, %v", c, source, r, err)
			}
			if locked, err := st.FailAttempt(context.Background(), r, p, time.Now()); err != nil || !locked {
				t.Fatalf("lock %s from %q: got %t, %v", c, source, locked, err)
			}
		}
	}
}
