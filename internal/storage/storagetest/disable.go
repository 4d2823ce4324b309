package storagetest

import (
	"context"
	"testing"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// testDisableUser: disabling a user (UpdateUser with Disabled) ends their
// sessions and OAuth requests in the same statement set, leaves other
// users' alone, and LockAdmins counts only administrators who are not
// disabled.
func testDisableUser(t *testing.T, s *storage.Store) {
	ctx := t.Context()
	a := user("u1", "ann")
	a.Admin = true
	b := user("u2", "ben")
	b.Admin = true
	mustCreateUser(t, s, a)
	mustCreateUser(t, s, b)
	insert(t, s, session("s1", "u1"), session("s2", "u2"), request("r1", "c1", "u1"), request("r2", "c1", "u2"))

	countAdmins := func() int {
		t.Helper()
		var n int
		if err := s.InTx(ctx, func(ctx context.Context) error {
			var err error
			n, err = s.LockAdmins(ctx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := countAdmins(); n != 2 {
		t.Fatalf("LockAdmins with two admins: got %d, want 2", n)
	}
	yes := true
	if err := s.UpdateUser(ctx, "u1", storage.UserChange{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	got, err := s.UserByID(ctx, "u1")
	if err != nil || !got.Disabled {
		t.Fatalf("after disabling: %+v %v", got, err)
	}
	if n := count(t, s, &models.LoginSession{}, "user_id = ?", "u1"); n != 0 {
		t.Errorf("sessions of the disabled user: got %d, want 0", n)
	}
	if n := count(t, s, &models.OAuthRequest{}, "subject = ?", "u1"); n != 0 {
		t.Errorf("OAuth requests of the disabled user: got %d, want 0", n)
	}
	if n := count(t, s, &models.LoginSession{}, "user_id = ?", "u2") + count(t, s, &models.OAuthRequest{}, "subject = ?", "u2"); n != 2 {
		t.Errorf("the other user's session and request: got %d rows, want 2", n)
	}
	if n := countAdmins(); n != 1 {
		t.Errorf("LockAdmins with one admin disabled: got %d, want 1", n)
	}
	no := false
	if err := s.UpdateUser(ctx, "u1", storage.UserChange{Disabled: &no}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UserByID(ctx, "u1"); got.Disabled {
		t.Error("enabling left the user disabled")
	}
}
