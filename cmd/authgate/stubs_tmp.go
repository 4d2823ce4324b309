package main

import "context"

func cmdClients(ctx context.Context, env *cliEnv, args []string) error      { return errUsage }
func cmdUsers(ctx context.Context, env *cliEnv, args []string) error        { return errUsage }
func cmdTrustedIPs(ctx context.Context, env *cliEnv, args []string) error   { return errUsage }
func cmdLoginHistory(ctx context.Context, env *cliEnv, args []string) error { return errUsage }
