package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/authgate/authgate/trust"
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
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	pos, err := positional(env, f, "CIDR")
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		r, err := trust.New(a.db).Add(ctx, cliActor(env), pos[0], *description)
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

type trustedRangeJSON struct {
	CIDR        string    `json:"cidr"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

func cmdTrustedIPsList(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "trusted-ips list", "[--json]")
	asJSON := f.Bool("json", false, "print JSON")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	if _, err := positional(env, f); err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		ranges, err := trust.New(a.db).List(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]trustedRangeJSON, 0, len(ranges))
			for _, r := range ranges {
				out = append(out, trustedRangeJSON{CIDR: r.CIDR, Description: r.Description, CreatedAt: r.CreatedAt.UTC()})
			}
			return printJSON(env.stdout, out)
		}
		if len(ranges) == 0 {
			fmt.Fprintln(env.stdout, "No trusted ranges: the legacy grant asks every address for the security token.")
			return nil
		}
		tw := newTable(env.stdout, "CIDR", "DESCRIPTION", "ADDED")
		for _, r := range ranges {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", r.CIDR, cell(r.Description), fmtTime(r.CreatedAt))
		}
		return tw.Flush()
	})
}

func cmdTrustedIPsRemove(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "trusted-ips remove", "CIDR")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	pos, err := positional(env, f, "CIDR")
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app) error {
		if err := trust.New(a.db).Remove(ctx, cliActor(env), pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Trusted range %s removed.\n", strings.TrimSpace(pos[0]))
		return nil
	})
}
