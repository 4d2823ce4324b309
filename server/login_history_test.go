package server_test

import (
	"net/url"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/models"
)

// TestLoginHistoryClientFromValidatedRequest: return_to is whatever the
// sender of the login form wrote, so the login history takes a client from
// it only when it is an authorization request this server would answer:
// a registered client with one of its registered redirect URIs (issue 9,
// item 15).
func TestLoginHistoryClientFromValidatedRequest(t *testing.T) {
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		if err := db.Create(&models.Client{ID: "web", Name: "Web App", GrantTypes: []string{"authorization_code"},
			ResponseTypes: []string{"code"}, RedirectURIs: []string{"https://app.example.com/cb"}, Scopes: []string{"openid"}}).Error; err != nil {
			t.Fatal(err)
		}
		authorize := func(q url.Values) string { return "/oauth2/authorize?" + q.Encode() }
		for _, tc := range []struct {
			name, returnTo, want string
		}{
			{"valid request", authorize(url.Values{"client_id": {"web"}, "redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"}}), "web"},
			{"the client's only redirect URI left out", authorize(url.Values{"client_id": {"web"}, "response_type": {"code"}}), "web"},
			{"unregistered redirect URI", authorize(url.Values{"client_id": {"web"}, "redirect_uri": {"https://evil.example/cb"}, "response_type": {"code"}}), ""},
			{"unknown client", authorize(url.Values{"client_id": {"made-up-client"}, "response_type": {"code"}}), ""},
			{"client_id on another path", "/account?client_id=web", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := site.browser(t)
				form := b.page("/login?return_to=" + url.QueryEscape(tc.returnTo))
				r := b.post("/login", url.Values{
					"csrf_token": {b.csrf(form)}, "return_to": {tc.returnTo},
					"username": {"alice"}, "password": {alicePassword},
				})
				b.wantRedirect("sign in", r, tc.returnTo)
				var e models.LoginEvent
				if err := db.Where("username = ? AND method = ?", "alice", accounts.MethodLoginPage).Order("id DESC").Take(&e).Error; err != nil {
					t.Fatal(err)
				}
				if e.ClientID != tc.want {
					t.Errorf("login history client_id = %q, want %q", e.ClientID, tc.want)
				}
			})
		}
	})
}
