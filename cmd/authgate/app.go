package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/metrics"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/storage"
)

// flags is a command's flag set with the flags every command shares.
type flags struct {
	*flag.FlagSet
	configPath string
}

// newFlags returns a flag set for "authgate NAME"; synopsis follows the
// command name in the usage line.
func newFlags(env *cliEnv, name, synopsis string) *flags {
	fs := flag.NewFlagSet("authgate "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	f := &flags{FlagSet: fs}
	fs.StringVar(&f.configPath, "config", config.Path(env.getenv), "path to a YAML config file")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: authgate %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return f
}

// errHelp is returned by parse when --help was asked for; commands return
// nil for it.
var errHelp = flag.ErrHelp

// parse parses args; flags may come before or after positional arguments.
func (f *flags) parse(env *cliEnv, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			// Asked-for help is output, not an error: print it to stdout.
			f.SetOutput(env.stdout)
		}
	}
	var positional []string
	for {
		if err := f.FlagSet.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return errHelp
			}
			return errUsage
		}
		args = f.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	return f.FlagSet.Parse(append([]string{"--"}, positional...))
}

// helpOrErr turns errHelp into success.
func helpOrErr(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// app holds what commands work with, opened from the one configuration.
type app struct {
	cfg      config.Config
	logger   *slog.Logger
	store    *storage.Store
	keyring  *keyring.Keyring
	hasher   *password.Hasher
	accounts *accounts.Service
	// metrics counts what serve exposes at /metrics; the sign-in core
	// reports its lockouts to it.
	metrics *metrics.Metrics
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// loadConfig reads the settings and resolves the system secret.
func loadConfig(env *cliEnv, path string, logger *slog.Logger) (config.Config, error) {
	cfg, err := config.Load(env.getenv, path)
	if err != nil {
		return config.Config{}, fmt.Errorf("configuration:\n%w", err)
	}
	if cfg.Secret == "" {
		// Validate allows this only for SQLite.
		v, created, err := keyring.LoadOrCreateFile(cfg.SecretFile)
		if err != nil {
			return config.Config{}, err
		}
		if created {
			logger.Warn("generated a new system secret; keep this file private and back it up, or set AUTHGATE_SECRET", "file", cfg.SecretFile)
		}
		cfg.Secret = v
	}
	return cfg, nil
}

// openApp loads the configuration and opens the database. migrate runs
// the schema migration first (serve and migrate do; the other commands
// expect a migrated database but migrating is idempotent, so they do too).
func openApp(ctx context.Context, env *cliEnv, configPath string) (*app, func(), error) {
	boot := newLogger(env.stderr, "info")
	cfg, err := loadConfig(env, configPath, boot)
	if err != nil {
		return nil, nil, err
	}
	level := cfg.LogLevel
	if !env.serving && !cfg.LogLevelSet && (level == "info" || level == "debug") {
		level = "warn"
	}
	logger := newLogger(env.stderr, level)
	store, err := storage.OpenStore(ctx, cfg.DatabaseURL, storage.Options{MaxOpenConns: cfg.DBMaxOpenConns, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	closeDB := func() { _ = store.Close() }
	if err := store.Migrate(ctx); err != nil {
		closeDB()
		return nil, nil, err
	}
	keyring, err := keyring.New([]byte(cfg.Secret))
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	hasher, err := password.NewHasher(password.Params{Time: cfg.Argon2.Time, Memory: cfg.Argon2.Memory, Threads: cfg.Argon2.Threads}, cfg.Argon2.MaxConcurrent)
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	sqlDB, err := store.SQLDB()
	if err != nil {
		closeDB()
		return nil, nil, err
	}
	m := metrics.New(sqlDB)
	a := &app{
		cfg: cfg, logger: logger, store: store, keyring: keyring, hasher: hasher, metrics: m,
		accounts: accounts.New(store, keyring, hasher, accounts.Options{
			Organization:     cfg.Organization,
			LockoutThreshold: cfg.LockoutThreshold,
			LockoutDuration:  cfg.LockoutDuration,
			Logger:           logger,
			// Every lock the sign-in core starts, on any channel.
			OnLockout: func(ch signin.Channel) { m.Lockout(ch.String()) },
		}),
	}
	return a, closeDB, nil
}

// cliActor names the person at the terminal in the audit log.
func cliActor(env *cliEnv) string {
	if u := config.Operator(env.getenv); u != "" {
		return "cli:" + u
	}
	return "cli"
}

// splitList splits a comma- or space-separated flag value.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
