package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

func cmdClients(ctx context.Context, env *cliEnv, args []string) error {
	return runGroup(ctx, env, "clients", []subcommand{
		{"create", "register a client and print its secret once", cmdClientsCreate},
		{"list", "list the clients", cmdClientsList},
		{"get", "show one client", cmdClientsGet},
		{"update", "change a client's name, redirect URIs, scopes, grant types, first-party flag, token format, authentication, PAR or PKCE", cmdClientsUpdate},
		{"delete", "delete a client with its tokens and consents", cmdClientsDelete},
		{"rotate-secret", "replace a client's secret and print the new one once", cmdClientsRotate},
		{"legacy", "control the legacy password grant: enable, disable, sunset, report", cmdClientsLegacy},
		{"brownouts", "schedule, list and cancel brownouts of the legacy grant before its sunset", cmdClientsBrownouts},
	}, args)
}

// createdClientJSON is what "clients create --json" prints: the client
// and, for a confidential client, the secret, shown only this once.
// ClientID repeats the view's, and hides it from encoding/json, so that
// client_secret follows client_id in the output as it always has.
type createdClientJSON struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	clients.View
}

func createdClient(c models.Client, secret string) createdClientJSON {
	return createdClientJSON{ClientID: c.ID, ClientSecret: secret, View: clients.ViewOf(c)}
}

func cmdClientsCreate(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients create", "--name NAME --grant-types LIST [--redirect-uris LIST] [--scopes LIST] [flags]")
	name := f.String("name", "", "display name shown on the consent page (required)")
	grants := f.String("grant-types", "", "comma- or space-separated: authorization_code, refresh_token, client_credentials, password (the legacy grant), urn:ietf:params:oauth:grant-type:device_code (the device flow)")
	redirects := f.String("redirect-uris", "", "comma- or space-separated redirect URIs; required with authorization_code (https, or http on 127.0.0.1, ::1, localhost)")
	scopes := f.String("scopes", "", "comma- or space-separated: "+strings.Join(oauth.SupportedScopes, ", "))
	audience := f.String("audience", "", "comma- or space-separated audiences the client may request")
	public := f.Bool("public", false, "a public client (browser or native app): no secret, PKCE required")
	firstParty := f.Bool("first-party", false, "skip the consent page for this client")
	format := f.String("access-token-format", oauth.FormatOpaque, "access token format: opaque or jwt")
	idAlg := f.String("id-token-alg", oauth.AlgRS256, "ID token and logout token signing algorithm (id_token_signed_response_alg): RS256, ES256 or EdDSA")
	atAlg := f.String("access-token-alg", oauth.AlgRS256, "JWT access token signing algorithm: RS256, ES256 or EdDSA")
	legacyCreds := f.String("legacy-credentials", models.LegacyToken, "what the password grant accepts: token (password + security token), app_password or both")
	var lo clients.Logout
	logoutFlags(f, &lo)
	var auth clients.Auth
	authFlags(f, &auth)
	asJSON := f.jsonFlag()
	if _, err := parseArgs(env, f, args); err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		c, secret, err := a.Clients.Create(ctx, cliActor(env), clients.NewClient{
			Name:              *name,
			GrantTypes:        splitList(*grants),
			RedirectURIs:      splitList(*redirects),
			Scopes:            splitList(*scopes),
			Audience:          splitList(*audience),
			Public:            *public,
			FirstParty:        *firstParty,
			AccessTokenFormat: *format,
			IDTokenAlg:        *idAlg,
			AccessTokenAlg:    *atAlg,
			LegacyCredentials: *legacyCreds,
			Logout:            lo,
			Auth:              auth,
		})
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, createdClient(c, secret))
		}
		fmt.Fprintf(env.stdout, "Created client %q.\n", c.Name)
		fmt.Fprintf(env.stdout, "client_id:     %s\n", c.ID)
		if c.Public {
			fmt.Fprintln(env.stdout, "This is a public client: it has no secret and must use PKCE.")
			return nil
		}
		if secret == "" {
			fmt.Fprintln(env.stdout, "This client authenticates with private_key_jwt: it has no secret.")
			return nil
		}
		fmt.Fprintf(env.stdout, "client_secret: %s\n\n", secret)
		fmt.Fprintln(env.stdout, "The secret is shown only now; store it safely. 'authgate clients rotate-secret' issues a new one.")
		return nil
	})
}

