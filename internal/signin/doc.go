// Package signin decides every password-based sign-in attempt, whatever
// the channel it arrives on (login page, legacy password grant, the
// current-password check of a password change): it finds the user,
// reserves the attempt against the lockout before any password is
// verified, makes every failure cost the same number of argon2id
// verifications, and writes the login history. Each channel is a thin
// adapter that passes in its own policy as a Verifier.
package signin
