package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// cliSecret is the system secret the CLI tests give PostgreSQL setups.
const cliSecret = "cli-test-secret-0123456789-abcdefghijklmnop"

// cliHarness runs CLI commands through run() against one database.
type cliHarness struct {
	t     *testing.T
	dbURL string
	env   map[string]string
}

// newCLI returns a harness over a fresh database of kind ("sqlite" or
// "postgres") with cheap argon2 settings.
func newCLI(t *testing.T, kind string) *cliHarness {
	t.Helper()
	u := testdb.URL(t, kind)
	env := map[string]string{
		"AUTHGATE_DATABASE_URL":      u,
		"AUTHGATE_ARGON2_MEMORY_KIB": "8192",
		"AUTHGATE_ARGON2_TIME":       "1",
		"AUTHGATE_LOG_LEVEL":         "warn",
		"USER":                       "tester",
	}
	if kind == "postgres" {
		env["AUTHGATE_SECRET"] = cliSecret
		env["AUTHGATE_MAIL_OUTBOX"] = t.TempDir()
	}
	return &cliHarness{t: t, dbURL: u, env: env}
}

// run runs "authgate args..." with stdin and returns its output.
func (h *cliHarness) run(stdin string, args ...string) (stdout, stderr string, err error) {
	h.t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return h.env[k] }
	err = run(h.t.Context(), args, getenv, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// ok runs a command that must succeed and returns its standard output.
func (h *cliHarness) ok(stdin string, args ...string) string {
	h.t.Helper()
	out, errOut, err := h.run(stdin, args...)
	if err != nil {
		h.t.Fatalf("authgate %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// fails runs a command that must fail with the given exit code and an
// error or usage message containing want.
func (h *cliHarness) fails(code int, want string, stdin string, args ...string) {
	h.t.Helper()
	out, errOut, err := h.run(stdin, args...)
	if err == nil {
		h.t.Fatalf("authgate %s succeeded, want an error containing %q\nstdout:\n%s", strings.Join(args, " "), want, out)
	}
	if got := exitCode(err); got != code {
		h.t.Errorf("authgate %s: exit code %d, want %d (error %v)", strings.Join(args, " "), got, code, err)
	}
	msg := err.Error()
	if errors.Is(err, errUsage) {
		msg = errOut
	}
	if !strings.Contains(msg, want) {
		h.t.Errorf("authgate %s: message %q, want it to contain %q", strings.Join(args, " "), msg, want)
	}
}

func (h *cliHarness) json(v any, stdin string, args ...string) {
	h.t.Helper()
	out := h.ok(stdin, args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		h.t.Fatalf("authgate %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// db opens the harness's database directly, to plant or inspect rows.
func (h *cliHarness) db() *gorm.DB {
	h.t.Helper()
	db, err := storage.Open(context.Background(), h.dbURL, storage.Options{MaxOpenConns: 2})
	if err != nil {
		h.t.Fatalf("open database: %v", err)
	}
	h.t.Cleanup(func() { _ = storage.Close(db) })
	if err := storage.Migrate(context.Background(), db); err != nil {
		h.t.Fatalf("migrate: %v", err)
	}
	return db
}

// eachCLI runs fn against SQLite and PostgreSQL, the two in parallel: it
// must be the last statement of its test.
func eachCLI(t *testing.T, fn func(t *testing.T, h *cliHarness)) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h := newCLI(t, kind)
			// Only serve and migrate create an SQLite database; an empty
			// file is one (the commands migrate it), and leaves the secret
			// to the test.
			if path, ok := strings.CutPrefix(h.dbURL, "sqlite://"); ok {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			fn(t, h)
		})
	}
}

func TestCLIClients(t *testing.T) {
	t.Parallel()
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		var created map[string]any
		h.json(&created, "", "clients", "create", "--name", "Web app",
			"--grant-types", "authorization_code,refresh_token",
			"--redirect-uris", "https://app.example.com/cb,http://127.0.0.1:8080/cb",
			"--scopes", "openid profile email offline_access", "--first-party", "--json")
		id, _ := created["client_id"].(string)
		sec, _ := created["client_secret"].(string)
		if id == "" || len(sec) != 43 {
			t.Fatalf("create --json = %v, want a client_id and a 43-character client_secret", created)
		}
		if got := created["redirect_uris"]; len(got.([]any)) != 2 || created["first_party"] != true {
			t.Errorf("create --json = %v, want two redirect URIs and first_party", created)
		}

		var pub map[string]any
		h.json(&pub, "", "clients", "create", "--name", "SPA", "--grant-types", "authorization_code",
			"--redirect-uris", "https://spa.example.com/", "--public", "--access-token-format", "jwt", "--json")
		if _, has := pub["client_secret"]; has || pub["public"] != true || pub["access_token_format"] != "jwt" {
			t.Errorf("public create --json = %v, want no client_secret, public, jwt", pub)
		}
		text := h.ok("", "clients", "create", "--name", "Batch", "--grant-types", "client_credentials")
		if !regexp.MustCompile(`(?m)^client_id: +[0-9a-f]{32}$`).MatchString(text) || !regexp.MustCompile(`(?m)^client_secret: +[A-Za-z0-9_-]{43}$`).MatchString(text) {
			t.Errorf("create output lacks the id or the secret:\n%s", text)
		}

		// Bad input: one readable line, exit code 1.
		h.fails(1, `grant_types: "implicit" is not a supported grant type`, "", "clients", "create", "--name", "X", "--grant-types", "implicit")
		h.fails(1, `redirect_uris: "foo" is not an absolute URL`, "", "clients", "create", "--name", "X", "--grant-types", "authorization_code", "--redirect-uris", "foo")
		h.fails(1, `redirect_uris: "http://app.example.com/cb" must use https`, "", "clients", "create", "--name", "X", "--grant-types", "authorization_code", "--redirect-uris", "http://app.example.com/cb")
		h.fails(1, "a public client cannot use client_credentials", "", "clients", "create", "--name", "X", "--grant-types", "client_credentials", "--public")
		h.fails(1, `scopes: "admin" is not a supported scope`, "", "clients", "create", "--name", "X", "--grant-types", "client_credentials", "--scopes", "admin")
		h.fails(1, "name: is required", "", "clients", "create", "--grant-types", "client_credentials")
		h.fails(2, "flag provided but not defined: -secret", "", "clients", "create", "--name", "X", "--secret", "s3cret")

		// get and list never show a hash.
		getText := h.ok("", "clients", "get", id)
		var got map[string]any
		h.json(&got, "", "clients", "get", id, "--json")
		listText := h.ok("", "clients", "list")
		var list []map[string]any
		h.json(&list, "", "clients", "list", "--json")
		for _, out := range []string{getText, listText, h.ok("", "clients", "get", "--json", id), h.ok("", "clients", "list", "--json")} {
			if strings.Contains(out, "hmac-sha256") || strings.Contains(out, sec) || strings.Contains(out, "secret_hash") {
				t.Errorf("output shows the secret or its hash:\n%s", out)
			}
		}
		if got["client_id"] != id || got["name"] != "Web app" || got["legacy_enabled"] != false {
			t.Errorf("get --json = %v, want the Web app without the legacy grant", got)
		}
		if len(list) != 3 || !strings.Contains(listText, "Web app") || !strings.Contains(getText, "https://app.example.com/cb") {
			t.Errorf("list --json has %d clients, want 3; list:\n%s\nget:\n%s", len(list), listText, getText)
		}
		h.fails(1, "client not found", "", "clients", "get", "no-such-client")
		h.fails(2, "missing CLIENT_ID", "", "clients", "get")
		h.fails(2, `unexpected argument "extra"`, "", "clients", "get", id, "extra")

		// rotate-secret
		var rotated map[string]string
		h.json(&rotated, "", "clients", "rotate-secret", id, "--json")
		if rotated["client_id"] != id || len(rotated["client_secret"]) != 43 || rotated["client_secret"] == sec {
			t.Errorf("rotate-secret --json = %v, want a new 43-character secret", rotated)
		}
		h.fails(1, "public clients have no secret", "", "clients", "rotate-secret", pub["client_id"].(string))

		// delete
		if out := h.ok("", "clients", "delete", pub["client_id"].(string)); !strings.Contains(out, "Deleted client") {
			t.Errorf("delete output = %q", out)
		}
		h.fails(1, "client not found", "", "clients", "get", pub["client_id"].(string))
		h.fails(1, "client not found", "", "clients", "delete", pub["client_id"].(string))
	})
}

func TestCLILegacy(t *testing.T) {
	t.Parallel()
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		var c map[string]any
		h.json(&c, "", "clients", "create", "--name", "Mail connector", "--grant-types", "client_credentials", "--json")
		id := c["client_id"].(string)
		legacy := func() (bool, []any, any) {
			var got map[string]any
			h.json(&got, "", "clients", "get", id, "--json")
			return got["legacy_enabled"].(bool), got["grant_types"].([]any), got["legacy_sunset"]
		}

		if out := h.ok("", "clients", "legacy", "enable", id); !strings.Contains(out, "enabled") {
			t.Errorf("legacy enable output = %q", out)
		}
		if on, grants, _ := legacy(); !on || !slices.Contains(grants, any("password")) {
			t.Errorf("after enable: legacy_enabled %t, grant types %v; want true with password", on, grants)
		}
		h.ok("", "clients", "legacy", "disable", id)
		if on, grants, _ := legacy(); on || slices.Contains(grants, any("password")) {
			t.Errorf("after disable: legacy_enabled %t, grant types %v; want false without password", on, grants)
		}

		h.fails(1, `sunset: "2031-02-30" is not a date`, "", "clients", "legacy", "sunset", id, "2031-02-30")
		h.fails(1, `sunset: "next week" is not a date`, "", "clients", "legacy", "sunset", id, "next week")
		h.fails(2, "missing YYYY-MM-DD|none", "", "clients", "legacy", "sunset", id)
		// A date is the last day the grant works: it ends at the end of it, UTC.
		h.ok("", "clients", "legacy", "sunset", id, "2031-06-30")
		if _, _, sunset := legacy(); sunset != "2031-07-01T00:00:00Z" {
			t.Errorf("legacy_sunset = %v, want 2031-07-01T00:00:00Z", sunset)
		}
		// A date that has passed ends the grant at once: only with --past.
		h.fails(1, "add --past to set it anyway", "", "clients", "legacy", "sunset", id, "2001-01-01")
		if _, _, sunset := legacy(); sunset != "2031-07-01T00:00:00Z" {
			t.Errorf("legacy_sunset after a refused past date = %v, want it unchanged", sunset)
		}
		h.ok("", "clients", "legacy", "sunset", id, "2001-01-01T12:00:00Z", "--past")
		if _, _, sunset := legacy(); sunset != "2001-01-01T12:00:00Z" {
			t.Errorf("legacy_sunset = %v, want 2001-01-01T12:00:00Z", sunset)
		}
		h.ok("", "clients", "legacy", "sunset", id, "none")
		if _, _, sunset := legacy(); sunset != nil {
			t.Errorf("legacy_sunset after none = %v, want null", sunset)
		}
		h.fails(1, "client not found", "", "clients", "legacy", "enable", "no-such-client")

		var pub map[string]any
		h.json(&pub, "", "clients", "create", "--name", "SPA", "--grant-types", "authorization_code", "--redirect-uris", "https://spa.example.com/", "--public", "--json")
		h.fails(1, "public client cannot use the legacy password grant", "", "clients", "legacy", "enable", pub["client_id"].(string))
		h.fails(2, `unknown subcommand "toggle"`, "", "clients", "legacy", "toggle", id)

		// The report counts successful legacy grants per client and user.
		var report []map[string]any
		h.json(&report, "", "clients", "legacy", "report", "--json")
		if len(report) != 0 {
			t.Errorf("report before any use = %v, want []", report)
		}
		h.ok("", "clients", "legacy", "enable", id)
		h.ok("", "clients", "legacy", "sunset", id, "2031-06-30")
		db := h.db()
		last := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		for i, r := range []string{accounts.ResultSuccess, accounts.ResultSuccess, accounts.ResultInvalidPassword} {
			e := models.LoginEvent{Time: last.Add(-time.Duration(i) * time.Hour), UserID: "u1", Username: "alice", ClientID: id, Method: accounts.MethodPasswordGrant, Result: r}
			if err := db.Create(&e).Error; err != nil {
				t.Fatal(err)
			}
		}
		h.json(&report, "", "clients", "legacy", "report", "--json")
		if len(report) != 1 || report[0]["client_id"] != id || report[0]["client_name"] != "Mail connector" || report[0]["username"] != "alice" ||
			report[0]["count"] != float64(2) || report[0]["last_used"] != "2030-01-02T03:04:05Z" || report[0]["sunset"] != "2031-07-01T00:00:00Z" {
			t.Errorf("report --json = %v, want one row: Mail connector, alice, 2 uses, last 2030-01-02T03:04:05Z, sunset", report)
		}
		if out := h.ok("", "clients", "legacy", "report"); !strings.Contains(out, "Mail connector") || !strings.Contains(out, "alice") {
			t.Errorf("report text lacks the client or the user:\n%s", out)
		}
	})
}

