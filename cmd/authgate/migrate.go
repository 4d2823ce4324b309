package main

import (
	"context"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/authgate/authgate/oauth"
)

func cmdMigrate(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "migrate", "[--config FILE]")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	_, closeApp, err := openApp(ctx, env, f.configPath, true)
	if err != nil {
		return err
	}
	defer closeApp()
	// Building the application made the first signing key if there was none.
	fmt.Fprintln(env.stdout, "database schema is up to date")
	return nil
}

func cmdKeys(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.stdout, "Usage: authgate keys rotate [--alg RS256|ES256|EdDSA] [--now] | list [--json] [--config FILE]")
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub := args[0]
	if sub != "rotate" && sub != "list" {
		fmt.Fprintf(env.stderr, "authgate keys: unknown subcommand %q (want rotate or list)\n", sub)
		return errUsage
	}
	var (
		f      *flags
		alg    *string
		now    *bool
		asJSON *bool
	)
	if sub == "rotate" {
		f = newFlags(env, "keys rotate", "[--alg RS256|ES256|EdDSA] [--now] [--config FILE]")
		alg = f.String("alg", oauth.AlgRS256, "the algorithm of the new key: RS256, ES256 or EdDSA")
		now = f.Bool("now", false, "sign with the new key at once (an emergency: verifiers holding a cached JWKS may refuse its tokens for up to the JWKS cache lifetime)")
	} else {
		f = newFlags(env, "keys list", "[--json] [--config FILE]")
		asJSON = f.jsonFlag()
	}
	if _, err := parseArgs(env, f, args[1:]); err != nil {
		return helpOrErr(err)
	}
	if sub == "rotate" && !slices.Contains(oauth.SigningAlgorithms, *alg) {
		fmt.Fprintf(env.stderr, "authgate keys rotate: --alg %q is not a supported signing algorithm; use RS256, ES256 or EdDSA\n", *alg)
		return errUsage
	}
	a, closeApp, err := openApp(ctx, env, f.configPath, false)
	if err != nil {
		return err
	}
	defer closeApp()
	km := a.Keys
	if sub == "rotate" {
		rot, err := km.Rotate(ctx, cliActor(env), *alg, *now)
		if err != nil {
			return err
		}
		k := rot.Key
		if rot.Immediate {
			fmt.Fprintf(env.stderr, "warning: %s key %s signs at once; relying parties that cached the JWKS in the last %s may refuse its tokens until they fetch it again\n",
				k.Algorithm, k.ID, a.Config.JWKSMaxAge)
			fmt.Fprintf(env.stdout, "new %s signing key %s is current; the previous key stays in the JWKS for %s\n", k.Algorithm, k.ID, a.Config.TokenRetention())
			return nil
		}
		fmt.Fprintf(env.stdout, "new %s signing key %s is published now and becomes current at %s (in %s: the JWKS cache lifetime %s plus the key refresh interval %s); the previous key keeps signing until then and stays in the JWKS for %s after\n",
			k.Algorithm, k.ID, k.ActivatesAt.UTC().Format(time.RFC3339), km.PrePublish(), a.Config.JWKSMaxAge, a.Config.KeyRefreshInterval, a.Config.TokenRetention())
		return nil
	}
	keys, err := km.List(ctx)
	if err != nil {
		return err
	}
	at := km.Now()
	if *asJSON {
		out := make([]oauth.KeyView, 0, len(keys))
		for _, k := range keys {
			out = append(out, oauth.ViewOf(k, at))
		}
		return printJSON(env.stdout, out)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNS FROM\tSIGNS UNTIL\tPUBLISHED UNTIL")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, oauth.KeyState(k, at), stamp(&k.CreatedAt),
			stamp(&k.ActivatesAt), stamp(k.RetiredAt), stamp(k.ExpiresAt))
	}
	return tw.Flush()
}

// stamp formats a time for a table: UTC to the second, "-" when unset.
func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}
