package accounts

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestLoginHistory(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		ctx := t.Context()
		base := time.Date(2030, 1, 10, 12, 0, 0, 0, time.UTC)
		events := []models.LoginEvent{
			{Time: base, UserID: "u1", Username: "Nina", ClientID: "c1", Method: MethodLoginPage, Result: ResultSuccess},
			{Time: base.Add(1 * time.Hour), UserID: "u1", Username: "nina", ClientID: "c2", Method: MethodPasswordGrant, Result: ResultSuccess},
			{Time: base.Add(2 * time.Hour), UserID: "u2", Username: "oscar", ClientID: "c1", Method: MethodLoginPage, Result: ResultInvalidPassword},
			{Time: base.Add(3 * time.Hour), Username: "ghost", ClientID: "c1", Method: MethodLoginPage, Result: ResultUnknownUser},
			// Not UTC: stored and compared as the same instant.
			{Time: base.Add(4 * time.Hour).In(time.FixedZone("X", 5*3600)), UserID: "u2", Username: "oscar", ClientID: "c2", Method: MethodPasswordGrant, Result: ResultSuccess},
		}
		for _, e := range events {
			if err := f.svc.RecordLogin(ctx, e); err != nil {
				t.Fatalf("RecordLogin: %v", err)
			}
		}
		// A zero time means now, and oversized untrusted fields are cut.
		if err := f.svc.RecordLogin(ctx, models.LoginEvent{Username: strings.Repeat("z", 300), UserAgent: strings.Repeat("é", 400), SourceIP: "198.51.100.1", Method: MethodLoginPage, Result: ResultUnknownUser}); err != nil {
			t.Fatalf("RecordLogin(oversized): %v", err)
		}
		if err := f.svc.RecordLogin(ctx, models.LoginEvent{Username: "x"}); err == nil {
			t.Errorf("RecordLogin without method and result = nil, want an error")
		}

		ids := func(fl LoginFilter) (string, int64) {
			t.Helper()
			es, total, err := f.svc.ListLogins(ctx, fl)
			if err != nil {
				t.Fatalf("ListLogins(%+v): %v", fl, err)
			}
			var hours []string
			for _, e := range es {
				if e.Time.Equal(f.clock.Now()) {
					hours = append(hours, "now")
				} else {
					hours = append(hours, fmt.Sprint(int(e.Time.Sub(base).Hours())))
				}
			}
			return strings.Join(hours, ","), total
		}
		for _, tc := range []struct {
			name  string
			f     LoginFilter
			want  string
			total int64
		}{
			{"all, newest first", LoginFilter{}, "now,4,3,2,1,0", 6},
			{"user id", LoginFilter{UserID: "u1"}, "1,0", 2},
			{"username any case", LoginFilter{Username: "NINA"}, "1,0", 2},
			{"client", LoginFilter{ClientID: "c1"}, "3,2,0", 3},
			{"result", LoginFilter{Result: ResultSuccess}, "4,1,0", 3},
			{"method", LoginFilter{Method: MethodPasswordGrant}, "4,1", 2},
			{"since inclusive", LoginFilter{Since: base.Add(2 * time.Hour), Until: base.Add(5 * time.Hour)}, "4,3,2", 3},
			{"until exclusive", LoginFilter{Until: base.Add(2 * time.Hour)}, "1,0", 2},
			{"since in another zone", LoginFilter{Since: base.Add(4 * time.Hour).In(time.FixedZone("Y", -7*3600)), Until: base.Add(5 * time.Hour)}, "4", 1},
			{"combined", LoginFilter{ClientID: "c1", Result: ResultSuccess}, "0", 1},
			{"page", LoginFilter{Limit: 2, Offset: 2}, "3,2", 6},
		} {
			got, total := ids(tc.f)
			if got != tc.want || total != tc.total {
				t.Errorf("%s: got %q (total %d), want %q (total %d)", tc.name, got, total, tc.want, tc.total)
			}
		}
		es, _, err := f.svc.ListLogins(ctx, LoginFilter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if e := es[0]; len(e.Username) != 200 || len(e.UserAgent) > 512 || !strings.HasPrefix(e.UserAgent, "é") || !e.Time.Equal(f.clock.Now()) {
			t.Errorf("oversized event stored as username len %d, user agent len %d, time %v; want 200, <= 512 whole runes, %v", len(e.Username), len(e.UserAgent), e.Time, f.clock.Now())
		}

		n, err := f.svc.PruneLogins(ctx, base.Add(2*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("PruneLogins = %d, %v; want 2, nil", n, err)
		}
		if got, total := ids(LoginFilter{}); got != "now,4,3,2" || total != 4 {
			t.Errorf("after prune: %q (total %d), want %q (total 4)", got, total, "now,4,3,2")
		}
		if n, err := f.svc.PruneLogins(ctx, base); err != nil || n != 0 {
			t.Errorf("second PruneLogins = %d, %v; want 0, nil", n, err)
		}
	})
}

