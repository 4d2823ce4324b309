package legacy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/apppasswords"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
)

// addClient registers a legacy client accepting creds, with the fixture's
// secret, the refresh grant and the user scopes.
func (f *fixture) addClient(t *testing.T, id, creds string) {
	t.Helper()
	hash, _ := f.app.Secrets.Hash(context.Background(), []byte(f.secret))
	c := models.Client{ID: id, Name: "Client " + id, SecretHash: string(hash), GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"openid", "profile", "offline_access"}, AccessTokenFormat: "opaque", LegacyCredentials: creds}
	if err := f.db.Create(&c).Error; err != nil {
		t.Fatal(err)
	}
}

// post sends form to path as client, from remote.
func (f *fixture) post(client, remote, path string, form url.Values) (int, map[string]any) {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.RemoteAddr = remote
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, f.secret)
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return rec.Code, body
}

// appGrant sends alice's password field pw to client from an untrusted
// address.
func (f *fixture) appGrant(client, pw, scope string) (int, map[string]any) {
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {pw}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return f.post(client, "198.51.100.7:4000", "/oauth2/token", form)
}

func (f *fixture) active(client, token string) bool {
	_, body := f.post(client, "198.51.100.7:4000", "/oauth2/introspect", url.Values{"token": {token}})
	return body["active"] == true
}

