package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/models"
)

func cmdClientsBrownouts(ctx context.Context, env *cliEnv, args []string) error {
	return runGroup(ctx, env, "clients brownouts", []subcommand{
		{"add", "schedule a window (UTC) before the sunset during which the legacy grant is refused", cmdBrownoutsAdd},
		{"list", "list a client's brownouts", cmdBrownoutsList},
		{"remove", "cancel a brownout (one under way ends at once)", cmdBrownoutsRemove},
	}, args)
}

func cmdBrownoutsAdd(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients brownouts add", `CLIENT_ID START END   (each RFC 3339 or "YYYY-MM-DD HH:MM" UTC)`)
	asJSON := f.jsonFlag()
	pos, err := parseArgs(env, f, args, "CLIENT_ID", "START", "END")
	if err != nil {
		return helpOrErr(err)
	}
	start, err := clients.ParseBrownoutTime("start", pos[1])
	if err != nil {
		return err
	}
	end, err := clients.ParseBrownoutTime("end", pos[2])
	if err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		b, err := a.Clients.AddBrownout(ctx, cliActor(env), pos[0], start, end)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, clients.BrownoutViewOf(b, time.Now()))
		}
		fmt.Fprintf(env.stdout, "Brownout %d of client %s: the legacy password grant is refused from %s until %s.\n",
			b.ID, b.ClientID, fmtTime(b.StartsAt), fmtTime(b.EndsAt))
		return nil
	})
}

func cmdBrownoutsList(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients brownouts list", "CLIENT_ID [--json]")
	asJSON := f.jsonFlag()
	pos, err := parseArgs(env, f, args, "CLIENT_ID")
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		list, err := a.Clients.Brownouts(ctx, pos[0])
		if err != nil {
			return err
		}
		now := time.Now()
		return printList(env, *asJSON, list, func(b models.ClientBrownout) clients.BrownoutView { return clients.BrownoutViewOf(b, now) },
			table[models.ClientBrownout]{
				empty:   "No brownouts for this client.",
				headers: []string{"ID", "START", "END", "STATE", "CREATED BY"},
				row: func(b models.ClientBrownout) []string {
					v := clients.BrownoutViewOf(b, now)
					return []string{strconv.FormatUint(b.ID, 10), fmtTime(b.StartsAt), fmtTime(b.EndsAt), v.State, b.CreatedBy}
				},
			})
	})
}

func cmdBrownoutsRemove(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients brownouts remove", "CLIENT_ID BROWNOUT_ID")
	pos, err := parseArgs(env, f, args, "CLIENT_ID", "BROWNOUT_ID")
	if err != nil {
		return helpOrErr(err)
	}
	id, err := strconv.ParseUint(pos[1], 10, 64)
	if err != nil {
		return fmt.Errorf("BROWNOUT_ID: %q is not a brownout id (see 'authgate clients brownouts list %s')", pos[1], pos[0])
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		if err := a.Clients.RemoveBrownout(ctx, cliActor(env), pos[0], id); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "Removed brownout %d of client %s.\n", id, pos[0])
		return nil
	})
}

func cmdLegacyMigrationURL(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "clients legacy migration-url", "CLIENT_ID URL|none")
	pos, err := parseArgs(env, f, args, "CLIENT_ID", "URL|none")
	if err != nil {
		return helpOrErr(err)
	}
	raw := pos[1]
	if strings.EqualFold(raw, "none") {
		raw = ""
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		c, err := a.Clients.SetMigrationURL(ctx, cliActor(env), pos[0], raw)
		if err != nil {
			return err
		}
		if c.LegacyMigrationURL == "" {
			fmt.Fprintf(env.stdout, "Cleared the migration guide of client %s; brownout refusals and notices name the default (legacy_migration_url) if set.\n", c.ID)
			return nil
		}
		fmt.Fprintf(env.stdout, "Brownout refusals and notices for client %s point to %s.\n", c.ID, c.LegacyMigrationURL)
		return nil
	})
}