func TestCLIUsers(t *testing.T) {
	t.Parallel()
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		const pw = "Correct-Horse-Battery-1"
		var u map[string]any
		h.json(&u, pw+"\n", "users", "create", "--username", "Alice", "--email", "alice@example.com", "--name", "Alice A", "--password-stdin", "--admin", "--json")
		if u["username"] != "alice" || u["admin"] != true || u["email"] != "alice@example.com" {
			t.Errorf("users create --json = %v, want alice, admin", u)
		}
		db := h.db()
		var stored models.User
		if err := db.Where("username = ?", "alice").Take(&stored).Error; err != nil {
			t.Fatalf("read user: %v", err)
		}
		hasher, err := password.NewHasher(password.Params{Time: 1, Memory: 8 * 1024, Threads: 1}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := hasher.Verify(t.Context(), stored.PasswordHash, pw); err != nil {
			t.Errorf("stored hash does not match the password from stdin (newline must be stripped): %v", err)
		}

		// CRLF is stripped too, and only the first line counts.
		h.ok("Second-Password-2\r\nignored\n", "users", "create", "--username", "bob", "--email", "bob@example.com", "--password-stdin")
		var bob models.User
		if err := db.Where("username = ?", "bob").Take(&bob).Error; err != nil {
			t.Fatal(err)
		}
		if err := hasher.Verify(t.Context(), bob.PasswordHash, "Second-Password-2"); err != nil {
			t.Errorf("bob's password from a CRLF line does not verify: %v", err)
		}

		h.fails(1, "username already taken", pw+"\n", "users", "create", "--username", "ALICE", "--email", "a2@example.com", "--password-stdin")
		h.fails(2, "--password-stdin is required", pw+"\n", "users", "create", "--username", "carol", "--email", "carol@example.com")
		h.fails(2, "flag provided but not defined: -password", "", "users", "create", "--username", "carol", "--email", "carol@example.com", "--password", pw)
		h.fails(1, "no password on standard input", "", "users", "create", "--username", "carol", "--email", "carol@example.com", "--password-stdin")
		h.fails(1, "password: must be at least 8 characters", "short\n", "users", "create", "--username", "carol", "--email", "carol@example.com", "--password-stdin")
		h.fails(1, "email: must be a bare email address", pw+"\n", "users", "create", "--username", "carol", "--email", "not-an-email", "--password-stdin")

		// get never prints a hash.
		for _, args := range [][]string{{"users", "get", "alice"}, {"users", "get", "ALICE", "--json"}, {"users", "list"}, {"users", "list", "--json"}} {
			out := h.ok("", args...)
			if !strings.Contains(out, "alice@example.com") {
				t.Errorf("%v output lacks the email:\n%s", args, out)
			}
			if strings.Contains(out, "$argon2id$") || strings.Contains(out, stored.PasswordHash) || strings.Contains(out, stored.SecurityTokenHash) || strings.Contains(strings.ToLower(out), "hash") {
				t.Errorf("%v output shows a hash:\n%s", args, out)
			}
		}
		var found []map[string]any
		h.json(&found, "", "users", "list", "--query", "BOB", "--json")
		if len(found) != 1 || found[0]["username"] != "bob" {
			t.Errorf("users list --query BOB = %v, want bob only", found)
		}
		h.fails(1, "user not found", "", "users", "get", "nobody")

		token := regexp.MustCompile(`\b[A-Za-z0-9]{24}\b`)
		out := h.ok("", "users", "reset-token", "alice")
		if !strings.Contains(out, "mail queue for alice@example.com") || token.MatchString(out) {
			t.Errorf("reset-token output = %q, want it to say the token is queued for email, without a token", out)
		}
		out = h.ok("New-Password-345\n", "users", "set-password", "alice", "--password-stdin")
		if !strings.Contains(out, "mail queue for alice@example.com") || token.MatchString(out) {
			t.Errorf("set-password output = %q", out)
		}
		if err := db.Where("username = ?", "alice").Take(&stored).Error; err != nil {
			t.Fatal(err)
		}
		if err := hasher.Verify(t.Context(), stored.PasswordHash, "New-Password-345"); err != nil {
			t.Errorf("new password does not verify: %v", err)
		}
		h.fails(2, "--password-stdin is required", "x\n", "users", "set-password", "alice")

		locked := time.Now().Add(time.Hour)
		if err := db.Model(&models.User{}).Where("username = ?", "alice").Updates(map[string]any{"legacy_failures": 10, "legacy_locked_until": locked}).Error; err != nil {
			t.Fatal(err)
		}
		if out := h.ok("", "users", "get", "alice"); !strings.Contains(out, "legacy until") {
			t.Errorf("get of a locked user does not say so:\n%s", out)
		}
		h.ok("", "users", "unlock", "alice")
		if err := db.Where("username = ?", "alice").Take(&stored).Error; err != nil || stored.LegacyFailures != 0 || stored.LegacyLockedUntil != nil {
			t.Errorf("after unlock: failures %d, locked until %v (%v), want 0 and nil", stored.LegacyFailures, stored.LegacyLockedUntil, err)
		}
		h.fails(1, "user not found", "", "users", "unlock", "nobody")

		h.ok("", "users", "delete", "bob")
		h.fails(1, "user not found", "", "users", "get", "bob")

		var actions []string
		if err := db.Model(&models.AuditEntry{}).Where("actor = ?", "cli:tester").Order("id").Pluck("action", &actions).Error; err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"user.create", "user.token.reset", "user.password.set", "user.unlock", "user.delete"} {
			if !slices.Contains(actions, want) {
				t.Errorf("audit actions by cli:tester = %v, want %s among them", actions, want)
			}
		}
	})
}

