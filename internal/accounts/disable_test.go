package accounts

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// TestDisableUser: a disabled user is refused on every channel without the
// password being checked (the right password gets the same refusal as a
// wrong one), their sessions and tokens end at once, enabling lets them in
// again, and the last administrator who can sign in cannot be disabled.
func TestDisableUser(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		f := setup(t, db, Options{})
		for _, n := range []struct {
			name  string
			admin bool
		}{{"root", true}, {"dana", false}} {
			if _, err := f.svc.CreateUser(ctx, "cli:test", NewUser{Username: n.name, Email: n.name + "@example.com", Password: "Correct-Horse-1", Admin: n.admin}); err != nil {
				t.Fatal(err)
			}
		}
		dana, _ := f.svc.GetUser(ctx, "dana")
		now := time.Now().UTC()
		if err := db.Create(&models.LoginSession{IDHash: "s1", UserID: dana.ID, AuthTime: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now}).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&models.OAuthRequest{Kind: "access", Signature: "sig1", RequestID: "r1", ClientID: "c", Subject: dana.ID, Data: []byte("{}")}).Error; err != nil {
			t.Fatal(err)
		}

		attempt := func(pw string) signin.Outcome {
			t.Helper()
			o, err := f.svc.Attempt(ctx, signin.Request{Channel: signin.LoginPage, Subject: signin.Subject{Username: "dana"}, Secret: pw, SourceIP: "192.0.2.9"})
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		if o := attempt("Correct-Horse-1"); !o.OK() {
			t.Fatalf("before disabling: got %q, want success", o.Result)
		}

		u, err := f.svc.UpdateUser(ctx, "cli:test", "dana", UserUpdate{Disabled: ptr(true)})
		if err != nil || !u.Disabled {
			t.Fatalf("disable: %+v, %v", u, err)
		}
		for _, pw := range []string{"Correct-Horse-1", "wrong-password"} {
			if o := attempt(pw); o.Result != signin.ResultUserDisabled {
				t.Errorf("disabled, password %q: got %q, want %q", pw, o.Result, signin.ResultUserDisabled)
			}
		}
		var sessions, tokens int64
		db.Model(&models.LoginSession{}).Where("user_id = ?", dana.ID).Count(&sessions)
		db.Model(&models.OAuthRequest{}).Where("subject = ?", dana.ID).Count(&tokens)
		if sessions != 0 || tokens != 0 {
			t.Errorf("after disabling: %d sessions and %d tokens left, want none", sessions, tokens)
		}
		var entry models.AuditEntry
		if err := db.Where("action = ? AND target = ?", "user.update", "dana").Order("id desc").Take(&entry).Error; err != nil || entry.Detail != "disabled false -> true" {
			t.Errorf("audit entry: %+v %v, want detail %q", entry, err, "disabled false -> true")
		}

		if _, err := f.svc.UpdateUser(ctx, "cli:test", "dana", UserUpdate{Disabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Unlock(ctx, "cli:test", "dana"); err != nil {
			t.Fatal(err)
		}
		if o := attempt("Correct-Horse-1"); !o.OK() {
			t.Fatalf("enabled again: got %q, want success", o.Result)
		}

		// The last administrator who can sign in stays; once another
		// admin exists the first can be disabled, and a disabled admin
		// does not count as the last one.
		if _, err := f.svc.UpdateUser(ctx, "cli:test", "root", UserUpdate{Disabled: ptr(true)}); !errors.Is(err, ErrLastAdmin) {
			t.Fatalf("disable the last admin: got %v, want ErrLastAdmin", err)
		}
		if _, err := f.svc.UpdateUser(ctx, "cli:test", "dana", UserUpdate{Admin: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.UpdateUser(ctx, "cli:test", "root", UserUpdate{Disabled: ptr(true)}); err != nil {
			t.Fatalf("disable one of two admins: %v", err)
		}
		if _, err := f.svc.UpdateUser(ctx, "cli:test", "dana", UserUpdate{Admin: ptr(false)}); !errors.Is(err, ErrLastAdmin) {
			t.Fatalf("demote the only enabled admin: got %v, want ErrLastAdmin", err)
		}
		if err := f.svc.DeleteUser(ctx, "cli:test", "root"); err != nil {
			t.Fatalf("delete a disabled admin while another can sign in: %v", err)
		}
	})
}

// TestUpdateUserAllOrNothing: one invalid field in an update changes
// nothing, not even the valid fields beside it.
func TestUpdateUserAllOrNothing(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		f := setup(t, db, Options{})
		if _, err := f.svc.CreateUser(ctx, "cli:test", NewUser{Username: "eve", Email: "eve@example.com", Name: "Eve", Password: "Correct-Horse-1"}); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.UpdateUser(ctx, "cli:test", "eve", UserUpdate{Name: ptr("Eve Two"), Email: ptr("not an email"), Disabled: ptr(true)})
		if e, ok := apperr.As(err); !ok || e.Field != "email" {
			t.Fatalf("bad email: got %v, want a field error for email", err)
		}
		u, _ := f.svc.GetUser(ctx, "eve")
		if u.Name != "Eve" || u.Email != "eve@example.com" || u.Disabled {
			t.Errorf("after a refused update: %+v, want it unchanged", u)
		}
	})
}