func (f *fixture) aliceID(t *testing.T) string {
	t.Helper()
	u, err := f.accounts.GetUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func (f *fixture) newestEvent(t *testing.T) models.LoginEvent {
	t.Helper()
	var e models.LoginEvent
	if err := f.db.Order("id DESC").Take(&e).Error; err != nil {
		t.Fatal(err)
	}
	return e
}

// An app password is the whole password, from any network, for the
// clients that accept app passwords, within its scopes and client; what
// it obtained ends with it, not with the password.
func TestAppPasswordGrant(t *testing.T) {
	f := newFixture(t, password.Params{Time: 1, Memory: 8 * 1024, Threads: 1})
	ctx := context.Background()
	f.addClient(t, "apps", models.LegacyAppPassword)
	f.addClient(t, "mixed", models.LegacyBoth)
	f.addClient(t, "tokens", models.LegacyToken)
	alice := f.aliceID(t)
	svc := f.app.AppPasswords
	bound, value, err := svc.Create(ctx, "test", alice, apppasswords.Spec{Name: "loader", ClientID: "apps", Scopes: []string{"openid", "offline_access"}})
	if err != nil {
		t.Fatal(err)
	}
	_, anyValue, err := svc.Create(ctx, "test", alice, apppasswords.Spec{Name: "any client", Scopes: []string{"openid"}})
	if err != nil {
		t.Fatal(err)
	}

	status, body := f.appGrant("apps", value, "openid")
	if status != http.StatusOK {
		t.Fatalf("app password on its client: got %d %v, want 200", status, body)
	}
	access, _ := body["access_token"].(string)
	if _, ok := body["refresh_token"].(string); !ok {
		t.Errorf("an app password holding offline_access: no refresh token in %v", body)
	}
	e := f.newestEvent(t)
	if e.Method != signin.MethodAppPassword || e.Result != signin.ResultSuccess || e.AppPassword != "loader" || e.Factor != signin.FactorAppPassword {
		t.Errorf("history: got method %q result %q app password %q factor %q; want app_password Success loader app_password", e.Method, e.Result, e.AppPassword, e.Factor)
	}
	got, err := svc.Get(ctx, bound.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt == nil || got.LastUsedClient != "apps" || got.LastUsedIP != "198.51.100.7" {
		t.Errorf("last use: got %v %q %q, want now, apps, 198.51.100.7", got.LastUsedAt, got.LastUsedClient, got.LastUsedIP)
	}
	if !f.active("apps", access) {
		t.Fatal("the access token is not active")
	}
	// An unbound app password without offline_access gets no refresh token.
	if status, body := f.appGrant("mixed", anyValue, "openid"); status != http.StatusOK || body["refresh_token"] != nil {
		t.Errorf("unbound app password on a client accepting both: got %d %v, want 200 without a refresh token", status, body)
	}

	refusals := []struct {
		name, client, pw, scope, result, description string
	}{
		{"another client", "mixed", value, "openid", signin.ResultAppPasswordWrongClient, "not valid for this client"},
		{"a client taking only tokens", "tokens", anyValue, "", signin.ResultAppPasswordWrongClient, "does not accept app passwords"},
		{"a scope it does not hold", "mixed", anyValue, "profile", signin.ResultAppPasswordScope, "requested scope"},
		{"a typo", "apps", value[:10] + flip(value[10]) + value[11:], "", signin.ResultAppPasswordMalformed, "malformed"},
		{"cut short", "apps", value[:len(value)-1], "", signin.ResultAppPasswordMalformed, "malformed"},
		{"never issued", "apps", mustGenerate(t), "", signin.ResultAppPasswordInvalid, "authentication failure"},
		{"password and token to a client taking only app passwords", "apps", f.password + f.token, "", signin.ResultAppPasswordRequired, "only app passwords"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			status, body := f.appGrant(tc.client, tc.pw, tc.scope)
			desc, _ := body["error_description"].(string)
			if status != http.StatusBadRequest || body["error"] != "invalid_grant" || !strings.Contains(desc, tc.description) {
				t.Errorf("got %d %v, want 400 invalid_grant saying %q", status, body, tc.description)
			}
			if e := f.newestEvent(t); e.Result != tc.result {
				t.Errorf("history result: got %q, want %q", e.Result, tc.result)
			}
		})
	}
	// Password and token still work where tokens are accepted.
	if status, body := f.appGrant("mixed", f.password+f.token, ""); status != http.StatusOK {
		t.Errorf("password and token on a client accepting both: got %d %v", status, body)
	}

	// A password change does not end the app password nor its tokens.
	if err := f.accounts.SetPassword(ctx, "test", "alice", "a-new-password-2"); err != nil {
		t.Fatal(err)
	}
	if !f.active("apps", access) {
		t.Error("a password change ended a grant an app password admitted")
	}
	if status, body := f.appGrant("apps", value, ""); status != http.StatusOK {
		t.Errorf("the app password after a password change: got %d %v, want 200", status, body)
	}

	// Revoked: the value is refused with its own message, and what it
	// obtained stops at once.
	if err := svc.Revoke(ctx, "test", alice, bound.ID); err != nil {
		t.Fatal(err)
	}
	if f.active("apps", access) {
		t.Error("a token the revoked app password obtained is still active")
	}
	status, body = f.appGrant("apps", value, "")
	if desc, _ := body["error_description"].(string); status != http.StatusBadRequest || !strings.Contains(desc, "revoked") {
		t.Errorf("revoked app password: got %d %v, want 400 saying revoked", status, body)
	}

	// Expired: the same.
	_, exp, err := svc.Create(ctx, "test", alice, apppasswords.Spec{Name: "soon", ClientID: "apps"})
	if err != nil {
		t.Fatal(err)
	}
	status, body = f.appGrant("apps", exp, "")
	if status != http.StatusOK {
		t.Fatalf("fresh app password: got %d %v", status, body)
	}
	expAccess, _ := body["access_token"].(string)
	if err := f.db.Model(&models.AppPassword{}).Where("name = ?", "soon").Update("expires_at", time.Now().Add(-time.Second).UTC()).Error; err != nil {
		t.Fatal(err)
	}
	if f.active("apps", expAccess) {
		t.Error("a token an expired app password obtained is still active")
	}
	status, body = f.appGrant("apps", exp, "")
	if desc, _ := body["error_description"].(string); status != http.StatusBadRequest || !strings.Contains(desc, "expired") {
		t.Errorf("expired app password: got %d %v, want 400 saying expired", status, body)
	}

	// A disabled user: refused, and their app passwords revoked.
	_, last, err := svc.Create(ctx, "test", alice, apppasswords.Spec{Name: "last", ClientID: "apps"})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := f.accounts.UpdateUser(ctx, "test", "alice", accounts.UserUpdate{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if status, _ := f.appGrant("apps", last, ""); status != http.StatusBadRequest {
		t.Errorf("a disabled user's app password: got %d, want 400", status)
	}
	if active, _ := svc.Active(ctx, alice); len(active) != 0 {
		t.Errorf("a disabled user keeps %d active app passwords, want 0", len(active))
	}
}

// The client's legacy credentials change: the grants of the credential it
// no longer accepts end.
func TestAppPasswordClientPolicyEndsGrants(t *testing.T) {
	f := newFixture(t, password.Params{Time: 1, Memory: 8 * 1024, Threads: 1})
	ctx := context.Background()
	f.addClient(t, "mixed", models.LegacyBoth)
	_, value, err := f.app.AppPasswords.Create(ctx, "test", f.aliceID(t), apppasswords.Spec{Name: "x", ClientID: "mixed"})
	if err != nil {
		t.Fatal(err)
	}
	_, viaApp := f.appGrant("mixed", value, "")
	_, viaToken := f.appGrant("mixed", f.password+f.token, "")
	a, _ := viaApp["access_token"].(string)
	b, _ := viaToken["access_token"].(string)
	if !f.active("mixed", a) || !f.active("mixed", b) {
		t.Fatal("the fresh tokens are not active")
	}
	set := func(creds string) {
		if _, err := f.app.Clients.Update(ctx, "test", "mixed", clients.ClientUpdate{LegacyCredentials: &creds}); err != nil {
			t.Fatal(err)
		}
	}
	set(models.LegacyAppPassword)
	if !f.active("mixed", a) || f.active("mixed", b) {
		t.Errorf("app passwords only: app-password token active %t, password+token token active %t; want true, false", f.active("mixed", a), f.active("mixed", b))
	}
	set(models.LegacyToken)
	if f.active("mixed", a) {
		t.Error("tokens only: the app-password token is still active")
	}
}

func mustGenerate(t *testing.T) string {
	v, err := apppasswords.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// flip returns another character of the app password alphabet.
func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}
