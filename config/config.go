package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/authgate/authgate/internal/clientip"
)

// Config holds every setting authgate reads. It is loaded once by Load and
// passed by value. config is the one package that reads the environment
// (through the getenv it is given; see also env.go); the others are given
// values. cmd/authgate only reads a variable a command's flag names, such
// as bench --password-env, and the test helpers their own AUTHGATE_TEST_*
// and AUTHGATE_REQUIRE_* switches.
type Config struct {
	// DatabaseURL is sqlite://PATH or postgres://...
	DatabaseURL string `yaml:"database_url"`
	// Issuer is the public base URL of the server, e.g. https://id.example.com.
	Issuer string `yaml:"issuer"`
	// Listen is the public listener address.
	Listen string `yaml:"listen"`
	// AdminListen is the admin listener address.
	AdminListen string `yaml:"admin_listen"`
	// AdminURL is the base URL browsers reach the admin listener at; the
	// admin console's OAuth redirect URI is built from it. Default:
	// http://AdminListen.
	AdminURL string `yaml:"admin_url"`
	// Secret keys every HMAC and encryption. At least 32 bytes.
	Secret string `yaml:"secret"`
	// SecretFile is where a generated secret is kept for SQLite setups.
	SecretFile string `yaml:"secret_file"`

	Organization string `yaml:"organization"`

	AccessTokenLifespan   time.Duration `yaml:"access_token_lifespan"`
	RefreshTokenLifespan  time.Duration `yaml:"refresh_token_lifespan"`
	AuthorizeCodeLifespan time.Duration `yaml:"authorize_code_lifespan"`
	IDTokenLifespan       time.Duration `yaml:"id_token_lifespan"`
	SessionLifespan       time.Duration `yaml:"session_lifespan"`

	Argon2 Argon2 `yaml:"argon2"`

	// LegacyGrantDisabled switches the password grant off for every client.
	LegacyGrantDisabled bool          `yaml:"legacy_grant_disabled"`
	LockoutThreshold    int           `yaml:"lockout_threshold"`
	LockoutDuration     time.Duration `yaml:"lockout_duration"`
	// TrustedProxies are the peers whose X-Forwarded-For / Forwarded headers are believed.
	TrustedProxies []netip.Prefix `yaml:"-"`
	// ForwardedHeader names the one header the trusted proxies write,
	// x-forwarded-for or forwarded; only that one is believed. Unset, either
	// is believed alone, and a request carrying both is taken to come from
	// the proxy itself (see clientip.Header).
	ForwardedHeader clientip.Header `yaml:"forwarded_header"`
	// RateLimit bounds, per source address and per process, the requests
	// anyone can make to the endpoints that take a credential.
	RateLimit RateLimit `yaml:"rate_limit"`
	// LoginHistoryRetention is how long login history entries are kept.
	LoginHistoryRetention time.Duration `yaml:"login_history_retention"`

	Mail Mail `yaml:"mail"`

	MaxBodyBytes   int64         `yaml:"max_body_bytes"`
	RequestTimeout time.Duration `yaml:"request_timeout"`
	ShutdownGrace  time.Duration `yaml:"shutdown_grace"`
	LogLevel       string        `yaml:"log_level"`
	// LogLevelSet reports that AUTHGATE_LOG_LEVEL was given: commands other
	// than serve then log at LogLevel instead of their quieter warn.
	LogLevelSet bool `yaml:"-"`

	// Pprof serves net/http/pprof on the admin listener under /debug/pprof/.
	Pprof bool `yaml:"pprof"`

	// DBMaxOpenConns sizes the database connection pool.
	DBMaxOpenConns int `yaml:"db_max_open_conns"`
}

// Argon2 holds the argon2id parameters for user passwords.
type Argon2 struct {
	Time    uint32 `yaml:"time"`
	Memory  uint32 `yaml:"memory_kib"`
	Threads uint8  `yaml:"threads"`
	// MaxConcurrent bounds how many hashes run at once; 0 means the number of CPUs.
	MaxConcurrent int `yaml:"max_concurrent"`
}

// Mail configures delivery of security-token email.
type Mail struct {
	// Outbox is the folder the embedded transport writes .eml files into.
	// It is used when SMTPHost is empty.
	Outbox   string `yaml:"outbox"`
	From     string `yaml:"from"`
	SMTPHost string `yaml:"smtp_host"`
	SMTPPort int    `yaml:"smtp_port"`
	// SMTPTLS is "starttls", "implicit" or "none".
	SMTPTLS      string `yaml:"smtp_tls"`
	SMTPUsername string `yaml:"smtp_username"`
	SMTPPassword string `yaml:"smtp_password"`
	// PollInterval is how often the background sender looks for work.
	PollInterval time.Duration `yaml:"poll_interval"`
	MaxAttempts  int           `yaml:"max_attempts"`
}

