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

// The client forms offer the three signing algorithms, save the choice,
// and refuse another by field without changing anything.
func TestClientSigningAlgorithms(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.signedIn(e.createUser("root", true))
		ctx := context.Background()
		cl, _, err := e.clients.Create(ctx, "test", clients.NewClient{Name: "Service", GrantTypes: []string{clients.GrantClientCredentials}})
		if err != nil {
			t.Fatal(err)
		}
		r := b.get("/admin/clients/" + cl.ID)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="id_token_signed_response_alg"`, `<option value="RS256" selected>RS256</option>`, `<option value="EdDSA">EdDSA</option>`,
			`id="access_token_signed_response_alg"`)
		form := url.Values{"name": {"Service"}, "grant_types": {"client_credentials"}, "access_token_format": {"jwt"},
			"id_token_signed_response_alg": {"ES256"}, "access_token_signed_response_alg": {"EdDSA"}}
		wantStatus(t, b.post("/admin/clients/"+cl.ID, form), http.StatusSeeOther)
		got, _ := e.clients.Get(ctx, cl.ID)
		if got.IDTokenAlg != "ES256" || got.AccessTokenAlg != "EdDSA" {
			t.Fatalf("after saving: ID token %s, access token %s, want ES256 and EdDSA", got.IDTokenAlg, got.AccessTokenAlg)
		}
		form.Set("id_token_signed_response_alg", "HS256")
		r = b.post("/admin/clients/"+cl.ID, form)
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="id_token_signed_response_alg-error" role="alert"`, "is not a supported signing algorithm; use RS256, ES256 or EdDSA")
		if again, _ := e.clients.Get(ctx, cl.ID); again.IDTokenAlg != "ES256" {
			t.Errorf("a refused save changed the ID token algorithm to %s", again.IDTokenAlg)
		}
		r = b.get("/admin/clients/new")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="id_token_signed_response_alg"`, `<option value="RS256" selected>RS256</option>`, `<option value="ES256">ES256</option>`)
	})
}
