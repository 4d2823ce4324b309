package config_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/clientip"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsLoadWithNothingSet(t *testing.T) {
	cfg, err := config.Load(env(nil), "")
	if err != nil {
		t.Fatalf("Load with nothing set: %v", err)
	}
	if cfg.DatabaseURL != "sqlite://./authgate.db" || cfg.Listen != "127.0.0.1:8080" || cfg.AdminListen != "127.0.0.1:8081" {
		t.Errorf("defaults: got %q %q %q", cfg.DatabaseURL, cfg.Listen, cfg.AdminListen)
	}
	if cfg.AdminURL != "http://127.0.0.1:8081" {
		t.Errorf("admin URL: got %q, want it derived from the admin listener", cfg.AdminURL)
	}
	if cfg.Mail.Outbox != "authgate-outbox" || cfg.SecretFile != "authgate.secret" {
		t.Errorf("outbox %q and secret file %q: want them beside the database", cfg.Mail.Outbox, cfg.SecretFile)
	}
	if cfg.LockoutThreshold != 10 || cfg.LockoutDuration != 15*time.Minute {
		t.Errorf("lockout: got %d/%s, want 10/15m", cfg.LockoutThreshold, cfg.LockoutDuration)
	}
}

func TestEnvironmentOverridesFileOverridesDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authgate.yaml")
	yaml := "issuer: https://file.example.com\norganization: Acme\nlockout_threshold: 5\ntrusted_proxies: [10.0.0.0/8, \"2001:db8::1\"]\nforwarded_header: Forwarded\nmail:\n  smtp_host: smtp.example.com\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(env(map[string]string{
		"AUTHGATE_ISSUER":                "https://env.example.com/",
		"AUTHGATE_LOCKOUT_DURATION":      "1h",
		"AUTHGATE_LEGACY_GRANT_DISABLED": "true",
	}), path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "https://env.example.com" {
		t.Errorf("issuer: got %q, want the environment's, without the trailing slash", cfg.Issuer)
	}
	if cfg.Organization != "Acme" || cfg.LockoutThreshold != 5 || cfg.Mail.SMTPHost != "smtp.example.com" {
		t.Errorf("file values: got %q %d %q", cfg.Organization, cfg.LockoutThreshold, cfg.Mail.SMTPHost)
	}
	if cfg.LockoutDuration != time.Hour || !cfg.LegacyGrantDisabled {
		t.Errorf("environment values: got %s %v", cfg.LockoutDuration, cfg.LegacyGrantDisabled)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128")}
	if len(cfg.TrustedProxies) != 2 || cfg.TrustedProxies[0] != want[0] || cfg.TrustedProxies[1] != want[1] {
		t.Errorf("trusted proxies: got %v, want %v", cfg.TrustedProxies, want)
	}
	if cfg.ForwardedHeader != clientip.Forwarded {
		t.Errorf("forwarded header: got %q, want %q from the file", cfg.ForwardedHeader, clientip.Forwarded)
	}
	if !cfg.IssuerIsHTTPS() {
		t.Error("an https issuer must make cookies Secure")
	}
}

