package legacy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/legacy"
	"github.com/authgate/authgate/models"
)

// fixture is a real token endpoint on a SQLite database, served in
// process, with one user and one legacy client.
type fixture struct {
	token    string // alice's security token, read from the outbox
	db       *gorm.DB
	handler  http.Handler
	accounts *accounts.Service
	hasher   *password.Hasher
	secret   string
	password string
	app      *app.App
}

func newFixture(tb testing.TB, params password.Params) *fixture {
	return newFixtureFull(tb, params, nil)
}

// newFixtureBehind builds the fixture with trusted proxies at the given
// addresses.
func newFixtureBehind(tb testing.TB, proxies ...netip.Prefix) *fixture {
	return newFixtureFull(tb, password.Params{Time: 1, Memory: 8 * 1024, Threads: 1}, proxies)
}

func newFixtureFull(tb testing.TB, params password.Params, proxies []netip.Prefix) *fixture {
	tb.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.Issuer = "https://id.example.test"
	cfg.AdminURL = "http://127.0.0.1:1"
	cfg.Secret = "fixture-secret-0123456789abcdefghijklmnop"
	cfg.DatabaseURL = testdb.URL(tb, "sqlite")
	cfg.Mail.Outbox = tb.TempDir()
	cfg.LockoutThreshold = 1 << 30
	cfg.LockoutDuration = time.Minute
	cfg.TrustedProxies = proxies
	a, err := app.New(ctx, cfg, app.Options{Argon2: &params})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	keyring, acc, h := a.Keyring, a.Accounts, a.Public
	// The test's own connection, for rows no service writes.
	db, err := storage.Open(ctx, cfg.DatabaseURL, storage.Options{MaxOpenConns: 2})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = storage.Close(db) })
	const pw = "fixture-password-1"
	if _, err := acc.CreateUser(ctx, "test", accounts.NewUser{Username: "alice", Email: "alice@example.com", Password: pw}); err != nil {
		tb.Fatal(err)
	}
	sec := "client-secret-for-the-fixture-0123456789"
	hash, _ := a.Secrets.Hash(ctx, []byte(sec))
	if err := db.Create(&models.Client{ID: "loader", Name: "Loader", SecretHash: string(hash), GrantTypes: []string{"password"}, AccessTokenFormat: "opaque"}).Error; err != nil {
		tb.Fatal(err)
	}
	if _, err := a.Trust.Add(ctx, "test", "192.0.2.0/24", "httptest's address"); err != nil {
		tb.Fatal(err)
	}
	var row models.MailMessage
	if err := db.Where("\"to\" = ?", "alice@example.com").Take(&row).Error; err != nil {
		tb.Fatal(err)
	}
	body, err := keyring.Open("mail-outbox", row.BodySealed)
	if err != nil {
		tb.Fatal(err)
	}
	m := regexp.MustCompile(`token:\s+([A-Za-z0-9]{24})\s`).FindSubmatch(body)
	if m == nil {
		tb.Fatalf("no token in the welcome mail")
	}
	return &fixture{token: string(m[1]), db: db, handler: h, accounts: acc, hasher: a.Hasher, secret: sec, password: pw, app: a}
}

func (f *fixture) grant(form url.Values) *httptest.ResponseRecorder {
	return f.grantFrom("192.0.2.1:1234", form)
}

