package adminapi

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/internal/trustedips"
)

func TestTrustedRanges(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		cidrs := func(t *testing.T) []string {
			t.Helper()
			var list itemsJSON[trustedips.View]
			e.do(t, "GET", "/admin/api/trusted-ips", e.adminToken, nil).want(t, http.StatusOK, &list)
			var out []string
			for _, r := range list.Items {
				out = append(out, r.CIDR)
			}
			return out
		}

		t.Run("add, list, remove", func(t *testing.T) {
			var r trustedips.View
			e.do(t, "POST", "/admin/api/trusted-ips", e.adminToken, map[string]string{"cidr": "10.1.2.3/8", "description": "office"}).
				want(t, http.StatusCreated, &r)
			if r.CIDR != "10.0.0.0/8" || r.Description != "office" || r.CreatedAt.IsZero() {
				t.Errorf("got %+v, want 10.0.0.0/8, office, a time", r)
			}
			e.wantAudit(t, "trusted_range.add", "10.0.0.0/8", adminActor)
			if got := cidrs(t); !slices.Contains(got, "10.0.0.0/8") {
				t.Errorf("list: got %v, want 10.0.0.0/8 in it", got)
			}

			// The slash travels unescaped in the query.
			e.do(t, "DELETE", "/admin/api/trusted-ips?cidr=10.0.0.0/8", e.clientToken, nil).want(t, http.StatusNoContent, nil)
			e.wantAudit(t, "trusted_range.remove", "10.0.0.0/8", "client:"+e.automation.ID)
			if got := cidrs(t); slices.Contains(got, "10.0.0.0/8") {
				t.Errorf("list after remove: got %v, want 10.0.0.0/8 gone", got)
			}
		})

		t.Run("remove with an escaped query", func(t *testing.T) {
			e.do(t, "POST", "/admin/api/trusted-ips", e.adminToken, map[string]string{"cidr": "2001:db8::/32"}).want(t, http.StatusCreated, nil)
			e.do(t, "DELETE", "/admin/api/trusted-ips?cidr="+url.QueryEscape("2001:db8::/32"), e.adminToken, nil).want(t, http.StatusNoContent, nil)
		})

		t.Run("duplicate", func(t *testing.T) {
			e.do(t, "POST", "/admin/api/trusted-ips", e.adminToken, map[string]string{"cidr": "172.16.0.0/12"}).want(t, http.StatusCreated, nil)
			e.do(t, "POST", "/admin/api/trusted-ips", e.adminToken, map[string]string{"cidr": "172.16.5.5/12"}).
				wantError(t, http.StatusConflict, codeConflict, "")
		})

		t.Run("bad input names the field", func(t *testing.T) {
			for name, body := range map[string]any{
				"missing cidr":         map[string]string{"description": "x"},
				"not a range":          map[string]string{"cidr": "10.0.0.0/33"},
				"everything":           map[string]string{"cidr": "0.0.0.0/0"},
				"cidr of another type": map[string]any{"cidr": 10},
				"unknown field":        map[string]string{"cidr": "10.0.0.0/8", "note": "x"},
			} {
				t.Run(name, func(t *testing.T) {
					resp := e.do(t, "POST", "/admin/api/trusted-ips", e.adminToken, body)
					field := "cidr"
					if name == "unknown field" {
						field = "note"
					}
					resp.wantError(t, http.StatusBadRequest, codeInvalidRequest, field)
				})
			}
			e.do(t, "DELETE", "/admin/api/trusted-ips", e.adminToken, nil).wantError(t, http.StatusBadRequest, codeInvalidRequest, "cidr")
			e.do(t, "DELETE", "/admin/api/trusted-ips?cidr=banana", e.adminToken, nil).wantError(t, http.StatusBadRequest, codeInvalidRequest, "cidr")
		})

		t.Run("not found", func(t *testing.T) {
			e.do(t, "DELETE", "/admin/api/trusted-ips?cidr=192.168.0.0/16", e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		})
	})
}
