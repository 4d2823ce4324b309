package adminapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
)

// TestUserAppPasswords: the API lists a user's app passwords without a
// value or hash, revokes one (audited), refuses an unknown one, and a
// client's legacy credentials are set on create and update with a clear
// error for a bad value.
func TestUserAppPasswords(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		bob, err := e.accounts.GetUser(ctx, userName)
		if err != nil {
			t.Fatal(err)
		}
		p, value, err := e.apps.Create(ctx, "test", bob.ID, apppasswords.Spec{Name: "Nightly export", Scopes: []string{"openid"}})
		if err != nil {
			t.Fatal(err)
		}

		var list appPasswordsJSON
		resp := e.do(t, "GET", "/admin/api/users/bob/app-passwords", e.adminToken, nil)
		resp.want(t, http.StatusOK, &list)
		if len(list.AppPasswords) != 1 || list.AppPasswords[0].Name != "Nightly export" || list.AppPasswords[0].State != apppasswords.StateActive {
			t.Fatalf("GET app-passwords: got %+v", list)
		}
		if body := string(resp.body); strings.Contains(body, value) || strings.Contains(body, p.Hash) {
			t.Fatalf("GET app-passwords shows a value or hash: %s", body)
		}
		e.do(t, "GET", "/admin/api/users/nobody/app-passwords", e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		e.do(t, "DELETE", "/admin/api/users/bob/app-passwords/nope", e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")

		var revoked apppasswords.View
		e.do(t, "DELETE", "/admin/api/users/bob/app-passwords/"+p.ID, e.adminToken, nil).want(t, http.StatusOK, &revoked)
		if revoked.State != apppasswords.StateRevoked || revoked.RevokedAt == nil {
			t.Errorf("DELETE app password: got %+v, want revoked", revoked)
		}
		e.wantAudit(t, apppasswords.ActionRevoke, "bob", adminActor)

		// A client's legacy credentials.
		var created createdClientJSON
		e.do(t, "POST", "/admin/api/clients", e.adminToken, map[string]any{
			"name": "Loader", "grant_types": []string{"password"}, "legacy_credentials": "app_password",
		}).want(t, http.StatusCreated, &created)
		if created.Client.LegacyCredentials != "app_password" {
			t.Errorf("created client: legacy_credentials %q, want app_password", created.Client.LegacyCredentials)
		}
		var view clients.View
		e.do(t, "PATCH", "/admin/api/clients/"+created.Client.ClientID, e.adminToken, map[string]any{"legacy_credentials": "both"}).want(t, http.StatusOK, &view)
		if view.LegacyCredentials != "both" {
			t.Errorf("updated client: legacy_credentials %q, want both", view.LegacyCredentials)
		}
		e.do(t, "PATCH", "/admin/api/clients/"+created.Client.ClientID, e.adminToken, map[string]any{"legacy_credentials": "tokens"}).
			wantError(t, http.StatusBadRequest, codeInvalidRequest, "legacy_credentials")
		e.do(t, "POST", "/admin/api/clients", e.adminToken, map[string]any{
			"name": "Bad", "grant_types": []string{"password"}, "legacy_credentials": "password",
		}).wantError(t, http.StatusBadRequest, codeInvalidRequest, "legacy_credentials")
	})
}
