package trustedips

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
)

// TestAddStampsWithTheClock: a new range is stamped by the Ranges' clock,
// like every other record of the services, not the machine's.
func TestAddStampsWithTheClock(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		at := time.Date(2031, 5, 6, 7, 8, 9, 123456000, time.UTC)
		r := New(storage.New(db), WithClock(func() time.Time { return at }))
		added, err := r.Add(context.Background(), "alice", "10.0.0.0/8", "office")
		if err != nil {
			t.Fatal(err)
		}
		if !added.CreatedAt.Equal(at) {
			t.Errorf("Add: created_at %v, want the clock's %v", added.CreatedAt, at)
		}
		list, err := r.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || !list[0].CreatedAt.Equal(at) {
			t.Errorf("List = %+v, want one range created at %v", list, at)
		}
	})
}
