package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/oauth"
)

// TestReadinessSeesAnotherSecret: when the current signing key was sealed
// under another system secret (a replica or tool running with a changed
// AUTHGATE_SECRET rotated it), this replica cannot sign with it, and its
// readiness must say so instead of answering 200 (issue 9, item 15).
func TestReadinessSeesAnotherSecret(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			dbURL := testdb.URL(t, kind)
			s := baseSettings(t, dbURL)
			p := start(t, "server", s)
			ready := func() (int, map[string]string) {
				t.Helper()
				resp, err := httpClient(5 * time.Second).Get(p.url("/health/ready"))
				if err != nil {
					t.Fatal(err)
				}
				var body map[string]string
				_ = json.Unmarshal([]byte(readAll(t, resp)), &body)
				return resp.StatusCode, body
			}
			if status, body := ready(); status != http.StatusOK || body["signing_key"] != "ok" {
				t.Fatalf("before: readiness %d %v, want 200 with the signing key ok", status, body)
			}

			seed := newSeeder(t, dbURL)
			other, err := keyring.New([]byte("another-secret-0123456789-abcdefghijklmnopqrstuvwxyz"))
			if err != nil {
				t.Fatal(err)
			}
			// The rotation commits; only loading the keys back fails for the
			// rotating side, which cannot open the keys sealed before.
			if _, err := oauth.NewKeyManager(storage.New(seed.db), other, oauth.KeyOptions{Retention: time.Hour}).Rotate(t.Context(), "e2e", "", true); err == nil {
				t.Log("rotation under the other secret loaded every key back")
			}
			status, body := ready()
			if status != http.StatusServiceUnavailable {
				t.Fatalf("after a rotation under another secret: readiness %d %v, want 503", status, body)
			}
			if !strings.Contains(body["signing_key"], "cannot open the current signing key") || body["database"] != "ok" {
				t.Errorf("readiness body %v: want it to say the secret cannot open the current signing key, and the database is fine", body)
			}
		})
	}
}
