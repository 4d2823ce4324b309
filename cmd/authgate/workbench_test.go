package main

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/workbench"
	"github.com/authgate/authgate/models"
)

func TestCLIBrownoutsAndWorkbench(t *testing.T) {
	t.Parallel()
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		var c struct {
			ClientID string `json:"client_id"`
		}
		h.json(&c, "", "clients", "create", "--json", "--name", "Deploy CLI", "--grant-types", "password")
		h.ok("pw-one-two-three\n", "users", "create", "--username", "ana", "--email", "ana@example.com", "--password-stdin")
		var ana models.User
		if err := h.db().Where("username = ?", "ana").Take(&ana).Error; err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		for _, e := range []models.LoginEvent{
			{Time: now.Add(-time.Hour), UserID: ana.ID, Username: "ana", ClientID: c.ClientID, Method: "password_grant", Result: "Success", UserAgent: "deploy/1 curl/8", SourceIP: "192.0.2.7"},
			{Time: now.Add(-2 * time.Hour), UserID: ana.ID, Username: "ana", ClientID: c.ClientID, Method: "password_grant", Result: "Success", UserAgent: "deploy/1 curl/8", SourceIP: "198.51.100.7"},
		} {
			if err := h.db().Create(&e).Error; err != nil {
				t.Fatal(err)
			}
		}

		// Brownouts need a sunset, then a window before it.
		start := now.Add(24 * time.Hour).Truncate(time.Minute)
		h.fails(1, "no legacy sunset", "", "clients", "brownouts", "add", c.ClientID, start.Format(time.RFC3339), start.Add(time.Hour).Format(time.RFC3339))
		h.ok("", "clients", "legacy", "sunset", c.ClientID, now.AddDate(0, 0, 20).Format(time.DateOnly))
		h.fails(1, "start:", "", "clients", "brownouts", "add", c.ClientID, "tomorrow", "later")
		out := h.ok("", "clients", "brownouts", "add", c.ClientID, start.Format("2006-01-02 15:04"), start.Add(time.Hour).Format(time.RFC3339))
		if !strings.Contains(out, "Brownout 1 of client") {
			t.Errorf("brownouts add: %q", out)
		}
		h.fails(1, "overlaps brownout 1", "", "clients", "brownouts", "add", c.ClientID, start.Add(30*time.Minute).Format(time.RFC3339), start.Add(2*time.Hour).Format(time.RFC3339))
		if out := h.ok("", "clients", "brownouts", "list", c.ClientID); !strings.Contains(out, "scheduled") {
			t.Errorf("brownouts list: %q", out)
		}
		h.fails(1, "sunset:", "", "clients", "legacy", "sunset", c.ClientID, "none")
		h.ok("", "clients", "legacy", "migration-url", c.ClientID, "https://wiki.example.com/deploy")
		h.fails(1, "migration_url", "", "clients", "legacy", "migration-url", c.ClientID, "not a url")

		var rep workbench.Report
		h.json(&rep, "", "legacy", "workbench", "--json", "--days", "30")
		if len(rep.Clients) != 1 || len(rep.Clients[0].Users) != 1 || rep.Clients[0].Users[0].Count != 2 || len(rep.Clients[0].Brownouts) != 1 {
			t.Fatalf("workbench: %+v", rep)
		}
		if got := rep.Clients[0].Suggestion.Way; got != workbench.WayDeviceFlow {
			t.Errorf("one person on a CLI from two networks: suggestion %s, want device_flow", got)
		}
		if out := h.ok("", "legacy", "workbench"); !strings.Contains(out, "suggested: device_flow") || !strings.Contains(out, "brownout 1:") {
			t.Errorf("workbench text:\n%s", out)
		}
		h.fails(1, "days", "", "legacy", "workbench", "--days", "0")

		out = h.ok("", "legacy", "workbench", "dry-run", "--csv")
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil || len(recs) != 2 || recs[1][0] != c.ClientID || recs[1][3] != "ana" || recs[1][4] != "2" {
			t.Errorf("dry run CSV: %v, %v\n%s", recs, err, out)
		}

		if out := h.ok("", "legacy", "workbench", "act", c.ClientID, "send_notices"); !strings.Contains(out, "to 1 of its 1 recent users") {
			t.Errorf("send notices: %q", out)
		}
		h.fails(1, "action", "", "legacy", "workbench", "act", c.ClientID, "make_coffee")
		h.ok("", "clients", "brownouts", "remove", c.ClientID, "1")
		h.fails(1, "not found", "", "clients", "brownouts", "remove", c.ClientID, "1")
	})
}
