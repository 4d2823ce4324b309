package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
)

// openEmpty returns a connection to a fresh database of kind with no
// tables at all.
func openEmpty(t *testing.T, kind string) *gorm.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), testdb.URL(t, kind), storage.Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = storage.Close(db) })
	return db
}

// latest is the number of the newest embedded migration: a fresh
// database's version after Migrate.
func latest(t *testing.T, kind string) int {
	t.Helper()
	db := openEmpty(t, kind)
	if err := storage.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	v, err := storage.SchemaVersion(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// schemaOf describes the tables, columns and indexes of db (but not the
// migrations table), in a form that does not depend on the schema name.
func schemaOf(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	var rows []string
	if db.Dialector.Name() == "sqlite" {
		err := db.Raw("SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_master WHERE name NOT IN ('migrations', 'sqlite_sequence') AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY type, name").Scan(&rows).Error
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	var schema string
	if err := db.Raw("SELECT current_schema()").Scan(&schema).Error; err != nil {
		t.Fatal(err)
	}
	var cols []string
	err := db.Raw(`SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || COALESCE(character_maximum_length::text, '-') || ' ' || is_nullable || ' ' || COALESCE(column_default, '-')
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> 'migrations' ORDER BY table_name, column_name`).Scan(&cols).Error
	if err != nil {
		t.Fatal(err)
	}
	var idx []string
	err = db.Raw(`SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename <> 'migrations' ORDER BY indexname`).Scan(&idx).Error
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range append(cols, idx...) {
		rows = append(rows, strings.ReplaceAll(r, schema+".", ""))
	}
	return rows
}

func diff(got, want []string) string {
	var b strings.Builder
	in := func(xs []string, x string) bool {
		for _, y := range xs {
			if x == y {
				return true
			}
		}
		return false
	}
	for _, x := range got {
		if !in(want, x) {
			fmt.Fprintf(&b, "+ %s\n", x)
		}
	}
	for _, x := range want {
		if !in(got, x) {
			fmt.Fprintf(&b, "- %s\n", x)
		}
	}
	return b.String()
}

// Migration 1 creates exactly what AutoMigrate of the models created.
func TestMigrationOneIsTheAutoMigrateSchema(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			auto := openEmpty(t, kind)
			if err := auto.AutoMigrate(v1Models()...); err != nil {
				t.Fatal(err)
			}
			fresh := openEmpty(t, kind)
			if err := storage.MigrateTo(context.Background(), fresh, 1); err != nil {
				t.Fatal(err)
			}
			got, want := schemaOf(t, fresh), schemaOf(t, auto)
			if len(want) < 20 {
				t.Fatalf("the AutoMigrate schema has %d parts, want the whole schema", len(want))
			}
			if d := diff(got, want); d != "" {
				t.Fatalf("migration 1 differs from AutoMigrate (+ migration only, - AutoMigrate only):\n%s", d)
			}
		})
	}
}

// A database created by the AutoMigrate of earlier versions is adopted as
// version 1, keeps its rows, and is migrated to the newest version with
// the same schema as a fresh database.
func TestMigrateAdoptsAutoMigrateDatabase(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			old := openEmpty(t, kind)
			if err := old.AutoMigrate(v1Models()...); err != nil {
				t.Fatal(err)
			}
			u := User{ID: "u1", Username: "alice", Email: "a@example.com", PasswordHash: "argon2id$x", SecurityTokenHash: "h1"}
			if err := old.Create(&u).Error; err != nil {
				t.Fatal(err)
			}
			s := LoginSession{IDHash: "s1", UserID: "u1", CSRFSecret: "c"}
			if err := old.Create(&s).Error; err != nil {
				t.Fatal(err)
			}
			if err := storage.Migrate(ctx, old); err != nil {
				t.Fatalf("migrate an AutoMigrate database: %v", err)
			}
			want := latest(t, kind)
			if v, err := storage.SchemaVersion(ctx, old); err != nil || v != want {
				t.Fatalf("got version %d (%v), want %d", v, err, want)
			}
			var n int64
			if err := old.Table("users").Where("username = ?", "alice").Count(&n).Error; err != nil || n != 1 {
				t.Fatalf("got %d users named alice (%v), want the row kept", n, err)
			}
			if err := old.Table("login_sessions").Count(&n).Error; err != nil || n != 1 {
				t.Fatalf("got %d sessions (%v), want the row kept", n, err)
			}
			fresh := openEmpty(t, kind)
			if err := storage.Migrate(ctx, fresh); err != nil {
				t.Fatal(err)
			}
			if d := diff(schemaOf(t, old), schemaOf(t, fresh)); d != "" {
				t.Fatalf("adopted database differs from a fresh one (+ adopted only, - fresh only):\n%s", d)
			}
			// Migrating again changes nothing.
			if err := storage.Migrate(ctx, old); err != nil {
				t.Fatal(err)
			}
			var applied, freshApplied int64
			if err := fresh.Table("migrations").Count(&freshApplied).Error; err != nil {
				t.Fatal(err)
			}
			if err := old.Table("migrations").Count(&applied).Error; err != nil || applied != freshApplied {
				t.Fatalf("got %d migration rows (%v), want %d", applied, err, freshApplied)
			}
		})
	}
}

