package console

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestWorkbenchPage(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.signedIn(e.createUser("root", true))
		ctx := context.Background()
		cl, _, err := e.clients.Create(ctx, "test", clients.NewClient{Name: "Deploy CLI", GrantTypes: []string{clients.GrantPassword}})
		if err != nil {
			t.Fatal(err)
		}
		ana := e.createUser("ana", false)
		now := e.clock.Now()
		for _, ev := range []models.LoginEvent{
			{Time: now.Add(-time.Hour), UserID: ana.ID, Username: "ana", ClientID: cl.ID, Method: "password_grant", Result: "Success", UserAgent: "=HYPERLINK(\"x\") curl/8", SourceIP: "192.0.2.7"},
			{Time: now.Add(-2 * time.Hour), UserID: ana.ID, Username: "ana", ClientID: cl.ID, Method: "password_grant", Result: "Success", UserAgent: "curl/8", SourceIP: "198.51.100.7"},
		} {
			if err := db.Create(&ev).Error; err != nil {
				t.Fatal(err)
			}
		}

		r := b.get("/admin/workbench")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="client-`+cl.ID+`"`, `id="suggestion-`+cl.ID+`"`, "device_flow", `id="dry-run"`, `id="dry-run-csv"`,
			`id="action-`+cl.ID+`-enable_client_credentials"`, `<button type="submit" id="action-`+cl.ID+`-require_app_passwords"`, "192.0.2.0/24")

		r = b.get("/admin/workbench/dry-run.csv?days=7")
		wantStatus(t, r, http.StatusOK)
		if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("CSV headers: %v", r.header)
		}
		recs, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
		if err != nil || len(recs) != 2 || recs[1][3] != "ana" || !strings.HasPrefix(recs[1][6], "'=") {
			t.Errorf("CSV: %v, %v", recs, err)
		}

		// Actions need the form's CSRF token, and say what they did.
		path := "/admin/workbench/" + cl.ID + "/actions/enable_client_credentials"
		if r := b.postRaw(path, url.Values{}); r.status == http.StatusSeeOther {
			t.Errorf("an action without a CSRF token: %d", r.status)
		}
		r = b.post(path, url.Values{})
		wantStatus(t, r, http.StatusSeeOther)
		if got, _ := e.clients.Get(ctx, cl.ID); !strings.Contains(strings.Join(got.GrantTypes, ","), "client_credentials") {
			t.Errorf("grant types after the action: %v", got.GrantTypes)
		}
		r = b.get("/admin/workbench")
		wantContains(t, r.body, "may now use client credentials")
		r = b.post("/admin/workbench/"+cl.ID+"/actions/send_notices", url.Values{})
		wantStatus(t, r, http.StatusSeeOther)
		r = b.get("/admin/workbench")
		wantContains(t, r.body, "Nothing was done: the client has no sunset still to come")

		// The dashboard marks the sunset and the brownouts ahead.
		sunset := now.AddDate(0, 0, 20)
		if _, err := e.clients.SetSunset(ctx, "test", cl.ID, &sunset); err != nil {
			t.Fatal(err)
		}
		if _, err := e.clients.AddBrownout(ctx, "test", cl.ID, now.AddDate(0, 0, 5), now.AddDate(0, 0, 5).Add(4*time.Hour)); err != nil {
			t.Fatal(err)
		}
		r = b.get("/admin/")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="chart-markers"`, `class="marker-sunset"`, `class="marker-brownout"`, "sunset: Deploy CLI", "brownout: Deploy CLI",
			`id="legacy-share"`, "Legacy share (right axis)")
		if r := b.get("/admin/static/style.css"); r.status != http.StatusOK || !strings.Contains(r.body, ".marker-brownout") || !strings.Contains(r.body, ".series-share") {
			t.Errorf("the console's stylesheet does not style the markers: %d", r.status)
		}
	})
}
