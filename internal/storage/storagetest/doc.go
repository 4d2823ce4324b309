// Package storagetest is the conformance suite of storage.Store: every
// aggregate's methods, their sentinels, their cascades and their
// transactions, run the same on SQLite and PostgreSQL. The fosite adapter
// has its own suite in oauth/storetest.
package storagetest
