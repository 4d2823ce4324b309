package adminapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/oauth"
)

func TestSigningKeys(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)

		resp := e.do(t, "GET", "/admin/api/keys", e.adminToken, nil)
		var before itemsJSON[oauth.KeyView]
		resp.want(t, http.StatusOK, &before)
		byAlg := map[string]oauth.KeyView{}
		for _, k := range before.Items {
			if k.State != oauth.KeyCurrent || !k.Current || !strings.HasPrefix(k.PublicPEM, "-----BEGIN PUBLIC KEY-----") {
				t.Errorf("got %+v, want a current key with its public PEM", k)
			}
			byAlg[k.Algorithm] = k
		}
		if len(before.Items) != 3 || len(byAlg) != 3 {
			t.Fatalf("got %+v, want one key per algorithm", before.Items)
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
		list := func() map[string]oauth.KeyView {
			var after itemsJSON[oauth.KeyView]
			e.do(t, "GET", "/admin/api/keys", e.adminToken, nil).want(t, http.StatusOK, &after)
			out := map[string]oauth.KeyView{}
			for _, k := range after.Items {
				out[k.KID] = k
			}
			return out
		}

		// Pre-published: the new ES256 key waits, the old one signs until then.
		var rotated rotatedKeyJSON
		e.do(t, "POST", "/admin/api/keys/rotate?alg=ES256", e.clientToken, nil).want(t, http.StatusOK, &rotated)
		oldES := byAlg["ES256"].KID
		if rotated.KID == "" || rotated.KID == oldES || rotated.Algorithm != "ES256" || time.Until(rotated.ActivatesAt) < 50*time.Second {
			t.Fatalf("got %+v, want a new ES256 key active in about a minute (old %q)", rotated, oldES)
		}
		e.wantAudit(t, oauth.AuditKeyRotate, rotated.KID, "client:"+e.automation.ID)
		keys := list()
		if k := keys[rotated.KID]; k.State != oauth.KeyNext || k.Current || !k.ActivatesAt.Equal(rotated.ActivatesAt) {
			t.Errorf("new key: got %+v, want next, active at %v", k, rotated.ActivatesAt)
		}
		if k := keys[oldES]; k.State != oauth.KeyCurrent || k.RetiredAt == nil || !k.RetiredAt.Equal(rotated.ActivatesAt) || k.ExpiresAt == nil {
			t.Errorf("old key: got %+v, want current until %v, with an expiry", k, rotated.ActivatesAt)
		}

		// Now: the emergency key signs at once; the waiting one never will.
		var now rotatedKeyJSON
		e.do(t, "POST", "/admin/api/keys/rotate?alg=ES256&now=true", e.adminToken, nil).want(t, http.StatusOK, &now)
		keys = list()
		for kid, want := range map[string]string{now.KID: oauth.KeyCurrent, oldES: oauth.KeyRetired, rotated.KID: oauth.KeyRemoved, byAlg["RS256"].KID: oauth.KeyCurrent} {
			if got := keys[kid].State; got != want {
				t.Errorf("after rotate now: key %s (%s) is %s, want %s", kid, keys[kid].Algorithm, got, want)
			}
		}

		for _, q := range []string{"alg=HS256", "alg=ES256&now=maybe"} {
			resp := e.do(t, "POST", "/admin/api/keys/rotate?"+q, e.adminToken, nil)
			var body struct {
				Error, Field     string
				ErrorDescription string `json:"error_description"`
			}
			resp.want(t, http.StatusBadRequest, &body)
			if body.Error != "invalid_request" || !strings.Contains(body.ErrorDescription, strings.SplitN(strings.SplitN(q, "&", 2)[len(strings.SplitN(q, "&", 2))-1], "=", 2)[1]) {
				t.Errorf("rotate?%s: got %+v, want invalid_request naming the value", q, body)
			}
		}
	})
}
