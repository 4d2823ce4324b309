package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/oauth"
)

// The update commands change only the fields whose flags are given: each
// flag sets one field of the service's patch (a pointer field, nil when
// the flag is absent), so that nothing the administrator did not name
// changes, and the service applies the whole patch in one transaction or
// none of it.

// stringField binds flag name to *dst: given, *dst points at its value.
func stringField(f *flags, name, usage string, dst **string) {
	f.Func(name, usage, func(v string) error {
		*dst = &v
		return nil
	})
}

// listField binds flag name to *dst, a comma- or space-separated list; an
// empty value ("") sets the empty list.
func listField(f *flags, name, usage string, dst **[]string) {
	f.Func(name, usage, func(v string) error {
		l := splitList(v)
		if l == nil {
			l = []string{}
		}
		*dst = &l
		return nil
	})
}

// boolField binds flag name to *dst; it needs a value (true/false, on/off,
// yes/no), so that "--admin false" reads as it says.
func boolField(f *flags, name, usage string, dst **bool) {
	f.Func(name, usage+" (true or false)", func(v string) error {
		var b bool
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "on", "yes", "1":
			b = true
		case "false", "off", "no", "0":
		default:
			return errors.New("must be true or false")
		}
		*dst = &b
		return nil
	})
}

// clientUpdateFlags adds one flag for each field of clients.ClientUpdate.
// A new client field is one line here.
func clientUpdateFlags(f *flags, up *clients.ClientUpdate) {
	stringField(f, "name", "display name shown on the consent page", &up.Name)
	listField(f, "redirect-uris", "comma- or space-separated redirect URIs, replacing the current ones (\"\" for none)", &up.RedirectURIs)
	listField(f, "scopes", "comma- or space-separated scopes, replacing the current ones: "+strings.Join(oauth.SupportedScopes, ", "), &up.Scopes)
	listField(f, "grant-types", "comma- or space-separated grant types, replacing the current ones: "+strings.Join(clients.SupportedGrantTypes, ", "), &up.GrantTypes)
	boolField(f, "first-party", "skip the consent page for this client", &up.FirstParty)
	stringField(f, "access-token-format", "access token format: opaque or jwt", &up.AccessTokenFormat)
	stringField(f, "id-token-alg", "ID token and logout token signing algorithm: RS256, ES256 or EdDSA", &up.IDTokenAlg)
	stringField(f, "access-token-alg", "JWT access token signing algorithm: RS256, ES256 or EdDSA", &up.AccessTokenAlg)
	listField(f, "post-logout-redirect-uris", "comma- or space-separated URIs /oauth2/logout may send the browser back to, replacing the current ones (\"\" for none)", &up.PostLogoutRedirectURIs)
	stringField(f, "backchannel-logout-uri", "where logout tokens are POSTed (\"\" for none)", &up.BackchannelLogoutURI)
	boolField(f, "backchannel-logout-session-required", "the client needs sid in logout tokens", &up.BackchannelLogoutSessionRequired)
	stringField(f, "frontchannel-logout-uri", "the page the logout page frames (\"\" for none)", &up.FrontchannelLogoutURI)
	boolField(f, "frontchannel-logout-session-required", "add iss and sid to the framed page's URI", &up.FrontchannelLogoutSessionRequired)
	boolField(f, "require-mfa", "make every user of this client sign in with a second factor (true) or not (false)", &up.RequireMFA)
	boolField(f, "salesforce-compat", "add Salesforce's id, instance_url, issued_at and signature to the password grant's responses (true) or not (false)", &up.SalesforceCompat)
	stringField(f, "instance-url", "the instance_url of Salesforce-compatible responses (\"\" for the issuer)", &up.InstanceURL)
	authUpdateFlags(f, up)
	stringField(f, "legacy-credentials", "what the password grant accepts: token (password + security token), app_password or both", &up.LegacyCredentials)
}