// RateLimit is a per-source token bucket applied, each on its own, to the
// login page's POST, the password grant and security-token resets: PerMinute
// requests a minute on average, Burst at once. PerMinute 0 turns it off.
type RateLimit struct {
	PerMinute int `yaml:"per_minute"`
	Burst     int `yaml:"burst"`
}

// Default returns the configuration used when nothing is set: an embedded
// SQLite database in the working directory and loopback listeners.
func Default() Config {
	return Config{
		DatabaseURL:           "sqlite://./authgate.db",
		Issuer:                "http://127.0.0.1:8080",
		Listen:                "127.0.0.1:8080",
		AdminListen:           "127.0.0.1:8081",
		Organization:          "authgate",
		AccessTokenLifespan:   time.Hour,
		RefreshTokenLifespan:  30 * 24 * time.Hour,
		AuthorizeCodeLifespan: 10 * time.Minute,
		IDTokenLifespan:       time.Hour,
		SessionLifespan:       12 * time.Hour,
		Argon2:                Argon2{Time: 1, Memory: 64 * 1024, Threads: 2},
		LockoutThreshold:      10,
		LockoutDuration:       15 * time.Minute,
		LoginHistoryRetention: 180 * 24 * time.Hour,
		RateLimit:             RateLimit{PerMinute: 60, Burst: 20},
		Mail: Mail{
			From:         "authgate <no-reply@localhost>",
			SMTPPort:     587,
			SMTPTLS:      "starttls",
			PollInterval: 2 * time.Second,
			MaxAttempts:  12,
		},
		MaxBodyBytes:   64 << 10,
		RequestTimeout: 15 * time.Second,
		ShutdownGrace:  20 * time.Second,
		LogLevel:       "info",
		DBMaxOpenConns: 20,
	}
}

