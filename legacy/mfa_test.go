package legacy_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
)

// untrusted is a peer outside the fixture's trusted range.
const untrusted = "198.51.100.7:1234"

// enrolTOTP sets up TOTP for the user through the MFA service and the
// sign-in core, as /account does, and returns the secret.
func enrolTOTP(t *testing.T, f *fixture, username string) string {
	t.Helper()
	ctx := context.Background()
	u, err := f.accounts.GetUser(ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.app.MFA.Begin(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	conf := f.app.MFA.Confirmation(code(t, e.Secret, time.Now()))
	o, err := f.accounts.Attempt(ctx, signin.Request{Channel: signin.FactorCheck, Subject: signin.Subject{UserID: u.ID}, Verifier: conf, SourceIP: "10.9.9.9"})
	if err != nil || !o.OK() {
		t.Fatalf("confirm enrolment: %+v, %v", o, err)
	}
	return e.Secret
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lastEvent is the newest password-grant history row of username.
func (f *fixture) lastEvent(t *testing.T, username string) models.LoginEvent {
	t.Helper()
	var e models.LoginEvent
	if err := f.db.Where("username = ? AND method = ?", username, signin.MethodPasswordGrant).Order("id DESC").Take(&e).Error; err != nil {
		t.Fatal(err)
	}
	return e
}

// want sends sent as alice's password from remote and checks the status
// and the history's result and factor.
func (f *fixture) want(t *testing.T, remote, username, sent string, status int, result, factor string) {
	t.Helper()
	rec := f.grantFrom(remote, url.Values{"grant_type": {"password"}, "username": {username}, "password": {sent}})
	if rec.Code != status {
		t.Fatalf("password grant: got %d, want %d: %s", rec.Code, status, rec.Body)
	}
	e := f.lastEvent(t, username)
	if e.Result != result || e.Factor != factor {
		t.Fatalf("history: got %q/%q, want %q/%q", e.Result, e.Factor, result, factor)
	}
}

// TestPasswordPlusTOTPCode: a user with TOTP may send a current code in
// place of the security token; each code once; under the MFA policy (of
// the user or of the client) the code is the only way, from anywhere.
func TestPasswordPlusTOTPCode(t *testing.T) {
	f := newFixture(t, password.Params{Time: 1, Memory: 8 * 1024, Threads: 1})
	now := time.Now()
	secret := enrolTOTP(t, f, "alice")
	// The code of the enrolment was consumed.
	f.want(t, untrusted, "alice", f.password+code(t, secret, now), http.StatusBadRequest, signin.ResultCodeReused, signin.FactorTOTP)
	// A code outside the window, after the right password.
	f.want(t, untrusted, "alice", f.password+code(t, secret, now.Add(10*time.Minute)), http.StatusBadRequest, signin.ResultInvalidCode, signin.FactorTOTP)
	// A fresh code after a wrong password.
	next := code(t, secret, now.Add(30*time.Second))
	f.want(t, untrusted, "alice", "wrong-password"+next, http.StatusBadRequest, signin.ResultInvalidPassword, signin.FactorTOTP)
	// Without a policy the security token still works.
	f.want(t, untrusted, "alice", f.password+f.token, http.StatusOK, signin.ResultSuccess, signin.FactorSecurityToken)

	// The user's policy: the token and the trusted range stop working.
	if err := f.db.Model(&models.User{}).Where("username = ?", "alice").Update("require_mfa", true).Error; err != nil {
		t.Fatal(err)
	}
	f.want(t, untrusted, "alice", f.password+f.token, http.StatusBadRequest, signin.ResultMFARequired, signin.FactorSecurityToken)
	f.want(t, "192.0.2.1:1234", "alice", f.password, http.StatusBadRequest, signin.ResultMFARequired, signin.FactorPassword)
	f.want(t, "192.0.2.1:1234", "alice", f.password+f.token, http.StatusBadRequest, signin.ResultMFARequired, signin.FactorSecurityToken)
	// The password and a fresh code, once.
	f.want(t, untrusted, "alice", f.password+next, http.StatusOK, signin.ResultSuccess, signin.FactorTOTP)
	f.want(t, untrusted, "alice", f.password+next, http.StatusBadRequest, signin.ResultCodeReused, signin.FactorTOTP)
	var origin string
	if err := f.db.Model(&models.OAuthRequest{}).Where("subject = ? AND kind = ?", f.lastEvent(t, "alice").UserID, "access").Order("requested_at DESC").Limit(1).Pluck("origin", &origin).Error; err != nil {
		t.Fatal(err)
	}
	if origin != "password+totp" {
		t.Errorf("origin of the grant a code admitted: got %q, want password+totp", origin)
	}
}

// TestClientRequiresMFAOnTheLegacyGrant: a client that requires MFA
// refuses password + security token for every user, with or without TOTP.
func TestClientRequiresMFAOnTheLegacyGrant(t *testing.T) {
	f := newFixture(t, password.Params{Time: 1, Memory: 8 * 1024, Threads: 1})
	f.want(t, untrusted, "alice", f.password+f.token, http.StatusOK, signin.ResultSuccess, signin.FactorSecurityToken)
	if err := f.db.Model(&models.Client{}).Where("id = ?", "loader").Update("require_mfa", true).Error; err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // the server caches clients for 2 s
	f.want(t, untrusted, "alice", f.password+f.token, http.StatusBadRequest, signin.ResultMFARequired, signin.FactorSecurityToken)
	secret := enrolTOTP(t, f, "alice")
	f.want(t, untrusted, "alice", f.password+code(t, secret, time.Now().Add(30*time.Second)), http.StatusOK, signin.ResultSuccess, signin.FactorTOTP)
}

// TestPasswordEndingInDigits: a password that ends in six digits is not
// mistaken for password + code. Without TOTP, the token follows it as
// always; with TOTP, from a trusted range, the password alone still
// works, and so does the password + a code.
func TestPasswordEndingInDigits(t *testing.T) {
	f := newFixture(t, password.Params{Time: 1, Memory: 8 * 1024, Threads: 1})
	ctx := context.Background()
	const pw = "bobs-password-123456"
	if _, err := f.accounts.CreateUser(ctx, "test", accounts.NewUser{Username: "bob", Email: "bob@example.com", Password: pw}); err != nil {
		t.Fatal(err)
	}
	f.want(t, "192.0.2.1:1234", "bob", pw, http.StatusOK, signin.ResultSuccess, signin.FactorPassword)
	f.want(t, untrusted, "bob", pw, http.StatusBadRequest, signin.ResultTokenRequired, signin.FactorPassword)
	secret := enrolTOTP(t, f, "bob")
	f.want(t, "192.0.2.1:1234", "bob", pw, http.StatusOK, signin.ResultSuccess, signin.FactorPassword)
	f.want(t, untrusted, "bob", pw+code(t, secret, time.Now().Add(30*time.Second)), http.StatusOK, signin.ResultSuccess, signin.FactorTOTP)
}

// TestMFAResetEndsWhatTheAppAdmitted: when an administrator resets a
// user's second factors (the device is lost, perhaps stolen), the legacy
// grants that the authenticator app's codes admitted end at once, while
// those the security token admitted stand; and the user's browser sessions
// end.
func TestMFAResetEndsWhatTheAppAdmitted(t *testing.T) {
	f := newFixture(t, password.Params{Time: 1, Memory: 8 * 1024, Threads: 1})
	ctx := context.Background()
	if err := f.db.Model(&models.Client{}).Where("id = ?", "loader").
		Updates(map[string]any{"grant_types": `["password","refresh_token"]`, "scopes": `["offline_access"]`}).Error; err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond) // the client cache
	secret := enrolTOTP(t, f, "alice")
	refreshOf := func(sent string) string {
		t.Helper()
		rec := f.grantFrom(untrusted, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {sent}, "scope": {"offline_access"}})
		if rec.Code != http.StatusOK {
			t.Fatalf("password grant: %d %s", rec.Code, rec.Body)
		}
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.RefreshToken == "" {
			t.Fatalf("no refresh token in %s", rec.Body)
		}
		return body.RefreshToken
	}
	refresh := func(rt string) int {
		return f.grantFrom(untrusted, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}).Code
	}
	byApp := refreshOf(f.password + code(t, secret, time.Now().Add(30*time.Second)))
	byToken := refreshOf(f.password + f.token)

	u, err := f.accounts.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.app.Store.CreateSession(ctx, models.LoginSession{IDHash: "h-alice", UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if removed, err := f.app.MFA.Reset(ctx, "admin", u); err != nil || !removed {
		t.Fatalf("reset: %v, %v", removed, err)
	}
	if code := refresh(byApp); code != http.StatusBadRequest {
		t.Errorf("refreshing a grant the reset app admitted: got %d, want 400", code)
	}
	if code := refresh(byToken); code != http.StatusOK {
		t.Errorf("refreshing a grant the security token admitted: got %d, want 200", code)
	}
	if _, ok, err := f.app.Store.Session(ctx, "h-alice", time.Now()); err != nil || ok {
		t.Errorf("browser session after the reset: present %v, %v", ok, err)
	}
}
