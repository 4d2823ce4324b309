// Package mfa is authgate's second factors: TOTP authenticators (RFC 6238)
// with one-time recovery codes, the policy of who must use a second
// factor, and an administrator's reset. Every check of a code runs as a
// signin.Verifier inside the sign-in core, so it shares the password's
// lockout, cost and login history; this package decides what a code
// proves and consumes it once, across replicas, through internal/storage.
package mfa
