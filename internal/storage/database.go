package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// ErrUnsupportedURL is returned for a database URL that names neither
// SQLite nor PostgreSQL.
var ErrUnsupportedURL = errors.New("unsupported database URL")

// Options tunes the connection pool.
type Options struct {
	MaxOpenConns int
	Logger       *slog.Logger
}

// Open connects to the database named by rawURL: sqlite://PATH or
// postgres://USER@HOST:PORT/DB. SQLite runs in WAL mode with secure_delete
// on, so deleted rows leave no plaintext behind in the file.
func Open(ctx context.Context, rawURL string, opts Options) (*gorm.DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	gcfg := &gorm.Config{
		// Bound values (secrets among them) never reach the log.
		Logger:         queryLogger{log: opts.Logger, slow: time.Second},
		TranslateError: true,
		// A single statement is atomic on its own: gorm's default of
		// wrapping every write in BEGIN/COMMIT costs two extra round trips.
		// Multi-statement changes use explicit transactions.
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
		// Open pings below, retrying what SQLite answers while another
		// process switches a new file to WAL.
		DisableAutomaticPing: true,
	}
	var dialector gorm.Dialector
	switch {
	case strings.HasPrefix(rawURL, "sqlite://"):
		path := strings.TrimPrefix(rawURL, "sqlite://")
		if path == "" {
			return nil, fmt.Errorf("%w: sqlite:// needs a file path", ErrUnsupportedURL)
		}
		if path != ":memory:" {
			if err := prepareSQLiteFile(path); err != nil {
				return nil, err
			}
		}
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		q.Add("_pragma", "secure_delete(ON)")
		q.Add("_pragma", "foreign_keys(ON)")
		q.Set("_txlock", "immediate")
		dialector = sqlite.Open("file:" + path + "?" + q.Encode())
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		pool, err := openPostgres(rawURL)
		if err != nil {
			return nil, err
		}
		dialector = postgres.New(postgres.Config{Conn: pool})
	default:
		return nil, fmt.Errorf("%w: use sqlite://PATH or postgres://USER@HOST:PORT/DB", ErrUnsupportedURL)
	}
	db, err := gorm.Open(dialector, gcfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if db.Dialector.Name() == "sqlite" {
		// One writer at a time is all SQLite allows; a small pool avoids
		// busy waits piling up.
		sqlDB.SetMaxOpenConns(4)
	} else if opts.MaxOpenConns > 0 {
		sqlDB.SetMaxOpenConns(opts.MaxOpenConns)
		sqlDB.SetMaxIdleConns(opts.MaxOpenConns)
	}
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	// A connection is replaced after this long even when busy, so that a
	// pool follows a failover that a DNS name or a proxy hides from it
	// (a managed database's endpoint) within this bound.
	sqlDB.SetConnMaxLifetime(30 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pingWhileBusy(pingCtx, sqlDB.PingContext); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return db, nil
}

// openPostgres returns a pool for a PostgreSQL URL, which may name several
// hosts (postgres://h1:5432,h2:5432/db?target_session_attrs=read-write):
// pgx then tries them in order for each new connection and keeps the first
// that matches target_session_attrs. A connection is dropped from the pool
// as soon as the server answers that it is read-only (SQLSTATE 25006, a
// primary demoted to a standby while the connection stayed open), so that
// the next one is made to the new primary instead.
func openPostgres(rawURL string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedURL, err)
	}
	next := cfg.OnPgError
	cfg.OnPgError = func(c *pgconn.PgConn, e *pgconn.PgError) bool {
		if e.Code == sqlstateReadOnly {
			return false // close the connection
		}
		return next == nil || next(c, e)
	}
	return stdlib.OpenDB(*cfg), nil
}

// pingWhileBusy pings until the database answers, the error is other than
// SQLite's "database is locked", or ctx ends. The first connection to a
// new SQLite file switches it to WAL, which needs the file to itself: a
// replica opening the same file at that moment is answered SQLITE_BUSY at
// once, whatever its busy_timeout.
func pingWhileBusy(ctx context.Context, ping func(context.Context) error) error {
	wait := 10 * time.Millisecond
	for {
		err := ping(ctx)
		if err == nil || !isSQLiteBusy(err) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
}

// isSQLiteBusy reports whether err is SQLite's SQLITE_BUSY.
func isSQLiteBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

// prepareSQLiteFile makes the database file's directory (0700) and the
// file itself (0600) before SQLite opens it, and takes group and other
// permissions away from an existing file and its -wal and -shm companions:
// the file holds password hashes. SQLite creates -wal and -shm with the
// main file's permissions.
func prepareSQLiteFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("database file: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("restrict database file permissions: %w", err)
			}
		}
	}
	return nil
}

// Close closes the underlying connection pool.
func Close(db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks that the database answers.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}
