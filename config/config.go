package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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
	// Where the data lives: sqlite://PATH (a file, created by serve or
	// migrate) or postgres://USER@HOST:PORT/DB. For a primary with
	// standbys, list every host with target_session_attrs=read-write:
	// postgres://USER@H1:5432,H2:5432/DB?target_session_attrs=read-write
	// (see docs/SCALING.md).
	DatabaseURL string `yaml:"database_url" env:"AUTHGATE_DATABASE_URL"`
	// The public base URL, e.g. https://id.example.com; tokens name it and
	// cookies are Secure and __Host- prefixed unless it is plain http on a
	// loopback host.
	Issuer string `yaml:"issuer" env:"AUTHGATE_ISSUER"`
	// The public listener's address, HOST:PORT (0.0.0.0:8080 for every
	// interface).
	Listen string `yaml:"listen" env:"AUTHGATE_LISTEN"`
	// The admin listener's address (admin API, console, metrics).
	AdminListen string `yaml:"admin_listen" env:"AUTHGATE_ADMIN_LISTEN"`
	// The base URL browsers reach the admin listener at; the console's
	// OAuth redirect URI is built from it. Empty means http:// and
	// admin_listen, which a browser cannot reach when that is 0.0.0.0.
	AdminURL string `yaml:"admin_url" env:"AUTHGATE_ADMIN_URL"`
	// The system secret, at least 32 bytes: it keys every HMAC and
	// encryption. Required with PostgreSQL, the same on every replica;
	// with SQLite it is generated into secret_file when empty.
	Secret string `yaml:"secret" env:"AUTHGATE_SECRET"`
	// Where a generated secret is kept for SQLite setups. Empty means
	// authgate.secret beside the database file.
	SecretFile string `yaml:"secret_file" env:"AUTHGATE_SECRET_FILE"`

	// The organization's name, shown in the security-token email.
	Organization string `yaml:"organization" env:"AUTHGATE_ORGANIZATION"`

	// How long an access token is valid.
	AccessTokenLifespan time.Duration `yaml:"access_token_lifespan" env:"AUTHGATE_ACCESS_TOKEN_LIFESPAN"`
	// How long a refresh token is valid.
	RefreshTokenLifespan time.Duration `yaml:"refresh_token_lifespan" env:"AUTHGATE_REFRESH_TOKEN_LIFESPAN"`
	// How long an authorization code can be redeemed.
	AuthorizeCodeLifespan time.Duration `yaml:"authorize_code_lifespan" env:"AUTHGATE_AUTHORIZE_CODE_LIFESPAN"`
	// How long an ID token is valid.
	IDTokenLifespan time.Duration `yaml:"id_token_lifespan" env:"AUTHGATE_ID_TOKEN_LIFESPAN"`
	// How long a browser sign-in session lasts.
	SessionLifespan time.Duration `yaml:"session_lifespan" env:"AUTHGATE_SESSION_LIFESPAN"`
	// How long relying parties may cache the signing keys: the max-age of
	// /.well-known/jwks.json's Cache-Control. A key made by "keys rotate"
	// is published this long plus key_refresh_interval before it signs.
	JWKSMaxAge time.Duration `yaml:"jwks_max_age" env:"AUTHGATE_JWKS_MAX_AGE"`
	// How often each replica reloads the signing keys from the database:
	// how soon it publishes a key another replica or the CLI made.
	KeyRefreshInterval time.Duration `yaml:"key_refresh_interval" env:"AUTHGATE_KEY_REFRESH_INTERVAL"`

	Argon2 Argon2 `yaml:"argon2"`

	// Switches the password grant off for every client.
	LegacyGrantDisabled bool `yaml:"legacy_grant_disabled" env:"AUTHGATE_LEGACY_GRANT_DISABLED"`
	// Where owners read how to move off the password grant, for clients
	// without a migration URL of their own: brownout refusals and sunset
	// notices name it. Empty, they name the ways off without a link.
	LegacyMigrationURL string `yaml:"legacy_migration_url" env:"AUTHGATE_LEGACY_MIGRATION_URL"`
	// The days before a client's sunset on which every user who used its
	// legacy grant recently gets one notice email, e.g. 30,7,1 (a YAML list
	// or a comma-separated string).
	LegacyNoticeDays Days `yaml:"legacy_notice_days" env:"AUTHGATE_LEGACY_NOTICE_DAYS"`
	// How far back a use of the legacy grant makes a user one to notify.
	LegacyNoticeLookback time.Duration `yaml:"legacy_notice_lookback" env:"AUTHGATE_LEGACY_NOTICE_LOOKBACK"`
	// How often the background janitor runs: pruning, revoking what a
	// sunset ended, sending due sunset notices.
	JanitorInterval time.Duration `yaml:"janitor_interval" env:"AUTHGATE_JANITOR_INTERVAL"`
	// Failed sign-ins (login page and password grant) before a user is locked.
	LockoutThreshold int `yaml:"lockout_threshold" env:"AUTHGATE_LOCKOUT_THRESHOLD"`
	// How long a lock lasts.
	LockoutDuration time.Duration `yaml:"lockout_duration" env:"AUTHGATE_LOCKOUT_DURATION"`
	// The peers whose forwarding header is believed: CIDRs or addresses, a
	// YAML list or a comma-separated string.
	TrustedProxies Prefixes `yaml:"trusted_proxies" env:"AUTHGATE_TRUSTED_PROXIES"`
	// The one header the trusted proxies write, x-forwarded-for or
	// forwarded; only that one is believed. Empty, either is believed
	// alone, and a request carrying both is taken to come from the proxy
	// itself.
	ForwardedHeader clientip.Header `yaml:"forwarded_header" env:"AUTHGATE_FORWARDED_HEADER"`
	// The longest expiry a user may give an app password; one created
	// without an expiry gets this one. 0 means no limit (and app passwords
	// created without an expiry never expire).
	AppPasswordMaxLifetime time.Duration `yaml:"app_password_max_lifetime" env:"AUTHGATE_APP_PASSWORD_MAX_LIFETIME"`
	// A password change revokes the user's app passwords (by default they
	// survive it: each serves one integration, which should not break when
	// the password changes).
	AppPasswordRevokeOnPasswordChange bool `yaml:"app_password_revoke_on_password_change" env:"AUTHGATE_APP_PASSWORD_REVOKE_ON_PASSWORD_CHANGE"`
	// RateLimit bounds, per source address and per process, the requests
	// anyone can make to the endpoints that take a credential.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Login history older than this is pruned.
	LoginHistoryRetention time.Duration `yaml:"login_history_retention" env:"AUTHGATE_LOGIN_HISTORY_RETENTION"`

	Mail Mail `yaml:"mail"`
	// MFA configures second factors.
	MFA MFA `yaml:"mfa"`

	// Device configures the device authorization grant (RFC 8628).
	Device Device `yaml:"device"`

	// Links configures the links authgate emails: password resets,
	// address verifications and email changes.
	Links Links `yaml:"links"`

	// The largest request body accepted, in bytes.
	MaxBodyBytes int64 `yaml:"max_body_bytes" env:"AUTHGATE_MAX_BODY_BYTES"`
	// How long a request may take before it is cut off.
	RequestTimeout time.Duration `yaml:"request_timeout" env:"AUTHGATE_REQUEST_TIMEOUT"`
	// How long serve waits for requests in flight when asked to stop.
	ShutdownGrace time.Duration `yaml:"shutdown_grace" env:"AUTHGATE_SHUTDOWN_GRACE"`
	// debug, info, warn or error. Commands other than serve log only
	// warnings unless it is set.
	LogLevel string `yaml:"log_level" env:"AUTHGATE_LOG_LEVEL"`
	// json (one object a line, for servers and log collectors) or text
	// (key=value, for a terminal).
	LogFormat string `yaml:"log_format" env:"AUTHGATE_LOG_FORMAT"`
	// LogLevelSet reports that AUTHGATE_LOG_LEVEL was given: commands other
	// than serve then log at LogLevel instead of their quieter warn.
	LogLevelSet bool `yaml:"-"`

	// Serves net/http/pprof on the admin listener under /debug/pprof/.
	Pprof bool `yaml:"pprof" env:"AUTHGATE_PPROF"`

	// The Go runtime's soft memory limit for `serve`, in MiB. 0 (the
	// default) derives it from the password hashing settings: 1.5 × the
	// memory of the argon2id hashes that may run at once + 8 MiB, at
	// least 128 MiB (200 MiB with the defaults on two CPUs). -1 sets
	// none. The garbage collector works harder near it and returns freed
	// memory to the system. GOMEMLIMIT in the environment, when set, wins.
	MemoryLimitMiB int `yaml:"memory_limit_mib" env:"AUTHGATE_MEMORY_LIMIT_MIB"`

	// Lets requests to addresses that clients register (back-channel
	// logout URIs, private_key_jwt clients' jwks_uri) reach loopback,
	// private and link-local addresses. Off,
	// only public addresses are called: a client cannot make authgate
	// probe its own network. Turn it on only when every client is trusted
	// or lives on the private network (tests do).
	OutboundAllowPrivate bool `yaml:"outbound_allow_private" env:"AUTHGATE_OUTBOUND_ALLOW_PRIVATE"`

	// The size of the database connection pool, per process.
	DBMaxOpenConns int `yaml:"db_max_open_conns" env:"AUTHGATE_DB_MAX_OPEN_CONNS"`

	// How long a passkey ceremony (registering a passkey, signing in with
	// one) may take from its start to its finish; its challenge is refused
	// after that. Passkeys need an issuer whose host is a domain name
	// (localhost will do), not an IP address.
	PasskeyTimeout time.Duration `yaml:"passkey_timeout" env:"AUTHGATE_PASSKEY_TIMEOUT"`
}

