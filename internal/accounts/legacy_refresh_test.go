package accounts

import (
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// TestLegacyRefreshIsLegacyUse: the report adds a client's refreshes of
// password-born grants to its password grants, per user, with the later
// last use, and the daily counts show them as legacy.
func TestLegacyRefreshIsLegacyUse(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{}) // the clock reads 2030-03-14 09:26:53 UTC
		ctx := t.Context()
		at := time.Date(2030, 3, 14, 8, 0, 0, 0, time.UTC)
		add := func(at time.Time, client, method string) {
			t.Helper()
			if err := f.svc.RecordLogin(ctx, models.LoginEvent{Time: at, UserID: "u1", Username: "ulla", ClientID: client, Method: method, Result: ResultSuccess}); err != nil {
				t.Fatal(err)
			}
		}
		add(at, "loader", MethodPasswordGrant)
		add(at.Add(time.Minute), "loader", MethodPasswordGrantRefresh)
		add(at.Add(time.Hour), "loader", MethodPasswordGrantRefresh)
		add(at.Add(time.Hour), "refresh-only", MethodPasswordGrantRefresh) // signed in before the history was kept
		add(at.Add(time.Hour), "web", MethodLoginPage)

		report, err := f.svc.LegacyReport(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]LegacyUsage{}
		for _, u := range report {
			got[u.ClientID] = u
		}
		if len(report) != 2 || got["loader"].Count != 3 || !got["loader"].LastUsed.Equal(at.Add(time.Hour)) || got["refresh-only"].Count != 1 {
			t.Errorf("legacy report %+v, want loader 3 uses last at %s and refresh-only 1 use", report, at.Add(time.Hour))
		}
		days, err := f.svc.DailyLogins(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 1 || days[0].Legacy != 4 || days[0].OAuth != 1 {
			t.Errorf("daily counts %+v, want one day with 4 legacy and 1 OAuth", days)
		}
	})
}
