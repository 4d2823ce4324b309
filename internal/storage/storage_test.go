package storage_test

import (
	"testing"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/storage/storagetest"
	"github.com/authgate/authgate/internal/testdb"
)

// TestStore runs the storage conformance suite on every database, each
// subtest on a fresh database (a fresh schema on PostgreSQL).
func TestStore(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			storagetest.Run(t, func(t *testing.T) *storage.Store { return testdb.Store(t, kind) })
		})
	}
}
