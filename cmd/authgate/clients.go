package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/authgate/authgate/clients"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

func cmdClients(ctx context.Context, env *cliEnv, args []string) error {
	return runGroup(ctx, env, "clients", []subcommand{
		{"create", "register a client and print its secret once", cmdClientsCreate},
		{"list", "list the clients", cmdClientsList},
		{"get", "show one client", cmdClientsGet},
		{"delete", "delete a client with its tokens and consents", cmdClientsDelete},
		{"rotate-secret", "replace a client's secret and print the new one once", cmdClientsRotate},
		{"legacy", "control the legacy password grant: enable, disable, sunset, report", cmdClientsLegacy},
	}, args)
}

func newClientService(a *app) *clients.Service {
	return clients.New(a.db, &oauth.SecretHasher{Keys: a.keyring, Argon2: a.hasher}, clients.Options{})
}

// clientJSON is how the CLI shows a client. It never carries the secret
// hash; ClientSecret is set only right after the secret was generated.
type clientJSON struct {
	ClientID           string     `json:"client_id"`
	ClientSecret       string     `json:"client_secret,omitempty"`
	Name               string     `json:"name"`
	Public             bool       `json:"public"`
	FirstParty         bool       `json:"first_party"`
	GrantTypes         []string   `json:"grant_types"`
	ResponseTypes      []string   `json:"response_types"`
	RedirectURIs       []string   `json:"redirect_uris"`
	Scopes             []string   `json:"scopes"`
	Audience           []string   `json:"audience"`
	AccessTokenFormat  string     `json:"access_token_format"`
	LegacyEnabled      bool       `json:"legacy_enabled"`
	LegacySunset       *time.Time `json:"legacy_sunset"`
	LegacyDeprecatedAt *time.Time `json:"legacy_deprecated_at"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

func clientView(c models.Client) clientJSON {
	return clientJSON{
		ClientID:           c.ID,
		Name:               c.Name,
		Public:             c.Public,
		FirstParty:         c.FirstParty,
		GrantTypes:         orEmpty(c.GrantTypes),
		ResponseTypes:      orEmpty(c.ResponseTypes),
		RedirectURIs:       orEmpty(c.RedirectURIs),
		Scopes:             orEmpty(c.Scopes),
		Audience:           orEmpty(c.Audience),
		AccessTokenFormat:  c.AccessTokenFormat,
		LegacyEnabled:      slices.Contains(c.GrantTypes, clients.GrantPassword),
		LegacySunset:       utcPtr(c.LegacySunset),
		LegacyDeprecatedAt: utcPtr(c.LegacyDeprecatedAt),
		CreatedAt:          c.CreatedAt.UTC(),
		UpdatedAt:          c.UpdatedAt.UTC(),
	}
}

func cmdClientsCreate(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients create", "--name NAME --grant-types LIST [--redirect-uris LIST] [--scopes LIST] [flags]")
	name := f.String("name", "", "display name shown on the consent page (required)")
	grants := f.String("grant-types", "", "comma- or space-separated: authorization_code, refresh_token, client_credentials, password (the legacy grant)")
	redirects := f.String("redirect-uris", "", "comma- or space-separated redirect URIs; required with authorization_code (https, or http on 127.0.0.1, ::1, localhost)")
	scopes := f.String("scopes", "", "comma- or space-separated: "+strings.Join(oauth.SupportedScopes, ", "))
	audience := f.String("audience", "", "comma- or space-separated audiences the client may request")
	public := f.Bool("public", false, "a public client (browser or native app): no secret, PKCE required")
	firstParty := f.Bool("first-party", false, "skip the consent page for this client")
	format := f.String("access-token-format", oauth.FormatOpaque, "access token format: opaque or jwt")
	asJSON := f.Bool("json", false, "print JSON")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	if _, err := positional(env, f); err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		c, secret, err := newClientService(a).Create(ctx, cliActor(env), clients.NewClient{
			Name:              *name,
			GrantTypes:        splitList(*grants),
			RedirectURIs:      splitList(*redirects),
			Scopes:            splitList(*scopes),
			Audience:          splitList(*audience),
			Public:            *public,
			FirstParty:        *firstParty,
			AccessTokenFormat: *format,
		})
		if err != nil {
			return err
		}
		if *asJSON {
			v := clientView(c)
			v.ClientSecret = secret
			return printJSON(env.stdout, v)
		}
		fmt.Fprintf(env.stdout, "Created client %q.\n", c.Name)
		fmt.Fprintf(env.stdout, "client_id:     %s\n", c.ID)
		if c.Public {
			fmt.Fprintln(env.stdout, "This is a public client: it has no secret and must use PKCE.")
			return nil
		}
		fmt.Fprintf(env.stdout, "client_secret: %s\n\n", secret)
		fmt.Fprintln(env.stdout, "The secret is shown only now; store it safely. 'authgate clients rotate-secret' issues a new one.")
		return nil
	})
}

func cmdClientsList(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients list", "[--json]")
	asJSON := f.Bool("json", false, "print JSON")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	if _, err := positional(env, f); err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		list, err := newClientService(a).List(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]clientJSON, 0, len(list))
			for _, c := range list {
				out = append(out, clientView(c))
			}
			return printJSON(env.stdout, out)
		}
		if len(list) == 0 {
			fmt.Fprintln(env.stdout, "No clients. Create one with 'authgate clients create'.")
			return nil
		}
		tw := newTable(env.stdout, "CLIENT ID", "NAME", "TYPE", "GRANT TYPES", "LEGACY")
		for _, c := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, clientType(c), strings.Join(c.GrantTypes, ","), legacyState(c))
		}
		return tw.Flush()
	})
}

func cmdClientsGet(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients get", "CLIENT_ID [--json]")
	asJSON := f.Bool("json", false, "print JSON")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	pos, err := positional(env, f, "CLIENT_ID")
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		c, err := newClientService(a).Get(ctx, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, clientView(c))
		}
		sunset := "none"
		if c.LegacySunset != nil {
			sunset = fmtTime(*c.LegacySunset)
		}
		return printFields(env.stdout, [][2]string{
			{"client_id", c.ID},
			{"name", c.Name},
			{"type", clientType(c)},
			{"first_party", fmt.Sprint(c.FirstParty)},
			{"grant_types", strings.Join(c.GrantTypes, ", ")},
			{"redirect_uris", strings.Join(c.RedirectURIs, ", ")},
			{"scopes", strings.Join(c.Scopes, ", ")},
			{"audience", strings.Join(c.Audience, ", ")},
			{"access_token_format", c.AccessTokenFormat},
			{"legacy_grant", legacyState(c)},
			{"legacy_sunset", sunset},
			{"created_at", fmtTime(c.CreatedAt)},
			{"updated_at", fmtTime(c.UpdatedAt)},
		})
	})
}

func cmdClientsDelete(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients delete", "CLIENT_ID")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	pos, err := positional(env, f, "CLIENT_ID")
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		if err := newClientService(a).Delete(ctx, cliActor(env), pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Deleted client %s with its tokens and consents.\n", pos[0])
		return nil
	})
}

func cmdClientsRotate(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients rotate-secret", "CLIENT_ID [--json]")
	asJSON := f.Bool("json", false, "print JSON")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	pos, err := positional(env, f, "CLIENT_ID")
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		secret, err := newClientService(a).RotateSecret(ctx, cliActor(env), pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, map[string]string{"client_id": pos[0], "client_secret": secret})
		}
		fmt.Fprintf(env.stdout, "client_id:     %s\nclient_secret: %s\n\n", pos[0], secret)
		fmt.Fprintln(env.stdout, "The old secret no longer works; tokens already issued stay valid. The new secret is shown only now.")
		return nil
	})
}

func cmdClientsLegacy(ctx context.Context, env *cliEnv, args []string) error {
	return runGroup(ctx, env, "clients legacy", []subcommand{
		{"enable", "allow the legacy password grant for a client", func(ctx context.Context, env *cliEnv, args []string) error {
			return cmdLegacySet(ctx, env, args, true)
		}},
		{"disable", "refuse the legacy password grant for a client", func(ctx context.Context, env *cliEnv, args []string) error {
			return cmdLegacySet(ctx, env, args, false)
		}},
		{"sunset", "set (YYYY-MM-DD) or clear (none) the day the legacy grant ends for a client", cmdLegacySunset},
		{"report", "show who still uses the legacy grant, per client and user", cmdLegacyReport},
	}, args)
}

func cmdLegacySet(ctx context.Context, env *cliEnv, args []string, enabled bool) error {
	verb := map[bool]string{true: "enable", false: "disable"}[enabled]
	f := newFlags(env, "clients legacy "+verb, "CLIENT_ID")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	pos, err := positional(env, f, "CLIENT_ID")
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		c, err := newClientService(a).SetLegacy(ctx, cliActor(env), pos[0], enabled)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Legacy password grant %sd for client %s (%s); grant types: %s.\n", verb, c.ID, c.Name, strings.Join(c.GrantTypes, ", "))
		if !enabled {
			if len(c.GrantTypes) == 0 {
				fmt.Fprintln(env.stdout, "Note: the client has no grant types left and cannot obtain tokens.")
			}
			return nil
		}
		if c.LegacySunset != nil && !time.Now().Before(*c.LegacySunset) {
			fmt.Fprintf(env.stdout, "Note: its sunset (%s) has passed, so the grant is still refused; 'authgate clients legacy sunset %s none' clears it.\n", fmtTime(*c.LegacySunset), c.ID)
		}
		if a.cfg.LegacyGrantDisabled {
			fmt.Fprintln(env.stdout, "Note: the legacy grant is switched off for every client by legacy_grant_disabled (AUTHGATE_LEGACY_GRANT_DISABLED).")
		}
		return nil
	})
}

// parseSunset reads "YYYY-MM-DD" (midnight UTC), an RFC 3339 time, or
// "none" (nil).
func parseSunset(s string) (*time.Time, error) {
	if strings.EqualFold(s, "none") {
		return nil, nil
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fmt.Errorf("sunset: %q is not a date; use YYYY-MM-DD (the grant ends at midnight UTC that day), an RFC 3339 time, or none to clear it", s)
}

func cmdLegacySunset(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients legacy sunset", "CLIENT_ID YYYY-MM-DD|none")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	pos, err := positional(env, f, "CLIENT_ID", "YYYY-MM-DD|none")
	if err != nil {
		return err
	}
	at, err := parseSunset(pos[1])
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		c, err := newClientService(a).SetSunset(ctx, cliActor(env), pos[0], at)
		if err != nil {
			return err
		}
		if c.LegacySunset == nil {
			fmt.Fprintf(env.stdout, "Cleared the legacy sunset of client %s (%s).\n", c.ID, c.Name)
			return nil
		}
		fmt.Fprintf(env.stdout, "The legacy password grant of client %s (%s) ends at %s.\n", c.ID, c.Name, fmtTime(*c.LegacySunset))
		if !slices.Contains(c.GrantTypes, clients.GrantPassword) {
			fmt.Fprintln(env.stdout, "Note: the client does not have the legacy grant enabled now.")
		}
		return nil
	})
}

type legacyUsageJSON struct {
	ClientID   string     `json:"client_id"`
	ClientName string     `json:"client_name"`
	Sunset     *time.Time `json:"sunset"`
	UserID     string     `json:"user_id"`
	Username   string     `json:"username"`
	Count      int64      `json:"count"`
	LastUsed   time.Time  `json:"last_used"`
}

func cmdLegacyReport(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients legacy report", "[--json]")
	asJSON := f.Bool("json", false, "print JSON")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	if _, err := positional(env, f); err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		rows, err := a.accounts.LegacyReport(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]legacyUsageJSON, 0, len(rows))
			for _, r := range rows {
				out = append(out, legacyUsageJSON{
					ClientID: r.ClientID, ClientName: r.ClientName, Sunset: utcPtr(r.Sunset),
					UserID: r.UserID, Username: r.Username, Count: r.Count, LastUsed: r.LastUsed.UTC(),
				})
			}
			return printJSON(env.stdout, out)
		}
		if len(rows) == 0 {
			fmt.Fprintln(env.stdout, "No successful legacy password grants in the login history.")
			return nil
		}
		tw := newTable(env.stdout, "CLIENT ID", "CLIENT", "USER", "COUNT", "LAST USED", "SUNSET")
		for _, r := range rows {
			name := r.ClientName
			if name == "" {
				name = "(deleted)"
			}
			sunset := "-"
			if r.Sunset != nil {
				sunset = fmtTime(*r.Sunset)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.ClientID, name, r.Username, r.Count, fmtTime(r.LastUsed), sunset)
		}
		return tw.Flush()
	})
}

func clientType(c models.Client) string {
	if c.Public {
		return "public"
	}
	return "confidential"
}

func legacyState(c models.Client) string {
	if !slices.Contains(c.GrantTypes, clients.GrantPassword) {
		return "disabled"
	}
	if c.LegacySunset != nil {
		return "enabled until " + fmtTime(*c.LegacySunset)
	}
	return "enabled"
}

// The helpers below serve every administrative command (clients, users,
// trusted-ips, login-history).

// subcommand is one "authgate GROUP NAME" command.
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// runGroup runs the subcommand of group that args name.
func runGroup(ctx context.Context, env *cliEnv, group string, subs []subcommand, args []string) error {
	groupUsage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: authgate %s SUBCOMMAND [flags]\n\nSubcommands:\n", group)
		for _, s := range subs {
			fmt.Fprintf(w, "  %-14s %s\n", s.name, s.summary)
		}
		fmt.Fprintf(w, "\nRun 'authgate %s SUBCOMMAND --help' for its flags.\n", group)
	}
	if len(args) == 0 {
		fmt.Fprintf(env.stderr, "authgate %s: a subcommand is required\n\n", group)
		groupUsage(env.stderr)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		groupUsage(env.stdout)
		return nil
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.stderr, "authgate %s: unknown subcommand %q\n\n", group, args[0])
	groupUsage(env.stderr)
	return errUsage
}

// positional returns the positional arguments after parse, or a usage error
// unless there is exactly one for each name.
func positional(env *cliEnv, f *flags, names ...string) ([]string, error) {
	args := f.Args()
	if len(args) == len(names) {
		return args, nil
	}
	switch {
	case len(names) == 0:
		fmt.Fprintf(env.stderr, "%s: unexpected argument %q\n", f.Name(), args[0])
	case len(args) < len(names):
		fmt.Fprintf(env.stderr, "%s: missing %s\n", f.Name(), strings.Join(names[len(args):], " "))
	default:
		fmt.Fprintf(env.stderr, "%s: unexpected argument %q after %s\n", f.Name(), args[len(names)], strings.Join(names, " "))
	}
	f.Usage()
	return nil, errUsage
}

// withApp opens the app from the command's settings, runs fn and closes it.
func withApp(ctx context.Context, env *cliEnv, f *flags, fn func(a *app) error) error {
	a, closeApp, err := openApp(ctx, env, f.configPath)
	if err != nil {
		return err
	}
	defer closeApp()
	return fn(a)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printFields prints aligned "name: value" lines.
func printFields(w io.Writer, fields [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, kv := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

// newTable returns a tabwriter with the header line written.
func newTable(w io.Writer, headers ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	return tw
}

// cell makes free text safe for one table cell: control characters (tabs
// and newlines among them) would break the columns.
func cell(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
