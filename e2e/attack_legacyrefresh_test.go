package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
)

// TestLegacyRefreshCountsAsLegacyUse: a client that signed in once with
// the password grant and then only refreshes is still on the legacy grant
// (issue 9, item 8): the migration report counts every refresh of a
// password-born grant, with its last-used time, and the login history
// names each refresh.
func TestLegacyRefreshCountsAsLegacyUse(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			s := baseSettings(t, testdb.URL(t, kind))
			p := start(t, "server", s)
			const pw = "loader passphrase 1"
			cli(t, s, "", "trusted-ips", "add", "127.0.0.2/32", "--description", "office")
			cli(t, s, pw+"\n", "users", "create", "--username", "lena", "--email", "lena@example.com", "--password-stdin")
			var loader createdClient
			out := cli(t, s, "", "clients", "create", "--json", "--name", "Loader", "--grant-types", "password,refresh_token", "--scopes", "offline_access")
			if err := json.Unmarshal([]byte(out), &loader); err != nil {
				t.Fatalf("clients create: %v\n%s", err, out)
			}
			a := api{c: clientFrom("127.0.0.2"), clientID: loader.ClientID, clientSecret: loader.ClientSecret}
			r, err := a.password(t.Context(), p, "lena", pw)
			if err != nil || r.status != http.StatusOK || r.str("refresh_token") == "" {
				t.Fatalf("password grant: %v %s", err, r)
			}
			refresh := r.str("refresh_token")
			time.Sleep(1100 * time.Millisecond) // the report shows seconds
			before := time.Now().UTC().Truncate(time.Second)
			for range 3 {
				r, err := a.refresh(t.Context(), p, refresh)
				if err != nil || r.status != http.StatusOK {
					t.Fatalf("refresh: %v %s", err, r)
				}
				refresh = r.str("refresh_token")
			}

			var report []struct {
				ClientID string    `json:"client_id"`
				Username string    `json:"username"`
				Count    int64     `json:"count"`
				LastUsed time.Time `json:"last_used"`
			}
			out = cli(t, s, "", "clients", "legacy", "report", "--json")
			if err := json.Unmarshal([]byte(out), &report); err != nil {
				t.Fatalf("legacy report: %v\n%s", err, out)
			}
			if len(report) != 1 || report[0].ClientID != loader.ClientID || report[0].Username != "lena" || report[0].Count != 4 {
				t.Fatalf("legacy report %+v, want the loader and lena with 4 uses (one password grant, three refreshes)\n%s", report, out)
			}
			if report[0].LastUsed.Before(before) {
				t.Errorf("last used %s, want the last refresh (at or after %s)", report[0].LastUsed, before)
			}

			// The login history names the refreshes.
			out = cli(t, s, "", "login-history", "--json")
			var events []struct {
				Method string `json:"method"`
			}
			if err := json.Unmarshal([]byte(out), &events); err != nil {
				t.Fatalf("login-history: %v\n%s", err, out)
			}
			refreshes := 0
			for _, e := range events {
				if e.Method == "password_grant_refresh" {
					refreshes++
				}
			}
			if refreshes != 3 {
				t.Errorf("login history: %d password_grant_refresh events, want 3\n%s", refreshes, out)
			}
		})
	}
}