func TestValidationSaysWhatToFix(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"unsupported database", map[string]string{"AUTHGATE_DATABASE_URL": "mysql://x"}, "database_url"},
		{"empty sqlite path", map[string]string{"AUTHGATE_DATABASE_URL": "sqlite://"}, "needs a file path"},
		{"postgres without secret", map[string]string{"AUTHGATE_DATABASE_URL": "postgres://u@h:5432/db"}, "AUTHGATE_SECRET is required with PostgreSQL"},
		{"postgres URL pgx refuses", map[string]string{"AUTHGATE_DATABASE_URL": "postgres://u:hunter2@h:5432,h2:x/db", "AUTHGATE_SECRET": strings.Repeat("s", 32)}, "database_url: \"postgres://u@h:5432,h2:x/db\" is not a valid PostgreSQL URL"},
		{"short secret", map[string]string{"AUTHGATE_SECRET": "short"}, "at least 32 bytes"},
		{"issuer not a URL", map[string]string{"AUTHGATE_ISSUER": "id.example.com"}, "issuer"},
		{"issuer with query", map[string]string{"AUTHGATE_ISSUER": "https://id.example.com/?a=b"}, "issuer"},
		{"listen without port", map[string]string{"AUTHGATE_LISTEN": "localhost"}, "listen"},
		{"bad duration", map[string]string{"AUTHGATE_ACCESS_TOKEN_LIFESPAN": "soon"}, "not a duration"},
		{"negative duration", map[string]string{"AUTHGATE_ACCESS_TOKEN_LIFESPAN": "-1h"}, "access_token_lifespan: must be positive"},
		{"bad number", map[string]string{"AUTHGATE_LOCKOUT_THRESHOLD": "ten"}, "not a whole number"},
		{"zero threshold", map[string]string{"AUTHGATE_LOCKOUT_THRESHOLD": "0"}, "lockout_threshold"},
		{"weak argon2", map[string]string{"AUTHGATE_ARGON2_MEMORY_KIB": "1024"}, "argon2.memory_kib"},
		{"bad TLS mode", map[string]string{"AUTHGATE_SMTP_TLS": "ssl"}, "mail.smtp_tls"},
		{"bad proxies", map[string]string{"AUTHGATE_TRUSTED_PROXIES": "10.0.0.0/33"}, "AUTHGATE_TRUSTED_PROXIES"},
		{"bad forwarded header", map[string]string{"AUTHGATE_FORWARDED_HEADER": "x-real-ip"}, "forwarded_header"},
		{"bad boolean", map[string]string{"AUTHGATE_LEGACY_GRANT_DISABLED": "maybe"}, "not true or false"},
		{"bad log level", map[string]string{"AUTHGATE_LOG_LEVEL": "loud"}, "log_level"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(env(tc.env), "")
			if err == nil {
				t.Fatalf("got no error, want one mentioning %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %q, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestMultiHostDatabaseURL checks that a URL naming several hosts, as a
// failover set-up uses, is accepted: net/url alone would refuse it.
func TestMultiHostDatabaseURL(t *testing.T) {
	const u = "postgres://authgate:pw@db1.internal:5432,db2.internal:5432/authgate?target_session_attrs=read-write&connect_timeout=2"
	cfg, err := config.Load(env(map[string]string{"AUTHGATE_DATABASE_URL": u, "AUTHGATE_SECRET": strings.Repeat("s", 32), "AUTHGATE_MAIL_OUTBOX": t.TempDir()}), "")
	if err != nil {
		t.Fatalf("got %v, want the multi-host URL accepted", err)
	}
	if !cfg.IsPostgres() || cfg.DatabaseURL != u {
		t.Errorf("got %q (postgres %v), want %q", cfg.DatabaseURL, cfg.IsPostgres(), u)
	}
}

func TestForwardedHeaderFromEnvironment(t *testing.T) {
	cfg, err := config.Load(env(map[string]string{"AUTHGATE_FORWARDED_HEADER": "X-Forwarded-For"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ForwardedHeader != clientip.XForwardedFor {
		t.Errorf("forwarded header: got %q, want %q", cfg.ForwardedHeader, clientip.XForwardedFor)
	}
}

func TestMissingConfigFile(t *testing.T) {
	_, err := config.Load(env(nil), filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "read config file") {
		t.Fatalf("got %v, want a read error", err)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "authgate.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUnknownYAMLKeysAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"top level typo", "issuer: https://id.example.com\nlockout_treshold: 5\n",
			[]string{`line 2: unknown key "lockout_treshold"`, `did you mean "lockout_threshold"`}},
		{"nested typo", "mail:\n  smtp_hots: smtp.example.com\n",
			[]string{`line 2: unknown key "mail.smtp_hots"`, `did you mean "mail.smtp_host"`}},
		{"nothing near", "frobnicate: yes\n", []string{`unknown key "frobnicate"`}},
		{"internal field", "log_level_set: true\n", []string{`unknown key "log_level_set"`}},
		{"two at once", "isuer: x\nlistn: y\n", []string{`"isuer"`, `"listn"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.yaml)
			_, err := config.Load(env(nil), path)
			if err == nil {
				t.Fatal("got no error for an unknown key")
			}
			for _, w := range append(tc.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
		})
	}
	if _, err := config.Load(env(nil), writeConfig(t, "frobnicate: yes\n")); err != nil && strings.Contains(err.Error(), "did you mean") {
		t.Errorf("suggested a key for something nothing like one: %v", err)
	}
}

func TestEmptyConfigFileSetsNothing(t *testing.T) {
	cfg, err := config.Load(env(nil), writeConfig(t, "# nothing yet\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != config.Default().Listen {
		t.Errorf("listen: got %q, want the default", cfg.Listen)
	}
}

func TestYAMLTypeErrorNamesFile(t *testing.T) {
	path := writeConfig(t, "lockout_threshold: ten\n")
	_, err := config.Load(env(nil), path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("got %v, want the file and line", err)
	}
}

func TestTrustedProxiesAsCommaString(t *testing.T) {
	cfg, err := config.Load(env(nil), writeConfig(t, "trusted_proxies: 10.0.0.0/8, 192.0.2.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.TrustedProxies) != 2 || cfg.TrustedProxies[1] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Errorf("trusted proxies: got %v", cfg.TrustedProxies)
	}
	_, err = config.Load(env(nil), writeConfig(t, "trusted_proxies: [10.0.0.0/33]\n"))
	if err == nil || !strings.Contains(err.Error(), "trusted_proxies") && !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Errorf("got %v, want the bad range named", err)
	}
}

func TestLogFormat(t *testing.T) {
	cfg, err := config.Load(env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LogFormat != "json" {
		t.Errorf("default log format: got %q, want json", cfg.LogFormat)
	}
	cfg, err = config.Load(env(map[string]string{"AUTHGATE_LOG_FORMAT": "text"}), "")
	if err != nil || cfg.LogFormat != "text" {
		t.Errorf("AUTHGATE_LOG_FORMAT=text: got %q, %v", cfg.LogFormat, err)
	}
	_, err = config.Load(env(map[string]string{"AUTHGATE_LOG_FORMAT": "xml"}), "")
	if err == nil || !strings.Contains(err.Error(), `log_format: "xml" must be json or text`) {
		t.Errorf("got %v, want log_format refused", err)
	}
}

func TestEveryVariableIsRead(t *testing.T) {
	cfg, err := config.Load(env(map[string]string{
		"AUTHGATE_AUTHORIZE_CODE_LIFESPAN": "3m",
		"AUTHGATE_MAX_BODY_BYTES":          "2048",
		"AUTHGATE_MAIL_MAX_ATTEMPTS":       "3",
		"AUTHGATE_ARGON2_THREADS":          "4",
		"AUTHGATE_PPROF":                   "1",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AuthorizeCodeLifespan != 3*time.Minute || cfg.MaxBodyBytes != 2048 || cfg.Mail.MaxAttempts != 3 || cfg.Argon2.Threads != 4 || !cfg.Pprof {
		t.Errorf("got %s %d %d %d %v", cfg.AuthorizeCodeLifespan, cfg.MaxBodyBytes, cfg.Mail.MaxAttempts, cfg.Argon2.Threads, cfg.Pprof)
	}
	_, err = config.Load(env(map[string]string{"AUTHGATE_ARGON2_THREADS": "256", "AUTHGATE_SMTP_PORT": "x"}), "")
	if err == nil || !strings.Contains(err.Error(), "AUTHGATE_ARGON2_THREADS") || !strings.Contains(err.Error(), "AUTHGATE_SMTP_PORT") {
		t.Errorf("got %v, want both bad variables reported", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	c := config.Default()
	c.Argon2.MaxConcurrent = 2
	if got := c.MemoryLimit(); got != 200<<20 {
		t.Errorf("default limit = %d MiB, want 200 (1.5 × two 64 MiB hashes + 8)", got>>20)
	}
	c.Argon2.MaxConcurrent = 4
	if got := c.MemoryLimit(); got != 392<<20 {
		t.Errorf("four hashes at once: %d MiB, want 392", got>>20)
	}
	c.Argon2.Memory = 8 << 10
	if got := c.MemoryLimit(); got != config.MinDerivedMemoryLimitMiB<<20 {
		t.Errorf("small hashes: %d MiB, want the floor %d", got>>20, config.MinDerivedMemoryLimitMiB)
	}
	c.MemoryLimitMiB = 300
	if got := c.MemoryLimit(); got != 300<<20 {
		t.Errorf("explicit 300 MiB = %d", got)
	}
	c.MemoryLimitMiB = -1
	if got := c.MemoryLimit(); got != 0 {
		t.Errorf("-1 = %d, want none", got)
	}
	if err := c.Validate(); err != nil && strings.Contains(err.Error(), "memory_limit_mib") {
		t.Errorf("-1 refused: %v", err)
	}
	c.MemoryLimitMiB = -2
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "memory_limit_mib") {
		t.Errorf("-2 validated: %v", err)
	}
}
