// Package logout holds what OpenID Connect logout needs besides the
// pages: checking an id_token_hint against authgate's own keys, and the
// back-channel sender that signs logout tokens and delivers the outbox
// (storage's logout_deliveries) to each client's backchannel_logout_uri,
// with retries, once per delivery across replicas.
package logout