// Argon2 holds the argon2id parameters for user passwords.
type Argon2 struct {
	// argon2id passes over memory.
	Time uint32 `yaml:"time" env:"AUTHGATE_ARGON2_TIME"`
	// argon2id memory per hash, in KiB (at least 8192).
	Memory uint32 `yaml:"memory_kib" env:"AUTHGATE_ARGON2_MEMORY_KIB"`
	// argon2id lanes per hash.
	Threads uint8 `yaml:"threads" env:"AUTHGATE_ARGON2_THREADS"`
	// How many hashes run at once; the rest queue until their request's
	// deadline. 0 means the number of CPUs.
	MaxConcurrent int `yaml:"max_concurrent" env:"AUTHGATE_ARGON2_CONCURRENCY"`
}

// MFA configures second factors (TOTP) and who must use them.
type MFA struct {
	// Who must sign in with a second factor: optional (nobody, unless a
	// client or the user requires it), admins, or all. A user who must
	// and has none sets one up right after the password.
	Required string `yaml:"required" env:"AUTHGATE_MFA_REQUIRED"`
	// How long the second step of a sign-in (after the password) may take.
	StepLifespan time.Duration `yaml:"step_lifespan" env:"AUTHGATE_MFA_STEP_LIFESPAN"`
}

// Mail configures delivery of security-token email.
type Mail struct {
	// The folder .eml files are written into when smtp_host is empty.
	// Empty means authgate-outbox beside the SQLite database.
	Outbox string `yaml:"outbox" env:"AUTHGATE_MAIL_OUTBOX"`
	// The sender of every mail.
	From string `yaml:"from" env:"AUTHGATE_MAIL_FROM"`
	// The SMTP server; empty means mail goes to the outbox folder.
	SMTPHost string `yaml:"smtp_host" env:"AUTHGATE_SMTP_HOST"`
	// The SMTP server's port.
	SMTPPort int `yaml:"smtp_port" env:"AUTHGATE_SMTP_PORT"`
	// starttls, implicit or none.
	SMTPTLS string `yaml:"smtp_tls" env:"AUTHGATE_SMTP_TLS"`
	// The SMTP user name, if the server wants one.
	SMTPUsername string `yaml:"smtp_username" env:"AUTHGATE_SMTP_USERNAME"`
	// The SMTP password.
	SMTPPassword string `yaml:"smtp_password" env:"AUTHGATE_SMTP_PASSWORD"`
	// How often the background sender looks for mail to send.
	PollInterval time.Duration `yaml:"poll_interval" env:"AUTHGATE_MAIL_POLL_INTERVAL"`
	// How many times a mail is tried before it is reported as failed.
	MaxAttempts int `yaml:"max_attempts" env:"AUTHGATE_MAIL_MAX_ATTEMPTS"`
}

