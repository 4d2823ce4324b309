package passkeys

import (
	"bytes"
	"context"
	"errors"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// Verifier is the sign-in core's policy for a passkey assertion: the
// core finds the user, reserves the attempt against the lockout and then
// calls Verify, which consumes the ceremony and checks the assertion.
// Every refusal (a ceremony unknown, used, expired or from another
// browser; a credential the user does not hold; a bad signature; a
// counter that did not increase) is a failure the core counts and prices
// like a wrong password.
type Verifier struct {
	s       *Service
	purpose Purpose
	binding string
	key     string
	a       *Assertion

	// Used is the passkey that passed, set by a successful Verify.
	Used models.WebAuthnCredential
	// UserVerified reports whether the authenticator verified the user
	// (PIN, biometrics) in this assertion.
	UserVerified bool
}

var (
	_ signin.Verifier    = (*Verifier)(nil)
	_ signin.FactorNamer = (*Verifier)(nil)
)

// Factor is signin.FactorPasskey, for the login history.
func (*Verifier) Factor() string { return signin.FactorPasskey }

// Verifier returns the policy that checks a for the ceremony key names,
// begun for purpose (Login or Second) in the browser state binding names.
func (s *Service) Verifier(purpose Purpose, binding, key string, a *Assertion) *Verifier {
	return &Verifier{s: s, purpose: purpose, binding: binding, key: key, a: a}
}

// Cost is one argon2id verification: a refused passkey costs what a wrong
// password costs.
func (v *Verifier) Cost() int { return 1 }

// Verify checks the assertion as u's. The secret and check of a password
// are not used.
func (v *Verifier) Verify(ctx context.Context, u models.User, _ string, _ signin.Check) (string, error) {
	if !v.s.Enabled() || v.a == nil || (v.purpose != Login && v.purpose != Second) {
		return signin.ResultPasskeyInvalid, nil
	}
	log := v.s.o.Logger.With("user_id", u.ID, "purpose", string(v.purpose))
	owner := u.ID
	if v.purpose == Login {
		owner = "" // a passwordless ceremony is begun before anyone is known
	}
	d, err := v.s.take(ctx, v.purpose, v.binding, owner, v.key)
	if errors.Is(err, ErrCeremony) {
		log.InfoContext(ctx, "passkey refused: ceremony unknown, used, expired or from another browser")
		return signin.ResultPasskeyInvalid, nil
	}
	if err != nil {
		return "", err
	}
	w, stored, err := v.s.load(ctx, u)
	if err != nil {
		return "", err
	}
	var cred *webauthn.Credential
	switch v.purpose {
	case Login:
		_, cred, err = v.s.wa.ValidatePasskeyLogin(func(_, handle []byte) (webauthn.User, error) {
			if string(handle) != u.ID {
				return nil, errors.New("user handle names another user")
			}
			return w, nil
		}, d.Session, v.a.parsed)
	default:
		cred, err = v.s.wa.ValidateLogin(w, d.Session, v.a.parsed)
	}
	if err != nil {
		log.InfoContext(ctx, "passkey refused", "credential", CredentialIDText(v.a.parsed.RawID), "reason", err.Error())
		return signin.ResultPasskeyInvalid, nil
	}
	var used models.WebAuthnCredential
	found := false
	for _, c := range stored {
		if bytes.Equal(c.CredentialID, cred.ID) {
			used, found = c, true
			break
		}
	}
	flags := v.a.parsed.Response.AuthenticatorData.Flags
	switch {
	case !found:
		log.InfoContext(ctx, "passkey refused: not one of the user's")
		return signin.ResultPasskeyInvalid, nil
	case v.purpose == Login && !used.Passwordless:
		log.InfoContext(ctx, "passkey refused: not allowed to sign in without a password", "passkey_id", used.ID)
		return signin.ResultPasskeyInvalid, nil
	case v.purpose == Login && !flags.HasUserVerified():
		log.InfoContext(ctx, "passkey refused: the authenticator did not verify the user", "passkey_id", used.ID)
		return signin.ResultPasskeyInvalid, nil
	}
	counter := v.a.parsed.Response.AuthenticatorData.Counter
	err = v.s.store.RecordWebAuthnUse(ctx, used.ID, storage.WebAuthnUse{SignCount: counter, BackupState: flags.HasBackupState(), At: v.s.o.Now()})
	switch {
	case errors.Is(err, storage.ErrSignCount):
		log.WarnContext(ctx, "passkey refused: its signature counter did not increase (a cloned authenticator or a replayed assertion)",
			"passkey_id", used.ID, "stored_count", used.SignCount, "count", counter)
		return signin.ResultPasskeyCounter, nil
	case errors.Is(err, storage.ErrNotFound):
		log.InfoContext(ctx, "passkey refused: removed meanwhile", "passkey_id", used.ID)
		return signin.ResultPasskeyInvalid, nil
	case err != nil:
		return "", err
	}
	v.Used, v.UserVerified = used, flags.HasUserVerified()
	return signin.ResultSuccess, nil
}

// AMR is the RFC 8176 authentication method of a passkey: "swk" for one
// that may be synced between devices (backup eligible, its key is
// software), "hwk" for one bound to its authenticator.
func AMR(c models.WebAuthnCredential) string {
	if c.BackupEligible {
		return "swk"
	}
	return "hwk"
}
