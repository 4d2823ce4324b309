package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// testOAuthRequests: the token hot path's insert and read (plain SQL past
// gorm) store and return every column as gorm's own statements do, on the
// pool and inside a transaction; a missing row is ErrNotFound, a repeated
// signature ErrConflict; a row gorm wrote reads back the same.
func testOAuthRequests(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	exp := now.Add(time.Hour)
	in := models.OAuthRequest{Kind: "access_token", Signature: "sig-1", RequestID: "req-1", AccessSignature: "acc",
		ClientID: "c1", Subject: "u1", RequestedAt: now, ExpiresAt: &exp, Active: true, Origin: "password+totp", Data: []byte(`{"a":1}`)}
	if err := s.InsertOAuthRequest(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := s.OAuthRequest(ctx, "access_token", "sig-1", false)
	if err != nil {
		t.Fatal(err)
	}
	same := func(what string, got models.OAuthRequest, want models.OAuthRequest) {
		t.Helper()
		if got.Kind != want.Kind || got.Signature != want.Signature || got.RequestID != want.RequestID ||
			got.AccessSignature != want.AccessSignature || got.ClientID != want.ClientID || got.Subject != want.Subject ||
			!got.RequestedAt.Equal(want.RequestedAt) || got.Active != want.Active || got.Origin != want.Origin ||
			string(got.Data) != string(want.Data) || (got.ExpiresAt == nil) != (want.ExpiresAt == nil) ||
			(got.ExpiresAt != nil && !got.ExpiresAt.Equal(*want.ExpiresAt)) {
			t.Errorf("%s: got %+v, want %+v", what, got, want)
		}
	}
	same("read back", got, in)
	// gorm's own reading of the same row agrees, and so does the pruning
	// query's comparison of expires_at (the stored format).
	var viaGorm models.OAuthRequest
	if err := s.Conn(ctx).Where("kind = ? AND signature = ?", "access_token", "sig-1").Take(&viaGorm).Error; err != nil {
		t.Fatal(err)
	}
	same("gorm's read", viaGorm, in)
	if n := count(t, s, &models.OAuthRequest{}, "expires_at < ?", exp.Add(time.Second)); n != 1 {
		t.Errorf("rows expiring before exp+1s: %d, want 1", n)
	}
	if n := count(t, s, &models.OAuthRequest{}, "expires_at < ?", exp.Add(-time.Second)); n != 0 {
		t.Errorf("rows expiring before exp-1s: %d, want 0", n)
	}

	// No expiry, written by gorm, read by the hot path.
	noExp := models.OAuthRequest{Kind: "pkce", Signature: "sig-2", RequestID: "req-2", ClientID: "c1", RequestedAt: now, Active: false, Data: []byte(`{}`)}
	insert(t, s, &noExp)
	got, err = s.OAuthRequest(ctx, "pkce", "sig-2", false)
	if err != nil {
		t.Fatal(err)
	}
	same("no expiry", got, noExp)

	if _, err := s.OAuthRequest(ctx, "access_token", "nope", false); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing row: %v, want ErrNotFound", err)
	}
	if err := s.InsertOAuthRequest(ctx, in); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("same signature twice: %v, want ErrConflict", err)
	}

	// Several rows in one statement, each read back as written; with one
	// signature already stored, none of them is.
	many := []models.OAuthRequest{in, noExp, in}
	many[0].Kind, many[0].Signature = "authorize_code", "sig-m"
	many[1].Kind, many[1].Signature = "pkce", "sig-m"
	many[2].Kind, many[2].Signature, many[2].ExpiresAt = "oidc", "sig-m", nil
	if err := s.InsertOAuthRequests(ctx, many...); err != nil {
		t.Fatal(err)
	}
	for _, want := range many {
		got, err := s.OAuthRequest(ctx, want.Kind, want.Signature, false)
		if err != nil {
			t.Fatalf("%s: %v", want.Kind, err)
		}
		same("several at once, "+want.Kind, got, want)
	}
	clash := []models.OAuthRequest{in, in}
	clash[0].Signature = "sig-fresh"
	if err := s.InsertOAuthRequests(ctx, clash...); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("several with a stored signature: %v, want ErrConflict", err)
	}
	if _, err := s.OAuthRequest(ctx, in.Kind, "sig-fresh", false); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the other row of a refused insert: %v, want ErrNotFound", err)
	}

	// Inside a transaction: the row written there is read there (locked),
	// and gone after a rollback.
	errRollback := errors.New("roll back")
	err = s.InTx(ctx, func(ctx context.Context) error {
		code := in
		code.Kind, code.Signature = "authorize_code", "sig-3"
		if err := s.InsertOAuthRequest(ctx, code); err != nil {
			return err
		}
		if _, err := s.OAuthRequest(ctx, "authorize_code", "sig-3", true); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("transaction: %v", err)
	}
	if _, err := s.OAuthRequest(ctx, "authorize_code", "sig-3", false); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after rollback: %v, want ErrNotFound", err)
	}
}
