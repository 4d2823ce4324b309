package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/server/console"
)

// TestCLIClientsUpdate: "clients update" changes only the fields whose
// flags are given, refuses bad input with the field's message and changes
// nothing then, and refuses the console's own client.
func TestCLIClientsUpdate(t *testing.T) {
	t.Parallel()
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		var created map[string]any
		h.json(&created, "", "clients", "create", "--name", "Web app", "--grant-types", "authorization_code",
			"--redirect-uris", "https://app.example.com/cb", "--scopes", "openid profile", "--json")
		id := created["client_id"].(string)

		var got map[string]any
		h.json(&got, "", "clients", "update", id, "--name", "Web app 2", "--first-party", "true", "--json")
		if got["name"] != "Web app 2" || got["first_party"] != true || got["access_token_format"] != "opaque" ||
			len(got["redirect_uris"].([]any)) != 1 || len(got["scopes"].([]any)) != 2 {
			t.Errorf("update --name --first-party = %v, want those changed and the rest kept", got)
		}
		out := h.ok("", "clients", "update", id, "--redirect-uris", "https://app.example.com/a, https://app.example.com/b",
			"--scopes", "openid,email", "--grant-types", "authorization_code refresh_token", "--access-token-format", "jwt", "--first-party=false")
		if !strings.Contains(out, "Updated client "+id) || !strings.Contains(out, "https://app.example.com/b") {
			t.Errorf("update output:\n%s", out)
		}
		h.json(&got, "", "clients", "get", id, "--json")
		if got["access_token_format"] != "jwt" || got["first_party"] != false || len(got["redirect_uris"].([]any)) != 2 ||
			!slices.Contains(anyStrings(got["grant_types"]), "refresh_token") || !slices.Contains(anyStrings(got["scopes"]), "offline_access") {
			t.Errorf("after the second update: %v", got)
		}

		// Bad input: the field's message, exit 1, nothing changed.
		before := h.ok("", "clients", "get", id, "--json")
		h.fails(1, `redirect_uris: "http://app.example.com/cb" must use https`, "", "clients", "update", id, "--name", "changed", "--redirect-uris", "http://app.example.com/cb")
		h.fails(1, `grant_types: "implicit" is not a supported grant type`, "", "clients", "update", id, "--grant-types", "implicit")
		h.fails(1, "redirect_uris: at least one is required", "", "clients", "update", id, "--redirect-uris", "")
		h.fails(1, `access_token_format: "xml" must be opaque or jwt`, "", "clients", "update", id, "--access-token-format", "xml")
		h.fails(2, `invalid value "maybe" for flag -first-party: must be true or false`, "", "clients", "update", id, "--first-party", "maybe")
		h.fails(2, "nothing to change", "", "clients", "update", id)
		h.fails(2, "missing CLIENT_ID", "", "clients", "update", "--name", "x")
		h.fails(2, "flag provided but not defined: -public", "", "clients", "update", id, "--public")
		h.fails(1, "client not found", "", "clients", "update", "no-such-client", "--name", "x")
		if after := h.ok("", "clients", "get", id, "--json"); after != before {
			t.Errorf("a refused update changed the client:\nbefore %s\nafter  %s", before, after)
		}

		// The console's own client is authgate's.
		db := h.db()
		if err := db.Create(&models.Client{ID: console.ClientID, Name: "authgate admin console", GrantTypes: []string{"authorization_code"},
			RedirectURIs: []string{"http://127.0.0.1:8081/admin/callback"}, Scopes: []string{"openid"}, Audience: []string{}, ResponseTypes: []string{"code"},
			AccessTokenFormat: "opaque", SecretHash: "x"}).Error; err != nil {
			t.Fatal(err)
		}
		h.fails(1, "admin console's own", "", "clients", "update", console.ClientID, "--redirect-uris", "https://evil.example/cb")
		h.fails(1, "admin console's own", "", "clients", "delete", console.ClientID)
		var c models.Client
		if err := db.Where("id = ?", console.ClientID).Take(&c).Error; err != nil || c.RedirectURIs[0] != "http://127.0.0.1:8081/admin/callback" {
			t.Errorf("console client after refusals: %+v %v", c, err)
		}
	})
}