// Tables that are not the AutoMigrate schema are refused, not adopted.
func TestMigrateRefusesUnknownSchema(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			t.Run("missing table", func(t *testing.T) {
				db := openEmpty(t, kind)
				if err := db.AutoMigrate(&User{}, &Client{}); err != nil {
					t.Fatal(err)
				}
				err := storage.Migrate(context.Background(), db)
				if !errors.Is(err, storage.ErrUnknownSchema) {
					t.Fatalf("got %v, want ErrUnknownSchema", err)
				}
				if db.Migrator().HasTable("migrations") {
					t.Fatal("the refused adoption left a migrations table behind")
				}
			})
			t.Run("missing column", func(t *testing.T) {
				db := openEmpty(t, kind)
				if err := db.AutoMigrate(v1Models()...); err != nil {
					t.Fatal(err)
				}
				if err := db.Migrator().DropColumn(&User{}, "TokenIssuedAt"); err != nil {
					t.Fatal(err)
				}
				err := storage.Migrate(context.Background(), db)
				if !errors.Is(err, storage.ErrUnknownSchema) {
					t.Fatalf("got %v, want ErrUnknownSchema", err)
				}
			})
		})
	}
}

// A database migrated by a newer authgate is refused.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := openEmpty(t, kind)
			if err := storage.Migrate(context.Background(), db); err != nil {
				t.Fatal(err)
			}
			if err := db.Exec("INSERT INTO migrations (num, applied_at) VALUES (?, CURRENT_TIMESTAMP)", 9999).Error; err != nil {
				t.Fatal(err)
			}
			if err := storage.Migrate(context.Background(), db); !errors.Is(err, storage.ErrSchemaTooNew) {
				t.Fatalf("got %v, want ErrSchemaTooNew", err)
			}
		})
	}
}

// Replicas starting together each migrate without error, and every
// migration runs once.
// It runs alone, not beside the package's parallel tests. Concurrent opens
// of a new SQLite file meet SQLITE_BUSY while one of them switches the file
// to WAL; storage.Open retries its ping through that.
func TestMigrateConcurrently(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			u := testdb.URL(t, kind)
			const n = 4
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					db, err := storage.Open(context.Background(), u, storage.Options{MaxOpenConns: 2})
					if err != nil {
						errs[i] = err
						return
					}
					defer storage.Close(db)
					errs[i] = storage.Migrate(context.Background(), db)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("replica %d: %v", i, err)
				}
			}
			check, err := storage.Open(context.Background(), u, storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer storage.Close(check)
			var rows, distinct int64
			if err := check.Table("migrations").Count(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if err := check.Raw("SELECT COUNT(DISTINCT num) FROM migrations").Scan(&distinct).Error; err != nil {
				t.Fatal(err)
			}
			fresh := openEmpty(t, kind)
			if err := storage.Migrate(context.Background(), fresh); err != nil {
				t.Fatal(err)
			}
			var want int64
			if err := fresh.Table("migrations").Count(&want).Error; err != nil {
				t.Fatal(err)
			}
			if rows != distinct || rows != want {
				t.Fatalf("got %d migration rows, %d distinct, want each of %d once", rows, distinct, want)
			}
		})
	}
}