func TestCLITrustedIPs(t *testing.T) {
	t.Parallel()
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		h.fails(1, `cidr: "10.0.0/8" is not a CIDR range`, "", "trusted-ips", "add", "10.0.0/8")
		h.fails(1, "cidr:", "", "trusted-ips", "add", "0.0.0.0/0")
		h.fails(2, "missing CIDR", "", "trusted-ips", "add")
		out := h.ok("", "trusted-ips", "add", "10.1.2.3/8", "--description", "Head office")
		if !strings.Contains(out, "10.0.0.0/8") {
			t.Errorf("add output = %q, want the canonical range", out)
		}
		h.ok("", "trusted-ips", "add", "--description", "VPN", "2001:db8::/32")
		h.fails(1, "already exists", "", "trusted-ips", "add", "10.0.0.0/8")
		var list []map[string]any
		h.json(&list, "", "trusted-ips", "list", "--json")
		if len(list) != 2 || list[0]["cidr"] != "10.0.0.0/8" || list[0]["description"] != "Head office" || list[1]["cidr"] != "2001:db8::/32" {
			t.Errorf("list --json = %v, want the two ranges", list)
		}
		if out := h.ok("", "trusted-ips", "list"); !strings.Contains(out, "Head office") {
			t.Errorf("list output lacks the description:\n%s", out)
		}
		h.ok("", "trusted-ips", "remove", "10.0.0.0/8")
		h.fails(1, "not found", "", "trusted-ips", "remove", "10.0.0.0/8")
		h.json(&list, "", "trusted-ips", "list", "--json")
		if len(list) != 1 {
			t.Errorf("after remove, list = %v, want one range", list)
		}
	})
}

