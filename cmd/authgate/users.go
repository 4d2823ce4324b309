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

	"github.com/authgate/authgate/accounts"
	"github.com/authgate/authgate/models"
)

func cmdUsers(ctx context.Context, env *cliEnv, args []string) error {
	return runGroup(ctx, env, "users", []subcommand{
		{"create", "create a user (password from stdin) and email their security token", cmdUsersCreate},
		{"list", "list users", cmdUsersList},
		{"get", "show one user", cmdUsersGet},
		{"delete", "delete a user with their sessions and consents", cmdUsersDelete},
		{"set-password", "set a user's password (from stdin) and email a new security token", cmdUsersSetPassword},
		{"reset-token", "email a user a new security token", cmdUsersResetToken},
		{"unlock", "clear a user's failed-login lockouts", cmdUsersUnlock},
	}, args)
}

// userJSON is how the CLI shows a user; it never carries a hash.
type userJSON struct {
	ID                string     `json:"id"`
	Username          string     `json:"username"`
	Email             string     `json:"email"`
	Name              string     `json:"name"`
	Admin             bool       `json:"admin"`
	TokenIssuedAt     time.Time  `json:"token_issued_at"`
	PasswordChangedAt time.Time  `json:"password_changed_at"`
	LegacyFailures    int        `json:"legacy_failures"`
	LegacyLockedUntil *time.Time `json:"legacy_locked_until"`
	LoginFailures     int        `json:"login_failures"`
	LoginLockedUntil  *time.Time `json:"login_locked_until"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

func userView(u models.User) userJSON {
	return userJSON{
		ID: u.ID, Username: u.Username, Email: u.Email, Name: u.Name, Admin: u.Admin,
		TokenIssuedAt: u.TokenIssuedAt.UTC(), PasswordChangedAt: u.PasswordChangedAt.UTC(),
		LegacyFailures: u.LegacyFailures, LegacyLockedUntil: utcPtr(u.LegacyLockedUntil),
		LoginFailures: u.LoginFailures, LoginLockedUntil: utcPtr(u.LoginLockedUntil),
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
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
		return "", errors.New("no password on standard input: give it on the first line, e.g. printf '%s\\n' \"$PASSWORD\" | authgate users ...")
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

// requirePasswordStdin explains that passwords never come from a flag.
func requirePasswordStdin(env *cliEnv, f *flags, set bool) error {
	if set {
		return nil
	}
	fmt.Fprintf(env.stderr, "%s: --password-stdin is required: the password is read from the first line of standard input, never from a flag\n", f.Name())
	f.Usage()
	return errUsage
}

func cmdUsersCreate(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users create", "--username USERNAME --email EMAIL [--name NAME] --password-stdin [--admin] [--json]")
	username := f.String("username", "", "login name: letters, digits and . _ @ - (stored in lower case)")
	email := f.String("email", "", "email address; security tokens are sent here")
	name := f.String("name", "", "display name")
	pwStdin := f.Bool("password-stdin", false, "read the password from the first line of standard input (required)")
	admin := f.Bool("admin", false, "make the user an administrator")
	asJSON := f.Bool("json", false, "print JSON")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	if _, err := positional(env, f); err != nil {
		return err
	}
	if err := requirePasswordStdin(env, f, *pwStdin); err != nil {
		return err
	}
	pw, err := readPassword(env)
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		u, err := a.accounts.CreateUser(ctx, cliActor(env), accounts.NewUser{
			Username: *username, Email: *email, Name: *name, Password: pw, Admin: *admin,
		})
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, userView(u))
		}
		fmt.Fprintf(env.stdout, "Created user %s (id %s).\n", u.Username, u.ID)
		fmt.Fprintf(env.stdout, "Their security token was emailed to %s.\n", u.Email)
		return nil
	})
}

func cmdUsersList(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users list", "[--query TEXT] [--limit N] [--json]")
	query := f.String("query", "", "show only users whose username or email contains TEXT (ignoring case)")
	limit := f.Int("limit", 100, "show at most N users (up to 1000)")
	asJSON := f.Bool("json", false, "print JSON")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	if _, err := positional(env, f); err != nil {
		return err
	}
	if *limit < 1 {
		fmt.Fprintf(env.stderr, "%s: --limit must be at least 1\n", f.Name())
		return errUsage
	}
	return withApp(ctx, env, f, func(a *app) error {
		users, total, err := a.accounts.ListUsers(ctx, accounts.ListFilter{Query: *query, Limit: *limit})
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]userJSON, 0, len(users))
			for _, u := range users {
				out = append(out, userView(u))
			}
			return printJSON(env.stdout, out)
		}
		if len(users) == 0 {
			fmt.Fprintln(env.stdout, "No users found.")
			return nil
		}
		now := time.Now()
		tw := newTable(env.stdout, "USERNAME", "EMAIL", "NAME", "ADMIN", "LOCKED")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\n", u.Username, u.Email, cell(u.Name), u.Admin, lockState(u, now))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if int64(len(users)) < total {
			fmt.Fprintf(env.stderr, "Showing %d of %d users; use --limit or --query to see others.\n", len(users), total)
		}
		return nil
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
	if err := f.parse(env, args); err != nil {
		return "", err
	}
	pos, err := positional(env, f, "USERNAME")
	if err != nil {
		return "", err
	}
	return pos[0], nil
}

func cmdUsersGet(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users get", "USERNAME [--json]")
	asJSON := f.Bool("json", false, "print JSON")
	username, err := userArg(env, f, args)
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app) error {
		u, err := a.accounts.GetUser(ctx, username)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, userView(u))
		}
		return printFields(env.stdout, [][2]string{
			{"id", u.ID},
			{"username", u.Username},
			{"email", u.Email},
			{"name", u.Name},
			{"admin", fmt.Sprint(u.Admin)},
			{"locked", lockState(u, time.Now())},
			{"legacy_failures", fmt.Sprint(u.LegacyFailures)},
			{"login_failures", fmt.Sprint(u.LoginFailures)},
			{"password_changed_at", fmtTime(u.PasswordChangedAt)},
			{"token_issued_at", fmtTime(u.TokenIssuedAt)},
			{"created_at", fmtTime(u.CreatedAt)},
		})
	})
}

func cmdUsersDelete(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users delete", "USERNAME")
	username, err := userArg(env, f, args)
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app) error {
		if err := a.accounts.DeleteUser(ctx, cliActor(env), username); err != nil {
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
	if err := requirePasswordStdin(env, f, *pwStdin); err != nil {
		return err
	}
	pw, err := readPassword(env)
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		if err := a.accounts.SetPassword(ctx, cliActor(env), username, pw); err != nil {
			return err
		}
		u, err := a.accounts.GetUser(ctx, username)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Changed the password of %s; a new security token was emailed to %s.\n", u.Username, u.Email)
		return nil
	})
}

func cmdUsersResetToken(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users reset-token", "USERNAME")
	username, err := userArg(env, f, args)
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app) error {
		if err := a.accounts.ResetToken(ctx, cliActor(env), username, false); err != nil {
			return err
		}
		u, err := a.accounts.GetUser(ctx, username)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "A new security token was emailed to %s (%s); the old one no longer works.\n", u.Email, u.Username)
		return nil
	})
}

func cmdUsersUnlock(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users unlock", "USERNAME")
	username, err := userArg(env, f, args)
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app) error {
		if err := a.accounts.Unlock(ctx, cliActor(env), username); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Cleared the failure counters and lockouts of %s.\n", strings.ToLower(username))
		return nil
	})
}
