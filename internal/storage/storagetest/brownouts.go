package storagetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

func brownout(clientID string, start time.Time, d time.Duration) *models.ClientBrownout {
	return &models.ClientBrownout{ClientID: clientID, StartsAt: start, EndsAt: start.Add(d), CreatedBy: "cli:ops", CreatedAt: now}
}

func testBrownouts(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	for _, id := range []string{"c1", "c2"} {
		c := client(id, id)
		if err := s.CreateClient(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	late := brownout("c1", now.Add(72*time.Hour), time.Hour)
	early := brownout("c1", now.Add(24*time.Hour), 2*time.Hour)
	past := brownout("c1", now.Add(-48*time.Hour), time.Hour)
	other := brownout("c2", now.Add(24*time.Hour), time.Hour)
	for _, b := range []*models.ClientBrownout{late, early, past, other} {
		if err := s.CreateBrownout(ctx, b); err != nil {
			t.Fatal(err)
		}
		if b.ID == 0 {
			t.Fatalf("CreateBrownout left ID 0")
		}
	}

	ids := func(list []models.ClientBrownout) []uint64 {
		var out []uint64
		for _, b := range list {
			out = append(out, b.ID)
		}
		return out
	}
	all, err := s.ClientBrownouts(ctx, "c1", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(all), []uint64{past.ID, early.ID, late.ID}; !slices.Equal(got, want) {
		t.Errorf("ClientBrownouts(c1, all): got %v, want %v (by start)", got, want)
	}
	if b := all[1]; !b.StartsAt.Equal(early.StartsAt) || !b.EndsAt.Equal(early.EndsAt) || b.CreatedBy != "cli:ops" || b.ClientID != "c1" {
		t.Errorf("ClientBrownouts: got %+v, want %+v", b, early)
	}
	upcoming, err := s.ClientBrownouts(ctx, "c1", now)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(upcoming), []uint64{early.ID, late.ID}; !slices.Equal(got, want) {
		t.Errorf("ClientBrownouts(c1, ending after now): got %v, want %v", got, want)
	}
	// A window that ends exactly at the moment asked about is over.
	atEnd, _ := s.ClientBrownouts(ctx, "c1", early.EndsAt)
	if got, want := ids(atEnd), []uint64{late.ID}; !slices.Equal(got, want) {
		t.Errorf("ClientBrownouts(c1, at the end of the first): got %v, want %v", got, want)
	}
	every, err := s.BrownoutsEndingAfter(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(every), []uint64{early.ID, late.ID, other.ID}; !slices.Equal(got, want) {
		t.Errorf("BrownoutsEndingAfter(now): got %v, want %v", got, want)
	}

	// A brownout is removed only through its own client.
	wantErr(t, "DeleteBrownout(other client's)", s.DeleteBrownout(ctx, "c2", early.ID), storage.ErrNotFound)
	if err := s.DeleteBrownout(ctx, "c1", early.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteBrownout(again)", s.DeleteBrownout(ctx, "c1", early.ID), storage.ErrNotFound)

	// A rolled-back transaction leaves no brownout behind.
	err = s.InTx(ctx, func(ctx context.Context) error {
		if err := s.CreateBrownout(ctx, brownout("c2", now.Add(100*time.Hour), time.Hour)); err != nil {
			return err
		}
		return storage.ErrConflict
	})
	wantErr(t, "InTx", err, storage.ErrConflict)
	if n := count(t, s, &models.ClientBrownout{}, "client_id = ?", "c2"); n != 1 {
		t.Errorf("brownouts of c2 after a rollback: got %d, want 1", n)
	}

	// Deleting a client takes its brownouts with it, and only its own.
	if err := s.DeleteClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, &models.ClientBrownout{}, "client_id = ?", "c1"); n != 0 {
		t.Errorf("brownouts of a deleted client: got %d, want 0", n)
	}
	if n := count(t, s, &models.ClientBrownout{}, "client_id = ?", "c2"); n != 1 {
		t.Errorf("brownouts of the other client: got %d, want 1", n)
	}
}

// testClientMigrationURL: the client's migration URL is stored and read
// back like every other column.
func testClientMigrationURL(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	c := client("c1", "One")
	c.LegacyMigrationURL = "https://wiki.example.com/leave-the-password-grant"
	if err := s.CreateClient(ctx, &c); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClientByID(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.LegacyMigrationURL != c.LegacyMigrationURL {
		t.Errorf("LegacyMigrationURL: got %q, want %q", got.LegacyMigrationURL, c.LegacyMigrationURL)
	}
	plain := client("c2", "Two")
	if err := s.CreateClient(ctx, &plain); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClientByID(ctx, "c2"); got.LegacyMigrationURL != "" {
		t.Errorf("LegacyMigrationURL of a client without one: got %q, want empty", got.LegacyMigrationURL)
	}
}