func TestCLILoginHistory(t *testing.T) {
	t.Parallel()
	h := newCLI(t, "sqlite")
	db := h.db()
	now := time.Now().UTC()
	events := []models.LoginEvent{
		{Time: now.Add(-time.Hour), Username: "alice", ClientID: "c1", SourceIP: "192.0.2.1", Method: accounts.MethodPasswordGrant, Result: accounts.ResultSuccess},
		{Time: now.Add(-2 * time.Hour), Username: "alice", ClientID: "c1", SourceIP: "192.0.2.1", Method: accounts.MethodPasswordGrant, Result: accounts.ResultInvalidPassword},
		{Time: now.Add(-48 * time.Hour), Username: "alice", ClientID: "c2", Method: accounts.MethodLoginPage, Result: accounts.ResultSuccess},
		{Time: now.Add(-3 * time.Hour), Username: "bob", ClientID: "c1", Method: accounts.MethodPasswordGrant, Result: accounts.ResultSuccess},
	}
	for _, e := range events {
		if err := db.Create(&e).Error; err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args []string
		want int
	}{
		{nil, 4},
		{[]string{"--user", "ALICE"}, 3},
		{[]string{"--client", "c1"}, 3},
		{[]string{"--result", "success"}, 3},
		{[]string{"--user", "alice", "--since", "24h"}, 2},
		{[]string{"--since", "3d"}, 4},
		{[]string{"--method", "login_page"}, 1},
		{[]string{"--limit", "2"}, 2},
	}
	for _, tt := range tests {
		var got []map[string]any
		h.json(&got, "", append([]string{"login-history", "--json"}, tt.args...)...)
		if len(got) != tt.want {
			t.Errorf("login-history %v: got %d events, want %d", tt.args, len(got), tt.want)
		}
	}
	var newest []map[string]any
	h.json(&newest, "", "login-history", "--json", "--limit", "1")
	if len(newest) != 1 || newest[0]["username"] != "alice" || newest[0]["result"] != accounts.ResultSuccess || newest[0]["source_ip"] != "192.0.2.1" {
		t.Errorf("newest event = %v, want alice's success from 192.0.2.1", newest)
	}
	out := h.ok("", "login-history", "--user", "bob")
	if !strings.Contains(out, "bob") || strings.Contains(out, "alice") {
		t.Errorf("text output for bob:\n%s", out)
	}
	h.fails(2, `"yesterday" is not a positive duration`, "", "login-history", "--since", "yesterday")
	h.fails(2, "--limit must be at least 1", "", "login-history", "--limit", "0")
	h.fails(2, "--method must be one of password_grant, password_grant_refresh, login_page", "", "login-history", "--method", "carrier-pigeon")
	h.ok("", "login-history", "--method", "password_grant_refresh")
}

