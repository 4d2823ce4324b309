package adminapi

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/oauth"
)

// TestUpdateUserDisabled: PATCH disabled=true stops the user's sign-ins and
// ends their tokens at once; false lets them in again; the last
// administrator who can sign in cannot be disabled; a bad field changes
// nothing.
func TestUpdateUserDisabled(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		tok, err := e.passwordGrant(userName, userPass)
		if err != nil {
			t.Fatalf("password grant before disabling: %v", err)
		}

		var got userJSON
		e.do(t, "PATCH", "/admin/api/users/"+userName, e.adminToken, map[string]any{"disabled": true}).want(t, http.StatusOK, &got)
		if !got.Disabled {
			t.Fatalf("PATCH disabled=true: got %+v", got)
		}
		e.wantAudit(t, "user.update", userName, adminActor)
		if _, err := e.passwordGrant(userName, userPass); !isOAuthError(err, "invalid_grant") {
			t.Errorf("password grant of a disabled user: got %v, want invalid_grant", err)
		}
		// The token issued before is gone: it no longer authenticates.
		e.do(t, "GET", "/admin/api/users", tok.AccessToken, nil).wantError(t, http.StatusUnauthorized, codeInvalidToken, "")

		e.do(t, "PATCH", "/admin/api/users/"+userName, e.adminToken, map[string]any{"disabled": false}).want(t, http.StatusOK, &got)
		if got.Disabled {
			t.Fatalf("PATCH disabled=false: got %+v", got)
		}
		if _, err := e.passwordGrant(userName, userPass); err != nil {
			t.Errorf("password grant after enabling: %v", err)
		}

		// root is the only administrator.
		e.do(t, "PATCH", "/admin/api/users/"+adminName, e.clientToken, map[string]any{"disabled": true}).wantError(t, http.StatusConflict, codeConflict, "")
		e.do(t, "PATCH", "/admin/api/users/"+adminName, e.clientToken, map[string]any{"admin": false}).wantError(t, http.StatusConflict, codeConflict, "")

		// Bad input: the field is named and nothing changes.
		var before, after userJSON
		e.do(t, "GET", "/admin/api/users/"+userName, e.adminToken, nil).want(t, http.StatusOK, &before)
		e.do(t, "PATCH", "/admin/api/users/"+userName, e.adminToken, map[string]any{"name": "Changed", "email": "not an email"}).wantError(t, http.StatusBadRequest, codeInvalidRequest, "email")
		e.do(t, "PATCH", "/admin/api/users/"+userName, e.adminToken, map[string]any{"name": "Changed", "disabled": "yes"}).wantError(t, http.StatusBadRequest, codeInvalidRequest, "disabled")
		e.do(t, "PATCH", "/admin/api/users/"+userName, e.adminToken, map[string]any{"name": "Changed", "password": "x"}).wantError(t, http.StatusBadRequest, codeInvalidRequest, "password")
		e.do(t, "GET", "/admin/api/users/"+userName, e.adminToken, nil).want(t, http.StatusOK, &after)
		if after.Name != before.Name || after.Email != before.Email || after.Disabled {
			t.Errorf("after refused updates: %+v, want %+v", after, before)
		}
	})
}

