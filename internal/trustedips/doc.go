// Package trustedips keeps the admin-managed IP ranges from which the legacy
// password grant accepts the password alone, without the security token.
package trustedips
