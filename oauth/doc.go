// Package oauth builds authgate's fosite OAuth 2.0 / OpenID Connect
// provider: its gorm-backed storage, its signing keys, its token strategy
// and the typed constructor that wires them together.
package oauth
