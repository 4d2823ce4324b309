package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/models"
)

func cmdAppPasswords(ctx context.Context, env *cliEnv, args []string) error {
	return runGroup(ctx, env, "app-passwords", []subcommand{
		{"list", "list a user's app passwords: created, last used, expiry, state (never a value)", cmdAppPasswordsList},
		{"revoke", "revoke one app password of a user (audited); its tokens stop working", cmdAppPasswordsRevoke},
	}, args)
}

func cmdAppPasswordsList(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "app-passwords list", "USERNAME [--json]")
	asJSON := f.jsonFlag()
	return withUser(ctx, env, f, args, func(a *app.App, username string) error {
		u, err := a.Accounts.GetUser(ctx, username)
		if err != nil {
			return err
		}
		list, err := a.AppPasswords.List(ctx, u.ID, true)
		if err != nil {
			return err
		}
		now := time.Now()
		return printList(env, *asJSON, list, func(p models.AppPassword) apppasswords.View { return apppasswords.ViewOf(p, now) }, table[models.AppPassword]{
			empty:   fmt.Sprintf("%s has no app passwords.", u.Username),
			headers: []string{"ID", "NAME", "CLIENT", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "STATE"},
			row: func(p models.AppPassword) []string {
				client := p.ClientID
				if client == "" {
					client = "any"
				}
				last := "never"
				if p.LastUsedAt != nil {
					last = fmtTime(*p.LastUsedAt) + " " + p.LastUsedClient + " " + p.LastUsedIP
				}
				exp := "never"
				if p.ExpiresAt != nil {
					exp = fmtTime(*p.ExpiresAt)
				}
				return []string{p.ID, p.Name, client, strings.Join(p.Scopes, ","), fmtTime(p.CreatedAt), last, exp, apppasswords.StateAt(p, now)}
			},
		})
	})
}

func cmdAppPasswordsRevoke(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "app-passwords revoke", "USERNAME ID [--json]")
	asJSON := f.jsonFlag()
	pos, err := parseArgs(env, f, args, "USERNAME", "ID")
	if err != nil {
		return helpOrErr(err)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		u, err := a.Accounts.GetUser(ctx, pos[0])
		if err != nil {
			return err
		}
		if err := a.AppPasswords.Revoke(ctx, cliActor(env), u.ID, pos[1]); err != nil {
			return err
		}
		p, err := a.AppPasswords.Get(ctx, pos[1])
		if err != nil {
			return err
		}
		v := apppasswords.ViewOf(p, time.Now())
		return printItem(env, *asJSON, v, [][2]string{{"id", v.ID}, {"name", v.Name}, {"state", v.State}, {"revoked_at", fmtTime(*v.RevokedAt)}})
	})
}
