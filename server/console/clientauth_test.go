package console

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// The client forms register a private_key_jwt client with its keys (no
// secret shown), show the field's message for bad keys, and switch PAR
// and PKCE.
func TestClientAuthForm(t *testing.T) {
	t.Parallel()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1"}}})
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := e.signedIn(e.createUser("root", true))
		r := b.get("/admin/clients/new")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="token_endpoint_auth_method"`, `id="jwks"`, `id="require_par"`, `id="require_pkce" name="require_pkce" checked`)
		form := url.Values{"name": {"Keys"}, "client_type": {"confidential"}, "grant_types": {"client_credentials"}, "access_token_format": {"opaque"},
			"token_endpoint_auth_method": {"private_key_jwt"}, "jwks": {`{"keys":[]}`}, "require_pkce": {"on"}}
		r = b.post("/admin/clients/new", form)
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="jwks-error" role="alert"`)
		form.Set("jwks", string(set))
		wantStatus(t, b.post("/admin/clients/new", form), http.StatusSeeOther) // no secret to show
		var c models.Client
		if err := db.Where("name = ?", "Keys").Take(&c).Error; err != nil {
			t.Fatal(err)
		}
		if c.TokenEndpointAuthMethod != "private_key_jwt" || c.SecretHash != "" || c.JWKS == "" || !c.RequirePKCE || c.RequirePAR {
			t.Fatalf("created: %+v", c.ClientAuth)
		}
		r = b.get("/admin/clients/" + c.ID)
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `<option value="private_key_jwt" selected>`)
		edit := url.Values{"name": {"Keys"}, "grant_types": {"client_credentials"}, "access_token_format": {"opaque"},
			"token_endpoint_auth_method": {"private_key_jwt"}, "jwks": {string(set)}, "require_par": {"on"}}
		wantStatus(t, b.post("/admin/clients/"+c.ID, edit), http.StatusSeeOther)
		if err := db.Where("id = ?", c.ID).Take(&c).Error; err != nil {
			t.Fatal(err)
		}
		if !c.RequirePAR || c.RequirePKCE || c.JWKS == "" {
			t.Errorf("after the settings form: %+v", c.ClientAuth)
		}
	})
}
