package main

import (
	"context"
	"fmt"
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
		fmt.Fprintln(env.stdout, "Usage: authgate keys rotate|list [--config FILE]")
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub := args[0]
	f := newFlags(env, "keys "+sub, "[--config FILE]")
	if err := f.parse(env, args[1:]); err != nil {
		return helpOrErr(err)
	}
	if sub != "rotate" && sub != "list" {
		fmt.Fprintf(env.stderr, "authgate keys: unknown subcommand %q (want rotate or list)\n", sub)
		return errUsage
	}
	a, closeApp, err := openApp(ctx, env, f.configPath, false)
	if err != nil {
		return err
	}
	defer closeApp()
	km := a.Keys
	if sub == "rotate" {
		kid, err := km.Rotate(ctx, cliActor(env))
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "new signing key %s is current; the previous key stays in the JWKS for %s\n", kid, a.Config.TokenRetention())
		return nil
	}
	keys, err := km.List(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		state := "current"
		if !k.Current {
			state = "retired"
			if k.ExpiresAt != nil {
				state += ", published until " + k.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")
			}
		}
		fmt.Fprintf(env.stdout, "%s  %s  created %s  (%s)\n", k.ID, k.Algorithm, k.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), state)
	}
	return nil
}
