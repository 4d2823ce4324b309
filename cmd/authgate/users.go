package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/models"
)

func cmdUsers(ctx context.Context, env *cliEnv, args []string) error {
	return runGroup(ctx, env, "users", []subcommand{
		{"create", "create a user (password from stdin) and email their security token", cmdUsersCreate},
		{"list", "list users", cmdUsersList},
		{"get", "show one user", cmdUsersGet},
		{"update", "change a user's email, name, admin role, or disable/enable them", cmdUsersUpdate},
		{"delete", "delete a user with their sessions and consents", cmdUsersDelete},
		{"set-password", "set a user's password (from stdin) and email a new security token", cmdUsersSetPassword},
		{"reset-token", "email a user a new security token", cmdUsersResetToken},
		{"unlock", "clear a user's failed-login lockouts", cmdUsersUnlock},
		{"mfa", "list or reset a user's second factors (two-step verification)", cmdUsersMFA},
	}, args)
}

// maxPasswordLine bounds what readPassword reads; accounts refuses
// passwords longer than 1024 bytes anyway.
const maxPasswordLine = 4096

// readPassword reads the first line of stdin without its line ending.
func readPassword(env *cliEnv) (string, error) {
	if env.stdin == nil {
		return "", errors.New("no password on standard input")
	}
	if isTerminal(env.stdin) {
		fmt.Fprint(env.stderr, "Password (shown as you type; pipe it in to avoid that): ")
	}
	line, err := bufio.NewReaderSize(io.LimitReader(env.stdin, maxPasswordLine), maxPasswordLine).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("no password on standard input: give it on the first line (printf '%s\\n' \"$PASSWORD\" | authgate users COMMAND)")
	}
	return line, nil
}

// isTerminal guesses whether r is an interactive terminal: a character
// device other than /dev/null.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// passwordStdin reads the password from standard input, or explains that
// passwords never come from a flag when --password-stdin is not set.
func passwordStdin(env *cliEnv, f *flags, set bool) (string, error) {
	if !set {
		fmt.Fprintf(env.stderr, "%s: --password-stdin is required: the password is read from the first line of standard input, never from a flag\n", f.Name())
		f.Usage()
		return "", errUsage
	}
	return readPassword(env)
}

func cmdUsersCreate(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users create", "--username USERNAME --email EMAIL [--name NAME] --password-stdin [--admin] [--json]")
	username := f.String("username", "", "login name: letters, digits and . _ @ - (stored in lower case)")
	email := f.String("email", "", "email address; security tokens are sent here")
	name := f.String("name", "", "display name")
	pwStdin := f.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	admin := f.Bool("admin", false, "make the user an administrator")
	asJSON := f.jsonFlag()
	if _, err := parseArgs(env, f, args); err != nil {
		return helpOrErr(err)
	}
	pw, err := passwordStdin(env, f, *pwStdin)
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		u, err := a.Accounts.CreateUser(ctx, cliActor(env), accounts.NewUser{
			Username: *username, Email: *email, Name: *name, Password: pw, Admin: *admin,
		})
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, accounts.UserViewOf(u))
		}
		fmt.Fprintf(env.stdout, "Created user %s (id %s).\n", u.Username, u.ID)
		fmt.Fprintf(env.stdout, "Their security token is in the mail queue for %s; a running server sends it.\n", u.Email)
		return nil
	})
}

func cmdUsersList(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users list", "[--query TEXT] [--limit N] [--json]")
	query := f.String("query", "", "show only users whose username or email contains TEXT (ignoring case)")
	limit := f.Int("limit", 100, "show at most N users (up to 1000)")
	asJSON := f.jsonFlag()
	if _, err := parseArgs(env, f, args); err != nil {
		return helpOrErr(err)
	}
	if err := checkLimit(env, f, *limit); err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		users, total, err := a.Accounts.ListUsers(ctx, accounts.ListFilter{Query: *query, Limit: *limit})
		if err != nil {
			return err
		}
		now := time.Now()
		return printList(env, *asJSON, users, accounts.UserViewOf, table[models.User]{
			empty:   "No users found.",
			headers: []string{"USERNAME", "EMAIL", "NAME", "ADMIN", "LOCKED"},
			row: func(u models.User) []string {
				return []string{u.Username, u.Email, cell(u.Name), fmt.Sprint(u.Admin), lockState(u, now)}
			},
			total: total,
			more:  "Showing %d of %d users; use --limit or --query to see others.\n",
		})
	})
}

