package storagetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

func emailToken(hash, userID, purpose string, created time.Time) models.EmailToken {
	return models.EmailToken{Hash: hash, UserID: userID, Purpose: purpose, Email: userID + "@example.com",
		SourceIP: "192.0.2.1", CreatedAt: created, ExpiresAt: created.Add(time.Hour)}
}

func testEmailTokens(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	rows := []models.EmailToken{
		emailToken("h1", "u1", "reset", now.Add(-2*time.Hour)),
		emailToken("h2", "u1", "reset", now.Add(-30*time.Minute)),
		emailToken("h3", "u1", "reset", now.Add(-time.Minute)),
		emailToken("h4", "u1", "verify", now.Add(-time.Minute)),
		emailToken("h5", "u2", "reset", now.Add(-time.Minute)),
	}
	for i := range rows {
		if err := s.CreateEmailToken(ctx, &rows[i]); err != nil {
			t.Fatalf("CreateEmailToken(%s): %v", rows[i].Hash, err)
		}
	}
	dup := emailToken("h1", "u2", "verify", now)
	wantErr(t, "CreateEmailToken(same hash)", s.CreateEmailToken(ctx, &dup), storage.ErrConflict)

	if n, err := s.EmailTokensSince(ctx, "u1", now.Add(-time.Hour), "reset"); err != nil || n != 2 {
		t.Errorf("EmailTokensSince(u1, 1h, reset): got %d, %v; want 2", n, err)
	}
	if n, err := s.EmailTokensSince(ctx, "u1", now.Add(-time.Hour)); err != nil || n != 3 {
		t.Errorf("EmailTokensSince(u1, 1h): got %d, %v; want 3 (every purpose)", n, err)
	}

	// h1 expired an hour ago; h2 is live.
	_, err := s.EmailToken(ctx, "h1", "reset", now)
	wantErr(t, "EmailToken(expired)", err, storage.ErrEmailTokenExpired)
	_, err = s.UseEmailToken(ctx, "h1", "reset", now)
	wantErr(t, "UseEmailToken(expired)", err, storage.ErrEmailTokenExpired)
	_, err = s.UseEmailToken(ctx, "h4", "reset", now)
	wantErr(t, "UseEmailToken(other purpose)", err, storage.ErrNotFound)
	_, err = s.UseEmailToken(ctx, "nope", "reset", now)
	wantErr(t, "UseEmailToken(unknown)", err, storage.ErrNotFound)

	got, err := s.UseEmailToken(ctx, "h2", "reset", now)
	if err != nil || got.UserID != "u1" || got.Email != "u1@example.com" || got.UsedAt == nil || !got.UsedAt.Equal(now) {
		t.Errorf("UseEmailToken(h2): got %+v, %v; want u1's link used at %v", got, err, now)
	}
	_, err = s.UseEmailToken(ctx, "h2", "reset", now)
	wantErr(t, "UseEmailToken(h2 again)", err, storage.ErrEmailTokenUsed)
	_, err = s.EmailToken(ctx, "h2", "reset", now)
	wantErr(t, "EmailToken(used)", err, storage.ErrEmailTokenUsed)

	// Used ones still count against the hourly limit.
	if n, err := s.EmailTokensSince(ctx, "u1", now.Add(-time.Hour), "reset"); err != nil || n != 2 {
		t.Errorf("EmailTokensSince after a use: got %d, %v; want 2", n, err)
	}

	if n, err := s.EndEmailTokens(ctx, "u1", "reset", now); err != nil || n != 2 { // h1 (expired, unused) and h3
		t.Errorf("EndEmailTokens(u1, reset): got %d, %v; want 2", n, err)
	}
	_, err = s.UseEmailToken(ctx, "h3", "reset", now)
	wantErr(t, "UseEmailToken(ended)", err, storage.ErrEmailTokenUsed)
	if _, err := s.EmailToken(ctx, "h4", "verify", now); err != nil {
		t.Errorf("EmailToken(h4, verify) after ending the resets: %v", err)
	}
	if _, err := s.EmailToken(ctx, "h5", "reset", now); err != nil {
		t.Errorf("bob's link after ending alice's: %v", err)
	}

	if n, err := s.PruneEmailTokens(ctx, now.Add(-30*time.Minute)); err != nil || n != 1 {
		t.Errorf("PruneEmailTokens: got %d, %v; want 1 (h1)", n, err)
	}

	if err := s.SetEmailVerified(ctx, "u1", "", true); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.UserByID(ctx, "u1"); !u.EmailVerified || u.Email != "alice@example.com" {
		t.Errorf("after SetEmailVerified(true): got %q verified=%t", u.Email, u.EmailVerified)
	}
	if err := s.SetEmailVerified(ctx, "u1", "new@example.com", true); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.UserByID(ctx, "u1"); !u.EmailVerified || u.Email != "new@example.com" {
		t.Errorf("after an email change: got %q verified=%t", u.Email, u.EmailVerified)
	}
	if u, _ := s.UserByID(ctx, "u2"); u.EmailVerified {
		t.Error("a new user is verified, want not")
	}
	wantErr(t, "SetEmailVerified(unknown)", s.SetEmailVerified(ctx, "zz", "", true), storage.ErrNotFound)

	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, &models.EmailToken{}, "user_id = ?", "u1"); n != 0 {
		t.Errorf("email links of a deleted user: got %d, want 0", n)
	}
}

// testEmailTokenUseConcurrent follows one link many times at once: one
// use wins.
func testEmailTokenUseConcurrent(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	row := emailToken("h1", "u1", "reset", now)
	if err := s.CreateEmailToken(ctx, &row); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.UseEmailToken(ctx, "h1", "reset", now.Add(time.Second)); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("concurrent uses of one link: %d succeeded, want 1", n)
	}
}
