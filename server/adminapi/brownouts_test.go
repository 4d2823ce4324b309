package adminapi

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestBrownouts(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		created := e.createClientAPI(t, e.adminToken, map[string]any{"name": "loader", "grant_types": []string{"password"}})
		id, secret := created.Client.ClientID, created.ClientSecret
		base := "/admin/api/clients/" + id + "/legacy"
		start := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
		window := map[string]any{"start": start.Format(time.RFC3339), "end": start.Add(2 * time.Hour).Format(time.RFC3339)}

		// Without a sunset there is nothing to warn of.
		e.do(t, "POST", base+"/brownouts", e.adminToken, window).wantError(t, http.StatusConflict, codeConflict, "sunset")
		if n := countRows[models.ClientBrownout](t, e.db); n != 0 {
			t.Fatalf("a refused brownout left %d rows", n)
		}
		e.do(t, "PUT", base+"/sunset", e.adminToken, map[string]any{"sunset": start.AddDate(0, 0, 30).Format(time.DateOnly)}).want(t, http.StatusOK, nil)

		var b clients.BrownoutView
		e.do(t, "POST", base+"/brownouts", e.adminToken, window).want(t, http.StatusCreated, &b)
		if b.ID == 0 || !b.Start.Equal(start) || !b.End.Equal(start.Add(2*time.Hour)) || b.State != "scheduled" || b.CreatedBy != adminActor {
			t.Errorf("created: got %+v", b)
		}
		e.wantAudit(t, clients.ActionBrownoutAdd, id, adminActor)

		for name, tc := range map[string]struct {
			body   map[string]any
			status int
			code   string
			field  string
		}{
			"overlap":       {map[string]any{"start": start.Add(time.Hour).Format(time.RFC3339), "end": start.Add(4 * time.Hour).Format(time.RFC3339)}, http.StatusConflict, codeConflict, "start"},
			"past":          {map[string]any{"start": "2001-01-01T00:00:00Z", "end": "2001-01-01T01:00:00Z"}, http.StatusBadRequest, codeInvalidRequest, "start"},
			"end first":     {map[string]any{"start": start.Add(10 * time.Hour).Format(time.RFC3339), "end": start.Add(9 * time.Hour).Format(time.RFC3339)}, http.StatusBadRequest, codeInvalidRequest, "end"},
			"past sunset":   {map[string]any{"start": start.AddDate(0, 0, 29).Format(time.RFC3339), "end": start.AddDate(0, 0, 40).Format(time.RFC3339)}, http.StatusBadRequest, codeInvalidRequest, "end"},
			"not a time":    {map[string]any{"start": "soon", "end": "later"}, http.StatusBadRequest, codeInvalidRequest, "start"},
			"unknown field": {map[string]any{"start": "soon", "end": "later", "why": "x"}, http.StatusBadRequest, codeInvalidRequest, "why"},
		} {
			t.Run(name, func(t *testing.T) {
				e.do(t, "POST", base+"/brownouts", e.adminToken, tc.body).wantError(t, tc.status, tc.code, tc.field)
			})
		}
		if n := countRows[models.ClientBrownout](t, e.db); n != 1 {
			t.Errorf("after the refusals: %d brownouts, want 1", n)
		}

		var list itemsJSON[clients.BrownoutView]
		e.do(t, "GET", base+"/brownouts", e.adminToken, nil).want(t, http.StatusOK, &list)
		if len(list.Items) != 1 || list.Items[0].ID != b.ID {
			t.Errorf("list: got %+v", list.Items)
		}
		e.do(t, "GET", "/admin/api/clients/nope/legacy/brownouts", e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")

		// The migration guide is the client's.
		var c clients.View
		e.do(t, "PUT", base+"/migration-url", e.adminToken, map[string]any{"migration_url": "https://wiki.example.com/loader"}).want(t, http.StatusOK, &c)
		if c.LegacyMigrationURL != "https://wiki.example.com/loader" {
			t.Errorf("migration URL: got %q", c.LegacyMigrationURL)
		}
		e.do(t, "PUT", base+"/migration-url", e.adminToken, map[string]any{"migration_url": "javascript:alert(1)"}).wantError(t, http.StatusBadRequest, codeInvalidRequest, "migration_url")
		e.do(t, "PUT", base+"/migration-url", e.adminToken, map[string]any{}).wantError(t, http.StatusBadRequest, codeInvalidRequest, "migration_url")

		// The grant still works outside the window.
		if _, err := e.passwordGrantVia(id, secret, userName, userPass); err != nil {
			t.Errorf("password grant outside the brownout: %v", err)
		}

		bid := strconv.FormatUint(b.ID, 10)
		other := e.createClientAPI(t, e.adminToken, map[string]any{"name": "other", "grant_types": []string{"password"}})
		e.do(t, "DELETE", "/admin/api/clients/"+other.Client.ClientID+"/legacy/brownouts/"+bid, e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		e.do(t, "DELETE", base+"/brownouts/x"+bid, e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		e.do(t, "DELETE", base+"/brownouts/"+bid, e.adminToken, nil).want(t, http.StatusNoContent, nil)
		e.do(t, "DELETE", base+"/brownouts/"+bid, e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		e.wantAudit(t, clients.ActionBrownoutRemove, id, adminActor)

		// Only administrators schedule brownouts.
		resp := e.do(t, "POST", base+"/brownouts", "", window)
		if resp.status != http.StatusUnauthorized || !strings.Contains(string(resp.body), "error") {
			t.Errorf("without a token: got %d %s, want 401", resp.status, resp.body)
		}
	})
}
