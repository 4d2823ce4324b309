// Package outbound is the HTTP client authgate uses for requests to
// addresses that clients register (back-channel logout URIs): bounded in
// time and size, never following redirects, never through a proxy from the
// environment, and never to loopback, private or link-local addresses
// unless the operator allows them.
package outbound
