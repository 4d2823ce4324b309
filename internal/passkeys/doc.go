// Package passkeys registers WebAuthn credentials (passkeys) and checks
// their assertions, on github.com/go-webauthn/webauthn.
//
// A ceremony's server half (its challenge) is stored in the database,
// keyed by the keyed hash of a cookie and bound to the browser state it
// began in (a session, a half-signed-in state), so that it works across
// replicas, is used once and expires. An assertion is decided by the one
// sign-in core (internal/signin): Verifier is the policy the core runs,
// so that passkey failures count in the same lockout as passwords.
package passkeys
