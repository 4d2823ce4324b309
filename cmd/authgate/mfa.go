package main

import (
	"context"
	"fmt"
	"time"

	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/mfa"
)

func cmdUsersMFA(ctx context.Context, env *cliEnv, args []string) error {
	return runGroup(ctx, env, "users mfa", []subcommand{
		{"list", "show a user's second factors (never a secret)", cmdUsersMFAList},
		{"reset", "remove a user's TOTP factor and recovery codes (audited; the user is emailed)", cmdUsersMFAReset},
	}, args)
}

// mfaView is what the CLI prints of a user's factors.
type mfaView struct {
	Username string `json:"username"`
	mfa.Factors
	Removed *bool `json:"removed,omitempty"`
}

func printMFA(env *cliEnv, asJSON bool, v mfaView) error {
	if asJSON {
		return printJSON(env.stdout, v)
	}
	state := "off"
	switch {
	case v.TOTP:
		state = "on"
		if v.ConfirmedAt != nil {
			state += " since " + v.ConfirmedAt.UTC().Format(time.RFC3339)
		}
		if v.LastUsedAt != nil {
			state += ", last used " + v.LastUsedAt.UTC().Format(time.RFC3339)
		}
	case v.Pending:
		state = "set-up started, not confirmed (not a factor)"
	}
	fmt.Fprintf(env.stdout, "User:           %s\nTOTP:           %s\nRecovery codes: %d left\n", v.Username, state, v.RecoveryCodesLeft)
	return nil
}

func cmdUsersMFAList(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users mfa list", "USERNAME [--json]")
	asJSON := f.jsonFlag()
	return withUser(ctx, env, f, args, func(a *app.App, username string) error {
		u, err := a.Accounts.GetUser(ctx, username)
		if err != nil {
			return err
		}
		fs, err := a.MFA.List(ctx, u.ID)
		if err != nil {
			return err
		}
		return printMFA(env, *asJSON, mfaView{Username: u.Username, Factors: fs})
	})
}

func cmdUsersMFAReset(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "users mfa reset", "USERNAME [--json]")
	asJSON := f.jsonFlag()
	return withUser(ctx, env, f, args, func(a *app.App, username string) error {
		u, err := a.Accounts.GetUser(ctx, username)
		if err != nil {
			return err
		}
		removed, err := a.MFA.Reset(ctx, cliActor(env), u)
		if err != nil {
			return err
		}
		fs, err := a.MFA.List(ctx, u.ID)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(env.stdout, mfaView{Username: u.Username, Factors: fs, Removed: &removed})
		}
		if !removed {
			fmt.Fprintf(env.stdout, "%s had no second factor; nothing changed.\n", u.Username)
			return nil
		}
		fmt.Fprintf(env.stdout, "Removed the TOTP factor and recovery codes of %s; an email to %s says so.\n", u.Username, u.Email)
		return nil
	})
}
