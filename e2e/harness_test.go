package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testutil"
	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// testSecret is the system secret shared by every process a test starts
// and by the test itself when it seeds the database.
const testSecret = "e2e-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

// binary is the authgate executable built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "authgate-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		fmt.Fprintf(os.Stderr, "e2e: cannot find the module root (go env GOMOD = %q): %v\n", gomod, err)
		return 1
	}
	binary = filepath.Join(dir, "authgate")
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/authgate")
	build.Dir = filepath.Dir(gomod)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/authgate: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// settings are AUTHGATE_* environment variables for one process.
type settings map[string]string

// baseSettings returns what every server in these tests runs with: a
// cheap argon2id, fast mail polling, a small connection pool (the
// machine's PostgreSQL is shared with other test packages).
func baseSettings(t *testing.T, dbURL string) settings {
	return settings{
		"AUTHGATE_DATABASE_URL":       dbURL,
		"AUTHGATE_SECRET":             testSecret,
		"AUTHGATE_ORGANIZATION":       "Acme",
		"AUTHGATE_ARGON2_MEMORY_KIB":  "8192",
		"AUTHGATE_ARGON2_TIME":        "1",
		"AUTHGATE_MAIL_OUTBOX":        t.TempDir(),
		"AUTHGATE_MAIL_POLL_INTERVAL": "100ms",
		"AUTHGATE_LOCKOUT_THRESHOLD":  "5",
		"AUTHGATE_SHUTDOWN_GRACE":     "5s",
		"AUTHGATE_DB_MAX_OPEN_CONNS":  "8",
	}
}

// freeAddr returns a loopback address no other test of this process got.
func freeAddr(t *testing.T) string { return testutil.FreeAddr(t) }

// process is one "authgate serve" started by a test. It is killed when
// the test ends, and its log is shown if the test failed.
type process struct {
	t      *testing.T
	name   string
	public string // host:port
	admin  string
	cmd    *exec.Cmd
	log    *logBuffer
	done   chan struct{} // closed once the process has exited
	state  *os.ProcessState
}

// launch starts "authgate serve" with s and returns at once. Listen
// addresses are picked when s has none; the issuer defaults to the public
// address.
func launch(t *testing.T, name string, s settings) *process {
	t.Helper()
	if s["AUTHGATE_LISTEN"] == "" {
		s["AUTHGATE_LISTEN"] = freeAddr(t)
	}
	if s["AUTHGATE_ADMIN_LISTEN"] == "" {
		s["AUTHGATE_ADMIN_LISTEN"] = freeAddr(t)
	}
	if s["AUTHGATE_ISSUER"] == "" {
		s["AUTHGATE_ISSUER"] = "http://" + s["AUTHGATE_LISTEN"]
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHGATE_") {
			env = append(env, kv)
		}
	}
	for k, v := range s {
		env = append(env, k+"="+v)
	}
	p := &process{
		t: t, name: name, public: s["AUTHGATE_LISTEN"], admin: s["AUTHGATE_ADMIN_LISTEN"],
		log: &logBuffer{}, done: make(chan struct{}),
	}
	p.cmd = exec.Command(binary, "serve")
	p.cmd.Env = env
	p.cmd.Stdout = p.log
	p.cmd.Stderr = p.log
	dieWithParent(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if dir := os.Getenv("AUTHGATE_E2E_LOG_DIR"); dir != "" {
			name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name() + "_" + p.name)
			_ = os.WriteFile(filepath.Join(dir, name+".log"), []byte(p.log.String()), 0o644)
		}
		if t.Failed() {
			t.Logf("%s log, last lines:\n%s", p.name, p.log.tail(60))
		}
	})
	return p
}

// start launches a server and waits until it is ready.
func start(t *testing.T, name string, s settings) *process {
	t.Helper()
	p := launch(t, name, s)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.waitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// url returns the public URL of path.
func (p *process) url(path string) string { return "http://" + p.public + path }

// waitReady polls /health/ready until it answers 200.
func (p *process) waitReady(ctx context.Context) error {
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url("/health/ready"), nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v); log:\n%s", p.name, p.state, p.log.tail(40))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w; log:\n%s", p.name, ctx.Err(), p.log.tail(40))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill ends the process if it still runs and waits for it.
func (p *process) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("%s still running 10s after SIGKILL", p.name)
	}
}

