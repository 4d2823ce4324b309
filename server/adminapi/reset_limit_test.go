package adminapi

import (
	"net/http"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/testdb"
)

// TestResetTokenDailyLimit: the admin API refuses a reset past the daily
// bound with 429 too_many_requests and says when a reset is possible.
func TestResetTokenDailyLimit(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		if _, err := e.accounts.CreateUser(t.Context(), "test", accountsUser("ivan", false)); err != nil {
			t.Fatal(err)
		}
		for range accounts.TokenResetsPerDay {
			e.do(t, "POST", "/admin/api/users/ivan/reset-token", e.adminToken, nil).want(t, http.StatusNoContent, nil)
		}
		body := e.do(t, "POST", "/admin/api/users/ivan/reset-token", e.adminToken, nil).
			wantError(t, http.StatusTooManyRequests, codeTooManyRequests, "")
		if !strings.Contains(body.Description, "in the last 24 hours") || !strings.Contains(body.Description, "can be reset again after") {
			t.Errorf("error_description %q: want it to say why and when", body.Description)
		}
		if n := len(e.mailedTokens(t, "ivan@example.com")); n != 1+accounts.TokenResetsPerDay {
			t.Errorf("got %d token emails, want %d", n, 1+accounts.TokenResetsPerDay)
		}
	})
}
