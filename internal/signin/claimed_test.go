package signin_test

import (
	"context"
	"testing"

	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// refuse is a Verifier that refuses everything, as a bad passkey would.
type refuse struct{}

func (refuse) Cost() int { return 1 }
func (refuse) Verify(context.Context, models.User, string, signin.Check) (string, error) {
	return signin.ResultPasskeyInvalid, nil
}

// TestClaimedUserIDIsCountedLikeAUsername plays an attacker who sends
// passkey assertions with invented user handles: a claimed user id that
// no user has is reserved and locked like an unknown username (per
// source), at the cost of a failure, so that inventing handles buys no
// unlimited attempts; alice's own counter from another source is not
// touched.
func TestClaimedUserIDIsCountedLikeAUsername(t *testing.T) {
	s := newSiteWith(t, testdb.Kinds[0], password.Params{Time: 1, Memory: 8 * 1024, Threads: 1}, 3)
	ctx := context.Background()
	attempt := func(userID, source string) signin.Outcome {
		t.Helper()
		o, err := s.accounts.Attempt(ctx, signin.Request{
			Channel: signin.PasskeyLogin, Subject: signin.Subject{UserID: userID, Claimed: true},
			Verifier: refuse{}, SourceIP: source,
		})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	s.hasher.reset()
	locked := func() int64 {
		t.Helper()
		var n int64
		if err := s.db.Table("signin_attempts").Where("source = ? AND locked_until IS NOT NULL", "127.0.0.2").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := range 4 {
		// An unknown user's lock answers like the unknown user itself.
		if o := attempt("no-such-user", "127.0.0.2"); o.Result != signin.ResultUnknownUser {
			t.Fatalf("attempt %d for an invented handle: got %q, want %q", i+1, o.Result, signin.ResultUnknownUser)
		}
		want := int64(0)
		if i+1 >= 3 { // the third failure locks the invented handle from this source
			want = 1
		}
		if locked() != want {
			t.Fatalf("after attempt %d: %d locked counters from 127.0.0.2, want %d", i+1, locked(), want)
		}
	}
	if got := s.hasher.total(); got != 4 {
		t.Errorf("four refusals cost %d argon2id verifications, want 4", got)
	}
	if got := s.hasher.verified(); got != 0 {
		t.Errorf("an invented handle reached a stored hash %d times", got)
	}
	// alice's handle from another source: her own count, refused by the
	// verifier, not locked.
	if o := attempt(s.alice.ID, "127.0.0.3"); o.Result != signin.ResultPasskeyInvalid || o.User.ID != s.alice.ID {
		t.Fatalf("alice's handle: got %q for %q, want %q", o.Result, o.User.ID, signin.ResultPasskeyInvalid)
	}
	// Not claimed (a signed-in session whose user is gone): priced, not
	// counted, as before.
	o, err := s.accounts.Attempt(ctx, signin.Request{Channel: signin.PasskeyLogin, Subject: signin.Subject{UserID: "gone"}, Verifier: refuse{}, SourceIP: "127.0.0.2"})
	if err != nil || o.Result != signin.ResultUnknownUser {
		t.Fatalf("unclaimed unknown id: got %q, %v", o.Result, err)
	}
}
