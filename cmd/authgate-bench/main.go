// Command authgate-bench load-tests any OAuth 2.0 / OpenID Connect server.
// It is its own binary, kept out of the server: the server under load may
// be anyone's, and it needs no database.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/loadtest"
)

const benchSynopsis = `Usage: authgate-bench --scenario SCENARIO --issuer URL [flags]

Load-tests any OAuth 2.0 / OpenID Connect server with standard requests and
prints requests/s, latency p50/p90/p99/max, and failures by HTTP status,
OAuth error code and transport error. It needs no database. It exits 1
when every counted request failed, 2 on a usage error.

Scenarios:
  client_credentials  token requests, client authenticated with HTTP Basic
  password            resource-owner password grant (give the password as the
                      server expects it, e.g. with the security token appended)
  refresh             each worker rotates its own refresh token; the first comes
                      from the password grant, or the code flow with --flow code
  introspect          introspects one access token got by client credentials
  authorization_code  the full browser flow per iteration: authorize (PKCE,
                      state), login form, consent form, code exchange
  jwks                GET the JWKS
  discovery           GET the OpenID configuration
  device              the device flow (RFC 8628) per iteration: device
                      authorization, then as the person: login form, code
                      entry and approval at the verification URI; then the
                      device's token request

Endpoints come from ISSUER/.well-known/openid-configuration unless given
with --token-url, --authorize-url, --introspect-url, --jwks-url or
--device-authorize-url.

Examples:
  authgate-bench --scenario discovery --issuer https://id.example.com
  AG_SECRET=... authgate-bench --scenario client_credentials --issuer https://id.example.com \
      --client-id service --client-secret-env AG_SECRET --concurrency 32 --duration 20s --warmup 5s
  printf '%s\n' "$PASSWORD" | authgate-bench --scenario authorization_code --issuer https://id.example.com \
      --client-id webapp --client-secret-env AG_SECRET --redirect-uri https://app.example.com/cb \
      --scope openid --username alice --password-stdin --reuse-session`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "authgate-bench:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errUsage marks an error whose message was already printed with usage.
var errUsage = errors.New("usage")

