package e2e

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
)

// TestAttackCodeRedemptionRace redeems one authorization code 20 times in
// parallel, as a client that leaked its code to an attacker racing it
// might (issue 9, item 15): exactly one redemption gets tokens, and every
// loser gets 400 invalid_grant, never a 500, on SQLite and PostgreSQL.
func TestAttackCodeRedemptionRace(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			s := baseSettings(t, testdb.URL(t, kind))
			p := start(t, "server", s)
			const pw = "racer passphrase 1"
			cli(t, s, pw+"\n", "users", "create", "--username", "rita", "--email", "rita@example.com", "--password-stdin")
			var web createdClient
			out := cli(t, s, "", "clients", "create", "--json", "--name", "Web", "--first-party", "--grant-types", "authorization_code,refresh_token",
				"--redirect-uris", "http://127.0.0.1:5555/callback", "--scopes", "openid,offline_access")
			if err := json.Unmarshal([]byte(out), &web); err != nil {
				t.Fatalf("clients create: %v\n%s", err, out)
			}
			b := browser(t)
			signIn(t, b, p, "rita", pw)
			for round := range 3 {
				form := authorizeCode(t, b, p, web)
				const parallel = 20
				var mu sync.Mutex
				got := map[string]int{}
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range parallel {
					wg.Go(func() {
						c := httpClient(20 * time.Second)
						<-start
						r, err := post(t.Context(), c, p.url("/oauth2/token"), form, web.ClientID, web.ClientSecret)
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						defer mu.Unlock()
						switch {
						case r.status == http.StatusOK && r.str("access_token") != "":
							got["tokens"]++
						case r.status == http.StatusBadRequest && r.str("error") == "invalid_grant":
							got["invalid_grant"]++
						default:
							got[r.String()]++
						}
					})
				}
				close(start)
				wg.Wait()
				if got["tokens"] != 1 || got["invalid_grant"] != parallel-1 {
					t.Errorf("round %d: %d parallel redemptions of one code: %v, want tokens once and 400 invalid_grant %d times", round, parallel, got, parallel-1)
				}
			}
		})
	}
}
