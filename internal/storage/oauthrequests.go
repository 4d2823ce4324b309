package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/authgate/authgate/models"
)

// The two statements below are the hot path of every token: one insert per
// token issued, one read per token used. They go to the connection (or the
// transaction in ctx) as plain SQL, past gorm's statement builder, callbacks
// and reflection, which cost about as much CPU as the rest of the request's
// work in the server. The columns are those of models.OAuthRequest, the
// values the driver's own encodings, exactly as gorm would send them.

const insertOAuthRequestSQL = `INSERT INTO oauth_requests
 (kind, signature, request_id, access_signature, client_id, subject, requested_at, expires_at, active, origin, data)
 VALUES (%s)`

const selectOAuthRequestSQL = `SELECT kind, signature, request_id, access_signature, client_id, subject, requested_at, expires_at, active, origin, data
 FROM oauth_requests WHERE kind = %s AND signature = %s`

// rawConn is what the hot path needs of a *sql.DB or a *sql.Tx.
type rawConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// raw returns the connection pool (or the transaction) behind ctx and the
// statements written for its dialect.
// Outside a transaction that is the pool itself, reached without building
// a gorm session for the request (whose clone was 3% of the bytes an
// introspection allocated).
func (s *Store) raw(ctx context.Context) (rawConn, *gorm.DB, bool) {
	if st, ok := txOf(ctx); ok {
		c, ok := st.db.Statement.ConnPool.(rawConn)
		return c, st.db, ok
	}
	c, ok := s.db.Statement.ConnPool.(rawConn)
	return c, s.db, ok
}

// InsertOAuthRequest stores one row of a grant (a code, a token, its PKCE
// or OpenID Connect request). A signature stored twice for one kind is
// ErrConflict.
func (s *Store) InsertOAuthRequest(ctx context.Context, r models.OAuthRequest) error {
	c, db, ok := s.raw(ctx)
	if !ok {
		return mapErr(s.conn(ctx).Create(&r).Error)
	}
	_, err := c.ExecContext(ctx, s.oauthSQL.insert,
		r.Kind, r.Signature, r.RequestID, r.AccessSignature, r.ClientID, r.Subject,
		r.RequestedAt, nullTime(r.ExpiresAt), r.Active, r.Origin, r.Data)
	if err != nil {
		return mapErr(translate(db, err))
	}
	return nil
}

// InsertOAuthRequests stores several rows in one statement (the rows a
// transaction wrote and held back: an authorization code with its PKCE and
// OpenID Connect requests, a refreshed pair). A signature stored twice for
// one kind is ErrConflict, and then none of the rows is stored.
func (s *Store) InsertOAuthRequests(ctx context.Context, rows ...models.OAuthRequest) error {
	switch len(rows) {
	case 0:
		return nil
	case 1:
		return s.InsertOAuthRequest(ctx, rows[0])
	}
	c, db, ok := s.raw(ctx)
	if !ok {
		return mapErr(s.conn(ctx).Create(&rows).Error)
	}
	args := make([]any, 0, oauthRequestColumns*len(rows))
	for _, r := range rows {
		args = append(args, r.Kind, r.Signature, r.RequestID, r.AccessSignature, r.ClientID, r.Subject,
			r.RequestedAt, nullTime(r.ExpiresAt), r.Active, r.Origin, r.Data)
	}
	if _, err := c.ExecContext(ctx, s.oauthSQL.insertMany(len(rows)), args...); err != nil {
		return mapErr(translate(db, err))
	}
	return nil
}

// OAuthRequest reads the row of kind with signature (ErrNotFound when there
// is none). forUpdate locks it until the transaction in ctx ends
// (PostgreSQL; SQLite's single writer already serialises).
func (s *Store) OAuthRequest(ctx context.Context, kind, signature string, forUpdate bool) (models.OAuthRequest, error) {
	var r models.OAuthRequest
	c, db, ok := s.raw(ctx)
	if !ok {
		q := s.conn(ctx)
		if forUpdate {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		err := q.Where("kind = ? AND signature = ?", kind, signature).Take(&r).Error
		return r, mapErr(err)
	}
	query := s.oauthSQL.selectOne
	if forUpdate && s.Dialect() == "postgres" {
		query += " FOR UPDATE"
	}
	var exp sql.NullTime
	err := c.QueryRowContext(ctx, query, kind, signature).Scan(&r.Kind, &r.Signature, &r.RequestID,
		&r.AccessSignature, &r.ClientID, &r.Subject, &r.RequestedAt, &exp, &r.Active, &r.Origin, &r.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("%w: %w", ErrNotFound, gorm.ErrRecordNotFound)
	}
	if err != nil {
		return r, mapErr(translate(db, err))
	}
	if exp.Valid {
		t := exp.Time
		r.ExpiresAt = &t
	}
	return r, nil
}

// bySubject narrows db to the token rows of the user with id. The index by
// user leaves out the rows without one (migration 0018); the second term
// is what lets the planner use that index for any id, including under a
// generic plan for a prepared statement, where it cannot see that id is
// not empty.
func bySubject(db *gorm.DB, id string) *gorm.DB {
	return db.Where("subject = ? AND subject <> ''", id)
}

// OAuthRequestKinds reads the rows of the given kinds stored under one
// signature (an authorization code's row and its PKCE request share the
// code's signature), in one statement; forUpdate locks them as
// OAuthRequest does. Kinds without a row are absent from the result.
func (s *Store) OAuthRequestKinds(ctx context.Context, signature string, kinds []string, forUpdate bool) ([]models.OAuthRequest, error) {
	var rows []models.OAuthRequest
	q := s.conn(ctx)
	if forUpdate && s.Dialect() == "postgres" {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Where("signature = ? AND kind IN ?", signature, kinds).Find(&rows).Error; err != nil {
		return nil, mapErr(err)
	}
	return rows, nil
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

// translate maps a driver error to gorm's (ErrDuplicatedKey, ...) as
// gorm does for its own statements.
func translate(db *gorm.DB, err error) error {
	if tr, ok := db.Dialector.(gorm.ErrorTranslator); ok {
		return tr.Translate(err)
	}
	return err
}

// oauthRequestColumns is how many columns the insert writes.
const oauthRequestColumns = 11

// oauthStatements are the hot-path statements in the dialect's placeholders.
type oauthStatements struct {
	dialect           string
	insert, selectOne string
}

func newOAuthStatements(dialect string) oauthStatements {
	o := oauthStatements{dialect: dialect}
	o.insert = o.insertMany(1)
	o.selectOne = fmt.Sprintf(selectOAuthRequestSQL, o.ph(1), o.ph(2))
	return o
}

// ph is the i-th placeholder (from 1).
func (o oauthStatements) ph(i int) string {
	if o.dialect == "postgres" {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

// insertMany is the insert of n rows.
func (o oauthStatements) insertMany(n int) string {
	var b strings.Builder
	for r := range n {
		if r > 0 {
			b.WriteString("), (")
		}
		for c := 1; c <= oauthRequestColumns; c++ {
			if c > 1 {
				b.WriteString(", ")
			}
			b.WriteString(o.ph(r*oauthRequestColumns + c))
		}
	}
	return fmt.Sprintf(insertOAuthRequestSQL, b.String())
}
