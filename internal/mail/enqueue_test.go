package mail

import (
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/testdb"
)

// TestEnqueueIsDueFromTheCallersClock: a message is due from the time the
// caller passes (its own clock), not the machine's: the sender, on its
// clock, leaves it until then.
func TestEnqueueIsDueFromTheCallersClock(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db, NewFileTransport(t.TempDir()), 5)
		f.enqueueAt(t, tokenMessage("TOKEN-later"), f.clock.Now().Add(time.Hour))
		if got := f.deliver(t); got != 0 {
			t.Fatalf("delivered %d messages due in an hour, want 0", got)
		}
		f.clock.Advance(time.Hour)
		if got := f.deliver(t); got != 1 {
			t.Fatalf("delivered %d once due, want 1", got)
		}
	})
}
