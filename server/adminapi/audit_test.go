package adminapi

import (
	"fmt"
	"net/http"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/testdb"
)

func TestAuditLog(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		for i := range 5 {
			e.do(t, "POST", "/admin/api/trusted-ips", e.adminToken, map[string]string{"cidr": fmt.Sprintf("10.9.%d.0/24", i)}).want(t, http.StatusCreated, nil)
		}
		e.do(t, "POST", "/admin/api/trusted-ips", e.clientToken, map[string]string{"cidr": "10.10.0.0/16"}).want(t, http.StatusCreated, nil)

		t.Run("by actor, paged with before_id", func(t *testing.T) {
			var targets []string
			path := "/admin/api/audit?actor=" + adminActor + "&limit=2"
			for pages := 0; ; pages++ {
				if pages > 5 {
					t.Fatal("paging did not end")
				}
				var p auditPageJSON
				e.do(t, "GET", path, e.clientToken, nil).want(t, http.StatusOK, &p)
				for _, entry := range p.Items {
					if entry.Actor != adminActor || entry.Action != "trusted_range.add" {
						t.Errorf("got entry by %q action %q, want %s trusted_range.add", entry.Actor, entry.Action, adminActor)
					}
					targets = append(targets, entry.Target)
				}
				if p.NextBeforeID == nil {
					break
				}
				path = fmt.Sprintf("/admin/api/audit?actor=%s&limit=2&before_id=%d", adminActor, *p.NextBeforeID)
			}
			want := []string{"10.9.4.0/24", "10.9.3.0/24", "10.9.2.0/24", "10.9.1.0/24", "10.9.0.0/24"}
			if fmt.Sprint(targets) != fmt.Sprint(want) {
				t.Errorf("got targets %v, want %v", targets, want)
			}
		})

		t.Run("by action", func(t *testing.T) {
			var p auditPageJSON
			e.do(t, "GET", "/admin/api/audit?action=trusted_range.add&actor=client:"+e.automation.ID, e.adminToken, nil).want(t, http.StatusOK, &p)
			if len(p.Items) != 1 || p.Items[0].Target != "10.10.0.0/16" || p.NextBeforeID != nil {
				t.Errorf("got %+v (next %v), want the one entry for 10.10.0.0/16 and no next page", p.Items, p.NextBeforeID)
			}
		})

		t.Run("bad input names the field", func(t *testing.T) {
			for _, tc := range []struct{ query, field string }{
				{"limit=0", "limit"}, {"limit=5000", "limit"}, {"before_id=0", "before_id"}, {"before_id=-3", "before_id"},
			} {
				e.do(t, "GET", "/admin/api/audit?"+tc.query, e.adminToken, nil).wantError(t, http.StatusBadRequest, codeInvalidRequest, tc.field)
			}
		})
	})
}
