package adminapi

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
)

// TestUserMFA: the API lists a user's factors without their secret,
// resets them (audited, the user emailed), and sets the per-user policy.
func TestUserMFA(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		bob, err := e.accounts.GetUser(ctx, userName)
		if err != nil {
			t.Fatal(err)
		}
		en, err := e.mfa.Begin(ctx, bob)
		if err != nil {
			t.Fatal(err)
		}
		code, err := totp.GenerateCodeCustom(en.Secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		conf := e.mfa.Confirmation(code)
		if o, err := e.accounts.Attempt(ctx, signin.Request{Channel: signin.FactorCheck, Subject: signin.Subject{UserID: bob.ID}, Verifier: conf}); err != nil || !o.OK() {
			t.Fatalf("enrol: %+v, %v", o, err)
		}

		var got mfaJSON
		resp := e.do(t, "GET", "/admin/api/users/bob/mfa", e.adminToken, nil)
		resp.want(t, http.StatusOK, &got)
		if !got.TOTP || got.RecoveryCodesLeft != 10 || got.Username != "bob" || got.ConfirmedAt == nil {
			t.Errorf("GET mfa: got %+v", got)
		}
		for _, secret := range append([]string{en.Secret}, conf.Codes...) {
			if body := string(resp.body); strings.Contains(body, secret) || strings.Contains(body, strings.ReplaceAll(secret, "-", "")) {
				t.Fatalf("GET mfa shows a secret: %s", resp.body)
			}
		}
		e.do(t, "GET", "/admin/api/users/nobody/mfa", e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")

		e.do(t, "DELETE", "/admin/api/users/bob/mfa", e.adminToken, nil).want(t, http.StatusOK, &got)
		if got.TOTP || got.RecoveryCodesLeft != 0 || got.Removed == nil || !*got.Removed {
			t.Errorf("DELETE mfa: got %+v", got)
		}
		e.wantAudit(t, "user.mfa.reset", "bob", adminActor)
		if _, err := e.sender.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		mailed := false
		e.outbox.mu.Lock()
		for _, m := range e.outbox.msgs {
			if strings.Contains(m.Header.Get("Subject"), "two-step verification removed") && strings.Contains(m.Header.Get("To"), userEmail) {
				mailed = true
			}
		}
		e.outbox.mu.Unlock()
		if !mailed {
			t.Error("no email to bob about the reset")
		}
		e.do(t, "DELETE", "/admin/api/users/bob/mfa", e.adminToken, nil).want(t, http.StatusOK, &got)
		if got.Removed == nil || *got.Removed {
			t.Errorf("second DELETE: got %+v, want removed false", got)
		}

		var u userJSON
		e.do(t, "PATCH", "/admin/api/users/bob", e.adminToken, map[string]any{"require_mfa": true}).want(t, http.StatusOK, &u)
		if !u.RequireMFA {
			t.Errorf("PATCH require_mfa: got %+v", u)
		}
		e.wantAudit(t, "user.update", "bob", adminActor)
	})
}
