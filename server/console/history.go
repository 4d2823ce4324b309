package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
)

// eventsPerPage is the page size of the login history.
const eventsPerPage = 50

type option struct{ Value, Label string }

var loginMethods = []option{
	{accounts.MethodPasswordGrant, "Legacy password grant"},
	{accounts.MethodPasswordGrantRefresh, "Refresh of a legacy grant"},
	{accounts.MethodLoginPage, "OAuth login page"},
}

type historyData struct {
	User, Client, Result, Method, Since string
	Events                              []models.LoginEvent
	Total                               int64
	First, Last                         int64
	PrevURL, NextURL                    string
	Results                             []string
	Methods                             []option
}

func (c *console) handleLoginHistory(w http.ResponseWriter, r *http.Request, a admin) {
	q := r.URL.Query()
	d := historyData{
		User:    strings.TrimSpace(q.Get("user")),
		Client:  strings.TrimSpace(q.Get("client")),
		Result:  q.Get("result"),
		Method:  q.Get("method"),
		Since:   strings.TrimSpace(q.Get("since")),
		Results: signin.Results(),
		Methods: loginMethods,
	}
	p, err := c.page(w, r, a, "Login history", "login-history")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	status := http.StatusOK
	f := accounts.LoginFilter{Username: d.User, ClientID: d.Client, Result: d.Result, Method: d.Method, Limit: eventsPerPage}
	if d.Since != "" {
		since, err := time.Parse("2006-01-02", d.Since)
		if err != nil {
			status = http.StatusBadRequest
			p.Error = "The date " + d.Since + " is not a date such as 2026-01-31; the list is not filtered by date."
			p.FieldErrors = map[string]string{"since": "must be a date such as 2026-01-31"}
		} else {
			f.Since = since
		}
	}
	pageNo := pageNumber(q.Get("page"))
	f.Offset = (pageNo - 1) * eventsPerPage
	events, total, err := c.Accounts.ListLogins(r.Context(), f)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Events, d.Total = events, total
	if len(events) > 0 {
		d.First, d.Last = int64(f.Offset)+1, int64(f.Offset+len(events))
	}
	filters := url.Values{"user": {d.User}, "client": {d.Client}, "result": {d.Result}, "method": {d.Method}, "since": {d.Since}}
	if pageNo > 1 {
		d.PrevURL = "/admin/login-history?" + pageQuery(filters, pageNo-1)
	}
	if int64(f.Offset+len(events)) < total {
		d.NextURL = "/admin/login-history?" + pageQuery(filters, pageNo+1)
	}
	p.Data = d
	c.pages.Render(w, r, status, "login_history", p)
}