// The SQLite file and its -wal and -shm companions are readable by their
// owner only, in a directory only the owner may enter; a file left
// readable by an earlier version is tightened.
func TestSQLiteFilesArePrivate(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, path string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: got mode %o, want %o", filepath.Base(path), got, want)
		}
	}
	open := func(t *testing.T, path string) {
		t.Helper()
		db, err := storage.Open(context.Background(), "sqlite://"+path, storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = storage.Close(db) })
		if err := storage.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		// A write makes sure the -wal and -shm files exist.
		if err := db.Exec("INSERT INTO trusted_ranges (cidr) VALUES (?)", "10.0.0.0/8").Error; err != nil {
			t.Fatal(err)
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			if _, err := os.Stat(path + suffix); err != nil {
				t.Fatalf("want %s to exist while the database is open: %v", suffix, err)
			}
		}
	}
	t.Run("new", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data", "authgate")
		path := filepath.Join(dir, "authgate.db")
		open(t, path)
		check(t, dir, 0o700)
		check(t, filepath.Dir(dir), 0o700)
		for _, suffix := range []string{"", "-wal", "-shm"} {
			check(t, path+suffix, 0o600)
		}
	})
	t.Run("existing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "authgate.db")
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.WriteFile(path+suffix, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path+suffix, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		open(t, path)
		for _, suffix := range []string{"", "-wal", "-shm"} {
			check(t, path+suffix, 0o600)
		}
	})
}

// Migration 2 drops login_sessions.csrf_secret, which was written and
// never read, and keeps the sessions.
func TestMigrationTwoDropsCSRFSecret(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := openEmpty(t, kind)
			if err := storage.MigrateTo(context.Background(), db, 1); err != nil {
				t.Fatal(err)
			}
			if !db.Migrator().HasColumn("login_sessions", "csrf_secret") {
				t.Fatal("version 1 has no csrf_secret column; the test is not testing anything")
			}
			if err := db.Exec("INSERT INTO login_sessions (id_hash, user_id, csrf_secret) VALUES (?, ?, ?)", "s1", "u1", "c").Error; err != nil {
				t.Fatal(err)
			}
			if err := storage.MigrateTo(context.Background(), db, 2); err != nil {
				t.Fatal(err)
			}
			if db.Migrator().HasColumn("login_sessions", "csrf_secret") {
				t.Fatal("csrf_secret is still there after migration 2")
			}
			var n int64
			if err := db.Table("login_sessions").Where("id_hash = ?", "s1").Count(&n).Error; err != nil || n != 1 {
				t.Fatalf("got %d sessions (%v), want the session kept", n, err)
			}
		})
	}
}

// Numbers reserved for changes developed side by side land in any order:
// a database migrated before a lower-numbered migration existed still
// gets it.
func TestMigrateRunsALowerNumberLandedLater(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db := openEmpty(t, kind)
			ctx := context.Background()
			if err := storage.Migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
			// Pretend migration 12 landed after the newest one ran.
			if err := db.Exec("DROP TABLE app_passwords").Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Exec("ALTER TABLE clients DROP COLUMN legacy_credentials").Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Exec("ALTER TABLE login_events DROP COLUMN app_password").Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Exec("DELETE FROM migrations WHERE num = 12").Error; err != nil {
				t.Fatal(err)
			}
			if err := storage.Migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
			if !db.Migrator().HasTable("app_passwords") {
				t.Fatal("migration 12 did not run after a higher number had")
			}
		})
	}
}

// Migration 14 keeps the keys of an existing installation: the current
// key signs on (from its creation), a retired one stays retired, and the
// current flag goes.
func TestMigration14KeepsSigningKeys(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := openEmpty(t, kind)
			if err := storage.MigrateTo(ctx, db, 12); err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
			insert := "INSERT INTO signing_keys (id, algorithm, public_pem, private_sealed, current, created_at, retired_at, expires_at) VALUES (?, 'RS256', 'pem', ?, ?, ?, ?, ?)"
			if err := db.Exec(insert, "old", []byte("sealed"), false, t0, t0.Add(time.Hour), t0.Add(3*time.Hour)).Error; err != nil {
				t.Fatal(err)
			}
			if err := db.Exec(insert, "cur", []byte("sealed"), true, t0.Add(time.Hour), nil, nil).Error; err != nil {
				t.Fatal(err)
			}
			if err := storage.MigrateTo(ctx, db, 14); err != nil {
				t.Fatal(err)
			}
			if db.Migrator().HasColumn("signing_keys", "current") {
				t.Error("signing_keys.current is still there after migration 14")
			}
			keys, err := storage.New(db).PublishedSigningKeys(ctx, t0.Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 2 || keys[0].ID != "cur" || !keys[0].ActivatesAt.Equal(t0.Add(time.Hour)) || keys[0].RetiredAt != nil ||
				keys[1].ID != "old" || !keys[1].ActivatesAt.Equal(t0) || keys[1].RetiredAt == nil || !keys[1].RetiredAt.Equal(t0.Add(time.Hour)) {
				t.Fatalf("after migration 14: got %+v, want cur signing from its creation and old retired", keys)
			}
		})
	}
}