// errAllFailed is returned when the run counted requests and none
// succeeded: a script must not take that for a measurement.
var errAllFailed = errors.New("every request failed")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// env is what run gets from the process: its streams and how to read a
// variable a flag names.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// run is main without the process: tests call it directly. It opens no
// database: the server under load may be anyone's.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	f := flag.NewFlagSet("authgate-bench", flag.ContinueOnError)
	f.SetOutput(env.stderr)
	f.Usage = func() {
		fmt.Fprintf(f.Output(), "%s\n\nFlags:\n", benchSynopsis)
		f.PrintDefaults()
	}
	var cfg loadtest.Config
	f.StringVar(&cfg.Scenario, "scenario", "", "what to load: "+strings.Join(loadtest.Scenarios, ", "))
	f.StringVar(&cfg.Issuer, "issuer", "", "the server's issuer URL; endpoints are discovered from it")
	f.StringVar(&cfg.DiscoveryURL, "discovery-url", "", "the discovery document (default ISSUER/.well-known/openid-configuration)")
	f.StringVar(&cfg.TokenURL, "token-url", "", "the token endpoint (default: from discovery)")
	f.StringVar(&cfg.AuthorizeURL, "authorize-url", "", "the authorization endpoint (default: from discovery)")
	f.StringVar(&cfg.IntrospectURL, "introspect-url", "", "the introspection endpoint (default: from discovery)")
	f.StringVar(&cfg.JWKSURL, "jwks-url", "", "the JWKS URI (default: from discovery)")
	f.StringVar(&cfg.DeviceAuthorizeURL, "device-authorize-url", "", "the device authorization endpoint (default: from discovery)")
	f.StringVar(&cfg.ClientID, "client-id", "", "the OAuth client")
	clientSecret := f.String("client-secret", "", "the client secret (visible to other local users; prefer --client-secret-env)")
	clientSecretEnv := f.String("client-secret-env", "", "read the client secret from this environment `VARIABLE`")
	f.StringVar(&cfg.Username, "username", "", "the user signing in (password, refresh, authorization_code)")
	pwStdin := f.Bool("password-stdin", false, "read the user's password from the first line of standard input")
	pwEnv := f.String("password-env", "", "read the user's password from this environment `VARIABLE`")
	f.StringVar(&cfg.Scope, "scope", "", "space-separated scopes to ask for (refresh usually needs offline_access)")
	f.StringVar(&cfg.RedirectURI, "redirect-uri", "", "the client's registered redirect URI (authorization_code; refresh with --flow code)")
	f.StringVar(&cfg.Flow, "flow", "", "how refresh gets its first refresh tokens: password (default) or code")
	f.BoolVar(&cfg.ReuseSession, "reuse-session", false, "authorization_code and device: keep each worker's cookies, so a signed-in user skips the login form")
	f.IntVar(&cfg.Concurrency, "concurrency", 32, "concurrent workers, each with at most one request in flight")
	f.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long to measure after the warm-up")
	f.IntVar(&cfg.Requests, "requests", 0, "count this many requests instead of running for --duration")
	f.DurationVar(&cfg.Warmup, "warmup", 5*time.Second, "load applied first and not counted")
	f.DurationVar(&cfg.Timeout, "timeout", loadtest.DefaultTimeout, "timeout of each HTTP request")
	asJSON := f.Bool("json", false, "print the result as JSON")
	quiet := f.Bool("quiet", false, "no live progress line on standard error")
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			// Asked-for help is output, not an error.
			f.SetOutput(env.stdout)
		}
	}
	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if f.NArg() > 0 {
		fmt.Fprintf(env.stderr, "%s: unexpected argument %q\n", f.Name(), f.Arg(0))
		f.Usage()
		return errUsage
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	usageErr := func(format string, args ...any) error {
		fmt.Fprintf(env.stderr, "%s: %s\n", f.Name(), fmt.Sprintf(format, args...))
		fmt.Fprintf(env.stderr, "Run 'authgate-bench --help' for the flags.\n")
		return errUsage
	}
	if set["duration"] && set["requests"] {
		return usageErr("give --duration or --requests, not both")
	}
	if cfg.Requests > 0 {
		cfg.Duration = 0
	}
	if cfg.Concurrency < 1 {
		return usageErr("--concurrency must be at least 1, got %d", cfg.Concurrency)
	}
	if cfg.Timeout <= 0 {
		return usageErr("--timeout must be positive, got %s", cfg.Timeout)
	}

	switch {
	case *clientSecret != "" && *clientSecretEnv != "":
		return usageErr("give --client-secret or --client-secret-env, not both")
	case *clientSecretEnv != "":
		cfg.ClientSecret = env.getenv(*clientSecretEnv)
		if cfg.ClientSecret == "" {
			return usageErr("--client-secret-env: environment variable %s is empty or unset", *clientSecretEnv)
		}
	default:
		cfg.ClientSecret = *clientSecret
	}
	switch {
	case *pwStdin && *pwEnv != "":
		return usageErr("give --password-stdin or --password-env, not both")
	case *pwEnv != "":
		cfg.Password = env.getenv(*pwEnv)
		if cfg.Password == "" {
			return usageErr("--password-env: environment variable %s is empty or unset", *pwEnv)
		}
	}
	// Check the command line before reading stdin, so a mistake fails at
	// once instead of waiting for input.
	check := cfg
	if *pwStdin {
		check.Password = "read later"
	}
	if err := check.Validate(); err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", "\n  ")
		if check.Password == "" && needsPassword(cfg.Scenario) {
			msg += "\n  (give the password with --password-stdin or --password-env VARIABLE, never as a flag)"
		}
		return usageErr("%s", msg)
	}
	if *pwStdin {
		pw, err := readPassword(env)
		if err != nil {
			return err
		}
		cfg.Password = pw
	}
	if !*quiet {
		cfg.Progress = env.stderr
	}

	cfg.Proxy = config.Proxy(env.getenv)
	res, err := loadtest.Run(ctx, cfg)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		err = res.WriteText(env.stdout)
	}
	if err != nil {
		return err
	}
	if res.Requests > 0 && res.Successes == 0 {
		return fmt.Errorf("%w (%d of %d)", errAllFailed, res.Failures(), res.Requests)
	}
	return nil
}

// maxPasswordLine bounds what readPassword reads.
const maxPasswordLine = 4096

// readPassword reads the password from the first line of standard input.
func readPassword(env *env) (string, error) {
	if env.stdin == nil {
		return "", errors.New("no password on standard input")
	}
	line, err := bufio.NewReaderSize(io.LimitReader(env.stdin, maxPasswordLine), maxPasswordLine).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on standard input: give it on the first line")
	}
	return line, nil
}

func needsPassword(scenario string) bool {
	switch scenario {
	case loadtest.Password, loadtest.Refresh, loadtest.AuthorizationCode, loadtest.Device:
		return true
	}
	return false
}
