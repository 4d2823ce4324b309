package passkeys

import (
	"errors"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/models"
)

func TestNewTakesTheRelyingPartyFromTheIssuer(t *testing.T) {
	for _, tc := range []struct {
		issuer  string
		enabled bool
	}{
		{"http://127.0.0.1:8080", false},
		{"http://[::1]:8080", false},
		{"http://localhost:8080", true},
		{"https://login.example.com/auth", true},
	} {
		s, err := New(nil, nil, Options{Issuer: tc.issuer})
		if err != nil {
			t.Fatalf("New(%s): %v", tc.issuer, err)
		}
		if s.Enabled() != tc.enabled {
			t.Errorf("New(%s).Enabled(): got %t, want %t", tc.issuer, s.Enabled(), tc.enabled)
		}
		if !tc.enabled {
			if _, err := s.BeginLogin(t.Context(), ""); !errors.Is(err, ErrDisabled) {
				t.Errorf("BeginLogin on %s: got %v, want ErrDisabled", tc.issuer, err)
			}
		}
	}
	s, _ := New(nil, nil, Options{Issuer: "https://login.example.com/auth"})
	if got := s.wa.Config.RPID; got != "login.example.com" {
		t.Errorf("RP id: got %q, want login.example.com", got)
	}
	if got := s.wa.Config.RPOrigins; len(got) != 1 || got[0] != "https://login.example.com" {
		t.Errorf("origins: got %v, want [https://login.example.com]", got)
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"  YubiKey 5 ", "YubiKey 5", true},
		{"", "", false},
		{"   ", "", false},
		{strings.Repeat("é", MaxName), strings.Repeat("é", MaxName), true},
		{strings.Repeat("x", MaxName+1), "", false},
		{"tab\there", "", false},
		{"bad\xffutf8", "", false},
	} {
		got, err := checkName(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("checkName(%q): got %q, %v; want %q, ok=%t", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("checkName(%q): code %s, want invalid", tc.in, apperr.CodeOf(err))
		}
	}
}

func TestParseAssertionRefusesGarbage(t *testing.T) {
	for _, body := range []string{"", "{}", `{"id":"x","type":"public-key"}`, "not json", `{"response":{"clientDataJSON":"!!"}}`} {
		if _, err := ParseAssertion([]byte(body)); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("ParseAssertion(%q): got %v, want an invalid-input error", body, err)
		}
	}
}

func TestAMR(t *testing.T) {
	if got := AMR(models.WebAuthnCredential{BackupEligible: true}); got != "swk" {
		t.Errorf("synced passkey: got %q, want swk", got)
	}
	if got := AMR(models.WebAuthnCredential{}); got != "hwk" {
		t.Errorf("device-bound passkey: got %q, want hwk", got)
	}
}