func cmdClientsList(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients list", "[--json]")
	asJSON := f.jsonFlag()
	if _, err := parseArgs(env, f, args); err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		list, err := a.Clients.List(ctx)
		if err != nil {
			return err
		}
		return printList(env, *asJSON, list, clients.ViewOf, table[models.Client]{
			empty:   "No clients. Create one with 'authgate clients create'.",
			headers: []string{"CLIENT ID", "NAME", "TYPE", "GRANT TYPES", "LEGACY"},
			row: func(c models.Client) []string {
				return []string{c.ID, c.Name, clientType(c), strings.Join(c.GrantTypes, ","), legacyState(c)}
			},
		})
	})
}

func cmdClientsGet(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients get", "CLIENT_ID [--json]")
	asJSON := f.jsonFlag()
	pos, err := parseArgs(env, f, args, "CLIENT_ID")
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		c, err := a.Clients.Get(ctx, pos[0])
		if err != nil {
			return err
		}
		return printClient(env, *asJSON, c)
	})
}

// printClient shows c as "clients get" does.
func printClient(env *cliEnv, asJSON bool, c models.Client) error {
	sunset := "none"
	if c.LegacySunset != nil {
		sunset = fmtTime(*c.LegacySunset)
	}
	return printItem(env, asJSON, clients.ViewOf(c), [][2]string{
		{"client_id", c.ID},
		{"name", c.Name},
		{"type", clientType(c)},
		{"first_party", fmt.Sprint(c.FirstParty)},
		{"grant_types", strings.Join(c.GrantTypes, ", ")},
		{"redirect_uris", strings.Join(c.RedirectURIs, ", ")},
		{"scopes", strings.Join(c.Scopes, ", ")},
		{"audience", strings.Join(c.Audience, ", ")},
		{"access_token_format", c.AccessTokenFormat},
		{"id_token_signed_response_alg", c.IDTokenAlg},
		{"access_token_signed_response_alg", c.AccessTokenAlg},
		{"legacy_grant", legacyState(c)},
		{"legacy_sunset", sunset},
		{"legacy_credentials", clients.ViewOf(c).LegacyCredentials},
		{"post_logout_redirect_uris", strings.Join(c.PostLogoutRedirectURIs, ", ")},
		{"backchannel_logout_uri", c.BackchannelLogoutURI},
		{"backchannel_logout_session_required", fmt.Sprint(c.BackchannelLogoutSessionRequired)},
		{"frontchannel_logout_uri", c.FrontchannelLogoutURI},
		{"frontchannel_logout_session_required", fmt.Sprint(c.FrontchannelLogoutSessionRequired)},
		{"token_endpoint_auth_method", c.TokenEndpointAuthMethod},
		{"token_endpoint_auth_signing_alg", c.TokenEndpointAuthSigningAlg},
		{"jwks", map[bool]string{true: "registered", false: "none"}[c.JWKS != ""]},
		{"jwks_uri", c.JWKSURI},
		{"require_pushed_authorization_requests", fmt.Sprint(c.RequirePAR)},
		{"require_pkce", fmt.Sprint(c.RequirePKCE)},
		{"created_at", fmtTime(c.CreatedAt)},
		{"updated_at", fmtTime(c.UpdatedAt)},
	})
}

func cmdClientsDelete(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients delete", "CLIENT_ID")
	pos, err := parseArgs(env, f, args, "CLIENT_ID")
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		if err := a.Clients.Delete(ctx, cliActor(env), pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Deleted client %s with its tokens and consents.\n", pos[0])
		return nil
	})
}

