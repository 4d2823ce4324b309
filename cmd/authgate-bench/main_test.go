package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// benchReport is the documented --json schema of authgate-bench.
type benchReport struct {
	Scenario          string  `json:"scenario"`
	Endpoint          string  `json:"endpoint"`
	Concurrency       int     `json:"concurrency"`
	DurationSeconds   float64 `json:"duration_seconds"`
	Requests          int64   `json:"requests"`
	Successes         int64   `json:"successes"`
	Failures          int64   `json:"failures"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	LatencyMS         struct {
		P50, P90, P99, Max, Mean float64
		Samples                  int64
	} `json:"latency_ms"`
	Errors struct {
		ByStatus     map[string]int64 `json:"by_status"`
		ByOAuthError map[string]int64 `json:"by_oauth_error"`
		Transport    map[string]int64 `json:"transport"`
		Protocol     map[string]int64 `json:"protocol"`
	} `json:"errors"`
}

func (r benchReport) errorTotal() int64 {
	var n int64
	for _, m := range []map[string]int64{r.Errors.ByStatus, r.Errors.Transport, r.Errors.Protocol} {
		for _, v := range m {
			n += v
		}
	}
	return n
}

// checkCounts checks what holds for every run: the counts add up and the
// percentiles are ordered.
func (r benchReport) checkCounts(t *testing.T) {
	t.Helper()
	if got := r.Successes + r.errorTotal(); got != r.Requests {
		t.Errorf("successes %d + errors %d = %d, want requests %d (%+v)", r.Successes, r.errorTotal(), got, r.Requests, r.Errors)
	}
	if r.Failures != r.Requests-r.Successes {
		t.Errorf("failures: got %d, want %d", r.Failures, r.Requests-r.Successes)
	}
	l := r.LatencyMS
	if !(l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency percentiles not ordered: p50 %v p90 %v p99 %v max %v", l.P50, l.P90, l.P99, l.Max)
	}
	if l.Samples != r.Requests {
		t.Errorf("latency samples: got %d, want one per request (%d)", l.Samples, r.Requests)
	}
}

// runBench runs "authgate-bench --json ARGS" with only vars in the
// environment (no database settings: bench must not need them).
// With allowAllFailed the run must end with errAllFailed (exit 1).
func runBench(t *testing.T, vars map[string]string, stdin string, allowAllFailed bool, args ...string) (benchReport, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"--json"}, args...), func(k string) string { return vars[k] }, strings.NewReader(stdin), &stdout, &stderr)
	if err != nil && !(allowAllFailed && errors.Is(err, errAllFailed)) {
		t.Fatalf("authgate-bench %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	if allowAllFailed && !errors.Is(err, errAllFailed) {
		t.Errorf("authgate-bench %s: got %v, want %v", strings.Join(args, " "), err, errAllFailed)
	}
	var rep benchReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("bench --json output %q: %v", stdout.String(), err)
	}
	return rep, stdout.String() + stderr.String()
}

func TestBenchEndToEnd(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testBench(t, testdb.URL(t, kind))
		})
	}
}

// callback is the web app's redirect URI; nothing listens there.
const callback = "http://127.0.0.1:1/callback"

// server is an authgate built through the composition root and served
// over loopback, for the load tool to load.
type server struct {
	t      *testing.T
	issuer string
	app    *app.App
	db     *gorm.DB
}

func startServer(t *testing.T, dbURL string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.AdminURL = "http://127.0.0.1:1"
	cfg.Secret = "bench-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
	cfg.DatabaseURL = dbURL
	cfg.Mail.Outbox = t.TempDir()
	// A load test from one address: the per-source rate limit would be the
	// subject, not the server.
	cfg.RateLimit.PerMinute = 0
	a, err := app.New(t.Context(), cfg, app.Options{Argon2: &password.Params{Time: 1, Memory: 8192, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: a.Public}}
	srv.Start()
	t.Cleanup(srv.Close)
	db, err := storage.Open(t.Context(), dbURL, storage.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = storage.Close(db) })
	return &server{t: t, issuer: cfg.Issuer, app: a, db: db}
}

// createUser makes a user and returns the security token mailed to them.
func (s *server) createUser(username, pw string) string {
	s.t.Helper()
	ctx := s.t.Context()
	u, err := s.app.Accounts.CreateUser(ctx, "test", accounts.NewUser{Username: username, Email: username + "@example.com", Password: pw})
	if err != nil {
		s.t.Fatal(err)
	}
	var row models.MailMessage
	if err := s.db.Where("\"to\" = ?", u.Email).Take(&row).Error; err != nil {
		s.t.Fatal(err)
	}
	body, err := s.app.Keyring.Open("mail-outbox", row.BodySealed)
	if err != nil {
		s.t.Fatal(err)
	}
	m := regexp.MustCompile(`token:\s+([A-Za-z0-9]{24})\s`).FindSubmatch(body)
	if m == nil {
		s.t.Fatal("no security token in the welcome mail")
	}
	return string(m[1])
}

// createClient stores c and returns its secret.
func (s *server) createClient(c models.Client) string {
	s.t.Helper()
	sec, err := keyring.RandomString(32)
	if err != nil {
		s.t.Fatal(err)
	}
	hash, err := s.app.Secrets.Hash(s.t.Context(), []byte(sec))
	if err != nil {
		s.t.Fatal(err)
	}
	c.SecretHash, c.AccessTokenFormat = string(hash), "opaque"
	if err := s.app.Store.CreateClient(s.t.Context(), &c); err != nil {
		s.t.Fatal(err)
	}
	return sec
}

func testBench(t *testing.T, dbURL string) {
	in := startServer(t, dbURL)
	const pw = "correct horse battery"
	// Loopback is not trusted here, so the legacy grant needs the
	// password with the mailed security token appended.
	securityToken := in.createUser("alice", pw)
	service := in.createClient(models.Client{ID: "service", Name: "Service", GrantTypes: []string{"client_credentials"}, Scopes: []string{"profile"}})
	loader := in.createClient(models.Client{ID: "loader", Name: "Loader", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"offline_access"}})
	webapp := in.createClient(models.Client{
		ID: "webapp", Name: "Web App", RedirectURIs: []string{callback},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "offline_access"},
	})
	cliSecret := in.createClient(models.Client{
		ID: "cli", Name: "CLI", GrantTypes: []string{"urn:ietf:params:oauth:grant-type:device_code", "refresh_token"},
		Scopes: []string{"openid", "offline_access"},
	})
	vars := map[string]string{
		"SERVICE_SECRET": service, "LOADER_SECRET": loader, "WEBAPP_SECRET": webapp, "CLI_SECRET": cliSecret,
		"LEGACY_PASSWORD": pw + securityToken, "PASSWORD": pw,
	}
	secrets := []string{service, loader, webapp, cliSecret, pw, securityToken}

	common := []string{"--issuer", in.issuer, "--concurrency", "2", "--warmup", "200ms", "--timeout", "10s"}
	cases := []struct {
		name     string
		scenario string
		stdin    string
		args     []string
		requests int64 // with --requests; 0 for a 1s run
	}{
		{"discovery", "discovery", "", nil, 0},
		{"jwks", "jwks", "", nil, 0},
		{"client_credentials", "client_credentials", "", []string{"--client-id", "service", "--client-secret-env", "SERVICE_SECRET"}, 0},
		{"introspect", "introspect", "", []string{"--client-id", "service", "--client-secret", service}, 0},
		{"password", "password", pw + securityToken + "\n", []string{"--client-id", "loader", "--client-secret-env", "LOADER_SECRET", "--username", "alice", "--password-stdin"}, 12},
		{"refresh", "refresh", "", []string{"--client-id", "loader", "--client-secret-env", "LOADER_SECRET", "--username", "alice", "--password-env", "LEGACY_PASSWORD", "--scope", "offline_access"}, 0},
		{"refresh after the code flow", "refresh", "", []string{"--flow", "code", "--client-id", "webapp", "--client-secret-env", "WEBAPP_SECRET", "--redirect-uri", callback,
			"--username", "alice", "--password-env", "PASSWORD", "--scope", "openid offline_access"}, 0},
		{"authorization_code, fresh login", "authorization_code", "", []string{"--client-id", "webapp", "--client-secret-env", "WEBAPP_SECRET", "--redirect-uri", callback,
			"--username", "alice", "--password-env", "PASSWORD", "--scope", "openid"}, 8},
		{"device, fresh login", "device", "", []string{"--client-id", "cli", "--client-secret-env", "CLI_SECRET",
			"--username", "alice", "--password-env", "PASSWORD", "--scope", "openid offline_access"}, 6},
		{"device, session reused", "device", "", []string{"--client-id", "cli", "--client-secret-env", "CLI_SECRET",
			"--username", "alice", "--password-env", "PASSWORD", "--reuse-session"}, 0},
		{"authorization_code, session reused", "authorization_code", pw + "\n", []string{"--client-id", "webapp", "--client-secret-env", "WEBAPP_SECRET", "--redirect-uri", callback,
			"--username", "alice", "--password-stdin", "--scope", "openid", "--reuse-session"}, 0},
	}
	var output strings.Builder
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--scenario", tc.scenario}, common...)
			args = append(args, tc.args...)
			if tc.requests > 0 {
				args = append(args, "--requests", strconv.FormatInt(tc.requests, 10))
			} else {
				args = append(args, "--duration", "1s")
			}
			rep, out := runBench(t, vars, tc.stdin, false, args...)
			output.WriteString(out)
			t.Logf("%d requests in %.2fs, %.0f/s, p50 %.2fms p90 %.2fms p99 %.2fms max %.2fms",
				rep.Requests, rep.DurationSeconds, rep.RequestsPerSecond, rep.LatencyMS.P50, rep.LatencyMS.P90, rep.LatencyMS.P99, rep.LatencyMS.Max)
			rep.checkCounts(t)
			if rep.Scenario != tc.scenario || rep.Concurrency != 2 {
				t.Errorf("scenario %q concurrency %d, want %q and 2", rep.Scenario, rep.Concurrency, tc.scenario)
			}
			if rep.Successes == 0 || rep.Failures != 0 || rep.errorTotal() != 0 {
				t.Errorf("got %d successes and %d failures (%+v), want only successes", rep.Successes, rep.Failures, rep.Errors)
			}
			if tc.requests > 0 && rep.Requests != tc.requests {
				t.Errorf("requests: got %d, want %d", rep.Requests, tc.requests)
			}
			if tc.requests == 0 && (rep.DurationSeconds < 1 || rep.DurationSeconds > 5) {
				t.Errorf("duration: got %vs, want about 1s", rep.DurationSeconds)
			}
			if rep.RequestsPerSecond <= 0 || !strings.HasPrefix(rep.Endpoint, in.issuer+"/") {
				t.Errorf("rate %v endpoint %q, want a positive rate at an endpoint of %s", rep.RequestsPerSecond, rep.Endpoint, in.issuer)
			}
		})
	}

	t.Run("wrong client secret", func(t *testing.T) {
		// Every request fails: the report is written and the exit status
		// says so.
		args := append([]string{"--scenario", "client_credentials", "--client-id", "service", "--client-secret", "not-the-secret", "--requests", "10"}, common...)
		rep, out := runBench(t, vars, "", true, args...)
		output.WriteString(out)
		rep.checkCounts(t)
		if rep.Requests != 10 || rep.Successes != 0 {
			t.Errorf("got %d requests, %d successes; want 10 and 0", rep.Requests, rep.Successes)
		}
		if got := rep.Errors.ByStatus["401"]; got != 10 || len(rep.Errors.ByStatus) != 1 {
			t.Errorf("by status: got %v, want all 10 under 401", rep.Errors.ByStatus)
		}
		if got := rep.Errors.ByOAuthError["invalid_client"]; got != 10 || len(rep.Errors.ByOAuthError) != 1 {
			t.Errorf("by OAuth error: got %v, want all 10 under invalid_client", rep.Errors.ByOAuthError)
		}
	})

	t.Run("text report", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"--scenario", "client_credentials", "--issuer", in.issuer, "--client-id", "service",
			"--client-secret-env", "SERVICE_SECRET", "--requests", "5", "--warmup", "0s", "--concurrency", "1"},
			func(k string) string { return vars[k] }, strings.NewReader(""), &stdout, &stderr)
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		output.WriteString(stdout.String() + stderr.String())
		for _, want := range []string{"scenario    client_credentials", "requests    5 (5 succeeded, 0 failed)", "requests/s", "p50 ", "p99 ", "max ", "errors      none"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("report lacks %q:\n%s", want, stdout.String())
			}
		}
	})

	for _, s := range secrets {
		if strings.Contains(output.String(), s) {
			t.Errorf("bench output shows a secret or password")
		}
	}
}

func TestBenchUsage(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string // in stderr
	}{
		{"unknown scenario", nil, []string{"--scenario", "implicit", "--issuer", "http://127.0.0.1:1"},
			`unknown scenario "implicit"; valid scenarios: client_credentials, password, refresh, introspect, authorization_code, jwks, discovery`},
		{"no scenario", nil, []string{"--issuer", "http://127.0.0.1:1"}, "valid scenarios: client_credentials"},
		{"bad flag value", nil, []string{"--scenario", "jwks", "--concurrency", "many"}, "invalid value"},
		{"unknown flag", nil, []string{"--scenario", "jwks", "--bogus"}, "flag provided but not defined: -bogus"},
		{"zero concurrency", nil, []string{"--scenario", "jwks", "--issuer", "http://127.0.0.1:1", "--concurrency", "0"}, "--concurrency must be at least 1"},
		{"duration and requests", nil, []string{"--scenario", "jwks", "--issuer", "http://127.0.0.1:1", "--duration", "1s", "--requests", "5"}, "not both"},
		{"no issuer", nil, []string{"--scenario", "client_credentials", "--client-id", "c", "--client-secret", "s"}, "needs the token endpoint"},
		{"password without a password", nil, []string{"--scenario", "password", "--issuer", "http://127.0.0.1:1", "--client-id", "c", "--username", "u"}, "--password-stdin or --password-env"},
		{"secret from an unset variable", nil, []string{"--scenario", "client_credentials", "--issuer", "http://127.0.0.1:1", "--client-id", "c", "--client-secret-env", "NOPE"}, "environment variable NOPE is empty or unset"},
		{"two secrets", map[string]string{"S": "x"}, []string{"--scenario", "client_credentials", "--issuer", "http://127.0.0.1:1", "--client-id", "c", "--client-secret", "s", "--client-secret-env", "S"}, "not both"},
		{"positional argument", nil, []string{"--scenario", "jwks", "--issuer", "http://127.0.0.1:1", "extra"}, `unexpected argument "extra"`},
		{"relative issuer", nil, []string{"--scenario", "jwks", "--issuer", "localhost:8080"}, "not an absolute http or https URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, strings.NewReader(""), &stdout, &stderr)
			if !errors.Is(err, errUsage) || exitCode(err) != 2 {
				t.Fatalf("got %v (exit %d), want a usage error (exit 2)", err, exitCode(err))
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tc.want)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"--help"}, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		for _, want := range []string{"Scenarios:", "authorization_code", "--reuse-session", "--password-stdin"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("help lacks %q", want)
			}
		}
	})

	t.Run("unreachable server", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"--scenario", "jwks", "--issuer", "http://127.0.0.1:1", "--requests", "1"},
			func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
		if err == nil || errors.Is(err, errUsage) || exitCode(err) != 1 || !strings.Contains(err.Error(), "discovery") {
			t.Fatalf("got %v, want a discovery error (exit 1)", err)
		}
	})
}
