// Package loadtest is a load generator for OAuth 2.0 and OpenID Connect
// servers: it drives one scenario (a token grant, introspection, the full
// authorization-code flow through the login and consent pages, or a
// metadata document) from many concurrent workers and reports throughput,
// exact latency percentiles, and failures counted by HTTP status, OAuth
// error code and transport error. It sends only standard protocol
// parameters, so it measures any provider, not only authgate.
package loadtest