// fileConfig mirrors Config for YAML fields that need parsing.
type fileConfig struct {
	Config         `yaml:",inline"`
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Load builds the configuration: defaults, then the YAML file at path (if
// path is not empty), then AUTHGATE_* variables read through getenv. It
// validates the result.
func Load(getenv func(string) string, path string) (Config, error) {
	cfg := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config file: %w", err)
		}
		fc := fileConfig{Config: cfg}
		if err := yaml.Unmarshal(raw, &fc); err != nil {
			return Config{}, fmt.Errorf("parse config file %s: %w", path, err)
		}
		cfg = fc.Config
		if len(fc.TrustedProxies) > 0 {
			prefixes, err := clientip.ParsePrefixes(strings.Join(fc.TrustedProxies, ","))
			if err != nil {
				return Config{}, fmt.Errorf("trusted_proxies: %w", err)
			}
			cfg.TrustedProxies = prefixes
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return Config{}, err
	}
	cfg.LogLevelSet = getenv("AUTHGATE_LOG_LEVEL") != ""
	if err := cfg.resolveDefaults(); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func applyEnv(cfg *Config, getenv func(string) string) error {
	str := map[string]*string{
		"AUTHGATE_DATABASE_URL":  &cfg.DatabaseURL,
		"AUTHGATE_ISSUER":        &cfg.Issuer,
		"AUTHGATE_LISTEN":        &cfg.Listen,
		"AUTHGATE_ADMIN_LISTEN":  &cfg.AdminListen,
		"AUTHGATE_ADMIN_URL":     &cfg.AdminURL,
		"AUTHGATE_SECRET":        &cfg.Secret,
		"AUTHGATE_SECRET_FILE":   &cfg.SecretFile,
		"AUTHGATE_ORGANIZATION":  &cfg.Organization,
		"AUTHGATE_LOG_LEVEL":     &cfg.LogLevel,
		"AUTHGATE_MAIL_OUTBOX":   &cfg.Mail.Outbox,
		"AUTHGATE_MAIL_FROM":     &cfg.Mail.From,
		"AUTHGATE_SMTP_HOST":     &cfg.Mail.SMTPHost,
		"AUTHGATE_SMTP_TLS":      &cfg.Mail.SMTPTLS,
		"AUTHGATE_SMTP_USERNAME": &cfg.Mail.SMTPUsername,
		"AUTHGATE_SMTP_PASSWORD": &cfg.Mail.SMTPPassword,
	}
	for name, dst := range str {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	durations := map[string]*time.Duration{
		"AUTHGATE_ACCESS_TOKEN_LIFESPAN":   &cfg.AccessTokenLifespan,
		"AUTHGATE_REFRESH_TOKEN_LIFESPAN":  &cfg.RefreshTokenLifespan,
		"AUTHGATE_ID_TOKEN_LIFESPAN":       &cfg.IDTokenLifespan,
		"AUTHGATE_SESSION_LIFESPAN":        &cfg.SessionLifespan,
		"AUTHGATE_LOCKOUT_DURATION":        &cfg.LockoutDuration,
		"AUTHGATE_LOGIN_HISTORY_RETENTION": &cfg.LoginHistoryRetention,
		"AUTHGATE_REQUEST_TIMEOUT":         &cfg.RequestTimeout,
		"AUTHGATE_SHUTDOWN_GRACE":          &cfg.ShutdownGrace,
		"AUTHGATE_MAIL_POLL_INTERVAL":      &cfg.Mail.PollInterval,
	}
	for name, dst := range durations {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration (use e.g. 15m or 1h): %w", name, v, err)
			}
			*dst = d
		}
	}
	ints := map[string]*int{
		"AUTHGATE_LOCKOUT_THRESHOLD":     &cfg.LockoutThreshold,
		"AUTHGATE_RATE_LIMIT_PER_MINUTE": &cfg.RateLimit.PerMinute,
		"AUTHGATE_RATE_LIMIT_BURST":      &cfg.RateLimit.Burst,
		"AUTHGATE_SMTP_PORT":             &cfg.Mail.SMTPPort,
		"AUTHGATE_DB_MAX_OPEN_CONNS":     &cfg.DBMaxOpenConns,
		"AUTHGATE_ARGON2_CONCURRENCY":    &cfg.Argon2.MaxConcurrent,
	}
	for name, dst := range ints {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not a whole number", name, v)
			}
			*dst = n
		}
	}
	uints := map[string]*uint32{
		"AUTHGATE_ARGON2_TIME":       &cfg.Argon2.Time,
		"AUTHGATE_ARGON2_MEMORY_KIB": &cfg.Argon2.Memory,
	}
	for name, dst := range uints {
		if v := getenv(name); v != "" {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return fmt.Errorf("%s: %q is not a whole number", name, v)
			}
			*dst = uint32(n)
		}
	}
	if v := getenv("AUTHGATE_ARGON2_THREADS"); v != "" {
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			return fmt.Errorf("AUTHGATE_ARGON2_THREADS: %q is not a whole number from 1 to 255", v)
		}
		cfg.Argon2.Threads = uint8(n)
	}
	if v := getenv("AUTHGATE_LEGACY_GRANT_DISABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("AUTHGATE_LEGACY_GRANT_DISABLED: %q is not true or false", v)
		}
		cfg.LegacyGrantDisabled = b
	}
	if v := getenv("AUTHGATE_PPROF"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("AUTHGATE_PPROF: %q is not true or false", v)
		}
		cfg.Pprof = b
	}
	if v := getenv("AUTHGATE_TRUSTED_PROXIES"); v != "" {
		prefixes, err := clientip.ParsePrefixes(v)
		if err != nil {
			return fmt.Errorf("AUTHGATE_TRUSTED_PROXIES: %w", err)
		}
		cfg.TrustedProxies = prefixes
	}
	if v := getenv("AUTHGATE_FORWARDED_HEADER"); v != "" {
		cfg.ForwardedHeader = clientip.Header(v)
	}
	return nil
}

// resolveDefaults fills settings that derive from others.
func (c *Config) resolveDefaults() error {
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if c.AdminURL == "" {
		c.AdminURL = "http://" + c.AdminListen
	}
	c.AdminURL = strings.TrimRight(c.AdminURL, "/")
	if h, err := clientip.ParseHeader(string(c.ForwardedHeader)); err == nil {
		c.ForwardedHeader = h // Validate reports the rest
	}
	if path, ok := c.SQLitePath(); ok {
		dir := filepath.Dir(path)
		if c.Mail.Outbox == "" {
			c.Mail.Outbox = filepath.Join(dir, "authgate-outbox")
		}
		if c.SecretFile == "" {
			c.SecretFile = filepath.Join(dir, "authgate.secret")
		}
	}
	return nil
}

// SQLitePath returns the database file path when DatabaseURL names SQLite.
func (c Config) SQLitePath() (string, bool) {
	path, ok := strings.CutPrefix(c.DatabaseURL, "sqlite://")
	return path, ok
}

