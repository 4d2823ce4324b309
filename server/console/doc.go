// Package console is the administrators' web console, served on the admin
// listener under /admin/: the legacy-migration dashboard, clients and their
// legacy grant, users and their security tokens, trusted IP ranges and the
// login history.
//
// The console signs people in as an OAuth client of the server itself
// (authorization code with PKCE, state and nonce) and admits only users
// with the admin role. Every change goes through the accounts, clients and
// trust services, which enforce the rules and write the audit log; the
// console only renders pages and forms.
package console
