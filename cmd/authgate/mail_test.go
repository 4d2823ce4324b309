package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/mail"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testutil"
)

// failQueuedMail makes every queued message fail for good, through a
// sender whose transport refuses and echoes the body back; it returns the
// security tokens the refused mail held.
func (h *cliHarness) failQueuedMail() []string {
	h.t.Helper()
	keys, err := keyring.New([]byte(h.env["AUTHGATE_SECRET"]))
	if err != nil {
		h.t.Fatal(err)
	}
	refusing := &testutil.RefusingMail{}
	s, err := mail.NewSender(storage.New(h.db()), keys, refusing, mail.SenderOptions{From: "authgate <no-reply@example.com>", MaxAttempts: 1})
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := s.DeliverDue(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	return refusing.Tokens()
}

func TestCLIMail(t *testing.T) {
	t.Parallel()
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		h.env["AUTHGATE_SECRET"] = cliSecret
		if got := h.ok("", "mail", "failed"); got != "No failed mail.\n" {
			t.Errorf("mail failed on an empty outbox: %q", got)
		}

		h.ok("carol-password-1\n", "users", "create", "--username", "carol", "--email", "carol@example.com", "--password-stdin")
		tokens := h.failQueuedMail()
		if len(tokens) != 1 {
			t.Fatalf("refused tokens %q, want carol's one", tokens)
		}

		out := h.ok("", "mail", "failed")
		if !strings.Contains(out, "carol@example.com") || !strings.Contains(out, "security token") ||
			!strings.Contains(out, "550 5.7.1") || !strings.Contains(out, "[redacted]") {
			t.Errorf("mail failed:\n%s\nwant carol's token email and the redacted refusal", out)
		}
		var list []mail.FailedView
		h.json(&list, "", "mail", "failed", "--json")
		if len(list) != 1 || list[0].To != "carol@example.com" || list[0].Attempts != 1 {
			t.Fatalf("mail failed --json = %+v, want carol's message after one attempt", list)
		}
		raw := h.ok("", "mail", "failed", "--json")
		var fields []map[string]any
		if err := json.Unmarshal([]byte(raw), &fields); err != nil {
			t.Fatal(err)
		}
		for k := range fields[0] {
			if strings.Contains(strings.ToLower(k), "body") {
				t.Errorf("mail failed --json shows %q", k)
			}
		}
		for _, o := range []string{out, raw} {
			if strings.Contains(o, tokens[0]) {
				t.Errorf("mail failed shows the security token:\n%s", o)
			}
		}

		h.fails(2, "give one message ID or --all", "", "mail", "retry")
		h.fails(2, "give one message ID or --all", "", "mail", "retry", "1", "--all")
		h.fails(2, "give one message ID or --all", "", "mail", "retry", "1", "2")
		h.fails(2, "is not a message ID", "", "mail", "retry", "abc")
		h.fails(2, "is not a message ID", "", "mail", "retry", "0")
		h.fails(1, "no failed message has this ID", "", "mail", "retry", fmt.Sprint(list[0].ID+1000))

		id := fmt.Sprint(list[0].ID)
		if got := h.ok("", "mail", "retry", id); !strings.Contains(got, "Mail "+id+" queued again") {
			t.Errorf("mail retry %s: %q", id, got)
		}
		if got := h.ok("", "mail", "failed"); got != "No failed mail.\n" {
			t.Errorf("mail failed after the retry:\n%s", got)
		}
		h.fails(1, "no failed message has this ID", "", "mail", "retry", id)
		entries, err := storage.New(h.db()).ListAudit(context.Background(), storage.AuditFilter{Action: mail.ActionRetry, Target: id})
		if err != nil || len(entries) != 1 || entries[0].Actor != "cli:tester" {
			t.Errorf("audit entries for the retry %+v, %v; want one by cli:tester", entries, err)
		}

		// Two more failures, then --all requeues both (and the retried one,
		// refused again, with them).
		h.ok("", "users", "reset-token", "carol")
		h.ok("dave-password-1\n", "users", "create", "--username", "dave", "--email", "dave@example.com", "--password-stdin")
		if got := h.failQueuedMail(); len(got) != 3 {
			t.Fatalf("refused tokens %q, want three", got)
		}
		if got := h.ok("", "mail", "retry", "--all"); !strings.HasPrefix(got, "3 failed message(s) queued again") {
			t.Errorf("mail retry --all: %q", got)
		}
		if got := h.ok("", "mail", "failed"); got != "No failed mail.\n" {
			t.Errorf("mail failed after retry --all:\n%s", got)
		}
		if got := h.ok("", "mail", "retry", "--all"); !strings.HasPrefix(got, "0 failed message(s)") {
			t.Errorf("mail retry --all with nothing failed: %q", got)
		}
	})
}
