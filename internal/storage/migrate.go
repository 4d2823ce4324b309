package storage

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// migrationFiles holds the numbered schema migrations, one file per
// migration and dialect: NNNN_name.sqlite.sql and NNNN_name.postgres.sql.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered step of the schema, with its statements for
// each dialect.
type migration struct {
	num   int
	name  string
	stmts map[string][]string // dialect -> statements
}

// ErrSchemaTooNew is returned by Migrate for a database migrated by a newer
// authgate than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this authgate")

// ErrUnknownSchema is returned by Migrate for a database that holds some of
// authgate's tables but not the schema any version of authgate created.
var ErrUnknownSchema = errors.New("database holds tables authgate does not recognise")

// loadMigrations reads the embedded migrations in order, and checks that
// every migration has SQL for both dialects. Numbers may have gaps: numbers
// are reserved for changes developed side by side, which land in any
// order, so a migration runs when its own number is not yet recorded, not
// when it is above the newest one recorded.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	byNum := map[int]*migration{}
	for _, path := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(path, "migrations/"), ".sql")
		dot := strings.LastIndexByte(base, '.')
		under := strings.IndexByte(base, '_')
		if dot < 0 || under < 0 || under > dot {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.DIALECT.sql", path)
		}
		num, err := strconv.Atoi(base[:under])
		if err != nil || num < 1 {
			return nil, fmt.Errorf("migration file %s: bad number", path)
		}
		dialect := base[dot+1:]
		if dialect != "sqlite" && dialect != "postgres" {
			return nil, fmt.Errorf("migration file %s: unknown dialect %q", path, dialect)
		}
		body, err := migrationFiles.ReadFile(path)
		if err != nil {
			return nil, err
		}
		m := byNum[num]
		if m == nil {
			m = &migration{num: num, name: base[under+1 : dot], stmts: map[string][]string{}}
			byNum[num] = m
		}
		if m.name != base[under+1:dot] {
			return nil, fmt.Errorf("migration %d has two names: %q and %q", num, m.name, base[under+1:dot])
		}
		m.stmts[dialect] = splitStatements(string(body))
	}
	out := make([]migration, 0, len(byNum))
	for _, m := range byNum {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].num < out[j].num })
	for _, m := range out {
		if len(m.stmts["sqlite"]) == 0 || len(m.stmts["postgres"]) == 0 {
			return nil, fmt.Errorf("migration %d (%s) needs statements for sqlite and postgres", m.num, m.name)
		}
	}
	return out, nil
}

// splitStatements drops comment lines and splits on a semicolon that ends
// a line. Migrations are written so that no statement's text has one.
func splitStatements(body string) []string {
	var stmts []string
	var cur strings.Builder
	for line := range strings.Lines(body) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			stmts = append(stmts, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		stmts = append(stmts, s)
	}
	return stmts
}

// migrationsTable records each applied migration by number.
var migrationsTable = map[string]string{
	"sqlite":   "CREATE TABLE IF NOT EXISTS `migrations` (`num` integer NOT NULL PRIMARY KEY, `applied_at` datetime NOT NULL)",
	"postgres": "CREATE TABLE IF NOT EXISTS migrations (num integer NOT NULL PRIMARY KEY, applied_at timestamptz NOT NULL)",
}

// schemaV1 is every table and column of migration 1: what gorm's
// AutoMigrate created before migrations were numbered. A database that
// has these tables but no migrations table is adopted as version 1.
var schemaV1 = map[string][]string{
	"clients": {"id", "name", "secret_hash", "redirect_uris", "grant_types", "response_types", "scopes", "audience",
		"public", "first_party", "access_token_format", "legacy_sunset", "legacy_deprecated_at", "created_at", "updated_at"},
	"users": {"id", "username", "email", "name", "password_hash", "admin", "security_token_hash", "token_issued_at",
		"password_changed_at", "legacy_failures", "legacy_locked_until", "login_failures", "login_locked_until", "created_at", "updated_at"},
	"security_token_histories": {"hash", "user_id", "created_at"},
	"oauth_requests":           {"kind", "signature", "request_id", "access_signature", "client_id", "subject", "requested_at", "expires_at", "active", "data"},
	"signing_keys":             {"id", "algorithm", "public_pem", "private_sealed", "current", "created_at", "retired_at", "expires_at"},
	"login_sessions":           {"id_hash", "user_id", "auth_time", "expires_at", "csrf_secret", "created_at"},
	"consents":                 {"user_id", "client_id", "scopes", "created_at", "updated_at"},
	"trusted_ranges":           {"cidr", "description", "created_at"},
	"login_events":             {"id", "time", "user_id", "username", "client_id", "source_ip", "method", "result", "user_agent"},
	"audit_entries":            {"id", "time", "actor", "action", "target", "detail"},
	"mail_messages":            {"id", "to", "subject", "body_sealed", "attempts", "next_attempt", "claimed_until", "last_error", "failed", "created_at"},
}

