// Package accounts is the one service layer for users: creating and
// changing them, their passwords and security tokens, the lockout counters
// and the login history. The CLI, the admin API, the login page and the
// legacy password grant all call it, so each rule lives here only.
//
// A security token is a 24-character, case-sensitive alphanumeric string
// that a user appends to their password on the legacy password grant. It is
// stored only as a keyed hash, never issued twice, changes whenever the
// password changes or the token is reset, and leaves the service only in the
// body of the email that announces it.
package accounts