// lockState says which sign-in channels of u are locked at now.
func lockState(u models.User, now time.Time) string {
	var locked []string
	if u.LegacyLockedUntil != nil && now.Before(*u.LegacyLockedUntil) {
		locked = append(locked, "legacy until "+fmtTime(*u.LegacyLockedUntil))
	}
	if u.LoginLockedUntil != nil && now.Before(*u.LoginLockedUntil) {
		locked = append(locked, "login until "+fmtTime(*u.LoginLockedUntil))
	}
	if len(locked) == 0 {
		return "no"
	}
	return strings.Join(locked, ", ")
}

// userArg parses a command that takes only USERNAME.
func userArg(env *cliEnv, f *flags, args []string) (string, error) {
	pos, err := parseArgs(env, f, args, "USERNAME")
	if err != nil {
		return "", err
	}
	return pos[0], nil
}

// withUser runs a command that takes only USERNAME: fn runs with the app
// open.
func withUser(ctx context.Context, env *cliEnv, f *flags, args []string, fn func(a *app.App, username string) error) error {
	username, err := userArg(env, f, args)
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error { return fn(a, username) })
}

func cmdUsersGet(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users get", "USERNAME [--json]")
	asJSON := f.jsonFlag()
	return withUser(ctx, env, f, args, func(a *app.App, username string) error {
		u, err := a.Accounts.GetUser(ctx, username)
		if err != nil {
			return err
		}
		return printUser(env, *asJSON, u)
	})
}

// printUser shows u as "users get" does.
func printUser(env *cliEnv, asJSON bool, u models.User) error {
	return printItem(env, asJSON, accounts.UserViewOf(u), [][2]string{
		{"id", u.ID},
		{"username", u.Username},
		{"email", u.Email},
		{"name", u.Name},
		{"admin", fmt.Sprint(u.Admin)},
		{"disabled", fmt.Sprint(u.Disabled)},
		{"locked", lockState(u, time.Now())},
		{"legacy_failures", fmt.Sprint(u.LegacyFailures)},
		{"login_failures", fmt.Sprint(u.LoginFailures)},
		{"password_changed_at", fmtTime(u.PasswordChangedAt)},
		{"token_issued_at", fmtTime(u.TokenIssuedAt)},
		{"created_at", fmtTime(u.CreatedAt)},
	})
}

func cmdUsersDelete(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users delete", "USERNAME")
	return withUser(ctx, env, f, args, func(a *app.App, username string) error {
		if err := a.Accounts.DeleteUser(ctx, cliActor(env), username); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Deleted user %s with their sessions and consents.\n", strings.ToLower(username))
		return nil
	})
}

func cmdUsersSetPassword(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users set-password", "USERNAME --password-stdin")
	pwStdin := f.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	username, err := userArg(env, f, args)
	if err != nil {
		return helpOrErr(err)
	}
	pw, err := passwordStdin(env, f, *pwStdin)
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		if err := a.Accounts.SetPassword(ctx, cliActor(env), username, pw); err != nil {
			return err
		}
		u, err := a.Accounts.GetUser(ctx, username)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Changed the password of %s; a new security token is in the mail queue for %s.\n", u.Username, u.Email)
		return nil
	})
}

func cmdUsersResetToken(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users reset-token", "USERNAME")
	return withUser(ctx, env, f, args, func(a *app.App, username string) error {
		if err := a.Accounts.ResetToken(ctx, cliActor(env), username, false); err != nil {
			return err
		}
		u, err := a.Accounts.GetUser(ctx, username)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "A new security token for %[2]s is in the mail queue for %[1]s; the old one no longer works.\n", u.Email, u.Username)
		return nil
	})
}

func cmdUsersUnlock(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users unlock", "USERNAME")
	return withUser(ctx, env, f, args, func(a *app.App, username string) error {
		if err := a.Accounts.Unlock(ctx, cliActor(env), username); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Cleared the failure counters and lockouts of %s.\n", strings.ToLower(username))
		return nil
	})
}
