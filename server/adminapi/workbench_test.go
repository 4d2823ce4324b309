package adminapi

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/internal/workbench"
	"github.com/authgate/authgate/models"
)

func TestWorkbench(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		created := e.createClientAPI(t, e.adminToken, map[string]any{"name": "Deploy CLI", "grant_types": []string{"password"}})
		id, secret := created.Client.ClientID, created.ClientSecret
		for _, u := range []struct{ name, pw string }{{userName, userPass}, {adminName, adminPass}} {
			if _, err := e.passwordGrantVia(id, secret, u.name, u.pw); err != nil {
				t.Fatalf("password grant of %s: %v", u.name, err)
			}
		}

		var rep workbench.Report
		e.do(t, "GET", "/admin/api/legacy/workbench?days=30", e.adminToken, nil).want(t, http.StatusOK, &rep)
		var cr *workbench.ClientReport
		for i := range rep.Clients {
			if rep.Clients[i].ClientID == id {
				cr = &rep.Clients[i]
			}
		}
		if cr == nil || rep.Days != 30 {
			t.Fatalf("workbench: %+v, want the client over 30 days", rep)
		}
		if len(cr.Users) != 2 || cr.Uses != 2 || len(cr.Networks) != 1 || cr.Networks[0].Value != "127.0.0.0/24" {
			t.Errorf("client on the workbench: %+v", cr)
		}
		for _, u := range cr.Users {
			if len(u.Via) != 1 || u.Via[0] != workbench.ViaTrustedRange {
				t.Errorf("%s came from the trusted loopback: via %v", u.Username, u.Via)
			}
		}
		if cr.Suggestion.Way != workbench.WayDeviceFlow {
			t.Errorf("two people on one client: suggestion %+v, want the device flow", cr.Suggestion)
		}
		e.do(t, "GET", "/admin/api/legacy/workbench?days=0", e.adminToken, nil).wantError(t, http.StatusBadRequest, codeInvalidRequest, "days")

		// The dry run, as JSON and as CSV.
		var dry itemsJSON[workbench.Breakage]
		e.do(t, "GET", "/admin/api/legacy/workbench/dry-run", e.adminToken, nil).want(t, http.StatusOK, &dry)
		mine := 0
		for _, b := range dry.Items {
			if b.ClientID == id {
				mine++
			}
		}
		if mine != 2 {
			t.Errorf("dry run: %d rows for the client, want 2\n%+v", mine, dry.Items)
		}
		resp := e.do(t, "GET", "/admin/api/legacy/workbench/dry-run?format=csv&days=7", e.adminToken, nil)
		if resp.status != http.StatusOK || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(resp.header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("CSV: %d %v", resp.status, resp.header)
		}
		recs, err := csv.NewReader(strings.NewReader(string(resp.body))).ReadAll()
		if err != nil || strings.Join(recs[0], ",") != strings.Join(workbench.CSVHeader, ",") || len(recs) != len(dry.Items)+1 {
			t.Errorf("CSV: %v, %v", recs, err)
		}
		e.do(t, "GET", "/admin/api/legacy/workbench/dry-run?format=xml", e.adminToken, nil).wantError(t, http.StatusBadRequest, codeInvalidRequest, "format")

		// Actions.
		act := func(action string) response {
			return e.do(t, "POST", "/admin/api/legacy/workbench/"+id+"/actions/"+action, e.adminToken, nil)
		}
		act(workbench.ActionSendNotices).wantError(t, http.StatusConflict, codeConflict, "action")
		var required workbench.Outcome
		act(workbench.ActionRequireAppPasswords).want(t, http.StatusOK, &required)
		if !strings.Contains(required.Message, "only app passwords") {
			t.Errorf("require app passwords: %+v", required)
		}
		if c, err := e.clients.Get(t.Context(), id); err != nil || c.LegacyCredentials != models.LegacyAppPassword {
			t.Errorf("after require app passwords: legacy credentials %q, %v", c.LegacyCredentials, err)
		}
		e.wantAudit(t, "client.update", id, adminActor)
		act(workbench.ActionRequireAppPasswords).wantError(t, http.StatusConflict, codeConflict, "action")
		act("make_coffee").wantError(t, http.StatusBadRequest, codeInvalidRequest, "action")
		e.do(t, "POST", "/admin/api/legacy/workbench/nope/actions/send_notices", e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")

		sunset := time.Now().UTC().AddDate(0, 0, 10).Format(time.DateOnly)
		e.do(t, "PUT", "/admin/api/clients/"+id+"/legacy/sunset", e.adminToken, map[string]any{"sunset": sunset}).want(t, http.StatusOK, nil)
		var out workbench.Outcome
		act(workbench.ActionSendNotices).want(t, http.StatusOK, &out)
		if out.Notices == nil || out.Notices.Sent != 2 || out.Notices.Users != 2 {
			t.Errorf("send notices: %+v", out)
		}
		act(workbench.ActionSendNotices).want(t, http.StatusOK, &out)
		if out.Notices == nil || out.Notices.Sent != 0 {
			t.Errorf("send notices again: %+v, want none sent", out)
		}
		if n := countRows[models.LegacyNotice](t, e.db); n != 2 {
			t.Errorf("notice rows: %d, want 2", n)
		}

		act(workbench.ActionEnableClientCredentials).want(t, http.StatusOK, &out)
		act(workbench.ActionEnableClientCredentials).wantError(t, http.StatusConflict, codeConflict, "action")
		e.wantAudit(t, "client.update", id, adminActor)
		act(workbench.ActionDisableLegacy).want(t, http.StatusOK, &out)
		if _, err := e.passwordGrantVia(id, secret, userName, userPass); !isOAuthError(err, "unauthorized_client") {
			t.Errorf("password grant after the workbench turned it off: %v", err)
		}

		// Only administrators.
		e.do(t, "GET", "/admin/api/legacy/workbench", e.noScopeToken, nil).wantError(t, http.StatusForbidden, "insufficient_scope", "")
	})
}
