// Package legacy implements the OAuth 2.0 password grant for tools that
// cannot do OAuth, guarded by the user's security token: outside trusted
// IP ranges the password must be followed by the token, as one string.
package legacy
