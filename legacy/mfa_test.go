package legacy_test

import (
	"context"
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
