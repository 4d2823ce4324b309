package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/models"
)

func cmdTrustedIPs(ctx context.Context, env *cliEnv, args []string) error {
	return runGroup(ctx, env, "trusted-ips", []subcommand{
		{"add", "trust an IP range: the legacy grant accepts the password alone from it", cmdTrustedIPsAdd},
		{"list", "list the trusted IP ranges", cmdTrustedIPsList},
		{"remove", "stop trusting an IP range", cmdTrustedIPsRemove},
	}, args)
}

func cmdTrustedIPsAdd(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "trusted-ips add", "CIDR [--description TEXT]")
	description := f.String("description", "", "what the range is, e.g. \"Head office\"")
	pos, err := parseArgs(env, f, args, "CIDR")
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		r, err := a.Trust.Add(ctx, cliActor(env), pos[0], *description)
		if err != nil {
			return err
		}
		stored := ""
		if r.CIDR != strings.TrimSpace(pos[0]) {
			stored = fmt.Sprintf(" (given as %s)", strings.TrimSpace(pos[0]))
		}
		fmt.Fprintf(env.stdout, "Trusted range %s added%s: the legacy grant now accepts the password without the security token from it.\n", r.CIDR, stored)
		return nil
	})
}

func cmdTrustedIPsList(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "trusted-ips list", "[--json]")
	asJSON := f.jsonFlag()
	if _, err := parseArgs(env, f, args); err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		ranges, err := a.Trust.List(ctx)
		if err != nil {
			return err
		}
		return printList(env, *asJSON, ranges, trustedips.ViewOf, table[models.TrustedRange]{
			empty:   "No trusted ranges: the legacy grant asks every address for the security token.",
			headers: []string{"CIDR", "DESCRIPTION", "ADDED"},
			row: func(r models.TrustedRange) []string {
				return []string{r.CIDR, cell(r.Description), fmtTime(r.CreatedAt)}
			},
		})
	})
}

func cmdTrustedIPsRemove(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "trusted-ips remove", "CIDR")
	pos, err := parseArgs(env, f, args, "CIDR")
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		if err := a.Trust.Remove(ctx, cliActor(env), pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Trusted range %s removed.\n", strings.TrimSpace(pos[0]))
		return nil
	})
}
