package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/oauth"

	"github.com/authgate/authgate/internal/testdb"
)

// TestBrownoutRefusesTheLegacyGrant: during a scheduled brownout a real
// OAuth library's password grant gets unauthorized_client with a
// description that says it is a brownout, when it ends, when the sunset is
// and where to read how to migrate; the login history records it as its
// own result; a token the grant issued before keeps refreshing (a brownout
// warns, it does not end grants); after the window the grant works again.
func TestBrownoutRefusesTheLegacyGrant(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			s := baseSettings(t, testdb.URL(t, kind))
			s["AUTHGATE_RATE_LIMIT_PER_MINUTE"] = "0"
			s["AUTHGATE_LEGACY_MIGRATION_URL"] = "https://intranet.example.com/oauth"
			p := start(t, "server", s)
			const pw = "loader passphrase 1"
			cli(t, s, "", "trusted-ips", "add", "127.0.0.2/32", "--description", "office")
			cli(t, s, pw+"\n", "users", "create", "--username", "lena", "--email", "lena@example.com", "--password-stdin")
			var loader createdClient
			out := cli(t, s, "", "clients", "create", "--json", "--name", "Loader", "--grant-types", "password,refresh_token", "--scopes", "offline_access")
			if err := json.Unmarshal([]byte(out), &loader); err != nil {
				t.Fatalf("clients create: %v\n%s", err, out)
			}
			conf := &oauth2.Config{ClientID: loader.ClientID, ClientSecret: loader.ClientSecret,
				Endpoint: oauth2.Endpoint{TokenURL: p.url("/oauth2/token"), AuthStyle: oauth2.AuthStyleInHeader}}
			ctx := context.WithValue(t.Context(), oauth2.HTTPClient, clientFrom("127.0.0.2"))
			before, err := conf.PasswordCredentialsToken(ctx, "lena", pw)
			if err != nil {
				t.Fatalf("password grant before any brownout: %v", err)
			}

			sunset := time.Now().UTC().AddDate(0, 0, 20).Truncate(24 * time.Hour)
			cli(t, s, "", "clients", "legacy", "sunset", loader.ClientID, sunset.Format(time.DateOnly))
			// A window must not start in the past. Scheduled a moment ahead
			// it could have started by the time a loaded machine stores it,
			// so the service that schedules it runs a minute behind, and the
			// window opens now.
			seed := newSeeder(t, s["AUTHGATE_DATABASE_URL"])
			behind := clients.New(storage.New(seed.db), &oauth.SecretHasher{Keys: seed.keys}, clients.Options{
				Now: func() time.Time { return time.Now().Add(-time.Minute) },
			})
			startAt := time.Now().UTC().Truncate(time.Second)
			end := startAt.Add(time.Hour)
			bw, err := behind.AddBrownout(ctx, "e2e", loader.ClientID, startAt, end)
			if err != nil {
				t.Fatalf("add a brownout: %v", err)
			}
			out = cli(t, s, "", "clients", "brownouts", "list", "--json", loader.ClientID)
			var listed []struct {
				ID    uint64 `json:"id"`
				State string `json:"state"`
			}
			if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 || listed[0].ID != bw.ID || listed[0].State != "active" {
				t.Fatalf("brownouts list: %v\n%s", err, out)
			}
			b := listed[0]

			// The window opens within seconds (and the server caches clients
			// for two): poll until the grant is refused.
			var rerr *oauth2.RetrieveError
			deadline := time.Now().Add(60 * time.Second)
			for {
				_, err = conf.PasswordCredentialsToken(ctx, "lena", pw)
				if errors.As(err, &rerr) || time.Now().After(deadline) {
					break
				}
				if err != nil {
					t.Fatalf("password grant: %v", err)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if rerr == nil {
				t.Fatalf("the password grant was never refused during the brownout")
			}
			if rerr.ErrorCode != "unauthorized_client" {
				t.Errorf("error %q, want unauthorized_client", rerr.ErrorCode)
			}
			for _, part := range []string{"scheduled brownout", "until " + end.Format(time.RFC3339),
				"sunset, " + sunset.AddDate(0, 0, 1).Format(time.RFC3339), "How to migrate: https://intranet.example.com/oauth"} {
				if !strings.Contains(rerr.ErrorDescription, part) {
					t.Errorf("error_description %q lacks %q", rerr.ErrorDescription, part)
				}
			}

			// A grant issued before the window keeps working through it.
			expired := &oauth2.Token{RefreshToken: before.RefreshToken, Expiry: time.Now().Add(-time.Minute)}
			if tok, err := conf.TokenSource(ctx, expired).Token(); err != nil || tok.AccessToken == "" {
				t.Errorf("refresh of a grant issued before the brownout: %v", err)
			}

			// The client's own guide replaces the default.
			cli(t, s, "", "clients", "legacy", "migration-url", loader.ClientID, "https://wiki.example.com/loader")
			deadline = time.Now().Add(60 * time.Second)
			for {
				_, err = conf.PasswordCredentialsToken(ctx, "lena", pw)
				if errors.As(err, &rerr) && strings.Contains(rerr.ErrorDescription, "https://wiki.example.com/loader") || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if !strings.Contains(rerr.ErrorDescription, "How to migrate: https://wiki.example.com/loader") {
				t.Errorf("after setting the client's guide: error_description %q", rerr.ErrorDescription)
			}

			out = cli(t, s, "", "login-history", "--json", "--result", "Failed: Legacy grant brownout")
			var events []struct {
				ClientID string `json:"client_id"`
				Username string `json:"username"`
				Result   string `json:"result"`
				Method   string `json:"method"`
			}
			if err := json.Unmarshal([]byte(out), &events); err != nil {
				t.Fatalf("login-history: %v\n%s", err, out)
			}
			if len(events) < 2 || events[0].ClientID != loader.ClientID || events[0].Username != "lena" || events[0].Method != "password_grant" {
				t.Errorf("login history of brownout refusals: %+v, want at least two of lena's password grants to the loader", events)
			}

			// Cancelling the window ends the brownout.
			cli(t, s, "", "clients", "brownouts", "remove", loader.ClientID, strconv.FormatUint(b.ID, 10))
			deadline = time.Now().Add(60 * time.Second)
			for {
				_, err = conf.PasswordCredentialsToken(ctx, "lena", pw)
				if err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("password grant after the brownout was removed: %v", err)
			}
		})
	}
}