// TestUpdateClientFields: PATCH changes every field of clients.ClientUpdate,
// a bad field changes nothing, and the console's own client is refused.
func TestUpdateClientFields(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		c, _ := e.createClient(t, clients.NewClient{Name: "shop", GrantTypes: []string{clients.GrantAuthorizationCode},
			RedirectURIs: []string{"https://shop.example/cb"}, Scopes: []string{oauth.ScopeOpenID}})
		path := "/admin/api/clients/" + c.ID

		var got clients.View
		e.do(t, "PATCH", path, e.adminToken, map[string]any{
			"name": "shop 2", "redirect_uris": []string{"https://shop.example/a", "https://shop.example/b"},
			"scopes": []string{"openid", "email"}, "grant_types": []string{"authorization_code", "refresh_token"},
			"first_party": true, "access_token_format": "jwt",
		}).want(t, http.StatusOK, &got)
		if got.Name != "shop 2" || len(got.RedirectURIs) != 2 || !slices.Contains(got.Scopes, "email") || !slices.Contains(got.GrantTypes, "refresh_token") ||
			!got.FirstParty || got.AccessTokenFormat != "jwt" {
			t.Errorf("PATCH every field: got %+v", got)
		}

		var before, after clients.View
		e.do(t, "GET", path, e.adminToken, nil).want(t, http.StatusOK, &before)
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": "x", "redirect_uris": []string{"http://shop.example/cb"}}, "redirect_uris"},
			{map[string]any{"name": "x", "grant_types": []string{"implicit"}}, "grant_types"},
			{map[string]any{"name": "x", "scopes": []string{"root"}}, "scopes"},
			{map[string]any{"name": "x", "access_token_format": "xml"}, "access_token_format"},
			{map[string]any{"name": "x", "first_party": "yes"}, "first_party"},
			{map[string]any{"name": "x", "public": true}, "public"},
			{map[string]any{"name": ""}, "name"},
		} {
			e.do(t, "PATCH", path, e.adminToken, tc.body).wantError(t, http.StatusBadRequest, codeInvalidRequest, tc.field)
		}
		e.do(t, "GET", path, e.adminToken, nil).want(t, http.StatusOK, &after)
		if after.Name != before.Name || !slices.Equal(after.RedirectURIs, before.RedirectURIs) || after.AccessTokenFormat != before.AccessTokenFormat {
			t.Errorf("after refused updates: %+v, want %+v", after, before)
		}
		e.do(t, "PATCH", "/admin/api/clients/no-such-client", e.adminToken, map[string]any{"name": "x"}).wantError(t, http.StatusNotFound, codeNotFound, "")

		// An admin API whose clients service protects c (as the console's
		// own client is protected) refuses to change or delete it.
		protected := clients.New(storage.New(db), &oauth.SecretHasher{Keys: e.keys}, clients.Options{Protected: []string{c.ID}})
		h, _ := newAPI(APIDeps{Provider: e.provider, Accounts: e.accounts, Clients: protected, Trust: e.trust, Keys: e.km, AuditLog: storage.New(db), Mail: e.sender})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		protectedDo := func(method, p string, body any) response {
			req := e.newRequest(t, method, p, e.adminToken, body)
			req.URL, _ = req.URL.Parse(srv.URL + p)
			return e.send(t, req)
		}
		protectedDo("PATCH", path, map[string]any{"redirect_uris": []string{"https://evil.example/cb"}}).wantError(t, http.StatusConflict, codeConflict, "")
		protectedDo("POST", path+"/rotate-secret", nil).wantError(t, http.StatusConflict, codeConflict, "")
		protectedDo("DELETE", path, nil).wantError(t, http.StatusConflict, codeConflict, "")
		e.do(t, "GET", path, e.adminToken, nil).want(t, http.StatusOK, &after)
		if !slices.Equal(after.RedirectURIs, before.RedirectURIs) {
			t.Errorf("protected client changed: %+v", after)
		}
	})
}

// TestUpdateUserEmailVerified: an administrator marks the address verified
// and unverified; a new address without the mark is not verified.
func TestUpdateUserEmailVerified(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		var got userJSON
		e.do(t, "PATCH", "/admin/api/users/"+userName, e.adminToken, map[string]any{"email_verified": true}).want(t, http.StatusOK, &got)
		if !got.EmailVerified {
			t.Fatalf("PATCH email_verified=true: got %+v", got)
		}
		e.wantAudit(t, "user.update", userName, adminActor)
		e.do(t, "PATCH", "/admin/api/users/"+userName, e.adminToken, map[string]any{"email": "other@example.net"}).want(t, http.StatusOK, &got)
		if got.EmailVerified || got.Email != "other@example.net" {
			t.Fatalf("PATCH of the email alone: got %+v, want the new address unverified", got)
		}
		e.do(t, "PATCH", "/admin/api/users/"+userName, e.adminToken, map[string]any{"email": "third@example.net", "email_verified": true}).want(t, http.StatusOK, &got)
		if !got.EmailVerified {
			t.Fatalf("PATCH email with email_verified=true: got %+v", got)
		}
		e.do(t, "PATCH", "/admin/api/users/"+userName, e.adminToken, map[string]any{"email_verified": "yes"}).wantError(t, http.StatusBadRequest, codeInvalidRequest, "email_verified")
	})
}