// Device configures the device authorization grant (RFC 8628): how long
// its codes live, how often a device may poll, and how many wrong user
// codes one browser session may enter.
type Device struct {
	// How long a device code and its user code can be used.
	CodeLifespan time.Duration `yaml:"code_lifespan" env:"AUTHGATE_DEVICE_CODE_LIFESPAN"`
	// The least time between two polls of the token endpoint (the
	// response's interval, in whole seconds); a poll sooner gets
	// slow_down and 5 more seconds.
	PollInterval time.Duration `yaml:"poll_interval" env:"AUTHGATE_DEVICE_POLL_INTERVAL"`
	// Wrong user codes one browser session may enter at /device before it
	// is refused for the rest of the code lifespan.
	MaxCodeAttempts int `yaml:"max_code_attempts" env:"AUTHGATE_DEVICE_MAX_CODE_ATTEMPTS"`
}

// Links configures the single-use links sent by email.
type Links struct {
	// Link emails (password resets, verifications, email changes) one
	// account may be sent in an hour, whoever asks and from wherever; 0
	// turns the limit off.
	EmailsPerHour int `yaml:"emails_per_hour" env:"AUTHGATE_LINK_EMAILS_PER_HOUR"`
	// Forgotten-password requests one source address (an IPv4 address or
	// an IPv6 /64) may make in an hour, whatever account they name, per
	// process; 0 turns the limit off.
	RequestsPerHour int `yaml:"requests_per_hour" env:"AUTHGATE_LINK_REQUESTS_PER_HOUR"`
	// How long a password-reset link works.
	ResetLifespan time.Duration `yaml:"reset_lifespan" env:"AUTHGATE_RESET_LINK_LIFESPAN"`
	// How long a link that verifies an address (or confirms a new one)
	// works.
	VerifyLifespan time.Duration `yaml:"verify_lifespan" env:"AUTHGATE_VERIFY_LINK_LIFESPAN"`
}

