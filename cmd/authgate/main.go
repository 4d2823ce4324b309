// Command authgate runs the authgate OAuth 2.0 / OpenID Connect provider
// and administers it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "authgate:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errUsage marks an error whose message was already printed with usage.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// command is one CLI command.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv is what every command gets: its streams and how to read settings.
type cliEnv struct {
	// serving is set for "serve": the server logs at the configured level;
	// the other commands log only warnings and errors, so that their
	// output stays readable.
	serving bool
	getenv  func(string) string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
}

func commands() []command {
	return []command{
		{"serve", "run the server (public and admin listeners)", cmdServe},
		{"migrate", "create or upgrade the database schema", cmdMigrate},
		{"keys", "manage signing keys: rotate, list", cmdKeys},
		{"clients", "manage OAuth clients: create, list, get, delete, rotate-secret, legacy", cmdClients},
		{"users", "manage users: create, list, get, delete, set-password, reset-token, unlock", cmdUsers},
		{"trusted-ips", "manage trusted IP ranges: add, list, remove", cmdTrustedIPs},
		{"app-passwords", "see and revoke users' app passwords: list, revoke", cmdAppPasswords},
		{"login-history", "show authentication attempts", cmdLoginHistory},
		{"legacy", "the migration workbench: who still uses the legacy grant, how to move them, what would break", cmdLegacy},
		{"mail", "see and retry failed mail: failed, retry", cmdMail},
		{"healthcheck", "exit 0 if the running server is ready, 1 if not (for container health checks)", cmdHealthcheck},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: authgate COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every command takes --config FILE and reads AUTHGATE_* environment variables.")
	fmt.Fprintln(w, "Run 'authgate COMMAND --help' for a command's flags, 'authgate --version' for the version.")
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := &cliEnv{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return nil
	case "--version", "-version", "version":
		printVersion(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(stderr, "authgate: unknown command %q\n\n", args[0])
	usage(stderr)
	return errUsage
}
