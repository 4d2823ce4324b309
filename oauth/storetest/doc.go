// Package storetest is the conformance suite for oauth.Store: every
// database authgate runs on must pass Run, so that fosite sees the same
// storage semantics on SQLite and PostgreSQL.
package storetest
