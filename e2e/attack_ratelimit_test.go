package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/authgate/authgate/internal/testdb"
)

// TestAttackRateLimits plays an anonymous source firing parallel bursts at
// every endpoint that takes a credential (issue 9, item 9): each lets
// exactly its burst through per source, refuses the rest with 429 and a
// Retry-After, and a second source (127.0.0.2) is not affected.
func TestAttackRateLimits(t *testing.T) {
	t.Parallel()
	s := baseSettings(t, testdb.URL(t, "sqlite")) // the limit is per process, not in the database
	s["AUTHGATE_RATE_LIMIT_PER_MINUTE"] = "1"
	s["AUTHGATE_RATE_LIMIT_BURST"] = "3"
	p := start(t, "server", s)
	var legacyClient createdClient
	out := cli(t, s, "", "clients", "create", "--name", "Loader", "--json", "--grant-types", "password,client_credentials")
	if err := json.Unmarshal([]byte(out), &legacyClient); err != nil {
		t.Fatalf("clients create: %v\n%s", err, out)
	}
	const burst, parallel = 3, 24

	endpoints := []struct {
		name, path string
		form       url.Values
		json       bool
	}{
		{"login page", "/login", url.Values{"username": {"victim"}, "password": {"guess"}}, false},
		{"password grant", "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"victim"}, "password": {"guess"}}, true},
	}
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			send := func(c *http.Client) (*http.Response, string) {
				req, _ := http.NewRequest(http.MethodPost, p.url(ep.path), strings.NewReader(ep.form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if ep.json {
					req.SetBasicAuth(legacyClient.ClientID, legacyClient.ClientSecret)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return nil, ""
				}
				return resp, readAll(t, resp)
			}
			attacker := clientFrom("127.0.0.1")
			var mu sync.Mutex
			statuses := map[int]int{}
			var wg sync.WaitGroup
			for range parallel {
				wg.Go(func() {
					resp, body := send(attacker)
					if resp == nil {
						return
					}
					mu.Lock()
					defer mu.Unlock()
					statuses[resp.StatusCode]++
					if resp.StatusCode != http.StatusTooManyRequests {
						return
					}
					if resp.Header.Get("Retry-After") == "" {
						t.Errorf("429 without Retry-After")
					}
					isJSON := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json")
					if isJSON != ep.json {
						t.Errorf("refusal content type %q: want JSON %t", resp.Header.Get("Content-Type"), ep.json)
					}
					if ep.json && !strings.Contains(body, `"error":"temporarily_unavailable"`) {
						t.Errorf("refusal body: %s", body)
					}
				})
			}
			wg.Wait()
			if got := parallel - statuses[http.StatusTooManyRequests]; got != burst {
				t.Errorf("%d of %d parallel requests reached the handler (statuses %v), want exactly the burst of %d", got, parallel, statuses, burst)
			}
			// Another source is not held back by the attacker's excess.
			if resp, body := send(clientFrom("127.0.0.2")); resp != nil && resp.StatusCode == http.StatusTooManyRequests {
				t.Errorf("a request from 127.0.0.2 was refused: %d %s", resp.StatusCode, body)
			}
		})
	}

	// The password grant's limit is the password grant's: the same client
	// from the same source still gets client-credentials tokens.
	r, err := post(t.Context(), clientFrom("127.0.0.1"), p.url("/oauth2/token"), url.Values{"grant_type": {"client_credentials"}}, legacyClient.ClientID, legacyClient.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	if r.status != http.StatusOK {
		t.Errorf("client credentials after the password grant's limit: got %s, want 200", r)
	}
}
