package console

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
)

// The client page turns Salesforce-compatible responses on with an
// instance URL, refuses a bad URL without saving, and turns them off.
func TestClientSalesforceCompat(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.signedIn(e.createUser("root", true))
		ctx := context.Background()
		cl, _, err := e.clients.Create(ctx, "test", clients.NewClient{Name: "Loader", GrantTypes: []string{clients.GrantClientCredentials}})
		if err != nil {
			t.Fatal(err)
		}
		wantContains(t, b.get("/admin/clients/"+cl.ID).body, `id="salesforce_compat"`, `id="instance_url"`)
		form := url.Values{"name": {"Loader"}, "grant_types": {"client_credentials"}, "access_token_format": {"opaque"},
			"salesforce_compat": {"on"}, "instance_url": {"https://api.example.com/"}}
		wantStatus(t, b.post("/admin/clients/"+cl.ID, form), http.StatusSeeOther)
		if got, _ := e.clients.Get(ctx, cl.ID); !got.SalesforceCompat || got.InstanceURL != "https://api.example.com" {
			t.Fatalf("after saving: compat %t, instance %q", got.SalesforceCompat, got.InstanceURL)
		}
		form.Set("instance_url", "ftp://nope")
		r := b.post("/admin/clients/"+cl.ID, form)
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="instance_url-error" role="alert"`)
		form.Del("salesforce_compat")
		form.Set("instance_url", "")
		wantStatus(t, b.post("/admin/clients/"+cl.ID, form), http.StatusSeeOther)
		if got, _ := e.clients.Get(ctx, cl.ID); got.SalesforceCompat || got.InstanceURL != "" {
			t.Fatalf("after turning off: compat %t, instance %q", got.SalesforceCompat, got.InstanceURL)
		}
	})
}
