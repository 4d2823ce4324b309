package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/workbench"
)

func cmdLegacy(ctx context.Context, env *cliEnv, args []string) error {
	return runGroup(ctx, env, "legacy", []subcommand{
		{"workbench", "the migration workbench: per legacy client its users, a suggested way off, the actions", cmdWorkbench},
	}, args)
}

// cmdWorkbench shows the workbench; "dry-run" and "act" are its
// subcommands.
func cmdWorkbench(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "dry-run":
			return cmdWorkbenchDryRun(ctx, env, args[1:])
		case "act":
			return cmdWorkbenchAct(ctx, env, args[1:])
		}
	}
	f := newFlags(env, "legacy workbench", "[--days N] [--json]   |   dry-run [--days N] [--csv|--json]   |   act CLIENT_ID ACTION")
	days := f.Int("days", 90, "how many days back a use counts")
	asJSON := f.jsonFlag()
	if _, err := parseArgs(env, f, args); err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		rep, err := a.Workbench.Report(ctx, *days)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, rep)
		}
		if len(rep.Clients) == 0 {
			fmt.Fprintf(env.stdout, "No client holds the legacy grant or used it in the last %d days.\n", rep.Days)
			return nil
		}
		for i, c := range rep.Clients {
			if i > 0 {
				fmt.Fprintln(env.stdout)
			}
			state := "legacy off"
			if c.LegacyEnabled {
				state = "legacy on"
			}
			if c.Sunset != nil {
				state += ", sunset " + fmtTime(*c.Sunset)
			}
			fmt.Fprintf(env.stdout, "%s (%s) — %s, %d uses by %d users in %d days\n", cell(c.Name), c.ClientID, state, c.Uses, len(c.Users), rep.Days)
			for _, b := range c.Brownouts {
				fmt.Fprintf(env.stdout, "  brownout %d: %s to %s\n", b.ID, fmtTime(b.Start), fmtTime(b.End))
			}
			fmt.Fprintf(env.stdout, "  suggested: %s — %s\n", c.Suggestion.Way, c.Suggestion.Reason)
			if len(c.Users) > 0 {
				tw := newTable(env.stdout, "  USER", "USES", "LAST USED", "VIA", "NETWORKS", "USER AGENTS")
				for _, u := range c.Users {
					fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", cell(u.Username), u.Count, fmtTime(u.LastUsed), strings.Join(u.Via, ","),
						strings.Join(u.Networks, ","), cell(strings.Join(u.UserAgents, "; ")))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			for _, act := range c.Actions {
				mark := "available"
				if !act.Available {
					mark = act.Note
				}
				fmt.Fprintf(env.stdout, "  action %s: %s (%s)\n", act.Name, act.Label, mark)
			}
		}
		return nil
	})
}

func cmdWorkbenchDryRun(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "legacy workbench dry-run", "[--days N] [--csv|--json]")
	days := f.Int("days", 30, "users active in the last N days")
	asCSV := f.Bool("csv", false, "print CSV (a header row, then one row per client and user)")
	asJSON := f.jsonFlag()
	if _, err := parseArgs(env, f, args); err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		rows, err := a.Workbench.DryRun(ctx, *days)
		if err != nil {
			return err
		}
		switch {
		case *asCSV:
			return workbench.WriteCSV(env.stdout, rows)
		case *asJSON:
			return printJSON(env.stdout, rows)
		}
		if len(rows) == 0 {
			fmt.Fprintf(env.stdout, "Turning the legacy grant off now would break nothing used in the last %d days.\n", *days)
			return nil
		}
		fmt.Fprintf(env.stdout, "If the legacy grant were turned off now, these %d sign-ins (active in the last %d days) would break:\n", len(rows), *days)
		tw := newTable(env.stdout, "CLIENT ID", "CLIENT", "USER", "USES", "LAST USED", "VIA")
		for _, b := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", b.ClientID, cell(b.ClientName), cell(b.Username), b.Uses, fmtTime(b.LastUsed), strings.Join(b.Via, ","))
		}
		return tw.Flush()
	})
}

func cmdWorkbenchAct(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "legacy workbench act", "CLIENT_ID enable_device_grant|enable_client_credentials|send_notices|disable_legacy")
	pos, err := parseArgs(env, f, args, "CLIENT_ID", "ACTION")
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		out, err := a.WorkbenchActor.Do(ctx, cliActor(env), pos[0], pos[1])
		if err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, out.Message)
		return nil
	})
}
