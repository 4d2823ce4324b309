package console

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// TestUserAppPasswordsPage: a user's page lists their app passwords and
// revokes one; the client form sets what the legacy grant accepts, and a
// bad value changes nothing.
func TestUserAppPasswordsPage(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		root := e.createUser("root", true)
		dana := e.createUser("dana", false)
		b := e.signedIn(root)
		p, _, err := e.apps.Create(ctx, "test", dana.ID, apppasswords.Spec{Name: "Nightly export", Scopes: []string{"openid"}})
		if err != nil {
			t.Fatal(err)
		}
		r := b.get("/admin/users/dana")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="app-passwords"`, "Nightly export", `class="danger revoke-app-password"`)
		wantStatus(t, b.postRaw("/admin/users/dana/app-passwords/"+p.ID+"/revoke", nil), http.StatusForbidden)
		wantStatus(t, b.post("/admin/users/dana/app-passwords/nope/revoke", nil), http.StatusNotFound)
		wantStatus(t, b.post("/admin/users/dana/app-passwords/"+p.ID+"/revoke", nil), http.StatusSeeOther)
		if got, _ := e.apps.Get(ctx, p.ID); got.RevokedAt == nil {
			t.Fatal("the app password is not revoked")
		}
		r = b.get("/admin/users/dana")
		wantContains(t, r.body, `class="state">revoked<`, `id="notice"`)

		// The client form's legacy credentials.
		cl, _, err := e.clients.Create(ctx, "test", clients.NewClient{Name: "Loader", GrantTypes: []string{clients.GrantPassword}})
		if err != nil {
			t.Fatal(err)
		}
		r = b.get("/admin/clients/" + cl.ID)
		wantContains(t, r.body, `id="legacy_credentials"`, `<option value="token" selected>`)
		form := url.Values{"name": {"Loader"}, "access_token_format": {"opaque"}, "legacy_credentials": {"sometimes"}}
		wantStatus(t, b.post("/admin/clients/"+cl.ID, form), http.StatusBadRequest)
		form.Set("legacy_credentials", "app_password")
		wantStatus(t, b.post("/admin/clients/"+cl.ID, form), http.StatusSeeOther)
		var got models.Client
		if err := db.Where("id = ?", cl.ID).Take(&got).Error; err != nil || got.LegacyCredentials != models.LegacyAppPassword {
			t.Errorf("after saving app_password: got %q, %v", got.LegacyCredentials, err)
		}
	})
}