func TestCLIBadDatabaseURL(t *testing.T) {
	t.Parallel()
	h := newCLI(t, "sqlite")
	h.env["AUTHGATE_DATABASE_URL"] = "mysql://x"
	for _, args := range [][]string{
		{"clients", "list"},
		{"users", "list"},
		{"trusted-ips", "list"},
		{"login-history"},
		{"clients", "legacy", "report"},
	} {
		h.fails(1, `database_url: "mysql://x" is not supported`, "", args...)
	}
	h.fails(1, `database_url: "mysql://x" is not supported`, "Password-12345\n", "users", "create", "--username", "x", "--email", "x@example.com", "--password-stdin")
}

func TestCLIPostgresNeedsSecret(t *testing.T) {
	t.Parallel()
	h := newCLI(t, "postgres")
	delete(h.env, "AUTHGATE_SECRET")
	h.fails(1, "AUTHGATE_SECRET is required with PostgreSQL", "", "clients", "list")
}

func TestCLIHelp(t *testing.T) {
	t.Parallel()
	h := newCLI(t, "sqlite")
	cmds := [][]string{
		{"clients"}, {"clients", "create"}, {"clients", "list"}, {"clients", "get"}, {"clients", "delete"},
		{"clients", "rotate-secret"}, {"clients", "legacy"}, {"clients", "legacy", "enable"},
		{"clients", "legacy", "disable"}, {"clients", "legacy", "sunset"}, {"clients", "legacy", "report"},
		{"users"}, {"users", "create"}, {"users", "list"}, {"users", "get"}, {"users", "delete"},
		{"users", "set-password"}, {"users", "reset-token"}, {"users", "unlock"},
		{"trusted-ips"}, {"trusted-ips", "add"}, {"trusted-ips", "list"}, {"trusted-ips", "remove"},
		{"login-history"},
	}
	for _, cmd := range cmds {
		for _, flag := range []string{"--help", "-h"} {
			out, errOut, err := h.run("", append(slices.Clone(cmd), flag)...)
			if err != nil {
				t.Errorf("authgate %s %s = %v, want nil", strings.Join(cmd, " "), flag, err)
			}
			if want := "Usage: authgate " + strings.Join(cmd, " "); !strings.Contains(out+errOut, want) {
				t.Errorf("authgate %s %s printed %q, want %q", strings.Join(cmd, " "), flag, out+errOut, want)
			}
		}
	}
	// Help opens no database.
	if _, err := os.Stat(strings.TrimPrefix(h.dbURL, "sqlite://")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the database file exists after --help only (stat: %v)", err)
	}

	for _, cmd := range [][]string{{"clients"}, {"users"}, {"trusted-ips"}, {"clients", "legacy"}} {
		h.fails(2, "a subcommand is required", "", cmd...)
		h.fails(2, `unknown subcommand "frobnicate"`, "", append(slices.Clone(cmd), "frobnicate")...)
	}
	h.fails(2, "flag provided but not defined", "", "login-history", "--bogus")
}