// migrationLockID is the first half of the PostgreSQL advisory lock key
// that serialises migrations across replicas starting at once; the second
// half is a hash of the schema being migrated, so that installations in
// other schemas of the same database do not wait for each other.
const migrationLockID = 0x61757468 // "auth"

// Migrate brings the schema to the newest embedded migration. Each
// migration runs in its own transaction and is recorded in the migrations
// table in the same transaction, so a failed step leaves the database at
// the version before it. A database created by the AutoMigrate of earlier
// versions (authgate's tables, no migrations table) is checked and
// recorded as version 1. On PostgreSQL an advisory lock makes replicas
// starting together migrate one at a time; on SQLite each transaction
// takes the write lock when it begins.
func Migrate(ctx context.Context, db *gorm.DB) error {
	return MigrateTo(ctx, db, 0)
}

// MigrateTo is Migrate stopping at migration number to (0 for the newest).
// Tests use it to build a database as an older authgate left it.
func MigrateTo(ctx context.Context, db *gorm.DB, to int) error {
	migrations, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if to > 0 {
		i := slices.IndexFunc(migrations, func(m migration) bool { return m.num == to })
		if i < 0 {
			return fmt.Errorf("migrate: no migration %d", to)
		}
		migrations = migrations[:i+1]
	}
	dialect := db.Dialector.Name()
	if dialect != "postgres" {
		return migrate(db.WithContext(ctx), dialect, migrations)
	}
	return db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		if err := conn.Exec("SELECT pg_advisory_lock(?, hashtext(current_schema()))", migrationLockID).Error; err != nil {
			return fmt.Errorf("migrate: take lock: %w", err)
		}
		defer conn.Exec("SELECT pg_advisory_unlock(?, hashtext(current_schema()))", migrationLockID)
		return migrate(conn, dialect, migrations)
	})
}

func migrate(conn *gorm.DB, dialect string, migrations []migration) error {
	if err := conn.Transaction(func(tx *gorm.DB) error { return bootstrap(tx, dialect) }); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	newest := 0
	if len(migrations) > 0 {
		newest = migrations[len(migrations)-1].num
	}
	for _, m := range migrations {
		err := conn.Transaction(func(tx *gorm.DB) error {
			v, err := schemaVersion(tx)
			if err != nil {
				return err
			}
			if v > newest {
				return fmt.Errorf("%w: version %d, this authgate knows up to %d", ErrSchemaTooNew, v, newest)
			}
			var done int64
			if err := tx.Raw("SELECT COUNT(*) FROM migrations WHERE num = ?", m.num).Scan(&done).Error; err != nil {
				return err
			}
			if done > 0 {
				return nil
			}
			for _, stmt := range m.stmts[dialect] {
				if err := tx.Exec(stmt).Error; err != nil {
					return err
				}
			}
			return recordVersion(tx, m.num)
		})
		if err != nil {
			return fmt.Errorf("migrate: %d (%s): %w", m.num, m.name, err)
		}
	}
	return nil
}

// bootstrap creates the migrations table. A database that has none but
// holds authgate's tables was made by AutoMigrate: its schema is checked
// against migration 1 and recorded as that version.
func bootstrap(tx *gorm.DB, dialect string) error {
	hadTable := tx.Migrator().HasTable("migrations")
	if err := tx.Exec(migrationsTable[dialect]).Error; err != nil {
		return err
	}
	if hadTable {
		return nil
	}
	var found, missing []string
	for table := range schemaV1 {
		if tx.Migrator().HasTable(table) {
			found = append(found, table)
		} else {
			missing = append(missing, table)
		}
	}
	if len(found) == 0 {
		return nil
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("%w: no migrations table and missing %s", ErrUnknownSchema, strings.Join(missing, ", "))
	}
	for table, cols := range schemaV1 {
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = tx.Statement.Quote(c)
		}
		// Selecting no rows fails if a column is missing.
		q := "SELECT " + strings.Join(quoted, ", ") + " FROM " + tx.Statement.Quote(table) + " WHERE 1 = 0"
		if err := tx.Exec(q).Error; err != nil {
			return fmt.Errorf("%w: table %s: %w", ErrUnknownSchema, table, err)
		}
	}
	return recordVersion(tx, 1)
}

func schemaVersion(tx *gorm.DB) (int, error) {
	var v *int
	if err := tx.Raw("SELECT MAX(num) FROM migrations").Scan(&v).Error; err != nil {
		return 0, err
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

func recordVersion(tx *gorm.DB, num int) error {
	return tx.Exec("INSERT INTO migrations (num, applied_at) VALUES (?, ?)", num, time.Now().UTC()).Error
}

// SchemaVersion returns the number of the newest migration applied to the
// database, 0 for an empty one.
func SchemaVersion(ctx context.Context, db *gorm.DB) (int, error) {
	if !db.WithContext(ctx).Migrator().HasTable("migrations") {
		return 0, nil
	}
	return schemaVersion(db.WithContext(ctx))
}