func TestLegacyReport(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		ctx := t.Context()
		sunset := time.Date(2031, 6, 30, 0, 0, 0, 0, time.UTC)
		for _, c := range []models.Client{
			{ID: "crm-sync", Name: "CRM Sync", LegacySunset: &sunset},
			{ID: "reports", Name: "Reports"},
		} {
			if err := db.Create(&c).Error; err != nil {
				t.Fatal(err)
			}
		}
		pat := f.mustCreate(t, "pat", "pat-password")
		quinn := f.mustCreate(t, "quinn", "quinn-password")
		base := time.Date(2030, 2, 1, 8, 0, 0, 0, time.UTC)
		add := func(d time.Duration, u models.User, client, method, result string) {
			t.Helper()
			if err := f.svc.RecordLogin(ctx, models.LoginEvent{Time: base.Add(d), UserID: u.ID, Username: u.Username, ClientID: client, Method: method, Result: result}); err != nil {
				t.Fatal(err)
			}
		}
		add(0, pat, "crm-sync", MethodPasswordGrant, ResultSuccess)
		add(time.Hour, pat, "crm-sync", MethodPasswordGrant, ResultSuccess)
		add(90*time.Minute+123456*time.Microsecond, pat, "crm-sync", MethodPasswordGrant, ResultSuccess)
		add(5*time.Hour, pat, "crm-sync", MethodPasswordGrant, ResultInvalidPassword) // not a success
		add(6*time.Hour, pat, "crm-sync", MethodLoginPage, ResultSuccess)             // not legacy
		add(2*time.Hour, quinn, "crm-sync", MethodPasswordGrant, ResultSuccess)
		add(3*time.Hour, pat, "reports", MethodPasswordGrant, ResultSuccess)
		add(30*time.Minute, quinn, "gone-client", MethodPasswordGrant, ResultSuccess)

		got, err := f.svc.LegacyReport(ctx)
		if err != nil {
			t.Fatalf("LegacyReport: %v", err)
		}
		type row struct {
			client, name, user string
			count              int64
			last               time.Time
			sunset             bool
		}
		want := []row{
			{"reports", "Reports", "pat", 1, base.Add(3 * time.Hour), false},
			{"crm-sync", "CRM Sync", "quinn", 1, base.Add(2 * time.Hour), true},
			{"crm-sync", "CRM Sync", "pat", 3, base.Add(90*time.Minute + 123456*time.Microsecond), true},
			{"gone-client", "", "quinn", 1, base.Add(30 * time.Minute), false},
		}
		if len(got) != len(want) {
			t.Fatalf("got %d report rows %+v, want %d", len(got), got, len(want))
		}
		for i, w := range want {
			g := got[i]
			if g.ClientID != w.client || g.ClientName != w.name || g.Username != w.user || g.Count != w.count ||
				!g.LastUsed.Equal(w.last) || (g.Sunset != nil) != w.sunset {
				t.Errorf("row %d = %+v, want %+v", i, g, w)
			}
			if w.sunset && !g.Sunset.Equal(sunset) {
				t.Errorf("row %d sunset = %v, want %v", i, g.Sunset, sunset)
			}
		}
		if got[1].UserID != quinn.ID || got[2].UserID != pat.ID {
			t.Errorf("user ids = %q, %q; want %q, %q", got[1].UserID, got[2].UserID, quinn.ID, pat.ID)
		}
	})
}

func TestDailyLogins(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{}) // the clock reads 2030-03-14 09:26:53 UTC
		ctx := t.Context()
		day := func(d int) time.Time { return time.Date(2030, 3, d, 0, 0, 0, 0, time.UTC) }
		add := func(at time.Time, method, result string) {
			t.Helper()
			if err := f.svc.RecordLogin(ctx, models.LoginEvent{Time: at, UserID: "u", Method: method, Result: result}); err != nil {
				t.Fatal(err)
			}
		}
		add(day(9).Add(23*time.Hour), MethodPasswordGrant, ResultSuccess) // before since
		add(day(10), MethodPasswordGrant, ResultSuccess)
		add(day(10).Add(23*time.Hour+59*time.Minute), MethodPasswordGrant, ResultSuccess)
		add(day(10).Add(12*time.Hour), MethodLoginPage, ResultSuccess)
		add(day(10).Add(13*time.Hour), MethodLoginPage, ResultInvalidPassword) // not a success
		add(day(12).Add(time.Hour), MethodLoginPage, ResultSuccess)
		// 01:30 on the 13th in UTC is still the 12th in New York; days are UTC.
		add(day(13).Add(90*time.Minute).In(time.FixedZone("EST", -5*3600)), MethodLoginPage, ResultSuccess)
		add(day(14).Add(time.Hour), MethodPasswordGrant, ResultSuccess)

		got, err := f.svc.DailyLogins(ctx, day(10)) // exactly midnight
		if err != nil {
			t.Fatalf("DailyLogins: %v", err)
		}
		want := []DayCount{
			{Day: day(10), Legacy: 2, OAuth: 1},
			{Day: day(11)},
			{Day: day(12), OAuth: 1},
			{Day: day(13), OAuth: 1},
			{Day: day(14), Legacy: 1},
		}
		if len(got) != len(want) {
			t.Fatalf("got %d days %+v, want %d", len(got), got, len(want))
		}
		for i := range want {
			if !got[i].Day.Equal(want[i].Day) || got[i].Day.Location() != time.UTC || got[i].Legacy != want[i].Legacy || got[i].OAuth != want[i].OAuth {
				t.Errorf("day %d = %+v, want %+v", i, got[i], want[i])
			}
		}
		// Since in the middle of a day counts from that instant but buckets by the day.
		got, err = f.svc.DailyLogins(ctx, day(10).Add(12*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 || got[0].Legacy != 1 || got[0].OAuth != 1 {
			t.Errorf("from noon on the 10th: first day %+v of %d, want 1 legacy, 1 oauth of 5 days", got[0], len(got))
		}
	})
}
