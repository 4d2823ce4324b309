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

// openApp loads the configuration and builds the application through the
// composition root, which opens and migrates the database (serve and
// migrate need that; for the other commands migrating is idempotent).
func openApp(ctx context.Context, env *cliEnv, configPath string) (*app.App, func(), error) {
	boot := newLogger(env.stderr, "info")
	cfg, err := loadConfig(env, configPath, boot)
	if err != nil {
		return nil, nil, err
	}
	level := cfg.LogLevel
	if !env.serving && !cfg.LogLevelSet && (level == "info" || level == "debug") {
		level = "warn"
	}
	a, err := app.New(ctx, cfg, app.Options{Logger: newLogger(env.stderr, level)})
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