// logoutFlags adds the logout registration's flags of "clients create".
func logoutFlags(f *flags, lo *clients.Logout) {
	f.Func("post-logout-redirect-uris", "comma- or space-separated URIs /oauth2/logout may send the browser back to (exact match)", func(v string) error {
		lo.PostLogoutRedirectURIs = splitList(v)
		return nil
	})
	f.StringVar(&lo.BackchannelLogoutURI, "backchannel-logout-uri", "", "where logout tokens are POSTed (OpenID Connect Back-Channel Logout)")
	f.BoolVar(&lo.BackchannelLogoutSessionRequired, "backchannel-logout-session-required", false, "the client needs sid in logout tokens")
	f.StringVar(&lo.FrontchannelLogoutURI, "frontchannel-logout-uri", "", "the page the logout page frames (OpenID Connect Front-Channel Logout)")
	f.BoolVar(&lo.FrontchannelLogoutSessionRequired, "frontchannel-logout-session-required", false, "add iss and sid to the framed page's URI")
}

// userUpdateFlags adds one flag for each field of accounts.UserUpdate.
func userUpdateFlags(f *flags, up *accounts.UserUpdate) {
	stringField(f, "email", "email address; security tokens are sent here", &up.Email)
	stringField(f, "name", "display name", &up.Name)
	boolField(f, "admin", "give (true) or take (false) the admin role", &up.Admin)
	boolField(f, "disabled", "disable (true: no sign-in on any channel, sessions and tokens end at once) or enable (false) the user", &up.Disabled)
	boolField(f, "email-verified", "mark the email address verified (true) or not (false); ID tokens carry it as email_verified", &up.EmailVerified)
	boolField(f, "require-mfa", "make the user sign in with a second factor, and use a TOTP code in place of the security token (true), or not (false)", &up.RequireMFA)
}

// anyFlagSet reports whether a flag other than --config and --json was
// given.
func anyFlagSet(f *flags) bool {
	set := false
	f.Visit(func(fl *flag.Flag) {
		if fl.Name != "config" && fl.Name != "json" {
			set = true
		}
	})
	return set
}

func cmdClientsUpdate(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients update", "CLIENT_ID [--name NAME] [--redirect-uris LIST] [--scopes LIST] [--grant-types LIST] [--first-party true|false] [--access-token-format opaque|jwt] [--id-token-alg RS256|ES256|EdDSA] [--access-token-alg ALG] [--json]")
	var up clients.ClientUpdate
	clientUpdateFlags(f, &up)
	asJSON := f.jsonFlag()
	pos, err := parseArgs(env, f, args, "CLIENT_ID")
	if err != nil {
		return helpOrErr(err)
	}
	if !anyFlagSet(f) {
		fmt.Fprintf(env.stderr, "%s: nothing to change: give at least one field's flag\n", f.Name())
		f.Usage()
		return errUsage
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		c, err := a.Clients.Update(ctx, cliActor(env), pos[0], up)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, clients.ViewOf(c))
		}
		fmt.Fprintf(env.stdout, "Updated client %s (%s).\n", c.ID, c.Name)
		return printClient(env, false, c)
	})
}

func cmdUsersUpdate(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users update", "USERNAME [--email EMAIL] [--email-verified true|false] [--name NAME] [--admin true|false] [--disabled true|false] [--json]")
	var up accounts.UserUpdate
	userUpdateFlags(f, &up)
	asJSON := f.jsonFlag()
	username, err := userArg(env, f, args)
	if err != nil {
		return helpOrErr(err)
	}
	if !anyFlagSet(f) {
		fmt.Fprintf(env.stderr, "%s: nothing to change: give at least one field's flag\n", f.Name())
		f.Usage()
		return errUsage
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		u, err := a.Accounts.UpdateUser(ctx, cliActor(env), username, up)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, accounts.UserViewOf(u))
		}
		fmt.Fprintf(env.stdout, "Updated user %s.\n", u.Username)
		return printUser(env, false, u)
	})
}
