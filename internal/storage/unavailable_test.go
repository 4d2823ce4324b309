package storage_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
)

// TestReadOnlyServerDropsConnection plays a primary demoted to a standby
// while authgate's connection to it stays open: every session is
// read-only. A write must count as unavailable (503, retry) and its
// connection must leave the pool, so that the next one is made afresh
// (to the new primary, with target_session_attrs=read-write); any other
// error keeps the connection.
func TestReadOnlyServerDropsConnection(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testdb.URL(t, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("default_transaction_read_only", "on")
	u.RawQuery = q.Encode()
	ctx := context.Background()
	db, err := storage.Open(ctx, u.String(), storage.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = storage.Close(db) })
	backend := func() int {
		t.Helper()
		var pid int
		if err := db.WithContext(ctx).Raw("SELECT pg_backend_pid()").Scan(&pid).Error; err != nil {
			t.Fatal(err)
		}
		return pid
	}

	first := backend()
	err = db.WithContext(ctx).Exec("SELECT no_such_column FROM pg_class LIMIT 1").Error
	if err == nil || storage.IsUnavailable(err) {
		t.Fatalf("bad query: got %v (unavailable %v), want an error that is not unavailability", err, storage.IsUnavailable(err))
	}
	if got := backend(); got != first {
		t.Errorf("a bad query replaced the connection: backend %d, then %d", first, got)
	}

	err = db.WithContext(ctx).Exec("CREATE TABLE read_only_probe (id int)").Error
	if !storage.IsUnavailable(err) {
		t.Fatalf("write to a read-only server: got %v, want an error IsUnavailable reports", err)
	}
	if got := backend(); got == first {
		t.Errorf("the connection that hit a read-only server stayed in the pool (backend %d)", got)
	}
}