// grantFrom sends a password grant from the given peer address; the
// fixture trusts 192.0.2.0/24.
func (f *fixture) grantFrom(remote string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
	req.RemoteAddr = remote
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("loader", f.secret)
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func TestSplitCandidate(t *testing.T) {
	for _, tc := range []struct {
		sent, pw, token string
		ok              bool
	}{
		{"", "", "", false},
		{"short", "short", "", false},
		{strings.Repeat("x", 24), strings.Repeat("x", 24), "", false},
		{"p" + strings.Repeat("T", 24), "p", strings.Repeat("T", 24), true},
		{"password" + "xYzXyZ012345678901234567", "password", "xYzXyZ012345678901234567", true},
	} {
		pw, token, ok := legacy.SplitCandidate(tc.sent)
		if pw != tc.pw || token != tc.token || ok != tc.ok {
			t.Errorf("SplitCandidate(%q): got (%q, %q, %v), want (%q, %q, %v)", tc.sent, pw, token, ok, tc.pw, tc.token, tc.ok)
		}
	}
}

func FuzzSplitCandidate(f *testing.F) {
	f.Add("")
	f.Add("password")
	f.Add("passwordxYzXyZ012345678901234567")
	f.Add(strings.Repeat("é", 20))
	f.Fuzz(func(t *testing.T, sent string) {
		pw, token, ok := legacy.SplitCandidate(sent)
		if !ok {
			if pw != sent || token != "" {
				t.Fatalf("not split: got (%q, %q), want (%q, \"\")", pw, token, sent)
			}
			if len(sent) > legacy.TokenLength {
				t.Fatalf("a %d-byte string must split", len(sent))
			}
			return
		}
		if pw+token != sent {
			t.Fatalf("pw+token = %q, want %q", pw+token, sent)
		}
		if len(token) != legacy.TokenLength || pw == "" {
			t.Fatalf("got token of %d bytes and password %q", len(token), pw)
		}
	})
}

// FuzzGrantForm sends arbitrary usernames and passwords through the real
// token endpoint: the answer is always well-formed JSON, never a 5xx, and
// only the right password succeeds.
func FuzzGrantForm(f *testing.F) {
	fx := newFixture(f, password.Params{Time: 1, Memory: 8 * 1024, Threads: 1})
	f.Add("alice", "fixture-password-1", "")
	f.Add("alice", "wrong", "openid")
	f.Add("", "", "")
	f.Add("alice\x00", "fixture-password-1\r\n", "profile email")
	f.Add(strings.Repeat("a", 500), strings.Repeat("b", 2000), "offline_access")
	f.Fuzz(func(t *testing.T, username, pw, scope string) {
		form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}}
		if scope != "" {
			form.Set("scope", scope)
		}
		rec := fx.grant(form)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q is not JSON: %v", rec.Body, err)
		}
		success := rec.Code == http.StatusOK
		right := strings.EqualFold(username, "alice") && pw == fx.password && scope == ""
		if success != right {
			t.Fatalf("username %q password %q scope %q: got status %d %v", username, pw, scope, rec.Code, body)
		}
		if strings.Contains(rec.Body.String(), pw) && pw != "" && len(pw) > 3 {
			t.Fatalf("the response repeats the password")
		}
	})
}

// BenchmarkPasswordGrant measures one successful password grant from a
// trusted address, with production argon2id parameters. Compare with
// BenchmarkArgon2Verify: the grant costs one verification plus little else.
func BenchmarkPasswordGrant(b *testing.B) {
	fx := newFixture(b, password.Params{Time: 1, Memory: 64 * 1024, Threads: 2})
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {fx.password}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if rec := fx.grant(form); rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkArgon2Verify is one argon2id verification with the same parameters.
func BenchmarkArgon2Verify(b *testing.B) {
	h, err := password.NewHasher(password.Params{Time: 1, Memory: 64 * 1024, Threads: 2}, 0)
	if err != nil {
		b.Fatal(err)
	}
	hash, err := h.Hash(context.Background(), "fixture-password-1")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := h.Verify(context.Background(), hash, "fixture-password-1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkArgon2VerifyParallel runs verifications on every core at once:
// the machine's real ceiling for the password grant, memory bandwidth
// contention included. ns/op is per verification across all cores.
func BenchmarkArgon2VerifyParallel(b *testing.B) {
	h, err := password.NewHasher(password.Params{Time: 1, Memory: 64 * 1024, Threads: 2}, 0)
	if err != nil {
		b.Fatal(err)
	}
	hash, err := h.Hash(context.Background(), "fixture-password-1")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := h.Verify(context.Background(), hash, "fixture-password-1"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// A request resolved to a trusted proxy's own address is not trusted, even
// when the proxy sits inside a trusted range: the forwarding header was
// missing or malformed, so the real client is unknown.
func TestProxyAddressIsNeverTrusted(t *testing.T) {
	proxy := netip.MustParseAddr("192.0.2.1")
	fx := newFixtureBehind(t, netip.PrefixFrom(proxy, 32))
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {fx.password}}
	if rec := fx.grantFrom("192.0.2.1:1234", form); rec.Code != http.StatusBadRequest {
		t.Fatalf("password alone from the proxy's address: got %d, want 400", rec.Code)
	}
	if rec := fx.grantFrom("192.0.2.2:1234", form); rec.Code != http.StatusOK {
		t.Fatalf("password alone from another trusted address: got %d %s, want 200", rec.Code, rec.Body)
	}
	form.Set("password", fx.password+fx.token)
	if rec := fx.grantFrom("192.0.2.1:1234", form); rec.Code != http.StatusOK {
		t.Fatalf("password and token from the proxy's address: got %d %s, want 200", rec.Code, rec.Body)
	}
}
