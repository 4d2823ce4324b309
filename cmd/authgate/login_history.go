package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
)

// parseAge reads a Go duration such as 90m or 24h, or a number of days
// such as 7d.
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 && n <= 100*365 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("%q is not a positive duration such as 90m, 24h or 7d", s)
}

func cmdLoginHistory(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "login-history", "[--user USERNAME] [--client CLIENT_ID] [--result RESULT] [--since DURATION] [--limit N] [--json]")
	user := f.String("user", "", "only attempts for this username")
	client := f.String("client", "", "only attempts through this client")
	result := f.String("result", "", "only attempts with this result, e.g. "+strconv.Quote(signin.ResultSuccess)+" or "+strconv.Quote(signin.ResultInvalidToken))
	method := f.String("method", "", "only attempts by this method: "+strings.Join(accounts.Methods(), ", "))
	var since time.Duration
	f.Func("since", "only attempts within this long before now, e.g. 90m, 24h or 7d", func(s string) error {
		d, err := parseAge(s)
		since = d
		return err
	})
	limit := f.Int("limit", 50, "show at most N attempts, newest first (up to 1000)")
	asJSON := f.jsonFlag()
	if _, err := parseArgs(env, f, args); err != nil {
		return helpOrErr(err)
	}
	if err := checkLimit(env, f, *limit); err != nil {
		return err
	}
	if *method != "" && !slices.Contains(accounts.Methods(), *method) {
		fmt.Fprintf(env.stderr, "%s: --method must be one of %s\n", f.Name(), strings.Join(accounts.Methods(), ", "))
		return errUsage
	}
	filter := accounts.LoginFilter{Username: *user, ClientID: *client, Result: *result, Method: *method, Limit: *limit}
	for _, r := range signin.Results() { // --result matches them ignoring case
		if strings.EqualFold(r, strings.TrimSpace(*result)) {
			filter.Result = r
		}
	}
	if since > 0 {
		filter.Since = time.Now().Add(-since)
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		events, total, err := a.Accounts.ListLogins(ctx, filter)
		if err != nil {
			return err
		}
		return printList(env, *asJSON, events, accounts.LoginEventViewOf, table[models.LoginEvent]{
			empty:   "No login attempts match.",
			headers: []string{"TIME", "USER", "CLIENT", "SOURCE IP", "METHOD", "RESULT"},
			row: func(e models.LoginEvent) []string {
				return []string{fmtTime(e.Time), cell(e.Username), cell(e.ClientID), cell(e.SourceIP), e.Method, cell(e.Result)}
			},
			total: total,
			more:  "Showing the newest %d of %d attempts; use --limit or the filters to see others.\n",
		})
	})
}
