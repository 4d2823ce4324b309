package oauth_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// plannedRows is how many token rows TestHotQueryPlans loads: enough that
// PostgreSQL's planner prefers an index to reading the table whenever an
// index can answer.
const plannedRows = 50_000

// BulkLoadSQL fills oauth_requests with n synthetic rows (parameter $1),
// one set-based statement: nine in ten access tokens and one in ten
// refresh tokens, over 50 clients and 5,000 subjects, one in twenty from
// the password grant, and expiries spread over the next 1,000 minutes with
// the first 1% already past. docs/PERFORMANCE.md uses the same method.
const BulkLoadSQL = `INSERT INTO oauth_requests
	(kind, signature, request_id, access_signature, client_id, subject, requested_at, expires_at, active, data, origin)
SELECT CASE WHEN i % 10 = 0 THEN 'refresh' ELSE 'access' END,
	rtrim(translate(encode(sha256(int8send(i)), 'base64'), '+/', '-_'), '='),
	md5(i::text), '', 'client-' || (i % 50), 'user-' || (i % 5000),
	now() - interval '1 hour', now() + ((i % 1000) - 10) * interval '1 minute',
	true, convert_to('{"session":"bulk"}', 'UTF8'),
	CASE WHEN i % 20 = 0 THEN 'password+security_token' ELSE '' END
FROM generate_series(1, $1::bigint) AS i`

// TestHotQueryPlans runs the hot statements on the token table, as the
// code issues them, against PostgreSQL with plannedRows rows, and asks
// PostgreSQL for each plan: none may read the whole table (a Seq Scan),
// which would make its cost grow with the number of stored tokens.
func TestHotQueryPlans(t *testing.T) {
	t.Parallel()
	// Every statement, whether gorm builds it or the hot path's plain SQL,
	// passes through the recording pool under this Store.
	ctx := context.Background()
	base, err := storage.Open(ctx, testdb.URL(t, "postgres"), storage.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = storage.Close(base) })
	if err := storage.Migrate(ctx, base); err != nil {
		t.Fatal(err)
	}
	sqlDB, err := base.DB()
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{DB: sqlDB}
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: rec}), &gorm.Config{
		SkipDefaultTransaction: true, TranslateError: true, Logger: logger.Discard,
		NowFunc: func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		t.Fatal(err)
	}
	st := storage.New(db)
	began := time.Now()
	if err := db.Exec(strings.Replace(BulkLoadSQL, "$1", "?", 1), plannedRows).Error; err != nil {
		t.Fatalf("bulk load: %v", err)
	}
	if err := db.Exec("ANALYZE oauth_requests").Error; err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded and analysed %d rows in %v", plannedRows, time.Since(began).Round(time.Millisecond))

	s := oauth.NewStore(st, testKeyring(t), nil)
	m := models.Client{
		ID: "client-7", Name: "Client 7", SecretHash: "hmac-sha256$0000",
		GrantTypes: []string{"client_credentials"}, AccessTokenFormat: oauth.FormatOpaque,
	}
	if err := db.Create(&m).Error; err != nil {
		t.Fatal(err)
	}
	rec.reset()
	client := oauth.NewClient(m)
	req := fosite.NewRequest()
	req.ID = "request-hot"
	req.Client = client
	sess := oauth.NewSession("")
	sess.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Hour))
	req.Session = sess

	cases := []struct {
		name string
		run  func() error
	}{
		{"issue: insert an access token", func() error { return s.CreateAccessTokenSession(ctx, "sig-hot", req) }},
		{"introspect: access token by signature", func() error {
			_, err := s.GetAccessTokenSession(ctx, "sig-hot", oauth.NewSession(""))
			return err
		}},
		{"exchange: a code's rows by signature", func() error {
			_, err := st.OAuthRequestKinds(ctx, "sig-hot", []string{"code", "pkce"}, true)
			return err
		}},
		{"refresh: refresh token by signature", func() error {
			_, err := s.GetRefreshTokenSession(ctx, "no-such-signature", oauth.NewSession(""))
			return nil2(err)
		}},
		{"revoke: a grant's access tokens", func() error { return s.RevokeAccessToken(ctx, "request-hot") }},
		{"revoke: a grant's refresh tokens", func() error { return s.RevokeRefreshToken(ctx, "request-hot") }},
		{"janitor: revoke the password grant's tokens (global switch)", func() error {
			_, err := s.RevokePasswordGrants(ctx, "")
			return err
		}},
		{"account: a user's live grants (the index by user)", func() error {
			_, err := st.UserGrants(ctx, "user-7", time.Now())
			return err
		}},
		{"janitor: prune expired tokens in batches", func() error {
			_, err := s.PruneExpired(ctx, time.Now())
			return err
		}},
	}
	// mustUse names, for some cases, the index every plan must use.
	mustUse := map[string]string{"account: a user's live grants (the index by user)": "idx_oauth_requests_subject"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec.reset()
			if err := tc.run(); err != nil {
				t.Fatalf("run: %v", err)
			}
			stmts := rec.take()
			var found bool
			for _, stmt := range stmts {
				if !strings.Contains(stmt.sql, "oauth_requests") {
					continue
				}
				found = true
				// The plan for these values, and the generic plan a
				// prepared statement may settle on after five runs,
				// which cannot see the values (a partial index must
				// then be implied by the statement's own terms).
				for _, generic := range []bool{false, true} {
					plan := explain(t, sqlDB, stmt, generic)
					if scans := seqScans(plan, "oauth_requests"); scans > 0 {
						t.Errorf("%s\nreads the whole token table (Seq Scan, generic plan %v):\n%s", stmt.sql, generic, indent(plan))
					} else if idx := mustUse[tc.name]; idx != "" && !strings.Contains(summary(plan), idx) {
						t.Errorf("%s\ndoes not use %s (generic plan %v):\n%s", stmt.sql, idx, generic, indent(plan))
					} else {
						t.Logf("%s (generic plan %v): %s", strings.Join(strings.Fields(stmt.sql), " "), generic, summary(plan))
					}
				}
			}
			if !found {
				t.Fatalf("no statement on oauth_requests was issued; got %v", stmts)
			}
		})
	}
}

