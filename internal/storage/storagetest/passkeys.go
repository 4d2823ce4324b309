package storagetest

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

func passkey(id, userID string, credID byte, created time.Time) models.WebAuthnCredential {
	return models.WebAuthnCredential{
		ID: id, UserID: userID, Name: "key " + id, CredentialID: []byte{credID, 1, 2, 3},
		PublicKey: []byte{0xa5, credID}, AttestationType: "none", Transports: []string{"usb", "internal"},
		AAGUID: bytes.Repeat([]byte{credID}, 16), SignCount: 5, BackupEligible: true, UserVerified: true,
		CreatedAt: created,
	}
}

func testPasskeys(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	a1 := passkey("p1", "u1", 1, now)
	a2 := passkey("p2", "u1", 2, now.Add(time.Minute))
	b1 := passkey("p3", "u2", 3, now)
	for _, c := range []models.WebAuthnCredential{a2, a1, b1} {
		if err := s.CreateWebAuthnCredential(ctx, c); err != nil {
			t.Fatalf("CreateWebAuthnCredential(%s): %v", c.ID, err)
		}
	}
	dup := passkey("p4", "u2", 1, now)
	wantErr(t, "CreateWebAuthnCredential(same credential id, other user)", s.CreateWebAuthnCredential(ctx, dup), storage.ErrConflict)

	got, err := s.WebAuthnCredentials(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "p1" || got[1].ID != "p2" {
		t.Fatalf("WebAuthnCredentials(u1): got %+v, want p1, p2", got)
	}
	g := got[0]
	if !bytes.Equal(g.CredentialID, a1.CredentialID) || !bytes.Equal(g.PublicKey, a1.PublicKey) || !bytes.Equal(g.AAGUID, a1.AAGUID) ||
		g.SignCount != 5 || !g.BackupEligible || g.BackupState || !g.UserVerified || g.Passwordless || g.Name != "key p1" ||
		len(g.Transports) != 2 || g.Transports[1] != "internal" || !g.CreatedAt.Equal(now) || g.LastUsedAt != nil {
		t.Errorf("stored passkey: got %+v, want %+v", g, a1)
	}
	if n, err := s.CountWebAuthnCredentials(ctx, "u1"); err != nil || n != 2 {
		t.Errorf("CountWebAuthnCredentials(u1): got %d, %v, want 2", n, err)
	}
	byID, err := s.WebAuthnCredentialByCredentialID(ctx, b1.CredentialID)
	if err != nil || byID.ID != "p3" || byID.UserID != "u2" {
		t.Errorf("WebAuthnCredentialByCredentialID: got %+v, %v, want p3 of u2", byID, err)
	}
	_, err = s.WebAuthnCredentialByCredentialID(ctx, []byte{9, 9})
	wantErr(t, "WebAuthnCredentialByCredentialID(unknown)", err, storage.ErrNotFound)

	// A user changes only their own passkeys.
	wantErr(t, "RenameWebAuthnCredential(other user's)", s.RenameWebAuthnCredential(ctx, "u1", "p3", "mine"), storage.ErrNotFound)
	wantErr(t, "SetWebAuthnPasswordless(other user's)", s.SetWebAuthnPasswordless(ctx, "u1", "p3", true), storage.ErrNotFound)
	wantErr(t, "DeleteWebAuthnCredential(other user's)", s.DeleteWebAuthnCredential(ctx, "u1", "p3"), storage.ErrNotFound)
	if err := s.RenameWebAuthnCredential(ctx, "u1", "p1", "YubiKey"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetWebAuthnPasswordless(ctx, "u1", "p1", true); err != nil {
		t.Fatal(err)
	}
	got, _ = s.WebAuthnCredentials(ctx, "u1")
	if got[0].Name != "YubiKey" || !got[0].Passwordless {
		t.Errorf("after rename and passwordless: got %+v", got[0])
	}
	if b, _ := s.WebAuthnCredentialByCredentialID(ctx, b1.CredentialID); b.Name != "key p3" || b.Passwordless {
		t.Errorf("bob's passkey changed: %+v", b)
	}

	if err := s.DeleteWebAuthnCredential(ctx, "u1", "p2"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteWebAuthnCredential(again)", s.DeleteWebAuthnCredential(ctx, "u1", "p2"), storage.ErrNotFound)
	if n, _ := s.CountWebAuthnCredentials(ctx, "u1"); n != 1 {
		t.Errorf("after delete: got %d passkeys, want 1", n)
	}

	// Removing every passkey (an MFA reset) leaves other users' alone.
	if err := s.CreateWebAuthnCeremony(ctx, ceremony("c-u1", "u1", now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteUserWebAuthnCredentials(ctx, "u1")
	if err != nil || n != 1 {
		t.Fatalf("DeleteUserWebAuthnCredentials(u1): got %d, %v, want 1", n, err)
	}
	if n := count(t, s, &models.WebAuthnCeremony{}, "user_id = ?", "u1"); n != 0 {
		t.Errorf("ceremonies of u1 after the reset: got %d, want 0", n)
	}
	if n, _ := s.CountWebAuthnCredentials(ctx, "u2"); n != 1 {
		t.Errorf("bob's passkeys after alice's reset: got %d, want 1", n)
	}
	// Deleting a user deletes their passkeys.
	if err := s.DeleteUser(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, &models.WebAuthnCredential{}, "user_id = ?", "u2"); n != 0 {
		t.Errorf("passkeys of a deleted user: got %d, want 0", n)
	}
}

func testPasskeySignCount(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	if err := s.CreateWebAuthnCredential(ctx, passkey("p1", "u1", 1, now)); err != nil {
		t.Fatal(err)
	}
	use := func(n uint32) error {
		return s.RecordWebAuthnUse(ctx, "p1", storage.WebAuthnUse{SignCount: n, BackupState: true, At: now.Add(time.Hour)})
	}
	for _, n := range []uint32{5, 4, 0} {
		wantErr(t, "RecordWebAuthnUse(not above 5)", use(n), storage.ErrSignCount)
	}
	if err := use(6); err != nil {
		t.Fatalf("RecordWebAuthnUse(6): %v", err)
	}
	got, _ := s.WebAuthnCredentialByCredentialID(ctx, []byte{1, 1, 2, 3})
	if got.SignCount != 6 || !got.BackupState || got.LastUsedAt == nil || !got.LastUsedAt.Equal(now.Add(time.Hour)) {
		t.Errorf("after a use: got %+v", got)
	}
	wantErr(t, "RecordWebAuthnUse(6 again)", use(6), storage.ErrSignCount)
	wantErr(t, "RecordWebAuthnUse(unknown)", s.RecordWebAuthnUse(ctx, "nope", storage.WebAuthnUse{SignCount: 9, At: now}), storage.ErrNotFound)

	// An authenticator without a counter reports 0 every time.
	zero := passkey("p2", "u1", 2, now)
	zero.SignCount = 0
	if err := s.CreateWebAuthnCredential(ctx, zero); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.RecordWebAuthnUse(ctx, "p2", storage.WebAuthnUse{SignCount: 0, At: now}); err != nil {
			t.Fatalf("RecordWebAuthnUse(counterless): %v", err)
		}
	}

	// Parallel uses with one counter value: exactly one passes.
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			err := use(10)
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, storage.ErrSignCount):
				t.Errorf("parallel RecordWebAuthnUse: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("parallel uses of counter 10: %d passed, want 1", ok.Load())
	}
}

func ceremony(idHash, userID string, expires time.Time) models.WebAuthnCeremony {
	return models.WebAuthnCeremony{IDHash: idHash, Purpose: "register", Binding: "b-" + idHash, UserID: userID, Data: []byte(`{"challenge":"x"}`), ExpiresAt: expires, CreatedAt: now}
}

func testPasskeyCeremonies(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	live := ceremony("c1", "u1", now.Add(time.Minute))
	if err := s.CreateWebAuthnCeremony(ctx, live); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CreateWebAuthnCeremony(same id)", s.CreateWebAuthnCeremony(ctx, live), storage.ErrConflict)
	got, err := s.TakeWebAuthnCeremony(ctx, "c1", now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Purpose != "register" || got.Binding != "b-c1" || got.UserID != "u1" || string(got.Data) != `{"challenge":"x"}` || !got.ExpiresAt.Equal(live.ExpiresAt) {
		t.Errorf("TakeWebAuthnCeremony: got %+v, want %+v", got, live)
	}
	_, err = s.TakeWebAuthnCeremony(ctx, "c1", now)
	wantErr(t, "TakeWebAuthnCeremony(twice)", err, storage.ErrNotFound)

	// Expired: refused, and gone.
	if err := s.CreateWebAuthnCeremony(ctx, ceremony("c2", "u1", now)); err != nil {
		t.Fatal(err)
	}
	_, err = s.TakeWebAuthnCeremony(ctx, "c2", now)
	wantErr(t, "TakeWebAuthnCeremony(expired)", err, storage.ErrNotFound)
	if n := count(t, s, &models.WebAuthnCeremony{}, "id_hash = ?", "c2"); n != 0 {
		t.Errorf("expired ceremony left behind: %d rows", n)
	}

	// Parallel takes of one ceremony: exactly one wins.
	if err := s.CreateWebAuthnCeremony(ctx, ceremony("c3", "u1", now.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	var won atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := s.TakeWebAuthnCeremony(ctx, "c3", now)
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, storage.ErrNotFound):
				t.Errorf("parallel TakeWebAuthnCeremony: %v", err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Errorf("parallel takes: %d won, want 1", won.Load())
	}

	// The janitor removes expired ceremonies only.
	for _, c := range []models.WebAuthnCeremony{ceremony("c4", "u1", now.Add(-time.Second)), ceremony("c5", "u1", now.Add(time.Minute))} {
		if err := s.CreateWebAuthnCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteExpiredWebAuthnCeremonies(ctx, now); err != nil || n != 1 {
		t.Errorf("DeleteExpiredWebAuthnCeremonies: got %d, %v, want 1", n, err)
	}
	if err := s.DeleteWebAuthnCeremony(ctx, "c5"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, &models.WebAuthnCeremony{}, "1 = 1"); n != 0 {
		t.Errorf("ceremonies left: %d", n)
	}
}
