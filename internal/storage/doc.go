// Package storage opens authgate's gorm connection to SQLite or PostgreSQL
// and migrates the schema.
package storage
