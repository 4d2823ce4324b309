package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

func appPassword(id, userID, name string, created time.Time) models.AppPassword {
	return models.AppPassword{ID: id, UserID: userID, Name: name, Hash: "hash-" + id, CreatedAt: created, Scopes: []string{"api"}}
}

func apIDs(ps []models.AppPassword) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func testAppPasswords(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	exp := now.Add(time.Hour)
	past := now.Add(-time.Minute)
	rows := []models.AppPassword{
		appPassword("a1", "u1", "loader", now.Add(-3*time.Hour)),
		appPassword("a2", "u1", "mail", now.Add(-2*time.Hour)),
		appPassword("a3", "u1", "old", now.Add(-time.Hour)),
		appPassword("b1", "u2", "loader", now),
	}
	rows[0].ClientID, rows[0].ExpiresAt = "c1", &exp
	rows[2].ExpiresAt = &past
	for i := range rows {
		if err := s.CreateAppPassword(ctx, &rows[i]); err != nil {
			t.Fatalf("CreateAppPassword(%s): %v", rows[i].ID, err)
		}
	}
	dup := appPassword("a9", "u1", "dup", now)
	dup.Hash = rows[1].Hash
	wantErr(t, "CreateAppPassword(same hash)", s.CreateAppPassword(ctx, &dup), storage.ErrConflict)

	got, err := s.AppPasswordByHash(ctx, "hash-a1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "a1" || got.UserID != "u1" || got.ClientID != "c1" || !slices.Equal(got.Scopes, []string{"api"}) ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || !got.CreatedAt.Equal(rows[0].CreatedAt) {
		t.Errorf("AppPasswordByHash: got %+v, want the stored a1", got)
	}
	_, err = s.AppPasswordByHash(ctx, "nope")
	wantErr(t, "AppPasswordByHash(unknown)", err, storage.ErrNotFound)
	if got, err := s.AppPasswordByID(ctx, "a2"); err != nil || got.Name != "mail" {
		t.Errorf("AppPasswordByID(a2): got %+v, %v", got, err)
	}
	_, err = s.AppPasswordByID(ctx, "zz")
	wantErr(t, "AppPasswordByID(unknown)", err, storage.ErrNotFound)

	list, err := s.ListAppPasswords(ctx, "u1", false)
	if err != nil {
		t.Fatal(err)
	}
	if ids := apIDs(list); !slices.Equal(ids, []string{"a3", "a2", "a1"}) {
		t.Errorf("ListAppPasswords(u1): got %v, want newest first [a3 a2 a1]", ids)
	}
	active, err := s.ActiveAppPasswords(ctx, "u1", now)
	if err != nil {
		t.Fatal(err)
	}
	if ids := apIDs(active); !slices.Equal(ids, []string{"a2", "a1"}) {
		t.Errorf("ActiveAppPasswords(u1): got %v, want [a2 a1] (a3 expired)", ids)
	}

	// Revoking: only the owner's, once; again is no error.
	_, err = s.RevokeAppPassword(ctx, "u2", "a2", now)
	wantErr(t, "RevokeAppPassword(another user's)", err, storage.ErrNotFound)
	if revoked, err := s.RevokeAppPassword(ctx, "u1", "a2", now); err != nil || !revoked {
		t.Fatalf("RevokeAppPassword(a2): got %t, %v; want true, nil", revoked, err)
	}
	if revoked, err := s.RevokeAppPassword(ctx, "u1", "a2", now.Add(time.Hour)); err != nil || revoked {
		t.Fatalf("RevokeAppPassword(a2 again): got %t, %v; want false, nil", revoked, err)
	}
	if got, _ := s.AppPasswordByID(ctx, "a2"); got.RevokedAt == nil || !got.RevokedAt.Equal(now) {
		t.Errorf("a2 revoked at: got %v, want %v (the first revocation)", got.RevokedAt, now)
	}
	if list, _ := s.ListAppPasswords(ctx, "u1", false); !slices.Equal(apIDs(list), []string{"a3", "a1"}) {
		t.Errorf("ListAppPasswords(u1) after revoke: got %v, want [a3 a1]", apIDs(list))
	}
	if list, _ := s.ListAppPasswords(ctx, "u1", true); !slices.Equal(apIDs(list), []string{"a3", "a2", "a1"}) {
		t.Errorf("ListAppPasswords(u1, with revoked): got %v, want [a3 a2 a1]", apIDs(list))
	}

	// Last use.
	used := now.Add(5 * time.Minute)
	if err := s.TouchAppPassword(ctx, "a1", used, "c1", "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AppPasswordByID(ctx, "a1"); got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) || got.LastUsedClient != "c1" || got.LastUsedIP != "192.0.2.7" {
		t.Errorf("after TouchAppPassword: got %v %q %q, want %v c1 192.0.2.7", got.LastUsedAt, got.LastUsedClient, got.LastUsedIP, used)
	}

	// Revoking all: every one of the user's not yet revoked, no one else's.
	n, err := s.RevokeUserAppPasswords(ctx, "u1", now.Add(time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("RevokeUserAppPasswords(u1): got %d, %v; want 2, nil", n, err)
	}
	if active, _ := s.ActiveAppPasswords(ctx, "u1", now.Add(-24*time.Hour)); len(active) != 0 {
		t.Errorf("active app passwords of u1 after revoking all: %v", apIDs(active))
	}
	if active, _ := s.ActiveAppPasswords(ctx, "u2", now); !slices.Equal(apIDs(active), []string{"b1"}) {
		t.Errorf("active app passwords of u2: got %v, want [b1]", apIDs(active))
	}
	if got, _ := s.AppPasswordByID(ctx, "a2"); !got.RevokedAt.Equal(now) {
		t.Errorf("revoking all moved an earlier revocation: got %v, want %v", got.RevokedAt, now)
	}

	// The history names the app password a password grant used.
	if err := s.RecordLogin(ctx, &models.LoginEvent{Time: now, UserID: "u2", Method: "app_password", Result: "Success", AppPassword: "loader"}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, &models.LoginEvent{}, "app_password = ?", "loader"); n != 1 {
		t.Errorf("login events naming the app password: got %d, want 1", n)
	}
}

// Deleting a client revokes the app passwords bound to it (they can never
// be used again); the others stay.
func testAppPasswordCascades(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	for _, id := range []string{"c1", "c2"} {
		c := client(id, "Client "+id)
		if err := s.CreateClient(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct{ id, client string }{{"a1", "c1"}, {"a2", "c2"}, {"a3", ""}} {
		row := appPassword(p.id, "u1", p.id, now)
		row.ClientID = p.client
		if err := s.CreateAppPassword(ctx, &row); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := s.ClientByID(ctx, "c1"); err != nil || c.LegacyCredentials != "token" {
		t.Errorf("a new client's legacy credentials: got %q, %v; want token", c.LegacyCredentials, err)
	}
	if err := s.DeleteClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	active, err := s.ActiveAppPasswords(ctx, "u1", now)
	if err != nil {
		t.Fatal(err)
	}
	if ids := apIDs(active); !slices.Equal(ids, []string{"a2", "a3"}) && !slices.Equal(ids, []string{"a3", "a2"}) {
		t.Errorf("active app passwords after deleting c1: got %v, want a2 and a3", ids)
	}
	if n := count(t, s, &models.AppPassword{}, "user_id = ?", "u1"); n != 3 {
		t.Errorf("app password rows after deleting c1: got %d, want 3 (revoked, not deleted)", n)
	}
}

// Disabling a user revokes their app passwords with the rest of their
// access; enabling them again brings none back.
func testAppPasswordsEndWithDisable(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, user("u1", "alice"))
	mustCreateUser(t, s, user("u2", "bob"))
	for _, p := range []struct{ id, user string }{{"a1", "u1"}, {"a2", "u1"}, {"b1", "u2"}} {
		row := appPassword(p.id, p.user, p.id, now)
		if err := s.CreateAppPassword(ctx, &row); err != nil {
			t.Fatal(err)
		}
	}
	yes, no := true, false
	if err := s.UpdateUser(ctx, "u1", storage.UserChange{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateUser(ctx, "u1", storage.UserChange{Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	if active, _ := s.ActiveAppPasswords(ctx, "u1", now); len(active) != 0 {
		t.Errorf("active app passwords of a disabled (then enabled) user: got %v, want none", apIDs(active))
	}
	if active, _ := s.ActiveAppPasswords(ctx, "u2", now); !slices.Equal(apIDs(active), []string{"b1"}) {
		t.Errorf("active app passwords of another user: got %v, want [b1]", apIDs(active))
	}
}
