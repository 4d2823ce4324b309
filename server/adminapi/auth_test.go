package adminapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// routePath turns a route pattern into a request to a real resource.
func (e *env) routePath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{id}", e.noScope.ID)
	path = strings.ReplaceAll(path, "{username}", userName)
	if method == http.MethodDelete && path == "/admin/api/trusted-ips" {
		path += "?cidr=" + loopbackCIDR
	}
	return method, path
}

func TestAuthenticationRefusals(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		var before int64
		if err := db.Model(&models.AuditEntry{}).Count(&before).Error; err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name      string
			header    string
			status    int
			code      string
			challenge string
		}{
			{"missing token", "", http.StatusUnauthorized, codeInvalidToken, `Bearer realm="authgate-admin"`},
			{"basic credentials", "Basic " + "cm9vdDpyb290", http.StatusUnauthorized, codeInvalidToken, `Bearer realm="authgate-admin"`},
			{"empty bearer", "Bearer ", http.StatusUnauthorized, codeInvalidToken, `Bearer realm="authgate-admin"`},
			{"unknown token", "Bearer not-a-token.at-all", http.StatusUnauthorized, codeInvalidToken, `Bearer realm="authgate-admin", error="invalid_token"`},
			{"refresh token", "Bearer " + e.adminRefresh, http.StatusUnauthorized, codeInvalidToken, `Bearer realm="authgate-admin", error="invalid_token"`},
			{"client token without the scope", "Bearer " + e.noScopeToken, http.StatusForbidden, codeInsufficientScope,
				`Bearer realm="authgate-admin", error="insufficient_scope", scope="authgate:admin"`},
			{"admin user token without the scope", "Bearer " + e.scopelessAdm, http.StatusForbidden, codeInsufficientScope,
				`Bearer realm="authgate-admin", error="insufficient_scope", scope="authgate:admin"`},
			{"non-admin user token", "bearer " + e.userToken, http.StatusForbidden, codeInsufficientScope,
				`Bearer realm="authgate-admin", error="insufficient_scope", scope="authgate:admin"`},
		}
		for _, pattern := range e.handler.patterns {
			if pattern == "GET /admin/api/openapi.json" {
				continue
			}
			for _, tc := range cases {
				t.Run(pattern+"/"+tc.name, func(t *testing.T) {
					method, path := e.routePath(pattern)
					req, err := http.NewRequest(method, e.api+path, strings.NewReader(`{}`))
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Content-Type", "application/json")
					if tc.header != "" {
						req.Header.Set("Authorization", tc.header)
					}
					resp := e.send(t, req)
					resp.wantError(t, tc.status, tc.code, "")
					if got := resp.header.Get("WWW-Authenticate"); got != tc.challenge {
						t.Errorf("got WWW-Authenticate %q, want %q", got, tc.challenge)
					}
				})
			}
		}
		var after int64
		if err := db.Model(&models.AuditEntry{}).Count(&after).Error; err != nil {
			t.Fatal(err)
		}
		if after != before {
			t.Errorf("refused requests changed the audit log: got %d entries, want %d", after, before)
		}
		if _, err := e.clients.Get(context.Background(), e.noScope.ID); err != nil {
			t.Errorf("refused requests touched client %s: %v", e.noScope.ID, err)
		}
		if _, err := e.accounts.GetUser(context.Background(), userName); err != nil {
			t.Errorf("refused requests touched user %s: %v", userName, err)
		}
	})
}

