// Package storage is authgate's storage boundary: it opens the connection
// to SQLite or PostgreSQL, owns the schema through numbered, embedded
// migrations, and holds every query and cascade behind Store.
package storage
