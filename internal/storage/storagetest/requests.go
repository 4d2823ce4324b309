package storagetest

import (
	"context"
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
	n, err := s.PruneExpiredRequests(ctx, now, 3)
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
	if n, err := s.PruneExpiredRequests(ctx, now, 3); err != nil || n != 0 {
		t.Errorf("second prune: got %d, %v, want 0", n, err)
	}
}
