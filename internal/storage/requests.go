package storage

import (
	"context"
	"fmt"
	"time"
)

// PruneBatch is how many expired OAuth requests PruneExpiredRequests
// deletes per statement.
const PruneBatch = 1000

// PruneRest is how long the janitor's PruneExpiredRequests rests after
// each full batch, as a multiple of the time the batch took: 3 keeps it to
// about a quarter of one connection's time. Unpaced, the batches ran back
// to back as fast as the database took them: ten million expired tokens
// pruned under load cut the token rate by a third and raised its p99 to
// two and a half times its idle value (docs/PERFORMANCE.md). Resting in
// proportion to each batch's own time gives way more when the database is
// busier.
const PruneRest = 3

// PruneExpiredRequests deletes the OAuth requests (codes, tokens, PKCE and
// OpenID Connect sessions) that expired before cutoff, batch rows per
// statement, each statement a transaction of its own, and returns how many
// went. A day of expired tokens at a high rate is millions of rows: deleted
// in one statement they would hold their row locks, a snapshot that keeps
// vacuum from cleaning up behind them, and one burst of WAL that a
// synchronous standby must take before anything else commits, for as long
// as the delete runs. In batches each lock is held for milliseconds and
// other writes interleave. Each batch finds its rows through the expiry
// index and deletes them by row address (oauth's TestHotQueryPlans checks
// the plan on PostgreSQL). After each full batch it waits rest times as
// long as the batch took (PruneRest; 0 for none), so that pruning shares
// the database with the requests; it stops early, with ctx's error, when
// ctx ends.
func (s *Store) PruneExpiredRequests(ctx context.Context, cutoff time.Time, batch int, rest float64) (int64, error) {
	if batch < 1 {
		batch = PruneBatch
	}
	// By physical row address, so that each batch is an index range scan
	// on expires_at and a direct fetch of each row: "(kind, signature) IN
	// (SELECT ...)" made PostgreSQL hash the batch and read the whole
	// table against it. Oldest first, in the index's order: without the
	// ORDER BY, the generic plan PostgreSQL may settle on for a prepared
	// statement (which cannot see the cutoff) was a Seq Scan that stops
	// at the batch's end, reading the whole table when little has expired.
	stmt := `DELETE FROM oauth_requests WHERE ctid = ANY(ARRAY(
		SELECT ctid FROM oauth_requests WHERE expires_at < ? ORDER BY expires_at LIMIT ?))`
	if s.Dialect() == "sqlite" {
		stmt = `DELETE FROM oauth_requests WHERE rowid IN (
		SELECT rowid FROM oauth_requests WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`
	}
	var total int64
	for {
		began := time.Now()
		res := s.conn(ctx).Exec(stmt, cutoff.UTC(), batch)
		if res.Error != nil {
			return total, fmt.Errorf("prune expired requests: %w", mapErr(res.Error))
		}
		total += res.RowsAffected
		if res.RowsAffected < int64(batch) {
			return total, nil
		}
		if rest > 0 {
			t := time.NewTimer(time.Duration(float64(time.Since(began)) * rest))
			select {
			case <-ctx.Done():
				t.Stop()
				return total, fmt.Errorf("prune expired requests: %w", ctx.Err())
			case <-t.C:
			}
		}
	}
}
