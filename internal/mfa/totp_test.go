package mfa

import (
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/authgate/authgate/models"
)

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: Period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMatchStepWindow: a code matches its own step one step either side
// of now, and nothing further; the step it returns is the code's.
func TestMatchStepWindow(t *testing.T) {
	k, err := newKey("Acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	secret := k.Secret()
	now := time.Unix(1_900_000_015, 0) // mid-step
	cur := now.Unix() / Period
	for _, tc := range []struct {
		offset int64
		ok     bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
		c := code(t, secret, time.Unix((cur+tc.offset)*Period, 0))
		step, ok := matchStep(secret, c, now)
		if ok != tc.ok || (ok && step != cur+tc.offset) {
			t.Errorf("code of step %+d: got step %d, %t; want %d, %t", tc.offset, step-cur, ok, tc.offset, tc.ok)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "12345a", " 123456", "１２３４５６"} {
		if _, ok := matchStep(secret, bad, now); ok {
			t.Errorf("matchStep(%q): got a match", bad)
		}
	}
}

// TestEnrolmentPresentation: the QR code is a PNG data URI and the URI
// names the issuer, the account and the secret.
func TestEnrolmentPresentation(t *testing.T) {
	e, err := enrolment("Acme", "alice", "JBSWY3DPEHPK3PXP")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(e.QR); len(got) < 100 || got[:22] != "data:image/png;base64," {
		t.Errorf("QR: got %.40q, want a PNG data URI", got)
	}
	k, err := otp.NewKeyFromURL(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	if k.Issuer() != "Acme" || k.AccountName() != "alice" || k.Secret() != "JBSWY3DPEHPK3PXP" || k.Period() != Period {
		t.Errorf("otpauth URI %s: got issuer %q account %q secret %q period %d", e.URL, k.Issuer(), k.AccountName(), k.Secret(), k.Period())
	}
}

func TestNormalizeRecovery(t *testing.T) {
	for in, want := range map[string]string{
		"abcde-fgh23": "abcdefgh23", " ABCDE FGH23 ": "abcdefgh23", "abcdefgh23": "abcdefgh23",
		"abcde-fgh2": "", "abcde-fgh89": "", "abcde_fgh23": "", "": "",
	} {
		got, ok := normalizeRecovery(in)
		if got != want || ok != (want != "") {
			t.Errorf("normalizeRecovery(%q): got %q, %t; want %q", in, got, ok, want)
		}
	}
}

func TestPolicyRequired(t *testing.T) {
	user, admin, flagged := models.User{}, models.User{Admin: true}, models.User{RequireMFA: true}
	for _, tc := range []struct {
		p              Policy
		u              models.User
		clientRequires bool
		want           bool
	}{
		{PolicyOptional, user, false, false},
		{PolicyOptional, admin, false, false},
		{PolicyOptional, user, true, true},
		{PolicyOptional, flagged, false, true},
		{PolicyAdmins, user, false, false},
		{PolicyAdmins, admin, false, true},
		{PolicyAll, user, false, true},
	} {
		if got := tc.p.Required(tc.u, tc.clientRequires); got != tc.want {
			t.Errorf("%s.Required(admin=%t require_mfa=%t, client=%t): got %t, want %t", tc.p, tc.u.Admin, tc.u.RequireMFA, tc.clientRequires, got, tc.want)
		}
	}
}