func cmdClientsRotate(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients rotate-secret", "CLIENT_ID [--json]")
	asJSON := f.jsonFlag()
	pos, err := parseArgs(env, f, args, "CLIENT_ID")
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		secret, err := a.Clients.RotateSecret(ctx, cliActor(env), pos[0])
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
		{"sunset", "set (YYYY-MM-DD, the last day it works) or clear (none) the end of the legacy grant for a client", cmdLegacySunset},
		{"report", "show who still uses the legacy grant, per client and user", cmdLegacyReport},
		{"migration-url", "set (URL) or clear (none) where a client's owners read how to move off the legacy grant", cmdLegacyMigrationURL},
	}, args)
}

func cmdLegacySet(ctx context.Context, env *cliEnv, args []string, enabled bool) error {
	verb := map[bool]string{true: "enable", false: "disable"}[enabled]
	f := newFlags(env, "clients legacy "+verb, "CLIENT_ID")
	pos, err := parseArgs(env, f, args, "CLIENT_ID")
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		c, err := a.Clients.SetLegacy(ctx, cliActor(env), pos[0], enabled)
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
		if a.Config.LegacyGrantDisabled {
			fmt.Fprintln(env.stdout, "Note: the legacy grant is switched off for every client by legacy_grant_disabled (AUTHGATE_LEGACY_GRANT_DISABLED).")
		}
		return nil
	})
}

func cmdLegacySunset(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients legacy sunset", "CLIENT_ID YYYY-MM-DD|RFC3339-TIME|none [--past]")
	past := f.Bool("past", false, "confirm a sunset that has already passed (the legacy grant is refused at once)")
	pos, err := parseArgs(env, f, args, "CLIENT_ID", "YYYY-MM-DD|none")
	if err != nil {
		return helpOrErr(err)
	}
	var at *time.Time
	if !strings.EqualFold(pos[1], "none") {
		t, err := clients.ParseSunset(pos[1], time.Now(), *past)
		if errors.Is(err, clients.ErrSunsetPassed) {
			return fmt.Errorf("sunset %s has passed: the client's legacy grant would be refused at once; add --past to set it anyway", pos[1])
		}
		if err != nil {
			return fmt.Errorf("%w, or none to clear it", err)
		}
		at = &t
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		c, err := a.Clients.SetSunset(ctx, cliActor(env), pos[0], at)
		if err != nil {
			return err
		}
		if c.LegacySunset == nil {
			fmt.Fprintf(env.stdout, "Cleared the legacy sunset of client %s (%s).\n", c.ID, c.Name)
			return nil
		}
		fmt.Fprintf(env.stdout, "The legacy password grant of client %s (%s) works until %s and is refused from then on.\n", c.ID, c.Name, fmtTime(*c.LegacySunset))
		if !slices.Contains(c.GrantTypes, clients.GrantPassword) {
			fmt.Fprintln(env.stdout, "Note: the client does not have the legacy grant enabled now.")
		}
		return nil
	})
}

func cmdLegacyReport(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients legacy report", "[--json]")
	asJSON := f.jsonFlag()
	if _, err := parseArgs(env, f, args); err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		rows, err := a.Accounts.LegacyReport(ctx)
		if err != nil {
			return err
		}
		return printList(env, *asJSON, rows, accounts.LegacyUsageViewOf, table[accounts.LegacyUsage]{
			empty:   "No successful legacy password grants in the login history.",
			headers: []string{"CLIENT ID", "CLIENT", "USER", "COUNT", "LAST USED", "SUNSET"},
			row: func(r accounts.LegacyUsage) []string {
				name := r.ClientName
				if name == "" {
					name = "(deleted)"
				}
				sunset := "-"
				if r.Sunset != nil {
					sunset = fmtTime(*r.Sunset)
				}
				return []string{r.ClientID, name, r.Username, fmt.Sprint(r.Count), fmtTime(r.LastUsed), sunset}
			},
		})
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
