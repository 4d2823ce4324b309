package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Store is authgate's storage boundary: the one owner of the schema, of
// every query and of every cascade. Packages outside storage never see
// gorm (the fosite adapter in oauth/ is the one exception, and it reaches
// the connection only through Conn, so that it shares this package's
// transactions).
//
// Every method honours a transaction begun with BeginTX or InTx and
// carried in the context.
type Store struct {
	db *gorm.DB
	// oauthSQL are the token hot path's statements (oauthrequests.go).
	oauthSQL oauthStatements
}

// New wraps an open gorm connection.
func New(db *gorm.DB) *Store {
	return &Store{db: db, oauthSQL: newOAuthStatements(db.Dialector.Name())}
}

// OpenStore connects to the database named by rawURL (see Open).
func OpenStore(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	db, err := Open(ctx, rawURL, opts)
	if err != nil {
		return nil, err
	}
	return New(db), nil
}

// Close closes the connection pool.
func (s *Store) Close() error { return Close(s.db) }

// Migrate creates or upgrades the schema.
func (s *Store) Migrate(ctx context.Context) error { return Migrate(ctx, s.db) }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return Ping(ctx, s.db) }

// Dialect is "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.db.Dialector.Name() }

// SQLDB returns the connection pool, for pool statistics.
func (s *Store) SQLDB() (*sql.DB, error) { return s.db.DB() }

type txKey struct{}

// nestedKey marks a context whose BeginTX found a transaction already
// running: its Commit and Rollback defer to the outer transaction.
type nestedKey struct{}

// txState is a transaction and whether an inner part asked to roll it back.
type txState struct {
	db           *gorm.DB
	rollbackOnly bool
}

func txOf(ctx context.Context) (*txState, bool) {
	st, ok := ctx.Value(txKey{}).(*txState)
	return st, ok
}

// InTransaction reports whether ctx carries a transaction.
func InTransaction(ctx context.Context) bool {
	_, ok := txOf(ctx)
	return ok
}

// Nested reports whether ctx carries a transaction begun inside another
// (BeginTX found one running): its Commit and Rollback end nothing.
func Nested(ctx context.Context) bool {
	nested, _ := ctx.Value(nestedKey{}).(bool)
	return nested
}

// Conn returns the transaction carried by ctx, or the plain connection
// bound to ctx. It is for the fosite adapter in oauth/ only.
func (s *Store) Conn(ctx context.Context) *gorm.DB {
	if st, ok := txOf(ctx); ok {
		return st.db
	}
	return s.db.WithContext(ctx)
}

// conn is Conn for this package's methods.
func (s *Store) conn(ctx context.Context) *gorm.DB { return s.Conn(ctx) }

// savepoint runs fn in a savepoint of the transaction in ctx (or a
// transaction of its own), so that a failed statement such as a unique
// violation does not abort the transaction around it on PostgreSQL.
func (s *Store) savepoint(ctx context.Context, fn func(db *gorm.DB) error) error {
	return mapErr(s.conn(ctx).Transaction(fn))
}

// BeginTX starts a transaction carried by the returned context. Inside a
// running transaction it starts none: the inner Commit does nothing and the
// inner Rollback makes the outer transaction roll back, so that a caller
// can make several steps (fosite's among them) one transaction.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if _, ok := txOf(ctx); ok {
		return context.WithValue(ctx, nestedKey{}, true), nil
	}
	tx := s.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		return ctx, fmt.Errorf("begin transaction: %w", tx.Error)
	}
	return context.WithValue(ctx, txKey{}, &txState{db: tx}), nil
}

// ErrRolledBack is returned by Commit when an inner part of the
// transaction rolled back.
var ErrRolledBack = errors.New("transaction rolled back by an inner step")

// Commit commits the transaction in ctx.
func (s *Store) Commit(ctx context.Context) error {
	st, ok := txOf(ctx)
	if !ok {
		return errors.New("commit: no transaction in context")
	}
	if nested, _ := ctx.Value(nestedKey{}).(bool); nested {
		return nil
	}
	if st.rollbackOnly {
		if err := st.db.Rollback().Error; err != nil {
			return err
		}
		return ErrRolledBack
	}
	return st.db.Commit().Error
}

// Rollback aborts the transaction in ctx.
func (s *Store) Rollback(ctx context.Context) error {
	st, ok := txOf(ctx)
	if !ok {
		return errors.New("rollback: no transaction in context")
	}
	if nested, _ := ctx.Value(nestedKey{}).(bool); nested {
		st.rollbackOnly = true
		return nil
	}
	return st.db.Rollback().Error
}

// InTx runs fn in a transaction carried by its context: committed when fn
// returns nil, rolled back otherwise (or when fn panics). Inside a running
// transaction it joins it.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	txCtx, err := s.BeginTX(ctx)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = s.Rollback(txCtx)
		}
	}()
	if err := fn(txCtx); err != nil {
		done = true
		if rbErr := s.Rollback(txCtx); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		return err
	}
	done = true
	return s.Commit(txCtx)
}
