package adminapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/oauth"
)

func TestSigningKeys(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)

		resp := e.do(t, "GET", "/admin/api/keys", e.adminToken, nil)
		var before itemsJSON[keyJSON]
		resp.want(t, http.StatusOK, &before)
		if len(before.Items) != 1 || !before.Items[0].Current || !strings.HasPrefix(before.Items[0].PublicPEM, "-----BEGIN PUBLIC KEY-----") {
			t.Fatalf("got %+v, want one current key with its public PEM", before.Items)
		}
		if strings.Contains(string(resp.body), "PRIVATE") || strings.Contains(string(resp.body), "private") {
			t.Errorf("the key list mentions a private part: %s", resp.body)
		}
		var raw struct{ Items []map[string]json.RawMessage }
		if err := json.Unmarshal(resp.body, &raw); err != nil {
			t.Fatal(err)
		}
		for field := range raw.Items[0] {
			if strings.Contains(field, "private") || strings.Contains(field, "sealed") {
				t.Errorf("got field %q in a key", field)
			}
		}

		var rotated rotatedKeyJSON
		e.do(t, "POST", "/admin/api/keys/rotate", e.clientToken, nil).want(t, http.StatusOK, &rotated)
		if rotated.KID == "" || rotated.KID == before.Items[0].KID {
			t.Fatalf("got kid %q, want a new one (old %q)", rotated.KID, before.Items[0].KID)
		}
		e.wantAudit(t, oauth.AuditKeyRotate, rotated.KID, "client:"+e.automation.ID)

		var after itemsJSON[keyJSON]
		e.do(t, "GET", "/admin/api/keys", e.adminToken, nil).want(t, http.StatusOK, &after)
		if len(after.Items) != 2 {
			t.Fatalf("got %d keys after rotation, want 2", len(after.Items))
		}
		for _, k := range after.Items {
			switch k.KID {
			case rotated.KID:
				if !k.Current || k.RetiredAt != nil {
					t.Errorf("new key: got current %t retired %v, want current, not retired", k.Current, k.RetiredAt)
				}
			case before.Items[0].KID:
				if k.Current || k.RetiredAt == nil || k.ExpiresAt == nil {
					t.Errorf("old key: got current %t retired %v expires %v, want retired with an expiry", k.Current, k.RetiredAt, k.ExpiresAt)
				}
			default:
				t.Errorf("got unexpected key %q", k.KID)
			}
		}
	})
}
