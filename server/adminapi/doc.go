// Package adminapi serves the admin API: JSON over HTTP under /admin/api/, for
// people and automation managing clients, users, trusted IP ranges, the
// legacy password grant, signing keys and the audit log.
//
// Every route but the OpenAPI document requires a bearer access token
// issued by this server with the authgate:admin scope, held either by a
// user with the admin role or by a client (client credentials). The API
// holds no rules of its own: it decodes requests, calls the service layer
// (accounts, clients, trust, oauth, audit) with the acting principal, and
// encodes the answers, which never carry a password hash, a client secret
// hash or a security token.
package adminapi
