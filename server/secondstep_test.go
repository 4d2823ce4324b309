package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
)

var (
	secretOnPage = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	recoveryLine = regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`)
)

// totpCode is the code of secret at t, as an authenticator app computes it.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startLogin posts alice's password and returns the second step's page.
func startLogin(b *browser, username, pw string) response {
	b.t.Helper()
	form := b.page("/login?return_to=/account")
	r := b.post("/login", url.Values{
		"csrf_token": {b.csrf(form)}, "return_to": {"/account"},
		"username": {username}, "password": {pw},
	})
	b.wantRedirect("password step", r, "/login/verify")
	return b.page("/login/verify")
}

func (b *browser) verify(step response, code string) response {
	b.t.Helper()
	return b.post("/login/verify", url.Values{"csrf_token": {b.csrf(step)}, "factor": {"totp"}, "code": {code}})
}

func lastFactorEvents(t *testing.T, db *gorm.DB, userID string, n int) []models.LoginEvent {
	t.Helper()
	var rows []models.LoginEvent
	if err := db.Where("user_id = ?", userID).Order("id DESC").Limit(n).Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestSecondStepTOTP: a user the policy makes use MFA sets up TOTP right
// after the password, gets recovery codes once, and from then on signs in
// with a code; wrong and replayed codes are refused and recorded; a
// recovery code works once.
func TestSecondStepTOTP(t *testing.T) {
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		if err := db.Model(&models.User{}).Where("id = ?", site.alice.ID).Update("require_mfa", true).Error; err != nil {
			t.Fatal(err)
		}
		b := site.browser(t)
		step := startLogin(b, "alice", alicePassword)
		m := secretOnPage.FindStringSubmatch(step.body)
		if m == nil || !strings.Contains(step.body, `src="data:image/png;base64,`) {
			t.Fatalf("enrolment page without secret or QR code:\n%s", step.body)
		}
		secret := m[1]
		// Signed in only after the second step.
		b.wantRedirect("account before the second step", b.get("/account"), "/login?return_to=%2Faccount")
		if r := b.verify(step, "000000"); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong enrolment code: got %d, want 401", r.status)
		}
		now := time.Now()
		r := b.verify(step, totpCode(t, secret, now))
		if r.status != http.StatusOK {
			t.Fatalf("enrolment: got %d:\n%s", r.status, r.body)
		}
		codes := recoveryLine.FindAllStringSubmatch(r.body, -1)
		if len(codes) != 10 {
			t.Fatalf("recovery codes shown: got %d, want 10", len(codes))
		}
		b.page("/account")

		// A new browser: the password alone does not sign in.
		b2 := site.browser(t)
		step = startLogin(b2, "alice", alicePassword)
		if !strings.Contains(step.body, `id="totp-form"`) || secretOnPage.MatchString(step.body) {
			t.Fatalf("second step page: want the code form and no secret:\n%s", step.body)
		}
		// The code used for the enrolment is spent.
		if r := b2.verify(step, totpCode(t, secret, now)); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "already used") {
			t.Fatalf("replayed code: got %d:\n%s", r.status, r.body)
		}
		if r := b2.verify(step, "123456x"); r.status != http.StatusUnauthorized {
			t.Fatalf("malformed code: got %d", r.status)
		}
		// The next step's code works (the window allows one step ahead).
		r = b2.verify(step, totpCode(t, secret, now.Add(30*time.Second)))
		b2.wantRedirect("second step", r, "/account")
		b2.page("/account")
		ev := lastFactorEvents(t, db, site.alice.ID, 4)
		want := []struct{ result, factor string }{
			{signin.ResultSuccess, signin.FactorTOTP}, {signin.ResultInvalidCode, signin.FactorRecoveryCode},
			{signin.ResultCodeReused, signin.FactorTOTP}, {signin.ResultSecondFactorPending, signin.FactorPassword},
		}
		for i, w := range want {
			if ev[i].Result != w.result || ev[i].Factor != w.factor || ev[i].Method != signin.MethodLoginPage {
				t.Errorf("history[%d]: got %s/%s/%s, want %s/%s", i, ev[i].Method, ev[i].Result, ev[i].Factor, w.result, w.factor)
			}
		}

		// A recovery code works once.
		rc := strings.ToUpper(codes[3][1])
		b3 := site.browser(t)
		step = startLogin(b3, "alice", alicePassword)
		b3.wantRedirect("recovery code", b3.verify(step, rc), "/account")
		b4 := site.browser(t)
		step = startLogin(b4, "alice", alicePassword)
		if r := b4.verify(step, codes[3][1]); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "already used") {
			t.Fatalf("reused recovery code: got %d:\n%s", r.status, r.body)
		}
	})
}

