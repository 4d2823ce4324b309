// Package apppasswords manages app passwords: credentials a user creates,
// one per integration, to use in the legacy password grant in place of
// password + security token. Each has a name, optionally one client, a
// subset of scopes and an expiry; its value is shown once, carries the
// prefix "agp_" and a checksum (so secret scanners find a leaked one and a
// typo is caught without a lookup), and is stored only as a keyed hash.
//
// The password grant checks them through the sign-in core (legacy), and
// legacy.Guard ends what one obtained when it is revoked or expires.
package apppasswords