// RateLimit is a per-source token bucket applied, each on its own, to the
// login page's POST, the password grant and security-token resets: PerMinute
// requests a minute on average, Burst at once. PerMinute 0 turns it off.
type RateLimit struct {
	// Requests a minute per source address, on average; 0 turns the limit off.
	PerMinute int `yaml:"per_minute" env:"AUTHGATE_RATE_LIMIT_PER_MINUTE"`
	// Requests a source may make at once.
	Burst int `yaml:"burst" env:"AUTHGATE_RATE_LIMIT_BURST"`
}

// Days is a list of whole days. In YAML it is a list or one
// comma-separated string.
type Days []int

// ParseDays reads a comma-separated list of days, each from 1 to 365.
func ParseDays(s string) (Days, error) {
	var out Days
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 || n > 365 {
			return nil, fmt.Errorf("%q is not a number of days from 1 to 365", part)
		}
		out = append(out, n)
	}
	return out, nil
}

// String writes d as ParseDays reads it.
func (d Days) String() string {
	parts := make([]string, len(d))
	for i, n := range d {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

// UnmarshalYAML parses a list or a comma-separated string of days.
func (d *Days) UnmarshalYAML(n *yaml.Node) error {
	var list string
	switch n.Kind {
	case yaml.ScalarNode:
		list = n.Value
	case yaml.SequenceNode:
		var items []string
		if err := n.Decode(&items); err != nil {
			return err
		}
		list = strings.Join(items, ",")
	default:
		return fmt.Errorf("line %d: want a list of days", n.Line)
	}
	days, err := ParseDays(list)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = days
	return nil
}

// Prefixes is a list of address ranges. In YAML it is a list or one
// comma-separated string; a bare address means that one address.
type Prefixes []netip.Prefix

// UnmarshalYAML parses a list or a comma-separated string of CIDRs.
func (p *Prefixes) UnmarshalYAML(n *yaml.Node) error {
	var list string
	switch n.Kind {
	case yaml.ScalarNode:
		list = n.Value
	case yaml.SequenceNode:
		var items []string
		if err := n.Decode(&items); err != nil {
			return err
		}
		list = strings.Join(items, ",")
	default:
		return fmt.Errorf("line %d: want a list of CIDRs", n.Line)
	}
	prefixes, err := clientip.ParsePrefixes(list)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*p = prefixes
	return nil
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
		JWKSMaxAge:            5 * time.Minute,
		KeyRefreshInterval:    10 * time.Second,
		Argon2:                Argon2{Time: 1, Memory: 64 * 1024, Threads: 2},
		LockoutThreshold:      10,
		LockoutDuration:       15 * time.Minute,
		LoginHistoryRetention: 180 * 24 * time.Hour,
		PasskeyTimeout:        5 * time.Minute,
		LegacyNoticeDays:      Days{30, 7, 1},
		LegacyNoticeLookback:  90 * 24 * time.Hour,
		JanitorInterval:       10 * time.Minute,
		RateLimit:             RateLimit{PerMinute: 60, Burst: 20},
		Mail: Mail{
			From:         "authgate <no-reply@localhost>",
			SMTPPort:     587,
			SMTPTLS:      "starttls",
			PollInterval: 2 * time.Second,
			MaxAttempts:  12,
		},
		MFA:            MFA{Required: "optional", StepLifespan: 5 * time.Minute},
		Device:         Device{CodeLifespan: 10 * time.Minute, PollInterval: 5 * time.Second, MaxCodeAttempts: 5},
		Links:          Links{EmailsPerHour: 5, RequestsPerHour: 20, ResetLifespan: time.Hour, VerifyLifespan: 24 * time.Hour},
		MaxBodyBytes:   64 << 10,
		RequestTimeout: 15 * time.Second,
		ShutdownGrace:  20 * time.Second,
		LogLevel:       "info",
		LogFormat:      "json",
		DBMaxOpenConns: 20,

		// A year: an integration's credential should be renewed at least
		// that often.
		AppPasswordMaxLifetime: 365 * 24 * time.Hour,
	}
}

// Load builds the configuration: defaults, then the YAML file at path (if
// path is not empty), then AUTHGATE_* variables read through getenv. It
// validates the result. A key the file does not know is refused, naming
// the key and the file.
func Load(getenv func(string) string, path string) (Config, error) {
	cfg := Default()
	if path != "" {
		if err := loadFile(&cfg, path); err != nil {
			return Config{}, err
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
		// pgx's own parser, not net/url: a multi-host URL
		// (postgres://h1:5432,h2:5432/db?target_session_attrs=read-write)
		// is valid for pgx and an "invalid port" for net/url.
		_, err := pgconn.ParseConfig(c.DatabaseURL)
		check(err != nil, "database_url: %q is not a valid PostgreSQL URL", redactURL(c.DatabaseURL))
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
	if c.LegacyMigrationURL != "" {
		mu, err := url.Parse(c.LegacyMigrationURL)
		check(err != nil || (mu.Scheme != "http" && mu.Scheme != "https") || mu.Host == "" || mu.User != nil,
			"legacy_migration_url: %q must be an absolute http(s) URL without credentials", c.LegacyMigrationURL)
	}
	check(c.Organization == "", "organization: must not be empty (it names the security-token email)")
	for name, d := range map[string]time.Duration{
		"access_token_lifespan": c.AccessTokenLifespan, "refresh_token_lifespan": c.RefreshTokenLifespan,
		"authorize_code_lifespan": c.AuthorizeCodeLifespan, "id_token_lifespan": c.IDTokenLifespan,
		"session_lifespan": c.SessionLifespan, "lockout_duration": c.LockoutDuration,
		"request_timeout": c.RequestTimeout, "shutdown_grace": c.ShutdownGrace,
		"login_history_retention": c.LoginHistoryRetention, "mail.poll_interval": c.Mail.PollInterval,
		"passkey_timeout":        c.PasskeyTimeout,
		"mfa.step_lifespan":      c.MFA.StepLifespan,
		"legacy_notice_lookback": c.LegacyNoticeLookback, "janitor_interval": c.JanitorInterval,
		"key_refresh_interval": c.KeyRefreshInterval,
	} {
		check(d <= 0, "%s: must be positive, got %s", name, d)
	}
	check(c.Argon2.Time < 1, "argon2.time: must be at least 1")
	check(c.Argon2.Memory < 8*1024, "argon2.memory_kib: must be at least 8192 (8 MiB)")
	check(c.Argon2.Threads < 1, "argon2.threads: must be at least 1")
	check(c.Argon2.MaxConcurrent < 0, "argon2.max_concurrent: must not be negative")
	check(c.JWKSMaxAge < 0 || c.JWKSMaxAge%time.Second != 0, "jwks_max_age: must be whole seconds, not negative, got %s", c.JWKSMaxAge)
	check(c.LockoutThreshold < 1, "lockout_threshold: must be at least 1")
	check(c.AppPasswordMaxLifetime < 0, "app_password_max_lifetime: must not be negative (0 means no limit)")
	_, err = clientip.ParseHeader(string(c.ForwardedHeader))
	check(err != nil, "forwarded_header: %v", err)
	check(c.RateLimit.PerMinute < 0, "rate_limit.per_minute: must not be negative (0 turns the limit off)")
	check(c.RateLimit.Burst < 1, "rate_limit.burst: must be at least 1")
	check(c.MaxBodyBytes < 1024, "max_body_bytes: must be at least 1024")
	check(c.DBMaxOpenConns < 1, "db_max_open_conns: must be at least 1")
	check(c.MemoryLimitMiB < -1, "memory_limit_mib: must be a size in MiB, 0 (derived from the argon2id settings) or -1 (none)")
	switch c.Mail.SMTPTLS {
	case "starttls", "implicit", "none":
	default:
		check(true, "mail.smtp_tls: %q must be starttls, implicit or none", c.Mail.SMTPTLS)
	}
	check(c.Mail.SMTPHost != "" && (c.Mail.SMTPPort < 1 || c.Mail.SMTPPort > 65535), "mail.smtp_port: %d is not a port", c.Mail.SMTPPort)
	check(c.Mail.SMTPHost == "" && c.Mail.Outbox == "", "mail: set smtp_host or outbox (AUTHGATE_MAIL_OUTBOX)")
	check(c.Mail.MaxAttempts < 1, "mail.max_attempts: must be at least 1")
	switch c.MFA.Required {
	case "optional", "admins", "all":
	default:
		check(true, "mfa.required: %q must be optional, admins or all", c.MFA.Required)
	}
	check(c.Device.CodeLifespan < time.Second, "device.code_lifespan: must be at least 1s, got %s", c.Device.CodeLifespan)
	check(c.Device.PollInterval < time.Second || c.Device.PollInterval%time.Second != 0, "device.poll_interval: must be a whole number of seconds, at least 1s, got %s", c.Device.PollInterval)
	check(c.Device.MaxCodeAttempts < 1, "device.max_code_attempts: must be at least 1")
	check(c.Links.RequestsPerHour < 0, "links.requests_per_hour: must not be negative (0 turns the limit off)")
	check(c.Links.EmailsPerHour < 0, "links.emails_per_hour: must not be negative (0 turns the limit off)")
	check(c.Links.ResetLifespan < time.Minute, "links.reset_lifespan: must be at least 1m, got %s", c.Links.ResetLifespan)
	check(c.Links.VerifyLifespan < time.Minute, "links.verify_lifespan: must be at least 1m, got %s", c.Links.VerifyLifespan)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		check(true, "log_level: %q must be debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		check(true, "log_format: %q must be json or text", c.LogFormat)
	}
	return errors.Join(errs...)
}

// IssuerIsHTTPS reports whether cookies must be marked Secure.
func (c Config) IssuerIsHTTPS() bool { return strings.HasPrefix(c.Issuer, "https://") }

// passwordParam is a password given as a query parameter, which pgx
// accepts as well as one in the user information.
var passwordParam = regexp.MustCompile(`(?i)([?&]password=)[^&]*`)

// redactURL returns raw without its password, for error messages.
func redactURL(raw string) string {
	return passwordParam.ReplaceAllString(redactUserinfo(raw), "${1}xxxxx")
}

func redactUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err == nil {
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		return u.String()
	}
	// net/url refuses a multi-host URL (h1:5432,h2:5432): cut the
	// password out of the user information by hand.
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if len(raw) > 40 {
			return raw[:40] + "..."
		}
		return raw
	}
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		user, _, _ := strings.Cut(authority[:at], ":")
		authority = user + "@" + authority[at+1:]
	}
	return scheme + "://" + authority + path
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

// KeyPrePublish is how long a rotated signing key is published before it
// signs: the JWKS cache lifetime plus the replicas' key refresh interval,
// so that every replica publishes it and every verifier that follows the
// JWKS's Cache-Control holds it before any token it signed.
func (c Config) KeyPrePublish() time.Duration {
	return c.JWKSMaxAge + c.KeyRefreshInterval
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

// MemoryLimit returns the soft memory limit in bytes that `serve` sets, or
// 0 for none (see MemoryLimitMiB).
//
// Derived, it is one and a half times the memory of the password hashes
// that may run at once, plus 8 MiB, and at least
// MinDerivedMemoryLimitMiB: with the defaults (two CPUs, 64 MiB hashes)
// 200 MiB. The hashes reuse their memory (internal/password), so the
// collector meets the limit only when a hash's buffer has to be made
// anew, and the password grant keeps its throughput (docs/PERFORMANCE.md).
func (c *Config) MemoryLimit() int64 {
	switch {
	case c.MemoryLimitMiB > 0:
		return int64(c.MemoryLimitMiB) << 20
	case c.MemoryLimitMiB < 0:
		return 0
	}
	hashes := int64(c.Argon2.MaxConcurrent)
	if hashes <= 0 {
		hashes = int64(runtime.NumCPU())
	}
	limit := hashes*int64(c.Argon2.Memory)<<10*3/2 + 8<<20
	return max(limit, MinDerivedMemoryLimitMiB<<20)
}

// MinDerivedMemoryLimitMiB is the least memory limit MemoryLimit derives.
const MinDerivedMemoryLimitMiB = 128
