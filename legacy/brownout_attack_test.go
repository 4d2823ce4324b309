package legacy_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/models"
)

// During a brownout the grant refuses before it looks at any credential:
// a wrong password, a right one and an unknown user all get the same
// unauthorized_client, nothing is verified or counted towards a lockout,
// and a burst of guesses locks nobody out.
func TestBrownoutIsNoCredentialOracle(t *testing.T) {
	f := newFixture(t, password.Params{Time: 1, Memory: 8 * 1024, Threads: 1})
	now := time.Now().UTC()
	sunset := now.AddDate(0, 0, 10)
	if err := f.db.Model(&models.Client{}).Where("id = ?", "loader").Update("legacy_sunset", sunset).Error; err != nil {
		t.Fatal(err)
	}
	if err := f.db.Create(&models.ClientBrownout{ClientID: "loader", StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour), CreatedBy: "t", CreatedAt: now}).Error; err != nil {
		t.Fatal(err)
	}
	bodies := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, pw := range []string{f.password, "wrong", "wrong again", f.password + f.token} {
		for _, user := range []string{"alice", "nobody"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// From outside the trusted range, so a token would be needed.
				rec := f.grantFrom("203.0.113.9:1", url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}})
				var body map[string]any
				_ = json.Unmarshal(rec.Body.Bytes(), &body)
				desc, _ := body["error_description"].(string)
				mu.Lock()
				defer mu.Unlock()
				if rec.Code != http.StatusBadRequest || body["error"] != "unauthorized_client" || !strings.Contains(desc, "scheduled brownout") {
					t.Errorf("attempt %d for %s: %d %v", i, user, rec.Code, body)
				}
				bodies[rec.Body.String()] = true
			}()
		}
	}
	wg.Wait()
	if len(bodies) != 1 {
		t.Errorf("refusals differ by credential: %d distinct bodies", len(bodies))
	}
	var attempts int64
	if err := f.db.Table("signin_attempts").Count(&attempts).Error; err != nil {
		t.Fatal(err)
	}
	if attempts != 0 {
		t.Errorf("sign-in attempts counted during a brownout: %d, want 0", attempts)
	}
}