// TestSecondStepBoundToBrowserAndTime: a second step cannot be finished
// from another browser, nor after it expired (which counts as a failure).
func TestSecondStepBoundToBrowserAndTime(t *testing.T) {
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		if err := db.Model(&models.User{}).Where("id = ?", site.alice.ID).Update("require_mfa", true).Error; err != nil {
			t.Fatal(err)
		}
		b := site.browser(t)
		step := startLogin(b, "alice", alicePassword)
		secret := secretOnPage.FindStringSubmatch(step.body)[1]
		// Another browser, with a form token of its own, has no step.
		other := site.browser(t)
		form := other.page("/login")
		r := other.post("/login/verify", url.Values{"csrf_token": {other.csrf(form)}, "factor": {"totp"}, "code": {totpCode(t, secret, time.Now())}})
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "another browser") {
			t.Fatalf("step from another browser: got %d:\n%s", r.status, r.body)
		}
		// Expired: refused, and the attempt counted.
		if err := db.Model(&models.SecondStep{}).Where("user_id = ?", site.alice.ID).Update("expires_at", time.Now().Add(-time.Second)).Error; err != nil {
			t.Fatal(err)
		}
		r = b.verify(step, totpCode(t, secret, time.Now()))
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "took too long") {
			t.Fatalf("expired step: got %d:\n%s", r.status, r.body)
		}
		if ev := lastFactorEvents(t, db, site.alice.ID, 1); ev[0].Result != signin.ResultSecondStepExpired {
			t.Errorf("history after an expired step: got %q", ev[0].Result)
		}
		var n int64
		db.Model(&models.TOTPFactor{}).Where("user_id = ? AND confirmed_at IS NOT NULL", site.alice.ID).Count(&n)
		if n != 0 {
			t.Error("an expired enrolment step left a confirmed factor")
		}
	})
}

// TestAccountMFA: a signed-in user sets up TOTP at /account/mfa (nothing
// is a factor before the first code), the session that proved it stays
// signed in, the next sign-in asks for a code, and removal needs a
// current code or a recovery code (a wrong one is refused and counted).
func TestAccountMFA(t *testing.T) {
	eachSite(t, func(t *testing.T, site *accountSite, db *gorm.DB) {
		b := site.browser(t)
		b.signIn("alice", alicePassword)
		page := b.page("/account/mfa")
		b.wantRedirect("setup", b.post("/account/mfa/setup", url.Values{"csrf_token": {b.csrf(page)}}), "/account/mfa")
		page = b.page("/account/mfa")
		m := secretOnPage.FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("no secret on the setup page:\n%s", page.body)
		}
		secret := m[1]
		// Pending is no factor: a new browser signs in with the password.
		other := site.browser(t)
		other.signIn("alice", alicePassword)
		if r := b.post("/account/mfa/confirm", url.Values{"csrf_token": {b.csrf(page)}, "code": {"000000"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong first code: got %d", r.status)
		}
		r := b.post("/account/mfa/confirm", url.Values{"csrf_token": {b.csrf(page)}, "code": {totpCode(t, secret, time.Now())}})
		codes := recoveryLine.FindAllStringSubmatch(r.body, -1)
		if r.status != http.StatusOK || len(codes) != 10 {
			t.Fatalf("confirm: got %d with %d codes:\n%s", r.status, len(codes), r.body)
		}
		// This session proved the factor; the other browser's did not.
		page = b.page("/account/mfa")
		wantElement(t, page, "recovery-left", "10")
		b.wantRedirect("other browser's old session", other.get("/account"), "/login?return_to=%2Faccount")
		// Removal: a wrong code is refused, a recovery code works.
		if r := b.post("/account/mfa/remove", url.Values{"csrf_token": {b.csrf(page)}, "code": {"abcde-fghij"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("remove with a wrong code: got %d", r.status)
		}
		b.wantRedirect("remove", b.post("/account/mfa/remove", url.Values{"csrf_token": {b.csrf(page)}, "code": {codes[0][1]}}), "/account/mfa")
		var n int64
		db.Model(&models.TOTPFactor{}).Where("user_id = ?", site.alice.ID).Count(&n)
		if n != 0 {
			t.Fatalf("factor after removal: %d rows", n)
		}
		var audit int64
		db.Model(&models.AuditEntry{}).Where("action = ? AND target = ?", "mfa.remove", "alice").Count(&audit)
		if audit != 1 {
			t.Errorf("audit entries of the removal: got %d, want 1", audit)
		}
		b2 := site.browser(t)
		b2.signIn("alice", alicePassword)
	})
}
