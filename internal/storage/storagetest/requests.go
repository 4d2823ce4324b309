package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// testPruneExpiredRequests prunes more expired requests than one batch
// holds: every batch runs, live rows and rows without expiry stay.
func testPruneExpiredRequests(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	add := func(name string, expires *time.Time) {
		t.Helper()
		row := models.OAuthRequest{
			Kind: "access", Signature: name, RequestID: "req-" + name, ClientID: "c",
			RequestedAt: now, ExpiresAt: expires, Active: true, Data: []byte("{}"),
		}
		if err := s.Conn(ctx).Create(&row).Error; err != nil {
			t.Fatalf("add %s: %v", name, err)
		}
	}
	past, future := now.Add(-time.Minute), now.Add(time.Minute)
	for i := range 7 {
		add(fmt.Sprintf("expired-%d", i), &past)
	}
	add("live", &future)
	add("no-expiry", nil)
	// Paced as the janitor paces it: a rest after each full batch.
	n, err := s.PruneExpiredRequests(ctx, now, 3, storage.PruneRest)
	if err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Errorf("pruned %d, want 7", n)
	}
	var left []string
	if err := s.Conn(ctx).Model(&models.OAuthRequest{}).Order("signature").Pluck("signature", &left).Error; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(left) != "[live no-expiry]" {
		t.Errorf("left %v, want [live no-expiry]", left)
	}
	if n, err := s.PruneExpiredRequests(ctx, now, 3, 0); err != nil || n != 0 {
		t.Errorf("second prune: got %d, %v, want 0", n, err)
	}
}

// testPruneStopsWhileResting: a janitor stopped (its context cancelled)
// while resting between batches returns at once with what it pruned so
// far, and leaves the rest for its next run.
func testPruneStopsWhileResting(t *testing.T, s *storage.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	past := now.Add(-time.Minute)
	for i := range 7 {
		row := models.OAuthRequest{
			Kind: "access", Signature: fmt.Sprintf("expired-%d", i), RequestID: fmt.Sprint("req-", i), ClientID: "c",
			RequestedAt: now, ExpiresAt: &past, Active: true, Data: []byte("{}"),
		}
		if err := s.Conn(ctx).Create(&row).Error; err != nil {
			t.Fatal(err)
		}
	}
	left := func() int64 {
		var n int64
		if err := s.Conn(context.Background()).Model(&models.OAuthRequest{}).Count(&n).Error; err != nil {
			t.Error(err)
		}
		return n
	}
	// Cancel once the first batch is gone: the prune is then resting, for
	// a million times the batch's time.
	go func() {
		defer cancel()
		for left() > 4 {
			time.Sleep(5 * time.Millisecond)
		}
	}()
	n, err := s.PruneExpiredRequests(ctx, now, 3, 1e6)
	if !errors.Is(err, context.Canceled) || n != 3 {
		t.Fatalf("stopped while resting: pruned %d, %v; want 3 and the context's error", n, err)
	}
	if got := left(); got != 4 {
		t.Fatalf("%d rows left, want 4 for the next run", got)
	}
}
