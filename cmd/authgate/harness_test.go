package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/internal/testutil"
	"github.com/authgate/authgate/models"
)

// testSecret is the system secret of servers started by tests.
const testSecret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

// instance is a running authgate server started through run().
type instance struct {
	t        *testing.T
	issuer   string
	admin    string
	dbURL    string
	env      map[string]string
	outbox   string
	cancel   context.CancelFunc
	done     chan error
	stderr   *syncBuffer
	app      *app.App
	keyring  *keyring.Keyring
	accounts *accounts.Service
	db       *testDB
}

type testDB struct{ url string }

type syncBuffer = testutil.SyncBuffer

func freePort(t *testing.T) string { return testutil.FreeAddr(t) }

// startServer runs "authgate serve" in-process against dbURL with extra
// settings, and waits until it is ready.
func startServer(t *testing.T, dbURL string, extra map[string]string) *instance {
	t.Helper()
	pub, adm := freePort(t), freePort(t)
	outbox := t.TempDir()
	env := map[string]string{
		"AUTHGATE_DATABASE_URL":       dbURL,
		"AUTHGATE_ISSUER":             "http://" + pub,
		"AUTHGATE_LISTEN":             pub,
		"AUTHGATE_ADMIN_LISTEN":       adm,
		"AUTHGATE_SECRET":             testSecret,
		"AUTHGATE_ARGON2_MEMORY_KIB":  "8192",
		"AUTHGATE_ARGON2_TIME":        "1",
		"AUTHGATE_MAIL_OUTBOX":        outbox,
		"AUTHGATE_MAIL_POLL_INTERVAL": "100ms",
		"AUTHGATE_ORGANIZATION":       "Acme",
		"AUTHGATE_SHUTDOWN_GRACE":     "5s",
	}
	for k, v := range extra {
		env[k] = v
	}
	// An issuer may name the public listener's port as {port} (passkeys
	// need a host name such as localhost).
	_, port, _ := net.SplitHostPort(pub)
	env["AUTHGATE_ISSUER"] = strings.ReplaceAll(env["AUTHGATE_ISSUER"], "{port}", port)
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{
		t: t, issuer: env["AUTHGATE_ISSUER"], admin: "http://" + adm, dbURL: dbURL, env: env, outbox: outbox,
		cancel: cancel, done: make(chan error, 1), stderr: &syncBuffer{},
	}
	go func() {
		in.done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, in.stderr)
	}()
	t.Cleanup(in.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Both listeners must answer: a port taken between freePort and
		// the server's bind (by another process's connection or server)
		// would otherwise pass for this server's while it exits.
		if ready(in.issuer+"/health/ready") && answers(in.admin+"/") {
			break
		}
		select {
		case err := <-in.done:
			t.Fatalf("server exited before ready: %v\n%s", err, in.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 30s:\n%s", in.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The test's own view of the server's database, built the way the
	// server is (its background work is not run).
	cfg, err := config.Load(func(k string) string { return env[k] }, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBMaxOpenConns = 4
	in.app, err = app.New(context.Background(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.app.Close() })
	in.keyring, in.accounts = in.app.Keyring, in.app.Accounts
	in.db = &testDB{url: dbURL}
	return in
}

// ready reports whether url answers 200.
func ready(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// answers reports whether url answers at all (without following a
// redirect).
func answers(url string) bool {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return true
}

func (in *instance) stop() {
	in.cancel()
	select {
	case <-in.done:
	case <-time.After(15 * time.Second):
		in.t.Errorf("server did not stop within 15s")
	}
	if in.t.Failed() {
		in.t.Logf("server log:\n%s", in.stderr.String())
	}
}

// createUser makes a user with the given password.
func (in *instance) createUser(username, pw string, admin bool) models.User {
	in.t.Helper()
	u, err := in.accounts.CreateUser(context.Background(), "test", accounts.NewUser{
		Username: username, Email: username + "@example.com", Name: strings.ToUpper(username[:1]) + username[1:], Password: pw, Admin: admin,
	})
	if err != nil {
		in.t.Fatalf("create user: %v", err)
	}
	return u
}

// createClient stores a client directly and returns its secret.
func (in *instance) createClient(c models.Client) string {
	in.t.Helper()
	sec := ""
	if !c.Public {
		sec, _ = keyring.RandomString(32)
		hash, _ := in.app.Secrets.Hash(context.Background(), []byte(sec))
		c.SecretHash = string(hash)
	}
	if c.AccessTokenFormat == "" {
		c.AccessTokenFormat = "opaque"
	}
	if err := in.app.Store.CreateClient(context.Background(), &c); err != nil {
		in.t.Fatalf("create client: %v", err)
	}
	return sec
}

// browser is an HTTP client with a cookie jar that stops at redirects to
// hosts other than the server (the client's redirect URI).
func (in *instance) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	issuer, _ := url.Parse(in.issuer)
	return &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != issuer.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields returns a page's hidden form fields.
func hiddenFields(t *testing.T, body string) url.Values {
	t.Helper()
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		v.Add(m[1], htmlUnescape(m[2]))
	}
	return v
}

func htmlUnescape(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&#61;", "=")
	return r.Replace(s)
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustStatus(t *testing.T, resp *http.Response, want int, body string) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: got status %d, want %d; body: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

var _ = testdb.URL
var _ = fmt.Sprint

func asRetrieveError(err error, target **oauth2.RetrieveError) bool { return errors.As(err, target) }