func TestCLIRefusesToCreateDatabase(t *testing.T) {
	t.Parallel()
	h := newCLI(t, "sqlite")
	path := strings.TrimPrefix(h.dbURL, "sqlite://")
	secret := filepath.Join(filepath.Dir(path), "authgate.secret")
	for _, args := range [][]string{{"users", "list"}, {"clients", "list"}, {"keys", "list"}, {"login-history"}, {"trusted-ips", "list"}} {
		h.fails(1, "no authgate database at "+path, "", args...)
	}
	h.fails(1, "from AUTHGATE_DATABASE_URL", "", "users", "list")
	h.fails(1, "--config FILE or AUTHGATE_DATABASE_URL", "", "users", "list")
	for _, p := range []string{path, secret} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists after refused commands (stat: %v)", p, err)
		}
	}

	// Named by a config file, the message names the file.
	conf := filepath.Join(t.TempDir(), "authgate.yaml")
	if err := os.WriteFile(conf, []byte("database_url: "+h.dbURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	delete(h.env, "AUTHGATE_DATABASE_URL")
	h.fails(1, "from "+conf, "", "users", "list", "--config", conf)
	// With nothing set, the default is relative to the working directory.
	h.fails(1, "the default, relative to the working directory", "", "users", "list")

	// migrate creates it; then the others work.
	h.ok("", "migrate", "--config", conf)
	h.ok("", "users", "list", "--config", conf)
}

func TestCLILogFormat(t *testing.T) {
	t.Parallel()
	for format, want := range map[string]string{"": `{"time":"`, "json": `{"time":"`, "text": `time=`} {
		t.Run("format="+format, func(t *testing.T) {
			h := newCLI(t, "sqlite")
			h.env["AUTHGATE_LOG_FORMAT"] = format
			_, errOut, err := h.run("", "migrate")
			if err != nil {
				t.Fatalf("migrate: %v\n%s", err, errOut)
			}
			if !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, "generated a new system secret") {
				t.Errorf("log with AUTHGATE_LOG_FORMAT=%q:\n%s\nwant it to start with %q", format, errOut, want)
			}
		})
	}
	h := newCLI(t, "sqlite")
	h.env["AUTHGATE_LOG_FORMAT"] = "logfmt"
	h.fails(1, `log_format: "logfmt" must be json or text`, "", "migrate")
}
