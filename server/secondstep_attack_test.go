package server_test

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// newSiteWith is newAccountSite with the configuration edited, listening
// on every loopback address (so that tests can come from 127.0.0.2).
func newSiteWith(t *testing.T, kind string, edit func(*config.Config)) *accountSite {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.Issuer = "http://127.0.0.1"
	cfg.AdminURL = "http://127.0.0.1:1"
	cfg.Secret = "account-test-secret-0123456789abcdefghij"
	cfg.Organization = "Acme"
	cfg.DatabaseURL = testdb.URL(t, kind)
	cfg.Mail.Outbox = t.TempDir()
	edit(&cfg)
	a, err := app.New(ctx, cfg, app.Options{Argon2: &password.Params{Time: 1, Memory: 8 * 1024, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	db, err := storage.Open(ctx, cfg.DatabaseURL, storage.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = storage.Close(db) })
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Public)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	alice, err := a.Accounts.CreateUser(ctx, "test", accounts.NewUser{Username: "alice", Email: aliceEmail, Password: alicePassword})
	if err != nil {
		t.Fatal(err)
	}
	return &accountSite{url: "http://127.0.0.1:" + port, transport: http.DefaultTransport, db: db, keys: a.Keyring, accounts: a.Accounts, app: a, alice: alice}
}

// browserFrom is a browser whose connections come from the loopback
// address src.
func (s *accountSite) browserFrom(t *testing.T, src string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, site: s, client: &http.Client{
		Transport: tr, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// TestAttackSecondStepBurst plays an attacker who knows alice's password
// and bursts guesses at her code in parallel: no more than the threshold
// of guesses are ever checked from the source, then even the right code
// is refused there, while alice, from another address, signs in.
func TestAttackSecondStepBurst(t *testing.T) {
	const threshold = 5
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			site := newSiteWith(t, kind, func(c *config.Config) {
				c.LockoutThreshold = threshold
				c.RateLimit.PerMinute = 0
			})
			db := site.db
			if err := db.Model(&models.User{}).Where("id = ?", site.alice.ID).Update("require_mfa", true).Error; err != nil {
				t.Fatal(err)
			}
			// Alice sets up TOTP from her own address.
			own := site.browserFrom(t, "127.0.0.2")
			step := startLogin(own, "alice", alicePassword)
			secret := secretOnPage.FindStringSubmatch(step.body)[1]
			enrolled := time.Now()
			if r := own.verify(step, totpCode(t, secret, enrolled)); r.status != http.StatusOK {
				t.Fatalf("enrol: got %d", r.status)
			}

			// The attacker: one second step, 30 guesses at once.
			atk := site.browserFrom(t, "127.0.0.1")
			step = startLogin(atk, "alice", alicePassword)
			csrf := atk.csrf(step)
			var wg sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			for i := range 30 {
				wg.Go(func() {
					code := "00000" + string(rune('0'+i%10))
					r := atk.post("/login/verify", url.Values{"csrf_token": {csrf}, "factor": {"totp"}, "code": {code}})
					mu.Lock()
					statuses[r.status]++
					mu.Unlock()
				})
			}
			wg.Wait()
			var checked int64
			db.Model(&models.LoginEvent{}).Where("user_id = ? AND source_ip = ? AND result IN ?", site.alice.ID, "127.0.0.1",
				[]string{signin.ResultInvalidCode, signin.ResultSuccess}).Count(&checked)
			if checked > threshold {
				t.Fatalf("guesses checked from one source: got %d, want at most %d (statuses %v)", checked, threshold, statuses)
			}
			if statuses[http.StatusOK] != 0 || statuses[http.StatusSeeOther] != 0 {
				t.Fatalf("a guess got through: %v", statuses)
			}
			// Locked from this source: even the right code, and even a new
			// password step, are refused.
			right := totpCode(t, secret, enrolled.Add(30*time.Second))
			if r := atk.verify(step, right); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Too many attempts") {
				t.Fatalf("right code from the locked source: got %d:\n%s", r.status, r.body)
			}
			form := atk.page("/login")
			if r := atk.post("/login", url.Values{"csrf_token": {atk.csrf(form)}, "return_to": {"/account"}, "username": {"alice"}, "password": {alicePassword}}); r.status != http.StatusUnauthorized {
				t.Fatalf("password step from the locked source: got %d", r.status)
			}
			// Alice, from her address, is not locked out.
			fresh := site.browserFrom(t, "127.0.0.2")
			step = startLogin(fresh, "alice", alicePassword)
			fresh.wantRedirect("alice from her address", fresh.verify(step, right), "/account")
		})
	}
}
