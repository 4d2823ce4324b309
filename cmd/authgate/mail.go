package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/mail"
	"github.com/authgate/authgate/models"
)

// maxRetryAll bounds one "mail retry --all": a failure that keeps coming
// back should be looked at, not requeued forever by one command.
const maxRetryAll = 10000

func cmdMail(ctx context.Context, env *cliEnv, args []string) error {
	return runGroup(ctx, env, "mail", []subcommand{
		{"failed", "list mail that exhausted its delivery attempts (security-token mail among it)", cmdMailFailed},
		{"retry", "put failed mail back in the queue: one message by ID, or --all", cmdMailRetry},
	}, args)
}

func cmdMailFailed(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "mail failed", "[--limit N] [--json]")
	limit := f.Int("limit", 100, "show at most N messages, oldest first")
	asJSON := f.jsonFlag()
	if _, err := parseArgs(env, f, args); err != nil {
		return helpOrErr(err)
	}
	if err := checkLimit(env, f, *limit); err != nil {
		return err
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		sender := a.Sender
		failed, err := sender.ListFailed(ctx, *limit)
		if err != nil {
			return err
		}
		return printList(env, *asJSON, failed, mail.FailedViewOf, table[models.MailMessage]{
			empty:   "No failed mail.",
			headers: []string{"ID", "TO", "SUBJECT", "ATTEMPTS", "QUEUED", "LAST ERROR"},
			row: func(m models.MailMessage) []string {
				return []string{strconv.FormatUint(m.ID, 10), cell(m.To), cell(m.Subject), strconv.Itoa(m.Attempts), fmtTime(m.CreatedAt), cell(m.LastError)}
			},
		})
	})
}

func cmdMailRetry(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "mail retry", "ID | --all")
	all := f.Bool("all", false, "retry every failed message")
	if err := f.parse(env, args); err != nil {
		return helpOrErr(err)
	}
	var id uint64
	switch rest := f.Args(); {
	case *all && len(rest) == 0:
	case !*all && len(rest) == 1:
		n, err := strconv.ParseUint(rest[0], 10, 64)
		if err != nil || n == 0 {
			fmt.Fprintf(env.stderr, "%s: %q is not a message ID (see authgate mail failed)\n", f.Name(), rest[0])
			return errUsage
		}
		id = n
	default:
		fmt.Fprintf(env.stderr, "%s: give one message ID or --all\n", f.Name())
		f.Usage()
		return errUsage
	}
	return withApp(ctx, env, f, func(a *app.App) error {
		sender := a.Sender
		// The sender keeps no audit log: the entry is written here, once
		// the message is back in the queue.
		retry := func(id uint64) error {
			if err := sender.Retry(ctx, id); err != nil {
				return err
			}
			return a.Store.Audit(ctx, cliActor(env), mail.ActionRetry, strconv.FormatUint(id, 10), "")
		}
		if !*all {
			if err := retry(id); err != nil {
				if errors.Is(err, mail.ErrNotFailed) {
					return fmt.Errorf("mail %d: no failed message has this ID (see authgate mail failed)", id)
				}
				return err
			}
			fmt.Fprintf(env.stdout, "Mail %d queued again; the server delivers it within its poll interval.\n", id)
			return nil
		}
		n := 0
		for n < maxRetryAll {
			batch, err := sender.ListFailed(ctx, min(100, maxRetryAll-n))
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				break
			}
			for _, m := range batch {
				// Another operator may have retried it in between: skip it.
				if err := retry(m.ID); err != nil && !errors.Is(err, mail.ErrNotFailed) {
					return err
				}
				n++
			}
		}
		fmt.Fprintf(env.stdout, "%d failed message(s) queued again; the server delivers them within its poll interval.\n", n)
		return nil
	})
}
