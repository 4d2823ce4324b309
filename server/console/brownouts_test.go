package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestClientBrownouts(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.signedIn(e.createUser("root", true))
		ctx := context.Background()
		cl, _, err := e.clients.Create(ctx, "test", clients.NewClient{Name: "Loader", GrantTypes: []string{clients.GrantPassword}})
		if err != nil {
			t.Fatal(err)
		}
		page := "/admin/clients/" + cl.ID
		r := b.get(page)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="no-brownouts"`, `id="brownout-needs-sunset"`, `id="migration-url-form"`)

		sunset := e.clock.Now().AddDate(0, 0, 30)
		if _, err := e.clients.SetSunset(ctx, "test", cl.ID, &sunset); err != nil {
			t.Fatal(err)
		}
		day := e.clock.Now().AddDate(0, 0, 1).Format("2006-01-02")
		r = b.post(page+"/brownouts", url.Values{"start": {day + "T09:00"}, "end": {day + "T11:00"}})
		wantStatus(t, r, http.StatusSeeOther)
		list, _ := e.clients.Brownouts(ctx, cl.ID)
		if len(list) != 1 || list[0].StartsAt.Format(time.RFC3339) != day+"T09:00:00Z" || list[0].CreatedBy != "user:root" {
			t.Fatalf("after scheduling: %+v", list)
		}
		r = b.get(page)
		wantContains(t, r.body, `id="brownout-`+strconv.FormatUint(list[0].ID, 10)+`"`, "scheduled", `id="brownout-form"`)

		// Bad windows are refused with the field named and the form refilled;
		// nothing is stored.
		for name, tc := range map[string]struct {
			start, end string
			status     int
			errID      string
		}{
			"overlap":     {day + "T10:00", day + "T12:00", http.StatusConflict, `id="brownout_start-error"`},
			"past sunset": {day + "T10:00", sunset.AddDate(0, 0, 1).Format("2006-01-02T15:04"), http.StatusBadRequest, `id="brownout_end-error"`},
			"past":        {"2001-01-01T00:00", "2001-01-01T01:00", http.StatusBadRequest, `id="brownout_start-error"`},
			"not a time":  {"soon", day + "T12:00", http.StatusBadRequest, `id="brownout_start-error"`},
		} {
			t.Run(name, func(t *testing.T) {
				r := b.post(page+"/brownouts", url.Values{"start": {tc.start}, "end": {tc.end}})
				wantStatus(t, r, tc.status)
				wantContains(t, r.body, `id="error"`, tc.errID, `value="`+tc.start+`"`)
			})
		}
		if n := countRows(t, db, &models.ClientBrownout{}, "client_id = ?", cl.ID); n != 1 {
			t.Errorf("brownouts after refusals: %d, want 1", n)
		}

		// The sunset cannot be cleared while a brownout is to come.
		r = b.post(page+"/sunset", url.Values{"sunset": {""}})
		wantStatus(t, r, http.StatusConflict)
		wantContains(t, r.body, `id="sunset-error"`, "remove them first")

		r = b.post(page+"/migration-url", url.Values{"migration_url": {"javascript:alert(1)"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="migration_url-error"`)
		r = b.post(page+"/migration-url", url.Values{"migration_url": {"https://wiki.example.com/loader"}})
		wantStatus(t, r, http.StatusSeeOther)
		if got, _ := e.clients.Get(ctx, cl.ID); got.LegacyMigrationURL != "https://wiki.example.com/loader" {
			t.Errorf("migration URL: got %q", got.LegacyMigrationURL)
		}

		// Without the form's CSRF token nothing is removed.
		bid := strconv.FormatUint(list[0].ID, 10)
		r = b.postRaw(page+"/brownouts/"+bid+"/remove", url.Values{})
		if r.status == http.StatusSeeOther {
			t.Errorf("remove without a CSRF token: got %d", r.status)
		}
		r = b.post(page+"/brownouts/"+bid+"/remove", url.Values{})
		wantStatus(t, r, http.StatusSeeOther)
		if n := countRows(t, db, &models.ClientBrownout{}, "client_id = ?", cl.ID); n != 0 {
			t.Errorf("brownouts after remove: %d, want 0", n)
		}
	})
}
