package adminapi

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/models"
)

// loginEventJSON is how the API shows one login attempt: with its id.
type loginEventJSON struct {
	ID uint64 `json:"id"`
	accounts.LoginEventView
}

func loginEventView(e models.LoginEvent) loginEventJSON {
	return loginEventJSON{ID: e.ID, LoginEventView: accounts.LoginEventViewOf(e)}
}

// handleLoginHistory lists login attempts, newest first, filtered by
// user (username), client, result, method and a [since, until) range.
func (a *api) handleLoginHistory() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := accounts.LoginFilter{Username: q.Get("user"), ClientID: q.Get("client"), Result: q.Get("result"), Method: q.Get("method")}
		var err error
		if f.Limit, f.Offset, err = page(q); err != nil {
			a.writeError(w, r, err)
			return
		}
		if f.Method != "" && !slices.Contains(accounts.Methods(), f.Method) {
			a.writeError(w, r, fieldError("method", "must be one of "+strings.Join(accounts.Methods(), ", ")))
			return
		}
		if f.Since, err = queryTime(q, "since"); err != nil {
			a.writeError(w, r, err)
			return
		}
		if f.Until, err = queryTime(q, "until"); err != nil {
			a.writeError(w, r, err)
			return
		}
		if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
			a.writeError(w, r, fieldError("until", "must be later than since"))
			return
		}
		list, total, err := a.Accounts.ListLogins(r.Context(), f)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		items := make([]loginEventJSON, 0, len(list))
		for _, e := range list {
			items = append(items, loginEventView(e))
		}
		writeJSON(w, http.StatusOK, pageJSON[loginEventJSON]{Items: items, Total: total, Limit: f.Limit, Offset: f.Offset})
	})
}

func (a *api) handleLegacyReport() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		report, err := a.Accounts.LegacyReport(r.Context())
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		items := make([]accounts.LegacyUsageView, 0, len(report))
		for _, u := range report {
			items = append(items, accounts.LegacyUsageViewOf(u))
		}
		writeJSON(w, http.StatusOK, itemsJSON[accounts.LegacyUsageView]{Items: items})
	})
}

// Bounds of the daily report's days parameter.
const (
	defaultDays = 30
	maxDays     = 366
)

// dayJSON counts one UTC day's successful sign-ins.
type dayJSON struct {
	Day    string `json:"day"` // YYYY-MM-DD
	Legacy int64  `json:"legacy"`
	OAuth  int64  `json:"oauth"`
}

// dailyJSON is the daily report: one entry per day, oldest first, the
// last being today (UTC).
type dailyJSON struct {
	Days  int       `json:"days"`
	Items []dayJSON `json:"items"`
}

func (a *api) handleLegacyDaily() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		days, err := queryInt(r.URL.Query(), "days", defaultDays, 1, maxDays)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		y, m, d := a.Now().UTC().Date()
		since := time.Date(y, m, d-(days-1), 0, 0, 0, 0, time.UTC)
		counts, err := a.Accounts.DailyLogins(r.Context(), since)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := dailyJSON{Days: days, Items: make([]dayJSON, 0, len(counts))}
		for _, c := range counts {
			out.Items = append(out.Items, dayJSON{Day: c.Day.UTC().Format(time.DateOnly), Legacy: c.Legacy, OAuth: c.OAuth})
		}
		writeJSON(w, http.StatusOK, out)
	})
}
