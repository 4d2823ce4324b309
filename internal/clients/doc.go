// Package clients is the one service layer for OAuth 2.0 client
// registrations: creating, changing, deleting them, rotating their
// secrets, and switching the legacy password grant on and off. The CLI and
// the admin API both call it, so each rule lives here only.
//
// A generated client secret holds 256 random bits and leaves the service
// only in the return value of Create or RotateSecret; the database keeps its
// keyed hash. A client's "legacy" switch is nothing more than the presence
// of the password grant type among its grant types.
package clients
