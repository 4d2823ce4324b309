// Package server is authgate's HTTP layer: routing, middleware, the OAuth
// 2.0 and OpenID Connect endpoints, and the login, consent and account
// pages.
package server
