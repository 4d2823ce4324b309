package main

import (
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/models"
)

// The CLI lists a user's app passwords (never a value) and revokes one;
// clients take their legacy credentials on create and update, and a bad
// value is a clear error that changes nothing.
func TestCLIAppPasswords(t *testing.T) {
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		h.ok("erin-password-1\n", "users", "create", "--username", "erin", "--email", "erin@example.com", "--password-stdin")
		var created struct {
			ClientID          string `json:"client_id"`
			LegacyCredentials string `json:"legacy_credentials"`
		}
		h.json(&created, "", "clients", "create", "--name", "Loader", "--grant-types", "password", "--legacy-credentials", "app_password", "--json")
		if created.LegacyCredentials != "app_password" {
			t.Fatalf("clients create --legacy-credentials app_password: got %q", created.LegacyCredentials)
		}
		h.fails(1, "legacy_credentials", "", "clients", "update", created.ClientID, "--legacy-credentials", "tokens")
		if out := h.ok("", "clients", "get", created.ClientID); !strings.Contains(out, "app_password") {
			t.Errorf("clients get after a refused update:\n%s", out)
		}
		h.ok("", "clients", "update", created.ClientID, "--legacy-credentials", "both")
		if out := h.ok("", "clients", "get", created.ClientID); !strings.Contains(out, "both") {
			t.Errorf("clients get after --legacy-credentials both:\n%s", out)
		}

		db := h.db()
		var erin models.User
		if err := db.Where("username = ?", "erin").Take(&erin).Error; err != nil {
			t.Fatal(err)
		}
		p := models.AppPassword{ID: "ap1", UserID: erin.ID, Name: "Nightly export", ClientID: created.ClientID, Scopes: []string{"openid"},
			Hash: "planted-hash", CreatedAt: time.Now().UTC()}
		if err := db.Create(&p).Error; err != nil {
			t.Fatal(err)
		}
		out := h.ok("", "app-passwords", "list", "erin")
		if !strings.Contains(out, "Nightly export") || !strings.Contains(out, "active") || strings.Contains(out, "planted-hash") {
			t.Errorf("app-passwords list:\n%s", out)
		}
		h.fails(1, "not found", "", "app-passwords", "revoke", "erin", "nope")
		h.fails(2, "missing ID", "", "app-passwords", "revoke", "erin")
		var v apppasswords.View
		h.json(&v, "", "app-passwords", "revoke", "erin", "ap1", "--json")
		if v.State != apppasswords.StateRevoked {
			t.Errorf("app-passwords revoke: got %+v", v)
		}
		var list []apppasswords.View
		h.json(&list, "", "app-passwords", "list", "erin", "--json")
		if len(list) != 1 || list[0].State != apppasswords.StateRevoked {
			t.Errorf("app-passwords list --json after revoke: got %+v", list)
		}
	})
}
