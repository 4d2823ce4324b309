package oauth_test

import (
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/oauth/storetest"
)

const testSecret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

func testKeyring(t testing.TB) *keyring.Keyring {
	t.Helper()
	k, err := keyring.New([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestStore runs the storage conformance suite on every database, each
// subtest on a fresh database (a fresh schema on PostgreSQL).
func TestStore(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) (*oauth.Store, *gorm.DB) {
				db := testdb.Open(t, kind)
				return oauth.NewStore(storage.New(db), testKeyring(t), nil), db
			})
		})
	}
}