func TestAuthenticationPrincipals(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()

		t.Run("client credentials act as the client", func(t *testing.T) {
			e.do(t, "POST", "/admin/api/trusted-ips", e.clientToken, map[string]string{"cidr": "192.0.2.0/24"}).want(t, http.StatusCreated, nil)
			e.wantAudit(t, "trusted_range.add", "192.0.2.0/24", "client:"+e.automation.ID)
		})

		t.Run("an admin user acts as the user", func(t *testing.T) {
			e.do(t, "POST", "/admin/api/trusted-ips", e.adminToken, map[string]string{"cidr": "198.51.100.0/24"}).want(t, http.StatusCreated, nil)
			e.wantAudit(t, "trusted_range.add", "198.51.100.0/24", adminActor)
		})

		t.Run("a JWT access token works", func(t *testing.T) {
			c, s := e.createClient(t, clients.NewClient{
				Name: "jwt automation", GrantTypes: []string{clients.GrantClientCredentials},
				Scopes: []string{oauth.AdminScope}, AccessTokenFormat: oauth.FormatJWT,
			})
			tok := e.clientCredentials(t, c.ID, s, oauth.AdminScope).AccessToken
			if strings.Count(tok, ".") != 2 {
				t.Fatalf("got an access token of %d parts, want a JWT", strings.Count(tok, ".")+1)
			}
			e.do(t, "POST", "/admin/api/trusted-ips", tok, map[string]string{"cidr": "203.0.113.0/24"}).want(t, http.StatusCreated, nil)
			e.wantAudit(t, "trusted_range.add", "203.0.113.0/24", "client:"+c.ID)
		})

		t.Run("a revoked token is refused", func(t *testing.T) {
			tok := e.clientCredentials(t, e.automation.ID, e.automationSecret, oauth.AdminScope).AccessToken
			e.do(t, "GET", "/admin/api/clients", tok, nil).want(t, http.StatusOK, nil)
			e.revoke(t, e.automation.ID, e.automationSecret, tok)
			resp := e.do(t, "GET", "/admin/api/clients", tok, nil)
			resp.wantError(t, http.StatusUnauthorized, codeInvalidToken, "")
			if got, want := resp.header.Get("WWW-Authenticate"), `Bearer realm="authgate-admin", error="invalid_token"`; got != want {
				t.Errorf("got WWW-Authenticate %q, want %q", got, want)
			}
		})

		t.Run("a revoked user token is refused", func(t *testing.T) {
			tok, err := e.codeFlowToken(adminName, adminPass, oauth.AdminScope)
			if err != nil {
				t.Fatal(err)
			}
			e.do(t, "GET", "/admin/api/users", tok.AccessToken, nil).want(t, http.StatusOK, nil)
			e.revoke(t, e.webApp.ID, e.webAppSecret, tok.AccessToken)
			e.do(t, "GET", "/admin/api/users", tok.AccessToken, nil).wantError(t, http.StatusUnauthorized, codeInvalidToken, "")
		})

		t.Run("an expired token is refused", func(t *testing.T) {
			// Minted by a provider whose tokens live one second, on the same
			// store: the API's provider finds it expired.
			short := e.newProvider(time.Second)
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {oauth.AdminScope}}
			req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(e.automation.ID, e.automationSecret)
			if err := req.ParseForm(); err != nil {
				t.Fatal(err)
			}
			_, resp, err := short.Token(req.Context(), req, oauth.NewSession(""))
			if err != nil {
				t.Fatal(err)
			}
			tok := resp.GetAccessToken()
			time.Sleep(2100 * time.Millisecond)
			e.do(t, "GET", "/admin/api/clients", tok, nil).wantError(t, http.StatusUnauthorized, codeInvalidToken, "")
		})

		t.Run("the password grant never yields the admin scope", func(t *testing.T) {
			_, err := e.passwordGrant(adminName, adminPass, oauth.AdminScope)
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != "invalid_scope" {
				t.Fatalf("password grant with the admin scope: got %v, want invalid_scope", err)
			}
		})

		t.Run("a token in the query is not looked at", func(t *testing.T) {
			e.do(t, "GET", "/admin/api/clients?access_token="+e.clientToken, "", nil).wantError(t, http.StatusUnauthorized, codeInvalidToken, "")
		})

		t.Run("a demoted admin loses access at once", func(t *testing.T) {
			if _, err := e.accounts.CreateUser(ctx, "test", accountsUser("carol", true)); err != nil {
				t.Fatal(err)
			}
			tok, err := e.codeFlowToken("carol", "carol-password-1", oauth.AdminScope)
			if err != nil {
				t.Fatal(err)
			}
			e.do(t, "GET", "/admin/api/users/carol", tok.AccessToken, nil).want(t, http.StatusOK, nil)
			e.do(t, "PATCH", "/admin/api/users/carol", e.adminToken, map[string]bool{"admin": false}).want(t, http.StatusOK, nil)
			e.do(t, "GET", "/admin/api/users/carol", tok.AccessToken, nil).wantError(t, http.StatusForbidden, codeInsufficientScope, "")
		})

		t.Run("a deleted user's token is refused", func(t *testing.T) {
			if _, err := e.accounts.CreateUser(ctx, "test", accountsUser("dave", true)); err != nil {
				t.Fatal(err)
			}
			tok, err := e.codeFlowToken("dave", "dave-password-1", oauth.AdminScope)
			if err != nil {
				t.Fatal(err)
			}
			e.do(t, "DELETE", "/admin/api/users/dave", e.adminToken, nil).want(t, http.StatusNoContent, nil)
			e.do(t, "GET", "/admin/api/users", tok.AccessToken, nil).wantError(t, http.StatusUnauthorized, codeInvalidToken, "")
		})
	})
}
