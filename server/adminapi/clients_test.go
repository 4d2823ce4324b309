package adminapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// createClientAPI creates a client through the API and returns it with
// its secret.
func (e *env) createClientAPI(t *testing.T, token string, body map[string]any) createdClientJSON {
	t.Helper()
	var out createdClientJSON
	e.do(t, "POST", "/admin/api/clients", token, body).want(t, http.StatusCreated, &out)
	return out
}

func TestClients(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)

		t.Run("create, get, list, update, delete", func(t *testing.T) {
			resp := e.do(t, "POST", "/admin/api/clients", e.adminToken, map[string]any{
				"name": "web", "grant_types": []string{"authorization_code", "refresh_token"},
				"redirect_uris": []string{"https://app.example.com/cb"}, "scopes": []string{"openid", "offline_access"},
			})
			var created createdClientJSON
			resp.want(t, http.StatusCreated, &created)
			c := created.Client
			if created.ClientSecret == "" {
				t.Errorf("got no client_secret for a confidential client")
			}
			if got, want := resp.header.Get("Location"), "/admin/api/clients/"+c.ClientID; got != want {
				t.Errorf("got Location %q, want %q", got, want)
			}
			if c.Name != "web" || c.LegacyEnabled || c.Public || c.AccessTokenFormat != "opaque" {
				t.Errorf("got %+v, want name web, legacy off, confidential, opaque", c)
			}
			if !slices.Equal(c.ResponseTypes, []string{"code"}) {
				t.Errorf("got response_types %v, want [code]", c.ResponseTypes)
			}
			e.wantAudit(t, "client.create", c.ClientID, adminActor)

			var got clients.View
			e.do(t, "GET", "/admin/api/clients/"+c.ClientID, e.adminToken, nil).want(t, http.StatusOK, &got)
			if got.ClientID != c.ClientID || got.Name != c.Name || !slices.Equal(got.RedirectURIs, c.RedirectURIs) {
				t.Errorf("GET: got %+v, want %+v", got, c)
			}

			var list itemsJSON[clients.View]
			e.do(t, "GET", "/admin/api/clients", e.clientToken, nil).want(t, http.StatusOK, &list)
			if !slices.ContainsFunc(list.Items, func(x clients.View) bool { return x.ClientID == c.ClientID }) {
				t.Errorf("list: got %d clients without %s", len(list.Items), c.ClientID)
			}

			var updated clients.View
			e.do(t, "PATCH", "/admin/api/clients/"+c.ClientID, e.clientToken, map[string]any{
				"name": "web two", "first_party": true,
			}).want(t, http.StatusOK, &updated)
			if updated.Name != "web two" || !updated.FirstParty || !slices.Equal(updated.RedirectURIs, c.RedirectURIs) {
				t.Errorf("PATCH: got %+v, want name %q, first party, redirect URIs kept", updated, "web two")
			}
			e.wantAudit(t, "client.update", c.ClientID, "client:"+e.automation.ID)

			e.do(t, "PATCH", "/admin/api/clients/"+c.ClientID, e.adminToken, map[string]any{
				"redirect_uris": []string{"http://app.example.com/cb"},
			}).wantError(t, http.StatusBadRequest, codeInvalidRequest, "redirect_uris")

			e.do(t, "DELETE", "/admin/api/clients/"+c.ClientID, e.adminToken, nil).want(t, http.StatusNoContent, nil)
			e.wantAudit(t, "client.delete", c.ClientID, adminActor)
			e.do(t, "GET", "/admin/api/clients/"+c.ClientID, e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		})

		t.Run("the secret is returned once and works", func(t *testing.T) {
			created := e.createClientAPI(t, e.clientToken, map[string]any{
				"name": "cron", "grant_types": []string{"client_credentials"}, "scopes": []string{oauth.AdminScope},
			})
			tok := e.clientCredentials(t, created.Client.ClientID, created.ClientSecret, oauth.AdminScope)
			e.do(t, "GET", "/admin/api/clients/"+created.Client.ClientID, tok.AccessToken, nil).want(t, http.StatusOK, nil)
			e.wantAudit(t, "client.create", created.Client.ClientID, "client:"+e.automation.ID)
		})

		t.Run("a public client gets no secret", func(t *testing.T) {
			created := e.createClientAPI(t, e.adminToken, map[string]any{
				"name": "spa", "public": true, "grant_types": []string{"authorization_code"},
				"redirect_uris": []string{"http://127.0.0.1:9000/cb"},
			})
			if created.ClientSecret != "" {
				t.Errorf("got a client_secret for a public client")
			}
			e.do(t, "POST", "/admin/api/clients/"+created.Client.ClientID+"/rotate-secret", e.adminToken, nil).
				wantError(t, http.StatusBadRequest, codeInvalidRequest, "")
			e.do(t, "POST", "/admin/api/clients/"+created.Client.ClientID+"/legacy/enable", e.adminToken, nil).
				wantError(t, http.StatusBadRequest, codeInvalidRequest, "grant_types")
		})

		t.Run("bad input names the field", func(t *testing.T) {
			cases := []struct {
				name        string
				body        any
				contentType string
				status      int
				field       string
			}{
				{"missing name", map[string]any{"grant_types": []string{"client_credentials"}}, "", http.StatusBadRequest, "name"},
				{"unknown grant type", map[string]any{"name": "x", "grant_types": []string{"implicit"}}, "", http.StatusBadRequest, "grant_types"},
				{"no grant type", map[string]any{"name": "x"}, "", http.StatusBadRequest, "grant_types"},
				{"bad redirect URI", map[string]any{"name": "x", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"ftp://x/cb"}}, "", http.StatusBadRequest, "redirect_uris"},
				{"unknown scope", map[string]any{"name": "x", "grant_types": []string{"client_credentials"}, "scopes": []string{"root"}}, "", http.StatusBadRequest, "scopes"},
				{"bad token format", map[string]any{"name": "x", "grant_types": []string{"client_credentials"}, "access_token_format": "xml"}, "", http.StatusBadRequest, "access_token_format"},
				{"unknown field", map[string]any{"name": "x", "grant_types": []string{"client_credentials"}, "client_secret": "mine"}, "", http.StatusBadRequest, "client_secret"},
				{"wrong type", map[string]any{"name": 5, "grant_types": []string{"client_credentials"}}, "", http.StatusBadRequest, "name"},
				{"wrong list type", map[string]any{"name": "x", "grant_types": "client_credentials"}, "", http.StatusBadRequest, "grant_types"},
				{"malformed JSON", rawBody(`{"name": "x",`), "", http.StatusBadRequest, "body"},
				{"not an object", rawBody(`["x"]`), "", http.StatusBadRequest, "body"},
				{"empty body", rawBody(``), "", http.StatusBadRequest, "body"},
				{"two objects", rawBody(`{"name":"x","grant_types":["client_credentials"]} {}`), "", http.StatusBadRequest, "body"},
				{"form body", rawBody(`name=x`), "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "body"},
				{"too large", rawBody(`{"name": "` + strings.Repeat("x", maxBodyBytes) + `"}`), "", http.StatusRequestEntityTooLarge, "body"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					before := countRows[models.Client](t, e.db)
					req := e.newRequest(t, "POST", "/admin/api/clients", e.adminToken, tc.body)
					if tc.contentType != "" {
						req.Header.Set("Content-Type", tc.contentType)
					}
					e.send(t, req).wantError(t, tc.status, codeInvalidRequest, tc.field)
					if after := countRows[models.Client](t, e.db); after != before {
						t.Errorf("got %d clients after a refused create, want %d", after, before)
					}
				})
			}
		})

		t.Run("not found", func(t *testing.T) {
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/admin/api/clients/nope", nil},
				{"PATCH", "/admin/api/clients/nope", map[string]string{"name": "x"}},
				{"DELETE", "/admin/api/clients/nope", nil},
				{"POST", "/admin/api/clients/nope/rotate-secret", nil},
				{"POST", "/admin/api/clients/nope/legacy/enable", nil},
				{"POST", "/admin/api/clients/nope/legacy/disable", nil},
				{"PUT", "/admin/api/clients/nope/legacy/sunset", map[string]any{"sunset": nil}},
			} {
				t.Run(r.method+" "+r.path, func(t *testing.T) {
					e.do(t, r.method, r.path, e.adminToken, r.body).wantError(t, http.StatusNotFound, codeNotFound, "")
				})
			}
		})

		t.Run("rotate secret", func(t *testing.T) {
			created := e.createClientAPI(t, e.adminToken, map[string]any{
				"name": "rotating", "grant_types": []string{"client_credentials"}, "scopes": []string{oauth.AdminScope},
			})
			id, old := created.Client.ClientID, created.ClientSecret
			var rotated rotatedSecretJSON
			e.do(t, "POST", "/admin/api/clients/"+id+"/rotate-secret", e.adminToken, nil).want(t, http.StatusOK, &rotated)
			if rotated.ClientID != id || rotated.ClientSecret == "" || rotated.ClientSecret == old {
				t.Fatalf("got %+v, want a new secret for %s", rotated, id)
			}
			e.wantAudit(t, "client.secret.rotate", id, adminActor)
			if _, err := e.passwordGrantVia(id, old, userName, userPass); !isOAuthError(err, "invalid_client") {
				t.Errorf("old secret: got %v, want invalid_client", err)
			}
			e.clientCredentials(t, id, rotated.ClientSecret, oauth.AdminScope)
		})

		t.Run("legacy disable and enable flip the password grant", func(t *testing.T) {
			created := e.createClientAPI(t, e.adminToken, map[string]any{
				"name": "data loader", "grant_types": []string{"password"},
			})
			id, secret := created.Client.ClientID, created.ClientSecret
			if !created.Client.LegacyEnabled {
				t.Fatalf("got legacy_enabled false for a client with the password grant")
			}
			if _, err := e.passwordGrantVia(id, secret, userName, userPass); err != nil {
				t.Fatalf("password grant while enabled: %v", err)
			}

			var c clients.View
			e.do(t, "POST", "/admin/api/clients/"+id+"/legacy/disable", e.adminToken, nil).want(t, http.StatusOK, &c)
			if c.LegacyEnabled || slices.Contains(c.GrantTypes, "password") {
				t.Errorf("after disable: got legacy_enabled %t, grant_types %v; want off, no password", c.LegacyEnabled, c.GrantTypes)
			}
			e.wantAudit(t, "client.legacy.disable", id, adminActor)
			if _, err := e.passwordGrantVia(id, secret, userName, userPass); !isOAuthError(err, "unauthorized_client") {
				t.Errorf("password grant while disabled: got %v, want unauthorized_client", err)
			}

			e.do(t, "POST", "/admin/api/clients/"+id+"/legacy/enable", e.clientToken, nil).want(t, http.StatusOK, &c)
			if !c.LegacyEnabled || !slices.Contains(c.GrantTypes, "password") {
				t.Errorf("after enable: got legacy_enabled %t, grant_types %v; want on, with password", c.LegacyEnabled, c.GrantTypes)
			}
			e.wantAudit(t, "client.legacy.enable", id, "client:"+e.automation.ID)
			if _, err := e.passwordGrantVia(id, secret, userName, userPass); err != nil {
				t.Errorf("password grant after enable: %v", err)
			}
		})

		t.Run("legacy sunset", func(t *testing.T) {
			created := e.createClientAPI(t, e.adminToken, map[string]any{
				"name": "sunsetting", "grant_types": []string{"password"},
			})
			id, secret := created.Client.ClientID, created.ClientSecret
			path := "/admin/api/clients/" + id + "/legacy/sunset"

			var c clients.View
			e.do(t, "PUT", path, e.adminToken, map[string]any{"sunset": "2999-01-31"}).want(t, http.StatusOK, &c)
			// A date is the end of that day in UTC.
			want := time.Date(2999, 2, 1, 0, 0, 0, 0, time.UTC)
			if c.LegacySunset == nil || !c.LegacySunset.Equal(want) || c.LegacyDeprecatedAt == nil {
				t.Errorf("got legacy_sunset %v, legacy_deprecated_at %v; want %v and a time", c.LegacySunset, c.LegacyDeprecatedAt, want)
			}
			e.wantAudit(t, "client.legacy.sunset", id, adminActor)
			if _, err := e.passwordGrantVia(id, secret, userName, userPass); err != nil {
				t.Errorf("password grant before the sunset: %v", err)
			}

			// A past sunset ends the grant at once: refused unless confirmed,
			// and the refusal changes nothing.
			refused := e.do(t, "PUT", path, e.adminToken, map[string]any{"sunset": "2000-01-01T00:00:00Z"}).wantError(t, http.StatusBadRequest, codeInvalidRequest, "sunset")
			if !strings.Contains(refused.Description, "confirm_past") {
				t.Errorf("refusal %q does not say how to confirm", refused.Description)
			}
			if _, err := e.passwordGrantVia(id, secret, userName, userPass); err != nil {
				t.Errorf("password grant after a refused past sunset: %v", err)
			}
			e.do(t, "PUT", path, e.adminToken, map[string]any{"sunset": "2000-01-01T00:00:00Z", "confirm_past": true}).want(t, http.StatusOK, &c)
			if _, err := e.passwordGrantVia(id, secret, userName, userPass); !isOAuthError(err, "unauthorized_client") {
				t.Errorf("password grant past the sunset: got %v, want unauthorized_client", err)
			}

			e.do(t, "PUT", path, e.adminToken, rawBody(`{"sunset": null}`)).want(t, http.StatusOK, &c)
			if c.LegacySunset != nil || c.LegacyDeprecatedAt != nil {
				t.Errorf("after clearing: got legacy_sunset %v, legacy_deprecated_at %v; want null", c.LegacySunset, c.LegacyDeprecatedAt)
			}

			for name, body := range map[string]any{
				"missing":      map[string]any{},
				"not a date":   map[string]any{"sunset": "next tuesday"},
				"not a string": map[string]any{"sunset": 20300101},
			} {
				t.Run(name, func(t *testing.T) {
					e.do(t, "PUT", path, e.adminToken, body).wantError(t, http.StatusBadRequest, codeInvalidRequest, "sunset")
				})
			}
		})
	})
}

// countRows counts the rows of model T.
func countRows[T any](t *testing.T, db *gorm.DB) int64 {
	t.Helper()
	var n int64
	if err := db.WithContext(context.Background()).Model(new(T)).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}