// nil2 treats "not found" as the expected outcome of a lookup.
func nil2(err error) error {
	if err != nil && strings.Contains(err.Error(), "not_found") {
		return nil
	}
	return err
}

// statement is one SQL statement sent to the database, with its arguments.
type statement struct {
	sql  string
	vars []any
}

// recorder is a connection pool for gorm (and for storage's plain SQL,
// which uses the pool gorm holds) that keeps every statement sent through
// it outside a transaction.
type recorder struct {
	*sql.DB
	mu    sync.Mutex
	stmts []statement
}

func (r *recorder) record(query string, args []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stmts = append(r.stmts, statement{sql: query, vars: append([]any(nil), args...)})
}

func (r *recorder) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	r.record(query, args)
	return r.DB.ExecContext(ctx, query, args...)
}

func (r *recorder) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	r.record(query, args)
	return r.DB.QueryContext(ctx, query, args...)
}

func (r *recorder) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	r.record(query, args)
	return r.DB.QueryRowContext(ctx, query, args...)
}

// GetDBConn gives gorm's DB() the pool underneath.
func (r *recorder) GetDBConn() (*sql.DB, error) { return r.DB, nil }

func (r *recorder) reset() { r.mu.Lock(); r.stmts = nil; r.mu.Unlock() }

func (r *recorder) take() []statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stmts
}

// explain returns PostgreSQL's plan for stmt, in JSON, without running it.
// With generic, the statement is prepared and planned as PostgreSQL plans a
// prepared statement without looking at its parameters.
func explain(t *testing.T, sqlDB *sql.DB, stmt statement, generic bool) map[string]any {
	t.Helper()
	var raw string
	if !generic {
		if err := sqlDB.QueryRow("EXPLAIN (FORMAT JSON) "+stmt.sql, stmt.vars...).Scan(&raw); err != nil {
			t.Fatalf("EXPLAIN %s: %v", stmt.sql, err)
		}
	} else {
		ctx := context.Background()
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		for _, q := range []string{"SET plan_cache_mode = force_generic_plan", "PREPARE planned AS " + stmt.sql} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		defer func() { _, _ = conn.ExecContext(ctx, "DEALLOCATE planned; RESET plan_cache_mode") }()
		// EXECUTE takes no bound parameters: the values go as literals.
		params := make([]string, len(stmt.vars))
		for i, v := range stmt.vars {
			params[i] = literal(t, v)
		}
		q := "EXPLAIN (FORMAT JSON) EXECUTE planned"
		if len(params) > 0 {
			q += "(" + strings.Join(params, ", ") + ")"
		}
		if err := conn.QueryRowContext(ctx, q).Scan(&raw); err != nil {
			t.Fatalf("%s for %s: %v", q, stmt.sql, err)
		}
	}
	var plans []map[string]any
	if err := json.Unmarshal([]byte(raw), &plans); err != nil || len(plans) != 1 {
		t.Fatalf("EXPLAIN output %q: %v", raw, err)
	}
	plan, _ := plans[0]["Plan"].(map[string]any)
	return plan
}

// literal writes v as an SQL literal.
func literal(t *testing.T, v any) string {
	t.Helper()
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return quote(v)
	case bool:
		return fmt.Sprint(v)
	case int, int64, int32:
		return fmt.Sprint(v)
	case time.Time:
		return quote(v.Format(time.RFC3339Nano)) + "::timestamptz"
	case []byte:
		return quote(fmt.Sprintf("\\x%x", v)) + "::bytea"
	}
	t.Fatalf("no literal for %T", v)
	return ""
}

// seqScans counts the Seq Scan nodes on table in plan.
func seqScans(plan map[string]any, table string) int {
	n := 0
	if plan["Node Type"] == "Seq Scan" && plan["Relation Name"] == table {
		n++
	}
	children, _ := plan["Plans"].([]any)
	for _, c := range children {
		if m, ok := c.(map[string]any); ok {
			n += seqScans(m, table)
		}
	}
	return n
}

// summary names each node of plan with the index it uses, if any.
func summary(plan map[string]any) string {
	s := fmt.Sprint(plan["Node Type"])
	if idx, ok := plan["Index Name"]; ok {
		s += " using " + fmt.Sprint(idx)
	}
	children, _ := plan["Plans"].([]any)
	var parts []string
	for _, c := range children {
		if m, ok := c.(map[string]any); ok {
			parts = append(parts, summary(m))
		}
	}
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func indent(plan map[string]any) string {
	b, _ := json.MarshalIndent(plan, "", "  ")
	return string(b)
}