// logBuffer collects a process's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tail returns the last n lines.
func (b *logBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// seeder writes test data straight into the database the servers use,
// through the same services and with the same system secret.
type seeder struct {
	db      *gorm.DB
	keys    *keyring.Keyring
	users   *accounts.Service
	clients *clients.Service
	ranges  *trustedips.Ranges
}

// newSeeder opens dbURL, which a server has already migrated.
func newSeeder(t *testing.T, dbURL string) *seeder {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dbURL, storage.Options{MaxOpenConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = storage.Close(db) })
	keys, err := keyring.New([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{Time: 1, Memory: 8192, Threads: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &seeder{
		db:      db,
		keys:    keys,
		users:   accounts.New(storage.New(db), keys, hasher, accounts.Options{Organization: "Acme"}),
		clients: clients.New(storage.New(db), &oauth.SecretHasher{Keys: keys}, clients.Options{}),
		ranges:  trustedips.New(storage.New(db)),
	}
}

// client registers a confidential client and returns its id and secret.
func (s *seeder) client(t *testing.T, name string, grants, scopes []string) (id, sec string) {
	t.Helper()
	c, sec, err := s.clients.Create(context.Background(), "e2e", clients.NewClient{Name: name, GrantTypes: grants, Scopes: scopes})
	if err != nil {
		t.Fatalf("create client %s: %v", name, err)
	}
	return c.ID, sec
}

// user creates a user, which enqueues the security-token email.
func (s *seeder) user(t *testing.T, username, pw string) models.User {
	t.Helper()
	u, err := s.users.CreateUser(context.Background(), "e2e", accounts.NewUser{
		Username: username, Email: username + "@example.com", Name: "User " + username, Password: pw,
	})
	if err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

// reply is an OAuth endpoint's answer.
type reply struct {
	status int
	body   map[string]any
	raw    string
}

func (r reply) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.status, strings.TrimSpace(r.raw)) }

// post sends form to endpoint with HTTP Basic client authentication and
// decodes the JSON answer (a body that is not JSON leaves r.body nil).
func post(ctx context.Context, c *http.Client, endpoint string, form url.Values, clientID, clientSecret string) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{status: resp.StatusCode}, err
	}
	r := reply{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r, nil
}

// api calls one server's OAuth endpoints as one client.
type api struct {
	c            *http.Client
	clientID     string
	clientSecret string
}

func (a api) clientCredentials(ctx context.Context, p *process) (reply, error) {
	return post(ctx, a.c, p.url("/oauth2/token"), url.Values{"grant_type": {"client_credentials"}}, a.clientID, a.clientSecret)
}

func (a api) password(ctx context.Context, p *process, username, pw string) (reply, error) {
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}, "scope": {"offline_access"}}
	return post(ctx, a.c, p.url("/oauth2/token"), form, a.clientID, a.clientSecret)
}

func (a api) refresh(ctx context.Context, p *process, token string) (reply, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	return post(ctx, a.c, p.url("/oauth2/token"), form, a.clientID, a.clientSecret)
}

func (a api) introspect(ctx context.Context, p *process, token string) (reply, error) {
	return post(ctx, a.c, p.url("/oauth2/introspect"), url.Values{"token": {token}}, a.clientID, a.clientSecret)
}

func (a api) revoke(ctx context.Context, p *process, token string) (reply, error) {
	return post(ctx, a.c, p.url("/oauth2/revoke"), url.Values{"token": {token}}, a.clientID, a.clientSecret)
}

// active introspects token on p and fails the test unless the answer is
// 200; it reports the "active" field.
func (a api) active(t *testing.T, p *process, token string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := a.introspect(ctx, p, token)
	if err != nil {
		t.Fatalf("introspect on %s: %v", p.name, err)
	}
	if r.status != http.StatusOK {
		t.Fatalf("introspect on %s: got %s, want 200", p.name, r)
	}
	active, _ := r.body["active"].(bool)
	return active
}

// mustToken runs a client_credentials grant on p and returns the token.
func (a api) mustToken(t *testing.T, p *process) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := a.clientCredentials(ctx, p)
	if err != nil {
		t.Fatalf("token from %s: %v", p.name, err)
	}
	if r.status != http.StatusOK || r.str("access_token") == "" {
		t.Fatalf("token from %s: got %s, want 200 with an access token", p.name, r)
	}
	return r.str("access_token")
}

// httpClient returns a client with a timeout, so that no request in these
// tests can hang.
func httpClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
}

// refused reports whether err is a refused TCP connection.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// requirePostgres skips the test with msg, or fails it when
// AUTHGATE_REQUIRE_POSTGRES=1.
func requirePostgres(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") == "1" {
		t.Fatalf("PostgreSQL required (AUTHGATE_REQUIRE_POSTGRES=1): "+format, args...)
	}
	t.Skipf(format+" (AUTHGATE_REQUIRE_POSTGRES=1 makes this fail)", args...)
}