// TestCLIUsersUpdate: "users update" changes email, name, the admin role
// and the disabled flag, one flag each; the last administrator can be
// neither demoted nor disabled; bad input changes nothing.
func TestCLIUsersUpdate(t *testing.T) {
	t.Parallel()
	eachCLI(t, func(t *testing.T, h *cliHarness) {
		const pw = "Correct-Horse-Battery-1"
		h.ok(pw+"\n", "users", "create", "--username", "root", "--email", "root@example.com", "--password-stdin", "--admin")
		h.ok(pw+"\n", "users", "create", "--username", "bob", "--email", "bob@example.com", "--password-stdin")

		var u map[string]any
		h.json(&u, "", "users", "update", "BOB", "--email", "robert@example.com", "--name", "Robert", "--json")
		if u["email"] != "robert@example.com" || u["name"] != "Robert" || u["admin"] != false || u["disabled"] != false {
			t.Errorf("update --email --name = %v", u)
		}
		h.json(&u, "", "users", "update", "bob", "--admin", "true", "--json")
		if u["admin"] != true || u["email"] != "robert@example.com" {
			t.Errorf("update --admin true = %v", u)
		}
		h.json(&u, "", "users", "update", "bob", "--email-verified", "true", "--json")
		if u["email_verified"] != true {
			t.Errorf("update --email-verified true = %v", u)
		}
		h.json(&u, "", "users", "update", "bob", "--email-verified=false", "--json")
		if u["email_verified"] != false {
			t.Errorf("update --email-verified=false = %v", u)
		}
		out := h.ok("", "users", "update", "bob", "--disabled", "true")
		if !strings.Contains(out, "Updated user bob") || !regexp.MustCompile(`(?m)^disabled: +true$`).MatchString(out) {
			t.Errorf("update --disabled true output:\n%s", out)
		}
		// bob is a disabled admin: root is the last who can sign in.
		h.fails(1, "the last administrator cannot be deleted, demoted or disabled", "", "users", "update", "root", "--disabled", "true")
		h.fails(1, "the last administrator cannot be deleted, demoted or disabled", "", "users", "update", "root", "--admin", "false")
		h.fails(1, "the last administrator cannot be deleted, demoted or disabled", "", "users", "delete", "root")
		h.json(&u, "", "users", "update", "bob", "--disabled=false", "--json")
		if u["disabled"] != false {
			t.Errorf("enable: %v", u)
		}
		h.ok("", "users", "update", "root", "--admin", "false")

		before := h.ok("", "users", "get", "bob", "--json")
		h.fails(1, "email: must be a bare email address", "", "users", "update", "bob", "--name", "Changed", "--email", "not-an-email")
		h.fails(2, `invalid value "perhaps" for flag -admin: must be true or false`, "", "users", "update", "bob", "--admin", "perhaps")
		h.fails(2, "nothing to change", "", "users", "update", "bob")
		h.fails(2, "flag provided but not defined: -password", "", "users", "update", "bob", "--password", pw)
		h.fails(1, "user not found", "", "users", "update", "nobody", "--name", "x")
		if after := h.ok("", "users", "get", "bob", "--json"); after != before {
			t.Errorf("a refused update changed the user:\nbefore %s\nafter  %s", before, after)
		}

		var actions []string
		if err := h.db().Model(&models.AuditEntry{}).Where("action = ? AND target = ?", "user.update", "bob").Order("id").Pluck("detail", &actions).Error; err != nil {
			t.Fatal(err)
		}
		if len(actions) != 6 || !strings.Contains(actions[4], "disabled false -> true") {
			t.Errorf("audit details of bob's updates = %q, want six, the fifth disabling", actions)
		}
	})
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
