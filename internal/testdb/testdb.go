// Package testdb gives tests a migrated database: a fresh SQLite file, or a
// fresh schema in the PostgreSQL named by AUTHGATE_TEST_DATABASE_URL.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testutil"
)

// DefaultPostgresURL is used when AUTHGATE_TEST_DATABASE_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Kinds lists the databases every storage test runs against.
var Kinds = []string{"sqlite", "postgres"}

// Each runs fn once per database kind, as a subtest named after it.
func Each(t *testing.T, fn func(t *testing.T, db *gorm.DB)) {
	t.Helper()
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			fn(t, Open(t, kind))
		})
	}
}

// Store returns a Store on a migrated database of the given kind, removed
// when the test ends.
func Store(t testing.TB, kind string) *storage.Store {
	t.Helper()
	return storage.New(Open(t, kind))
}

// Open returns a migrated database of the given kind ("sqlite" or
// "postgres"), removed when the test ends.
func Open(t testing.TB, kind string) *gorm.DB {
	t.Helper()
	u := URL(t, kind)
	db, err := storage.Open(context.Background(), u, storage.Options{MaxOpenConns: 10})
	if err != nil {
		t.Fatalf("open %s: %v", kind, err)
	}
	t.Cleanup(func() { _ = storage.Close(db) })
	if err := storage.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate %s: %v", kind, err)
	}
	return db
}

// URL returns a database URL of the given kind for a fresh, empty database
// that exists until the test ends. Servers started as separate processes
// can share it.
func URL(t testing.TB, kind string) string {
	t.Helper()
	switch kind {
	case "sqlite":
		return "sqlite://" + filepath.Join(t.TempDir(), "authgate.db")
	case "postgres":
		return postgresSchema(t)
	default:
		t.Fatalf("unknown database kind %q", kind)
		return ""
	}
}

// postgresSchema creates a schema of its own and returns a URL whose
// search_path points at it. Without a reachable PostgreSQL the test is
// skipped, unless AUTHGATE_REQUIRE_POSTGRES=1, when it fails.
func postgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv("AUTHGATE_TEST_DATABASE_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	admin, err := storage.Open(context.Background(), base, storage.Options{MaxOpenConns: 2})
	if err != nil {
		if os.Getenv("AUTHGATE_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL required (AUTHGATE_REQUIRE_POSTGRES=1) but unreachable at %s: %v", base, err)
		}
		t.Skipf("PostgreSQL not reachable at %s (set AUTHGATE_TEST_DATABASE_URL; AUTHGATE_REQUIRE_POSTGRES=1 makes this fail): %v", base, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := admin.Exec("DROP SCHEMA " + schema + " CASCADE").Error; err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
		_ = storage.Close(admin)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	// A commit need not wait for the WAL to reach the disk: a test database
	// never has to survive a crash of the server, and waiting for fsync
	// on a busy machine was most of the time of the PostgreSQL tests.
	// Whatever a transaction commits is visible to the others at once, as
	// before.
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return fmt.Sprint(u)
}

// Cuttable returns a migrated PostgreSQL database reached through a proxy
// that the test can cut (SetDown) to play a database outage. The proxy is
// restored before the test's other cleanups run (cleanups run last-first:
// register those that need the database before calling Cuttable).
func Cuttable(t testing.TB) (*gorm.DB, *testutil.CuttableProxy) {
	t.Helper()
	u, err := url.Parse(URL(t, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testutil.NewCuttableProxy(t, u.Host)
	u.Host = proxy.Addr()
	ctx := context.Background()
	db, err := storage.Open(ctx, u.String(), storage.Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = storage.Close(db) })
	if err := storage.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return db, proxy
}
