package adminapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestLoginHistory(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
		seed := []models.LoginEvent{
			{Username: "hist-a", ClientID: "c1", Method: accounts.MethodPasswordGrant, Result: accounts.ResultSuccess},
			{Username: "hist-a", ClientID: "c1", Method: accounts.MethodPasswordGrant, Result: accounts.ResultInvalidPassword},
			{Username: "hist-a", ClientID: "c2", Method: accounts.MethodPasswordGrant, Result: accounts.ResultSuccess},
			{Username: "hist-a", ClientID: "c2", Method: accounts.MethodLoginPage, Result: accounts.ResultSuccess},
			{Username: "hist-a", ClientID: "c1", Method: accounts.MethodLoginPage, Result: accounts.ResultInvalidPassword},
			{Username: "hist-b", ClientID: "c1", Method: accounts.MethodLoginPage, Result: accounts.ResultSuccess},
		}
		for i, ev := range seed {
			ev.Time = base.Add(time.Duration(i) * time.Minute)
			if err := e.accounts.RecordLogin(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		list := func(t *testing.T, query url.Values) pageJSON[loginEventJSON] {
			t.Helper()
			var p pageJSON[loginEventJSON]
			e.do(t, "GET", "/admin/api/login-history?"+query.Encode(), e.adminToken, nil).want(t, http.StatusOK, &p)
			return p
		}

		t.Run("pages are disjoint and newest first", func(t *testing.T) {
			seen := map[uint64]bool{}
			var last time.Time
			for offset := 0; offset < 6; offset += 2 {
				p := list(t, url.Values{"user": {"HIST-A"}, "limit": {"2"}, "offset": {strconv.Itoa(offset)}})
				if p.Total != 5 || p.Limit != 2 || p.Offset != offset {
					t.Errorf("offset %d: got total %d limit %d offset %d, want 5, 2, %d", offset, p.Total, p.Limit, p.Offset, offset)
				}
				if want := min(2, 5-offset); len(p.Items) != want {
					t.Errorf("offset %d: got %d items, want %d", offset, len(p.Items), want)
				}
				for _, ev := range p.Items {
					if seen[ev.ID] {
						t.Errorf("offset %d: event %d seen on an earlier page", offset, ev.ID)
					}
					seen[ev.ID] = true
					if !last.IsZero() && !ev.Time.Before(last) {
						t.Errorf("offset %d: event at %v does not come before %v", offset, ev.Time, last)
					}
					last = ev.Time
					if ev.Username != "hist-a" {
						t.Errorf("got username %q, want hist-a", ev.Username)
					}
				}
			}
			if len(seen) != 5 {
				t.Errorf("got %d distinct events over the pages, want 5", len(seen))
			}
		})

		t.Run("filters", func(t *testing.T) {
			cases := []struct {
				name  string
				query url.Values
				want  int64
			}{
				{"client", url.Values{"user": {"hist-a"}, "client": {"c2"}}, 2},
				{"result", url.Values{"user": {"hist-a"}, "result": {accounts.ResultInvalidPassword}}, 2},
				{"method", url.Values{"client": {"c1"}, "method": {accounts.MethodLoginPage}}, 2},
				{"since", url.Values{"user": {"hist-a"}, "since": {base.Add(3 * time.Minute).Format(time.RFC3339)}}, 2},
				{"until", url.Values{"user": {"hist-a"}, "until": {base.Add(time.Minute).Format(time.RFC3339)}}, 1},
				{"range", url.Values{"since": {base.Add(time.Minute).Format(time.RFC3339)}, "until": {base.Add(4 * time.Minute).Format(time.RFC3339)}}, 3},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					if p := list(t, tc.query); p.Total != tc.want || int64(len(p.Items)) != tc.want {
						t.Errorf("got total %d with %d items, want %d", p.Total, len(p.Items), tc.want)
					}
				})
			}
		})

		t.Run("every method is a filter", func(t *testing.T) {
			for _, m := range accounts.Methods() {
				e.do(t, "GET", "/admin/api/login-history?method="+m, e.adminToken, nil).want(t, http.StatusOK, nil)
			}
		})

		t.Run("bad input names the field", func(t *testing.T) {
			for _, tc := range []struct{ query, field string }{
				{"since=yesterday", "since"},
				{"until=2024-05-01", "until"},
				{"since=2024-05-02T00:00:00Z&until=2024-05-01T00:00:00Z", "until"},
				{"method=sms", "method"},
				{"limit=0", "limit"},
				{"offset=x", "offset"},
			} {
				e.do(t, "GET", "/admin/api/login-history?"+tc.query, e.adminToken, nil).wantError(t, http.StatusBadRequest, codeInvalidRequest, tc.field)
			}
		})
	})
}

func TestLegacyReports(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		// newEnv signed root in once with the password grant; one more for
		// root and one for bob make the report's counts.
		e := newEnv(t, db)
		for _, u := range []struct{ name, pw string }{{adminName, adminPass}, {userName, userPass}} {
			if _, err := e.passwordGrant(u.name, u.pw); err != nil {
				t.Fatalf("password grant for %s: %v", u.name, err)
			}
		}

		t.Run("report", func(t *testing.T) {
			var r itemsJSON[accounts.LegacyUsageView]
			e.do(t, "GET", "/admin/api/legacy/report", e.clientToken, nil).want(t, http.StatusOK, &r)
			counts := map[string]int64{}
			for _, u := range r.Items {
				if u.ClientID != e.legacyApp.ID {
					t.Errorf("got client %q in the report, want only %s", u.ClientID, e.legacyApp.ID)
					continue
				}
				if u.ClientName != "legacy app" || u.LastUsed.IsZero() {
					t.Errorf("got %+v, want client name %q and a last use", u, "legacy app")
				}
				counts[u.Username] = u.Count
			}
			if counts[adminName] != 2 || counts[userName] != 1 {
				t.Errorf("got counts %v, want %s: 2, %s: 1", counts, adminName, userName)
			}
		})

		t.Run("daily", func(t *testing.T) {
			var d dailyJSON
			e.do(t, "GET", "/admin/api/legacy/daily?days=7", e.adminToken, nil).want(t, http.StatusOK, &d)
			if d.Days != 7 || len(d.Items) != 7 {
				t.Fatalf("got days %d with %d items, want 7 and 7", d.Days, len(d.Items))
			}
			if today := time.Now().UTC().Format(time.DateOnly); d.Items[6].Day != today {
				t.Errorf("got last day %s, want today %s", d.Items[6].Day, today)
			}
			var legacy int64
			for _, day := range d.Items {
				legacy += day.Legacy
			}
			if legacy != 3 {
				t.Errorf("got %d legacy sign-ins over the week, want 3", legacy)
			}
			e.do(t, "GET", "/admin/api/legacy/daily", e.adminToken, nil).want(t, http.StatusOK, &d)
			if d.Days != defaultDays || len(d.Items) != defaultDays {
				t.Errorf("default: got days %d with %d items, want %d", d.Days, len(d.Items), defaultDays)
			}
			for _, q := range []string{"days=0", "days=367", "days=week"} {
				e.do(t, "GET", "/admin/api/legacy/daily?"+q, e.adminToken, nil).wantError(t, http.StatusBadRequest, codeInvalidRequest, "days")
			}
		})
	})
}
