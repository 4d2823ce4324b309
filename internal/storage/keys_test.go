package storage_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestSigningKeys(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := storage.New(db)
		t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
		key := func(id string, at time.Time) models.SigningKey {
			return models.SigningKey{ID: id, Algorithm: "RS256", PublicPEM: "pem-" + id, PrivateSealed: []byte("sealed-" + id), CreatedAt: at}
		}

		// Replicas starting at once store exactly one first key.
		var wg sync.WaitGroup
		var mu sync.Mutex
		made := 0
		for i := range 6 {
			wg.Go(func() {
				err := s.EnsureSigningKey(ctx, func() (models.SigningKey, error) {
					mu.Lock()
					defer mu.Unlock()
					made++
					return key("first-"+string(rune('a'+i)), t0), nil
				})
				if err != nil {
					t.Errorf("EnsureSigningKey: %v", err)
				}
			})
		}
		wg.Wait()
		all, err := s.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if made != 1 || len(all) != 1 || !all[0].Current {
			t.Fatalf("after concurrent EnsureSigningKey: made %d keys, stored %+v; want one current key", made, all)
		}
		first := all[0].ID
		if all[0].PrivateSealed != nil {
			t.Errorf("SigningKeys: got private part %q, want none", all[0].PrivateSealed)
		}

		rotatedAt, expires := t0.Add(time.Minute), t0.Add(time.Hour)
		if err := s.RotateSigningKey(ctx, key("second", rotatedAt), rotatedAt, expires, "cli:ada"); err != nil {
			t.Fatal(err)
		}
		var entries []models.AuditEntry
		if err := db.Where("action = ?", storage.AuditSigningKeyRotate).Find(&entries).Error; err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Actor != "cli:ada" || entries[0].Target != "second" {
			t.Errorf("audit: got %+v, want one rotation of second by cli:ada", entries)
		}
		for _, tc := range []struct {
			at   time.Time
			want []string
		}{
			{expires.Add(-time.Second), []string{"second", first}},
			{expires.Add(time.Second), []string{"second"}},
		} {
			rows, err := s.PublishedSigningKeys(ctx, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range rows {
				ids = append(ids, r.ID)
				if string(r.PrivateSealed) != "sealed-"+r.ID {
					t.Errorf("PublishedSigningKeys(%v): key %s has private part %q, want its sealed one", tc.at, r.ID, r.PrivateSealed)
				}
				if r.Current != (r.ID == "second") {
					t.Errorf("PublishedSigningKeys(%v): key %s current=%v", tc.at, r.ID, r.Current)
				}
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("PublishedSigningKeys(%v): got %v, want %v", tc.at, ids, tc.want)
			}
		}
	})
}