// IsPostgres reports whether DatabaseURL names PostgreSQL.
func (c Config) IsPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// Validate reports every setting that is wrong, with what to do about it.
func (c Config) Validate() error {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	path, isSQLite := c.SQLitePath()
	check(!isSQLite && !c.IsPostgres(), "database_url: %q is not supported; use sqlite://PATH or postgres://USER@HOST:PORT/DB", redactURL(c.DatabaseURL))
	check(isSQLite && path == "", "database_url: sqlite:// needs a file path, e.g. sqlite://./authgate.db")
	if c.IsPostgres() {
		_, err := url.Parse(c.DatabaseURL)
		check(err != nil, "database_url: not a valid URL")
		check(c.Secret == "", "secret: AUTHGATE_SECRET is required with PostgreSQL (at least 32 bytes, the same on every replica)")
	}
	check(c.Secret != "" && len(c.Secret) < 32, "secret: AUTHGATE_SECRET must be at least 32 bytes, got %d", len(c.Secret))
	u, err := url.Parse(c.Issuer)
	check(err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "",
		"issuer: %q must be an absolute http(s) URL without query or fragment", c.Issuer)
	au, err := url.Parse(c.AdminURL)
	check(err != nil || (au.Scheme != "http" && au.Scheme != "https") || au.Host == "", "admin_url: %q must be an absolute http(s) URL", c.AdminURL)
	_, _, err = splitHostPort(c.Listen)
	check(err != nil, "listen: %q must be HOST:PORT: %v", c.Listen, err)
	_, _, err = splitHostPort(c.AdminListen)
	check(err != nil, "admin_listen: %q must be HOST:PORT: %v", c.AdminListen, err)
	check(c.Organization == "", "organization: must not be empty (it names the security-token email)")
	for name, d := range map[string]time.Duration{
		"access_token_lifespan": c.AccessTokenLifespan, "refresh_token_lifespan": c.RefreshTokenLifespan,
		"authorize_code_lifespan": c.AuthorizeCodeLifespan, "id_token_lifespan": c.IDTokenLifespan,
		"session_lifespan": c.SessionLifespan, "lockout_duration": c.LockoutDuration,
		"request_timeout": c.RequestTimeout, "shutdown_grace": c.ShutdownGrace,
		"login_history_retention": c.LoginHistoryRetention, "mail.poll_interval": c.Mail.PollInterval,
	} {
		check(d <= 0, "%s: must be positive, got %s", name, d)
	}
	check(c.Argon2.Time < 1, "argon2.time: must be at least 1")
	check(c.Argon2.Memory < 8*1024, "argon2.memory_kib: must be at least 8192 (8 MiB)")
	check(c.Argon2.Threads < 1, "argon2.threads: must be at least 1")
	check(c.Argon2.MaxConcurrent < 0, "argon2.max_concurrent: must not be negative")
	check(c.LockoutThreshold < 1, "lockout_threshold: must be at least 1")
	_, err = clientip.ParseHeader(string(c.ForwardedHeader))
	check(err != nil, "forwarded_header: %v", err)
	check(c.RateLimit.PerMinute < 0, "rate_limit.per_minute: must not be negative (0 turns the limit off)")
	check(c.RateLimit.Burst < 1, "rate_limit.burst: must be at least 1")
	check(c.MaxBodyBytes < 1024, "max_body_bytes: must be at least 1024")
	check(c.DBMaxOpenConns < 1, "db_max_open_conns: must be at least 1")
	switch c.Mail.SMTPTLS {
	case "starttls", "implicit", "none":
	default:
		check(true, "mail.smtp_tls: %q must be starttls, implicit or none", c.Mail.SMTPTLS)
	}
	check(c.Mail.SMTPHost != "" && (c.Mail.SMTPPort < 1 || c.Mail.SMTPPort > 65535), "mail.smtp_port: %d is not a port", c.Mail.SMTPPort)
	check(c.Mail.SMTPHost == "" && c.Mail.Outbox == "", "mail: set smtp_host or outbox (AUTHGATE_MAIL_OUTBOX)")
	check(c.Mail.MaxAttempts < 1, "mail.max_attempts: must be at least 1")
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		check(true, "log_level: %q must be debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(errs...)
}

// IssuerIsHTTPS reports whether cookies must be marked Secure.
func (c Config) IssuerIsHTTPS() bool { return strings.HasPrefix(c.Issuer, "https://") }

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if len(raw) > 40 {
			return raw[:40] + "..."
		}
		return raw
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", 0, errors.New("missing port")
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, errors.New("bad port")
	}
	return addr[:i], port, nil
}

// TokenRetention is the longest lifetime of a token signed by a signing
// key: a retired key stays published in the JWKS this long.
func (c Config) TokenRetention() time.Duration {
	d := c.AccessTokenLifespan
	if c.IDTokenLifespan > d {
		d = c.IDTokenLifespan
	}
	return d + 5*time.Minute
}
