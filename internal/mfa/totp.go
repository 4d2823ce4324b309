package mfa

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	qrcode "github.com/skip2/go-qrcode"
)

// TOTP parameters every authenticator app understands: SHA-1, six digits,
// thirty seconds (RFC 6238's defaults), a 160-bit secret.
const (
	Digits     = 6
	Period     = 30
	secretSize = 20
)

// window is how many steps before and after the current one a code may
// come from (clock drift, a code typed as it changed).
const window = 1

// Enrolment is what a user needs to add authgate to an authenticator app:
// the secret in text, the otpauth URI, and that URI as a QR code.
type Enrolment struct {
	Secret string
	URL    string
	// QR is a PNG data URI of URL, rendered here (no external service).
	QR template.URL
}

// newKey draws a fresh TOTP secret for account at issuer.
func newKey(issuer, account string) (*otp.Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: account, Period: Period, SecretSize: secretSize,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("generate totp secret: %w", err)
	}
	return k, nil
}

// enrolment presents a secret for account at issuer.
func enrolment(issuer, account, secret string) (Enrolment, error) {
	uri := keyURL(issuer, account, secret)
	png, err := qrcode.Encode(uri, qrcode.Medium, 256)
	if err != nil {
		return Enrolment{}, fmt.Errorf("render qr code: %w", err)
	}
	// The data URI is built here from our own PNG; html/template would
	// otherwise refuse a data: URL.
	qr := "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	return Enrolment{Secret: secret, URL: uri, QR: template.URL(qr)}, nil
}

// keyURL is the otpauth URI of a secret (Google Authenticator's Key URI
// Format, which every authenticator app reads).
func keyURL(issuer, account, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", issuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", strconv.Itoa(Digits))
	v.Set("period", strconv.Itoa(Period))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: v.Encode()}
	return u.String()
}

// matchStep returns the time step within the window around now whose code
// is code; ok is false when none is. Each comparison is constant-time.
func matchStep(secret, code string, now time.Time) (step int64, ok bool) {
	if !isCode(code) {
		return 0, false
	}
	current := now.Unix() / Period
	opts := totp.ValidateOpts{Period: Period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	for s := current - window; s <= current+window; s++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*Period, 0), opts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok
}

// isCode reports whether s has the shape of a TOTP code: Digits ASCII
// digits.
func isCode(s string) bool {
	if len(s) != Digits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsCode reports whether s has the shape of a TOTP code (six ASCII
// digits).
func IsCode(s string) bool { return isCode(s) }
