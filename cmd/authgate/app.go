package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/keyring"
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

// newLogger logs to w at level, as JSON lines or, with format "text", as
// key=value lines for a terminal.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// loadConfig reads the settings and resolves the system secret. Unless
// create is set (serve, migrate), an SQLite database must already exist:
// a command run from the wrong directory must not start a new, empty
// installation (and a new secret file) beside it.
func loadConfig(env *cliEnv, path string, create bool) (config.Config, error) {
	cfg, err := config.Load(env.getenv, path)
	if err != nil {
		return config.Config{}, fmt.Errorf("configuration:\n%w", err)
	}
	if !create {
		if err := databaseExists(env, cfg, path); err != nil {
			return config.Config{}, err
		}
	}
	if cfg.Secret == "" {
		// Validate allows this only for SQLite.
		v, created, err := keyring.LoadOrCreateFile(cfg.SecretFile)
		if err != nil {
			return config.Config{}, err
		}
		if created {
			newLogger(env.stderr, "info", cfg.LogFormat).Warn("generated a new system secret; keep this file private and back it up, or set AUTHGATE_SECRET", "file", cfg.SecretFile)
		}
		cfg.Secret = v
	}
	return cfg, nil
}

// databaseExists reports, for an SQLite database_url, a file that is not
// there: where it looked, where the setting came from and how to point
// the command at the right installation. PostgreSQL is left to connect
// (and fail loudly) as it is.
func databaseExists(env *cliEnv, cfg config.Config, configPath string) error {
	path, ok := cfg.SQLitePath()
	if !ok {
		return nil
	}
	_, err := os.Stat(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return nil // there, or a problem opening it reports better
	}
	abs, absErr := filepath.Abs(path)
	if absErr != nil {
		abs = path
	}
	from := "the default, relative to the working directory"
	switch {
	case env.getenv("AUTHGATE_DATABASE_URL") != "":
		from = "from AUTHGATE_DATABASE_URL"
	case configPath != "":
		from = "from " + configPath
	}
	wd, _ := os.Getwd()
	return fmt.Errorf("no authgate database at %s (database_url %s, %s; working directory %s). "+
		"This command does not create one: run it in the directory authgate serve runs in, "+
		"or name the installation with --config FILE or AUTHGATE_DATABASE_URL. "+
		"authgate serve or authgate migrate creates a new database", abs, cfg.DatabaseURL, from, wd)
}

// openApp loads the configuration and builds the application through the
// composition root, which opens and migrates the database (serve and
// migrate need that; for the other commands migrating is idempotent).
// create lets it make a new SQLite database; only serve and migrate may.
func openApp(ctx context.Context, env *cliEnv, configPath string, create bool) (*app.App, func(), error) {
	cfg, err := loadConfig(env, configPath, create)
	if err != nil {
		return nil, nil, err
	}
	level := cfg.LogLevel
	if !env.serving && !cfg.LogLevelSet && (level == "info" || level == "debug") {
		level = "warn"
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: newLogger(env.stderr, level, cfg.LogFormat)})
	if err != nil {
		return nil, nil, err
	}
	return a, func() { _ = a.Close() }, nil
}

// cliActor names the person at the terminal in the audit log, in the
// KIND:NAME form of every actor (see accounts.UserActor).
func cliActor(env *cliEnv) string {
	if u := config.Operator(env.getenv); u != "" {
		return "cli:" + u
	}
	return "cli:unknown"
}

// splitList splits a comma- or space-separated flag value.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
