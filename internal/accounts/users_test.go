package accounts

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestCreateUser(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{Organization: "Acme Corp"})
		ctx := t.Context()
		u, err := f.svc.CreateUser(ctx, "root", NewUser{Username: "Alice.Smith@acme", Email: "alice@example.com", Name: "Alice Smith", Password: "Correct-Horse-1", Admin: true})
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(u.ID) {
			t.Errorf("ID = %q, want 32 hex digits", u.ID)
		}
		if u.Username != "alice.smith@acme" {
			t.Errorf("Username = %q, want the lower-case %q", u.Username, "alice.smith@acme")
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Errorf("PasswordHash = %q, want an argon2id hash", u.PasswordHash)
		}
		if !u.PasswordChangedAt.Equal(f.clock.Now()) || !u.TokenIssuedAt.Equal(f.clock.Now()) {
			t.Errorf("PasswordChangedAt, TokenIssuedAt = %v, %v, want both %v", u.PasswordChangedAt, u.TokenIssuedAt, f.clock.Now())
		}
		stored := f.reload(t, u.ID)
		if stored.SecurityTokenHash == "" || stored.SecurityTokenHash != u.SecurityTokenHash || !stored.Admin {
			t.Errorf("stored user = %+v, want the returned token hash and Admin", stored)
		}
		if err := f.svc.VerifyPassword(ctx, stored, "Correct-Horse-1"); err != nil {
			t.Errorf("VerifyPassword(right) = %v, want nil", err)
		}

		mails := f.outbox(t)
		if len(mails) != 1 {
			t.Fatalf("got %d outbox rows, want 1", len(mails))
		}
		m := mails[0]
		if m.To != "alice@example.com" {
			t.Errorf("To = %q, want alice@example.com", m.To)
		}
		if want := "Acme Corp security token confirmation"; m.Subject != want {
			t.Errorf("Subject = %q, want %q", m.Subject, want)
		}
		token := tokenIn(t, m.Body)
		if !f.svc.TokenMatches(stored, token) {
			t.Errorf("TokenMatches(user, token from email) = false, want true")
		}
		if f.svc.TokenMatches(stored, strings.ToLower(token)) && token != strings.ToLower(token) {
			t.Errorf("TokenMatches(lower-cased token) = true, want false: tokens are case sensitive")
		}
		if n := strings.Count(m.Body, token); n != 1 {
			t.Errorf("token appears %d times in the body, want 1", n)
		}
		for _, want := range []string{
			"Why: account created",
			"When: 2030-03-14 09:26:53 UTC",
			`"passwordXXXX"`,
			"no space",
			"case sensitive",
			"reset your security token and change your password",
			"contact your administrator",
		} {
			if !strings.Contains(m.Body, want) {
				t.Errorf("email body lacks %q:\n%s", want, m.Body)
			}
		}
		if strings.Contains(m.Body, "legacy password grant") {
			t.Errorf("email body has a sunset line for a user who never used a legacy client:\n%s", m.Body)
		}

		if n := count(t, db, &models.SecurityTokenHistory{}, "hash = ? AND user_id = ?", stored.SecurityTokenHash, u.ID); n != 1 {
			t.Errorf("history rows for the token = %d, want 1", n)
		}
		var entries []models.AuditEntry
		if err := db.Find(&entries).Error; err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Actor != "root" || entries[0].Action != "user.create" || entries[0].Target != u.Username {
			t.Errorf("audit entries = %+v, want one user.create by root on %s", entries, u.Username)
		}
	})
}

func TestCreateUserDuplicate(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		f.mustCreate(t, "alice", "password-one")
		for _, name := range []string{"alice", "ALICE"} {
			_, err := f.svc.CreateUser(t.Context(), "admin", NewUser{Username: name, Email: "other@example.com", Password: "password-two"})
			if !errors.Is(err, ErrDuplicateUsername) {
				t.Errorf("CreateUser(%q) error = %v, want ErrDuplicateUsername", name, err)
			}
		}
		if n := len(f.outbox(t)); n != 1 {
			t.Errorf("outbox rows = %d, want 1 (failed creations must send nothing)", n)
		}
		if n := count(t, db, &models.AuditEntry{}, ""); n != 1 {
			t.Errorf("audit rows = %d, want 1", n)
		}
		if n := count(t, db, &models.SecurityTokenHistory{}, ""); n != 1 {
			t.Errorf("history rows = %d, want 1 (failed creations roll back)", n)
		}
	})
}

func TestValidation(t *testing.T) {
	t.Parallel()
	valid := NewUser{Username: "bob", Email: "bob@example.com", Name: "Bob", Password: "long-enough"}
	cases := []struct {
		name  string
		edit  func(*NewUser)
		field string
	}{
		{"empty username", func(u *NewUser) { u.Username = "" }, "username"},
		{"long username", func(u *NewUser) { u.Username = strings.Repeat("a", 201) }, "username"},
		{"space in username", func(u *NewUser) { u.Username = "bob smith" }, "username"},
		{"slash in username", func(u *NewUser) { u.Username = "bob/smith" }, "username"},
		{"non-ASCII username", func(u *NewUser) { u.Username = "bøb" }, "username"},
		{"empty email", func(u *NewUser) { u.Email = "" }, "email"},
		{"no at sign", func(u *NewUser) { u.Email = "bob.example.com" }, "email"},
		{"display name", func(u *NewUser) { u.Email = "Bob <bob@example.com>" }, "email"},
		{"angle brackets", func(u *NewUser) { u.Email = "<bob@example.com>" }, "email"},
		{"two addresses", func(u *NewUser) { u.Email = "bob@example.com, eve@example.com" }, "email"},
		{"newline in name", func(u *NewUser) { u.Name = "Bob\nBcc: eve" }, "name"},
		{"short password", func(u *NewUser) { u.Password = "1234567" }, "password"},
		{"long password", func(u *NewUser) { u.Password = strings.Repeat("x", 1025) }, "password"},
	}
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		for _, tc := range cases {
			in := valid
			tc.edit(&in)
			_, err := f.svc.CreateUser(t.Context(), "admin", in)
			var fe *apperr.Error
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("%s: error = %v, want a FieldError for %q", tc.name, err, tc.field)
				continue
			}
			if got, want := fe.Error(), tc.field+": "+fe.Message; got != want {
				t.Errorf("%s: Error() = %q, want %q", tc.name, got, want)
			}
			if tc.field == "password" && strings.Contains(err.Error(), in.Password) {
				t.Errorf("%s: error %q repeats the password", tc.name, err)
			}
		}
		// Edge values that are valid.
		for _, in := range []NewUser{
			{Username: strings.Repeat("a", 200), Email: "a@example.com", Password: "12345678"},
			{Username: "x.y_z@w-v", Email: "x@example.com", Password: strings.Repeat("é", 8)},
			{Username: "max", Email: "max@example.com", Password: strings.Repeat("p", 1024)},
		} {
			if _, err := f.svc.CreateUser(t.Context(), "admin", in); err != nil {
				t.Errorf("CreateUser(%q) = %v, want success", in.Username[:min(len(in.Username), 20)], err)
			}
		}
		if n := count(t, db, &models.User{}, ""); n != 3 {
			t.Errorf("users = %d, want 3 (only the valid ones)", n)
		}
		var fe *apperr.Error
		bad := "not an address"
		if _, err := f.svc.UpdateUser(t.Context(), "admin", "max", UserUpdate{Email: &bad}); !errors.As(err, &fe) || fe.Field != "email" {
			t.Errorf("UpdateUser(bad email) = %v, want a FieldError for email", err)
		}
		if err := f.svc.SetPassword(t.Context(), "admin", "max", "short"); !errors.As(err, &fe) || fe.Field != "password" {
			t.Errorf("SetPassword(short) = %v, want a FieldError for password", err)
		}
	})
}

func TestResetToken(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		ctx := t.Context()
		u := f.mustCreate(t, "carol", "carol-password")
		first := f.lastToken(t)

		f.clock.Advance(time.Hour)
		if err := f.svc.ResetToken(ctx, "carol", "Carol", true); err != nil {
			t.Fatalf("ResetToken(by user): %v", err)
		}
		mails := f.outbox(t)
		if len(mails) != 2 {
			t.Fatalf("outbox rows = %d, want 2", len(mails))
		}
		second := tokenIn(t, mails[1].Body)
		if second == first {
			t.Fatalf("reset issued the same token again")
		}
		if !strings.Contains(mails[1].Body, "Why: reset by the user") || !strings.Contains(mails[1].Body, "When: 2030-03-14 10:26:53 UTC") {
			t.Errorf("reset email lacks the reason or time:\n%s", mails[1].Body)
		}
		got := f.reload(t, u.ID)
		if f.svc.TokenMatches(got, first) {
			t.Errorf("old token still matches after a reset, want it rejected at once")
		}
		if !f.svc.TokenMatches(got, second) {
			t.Errorf("new token does not match after a reset")
		}
		if !got.TokenIssuedAt.Equal(f.clock.Now()) {
			t.Errorf("TokenIssuedAt = %v, want %v", got.TokenIssuedAt, f.clock.Now())
		}

		if err := f.svc.ResetToken(ctx, "admin", "carol", false); err != nil {
			t.Fatalf("ResetToken(by admin): %v", err)
		}
		mails = f.outbox(t)
		if len(mails) != 3 || !strings.Contains(mails[2].Body, "Why: reset by an administrator") {
			t.Fatalf("want a third email with reason %q, got %d emails", "reset by an administrator", len(mails))
		}
		third := tokenIn(t, mails[2].Body)
		got = f.reload(t, u.ID)
		if f.svc.TokenMatches(got, second) || !f.svc.TokenMatches(got, third) {
			t.Errorf("after the admin reset: second matches %t, third matches %t; want false, true",
				f.svc.TokenMatches(got, second), f.svc.TokenMatches(got, third))
		}
		if n := count(t, db, &models.SecurityTokenHistory{}, "user_id = ?", u.ID); n != 3 {
			t.Errorf("history rows = %d, want 3", n)
		}
		if n := count(t, db, &models.AuditEntry{}, "action = ? AND target = ?", "user.token.reset", "carol"); n != 2 {
			t.Errorf("user.token.reset audit rows = %d, want 2", n)
		}
		if err := f.svc.ResetToken(ctx, "admin", "nobody", false); !errors.Is(err, ErrNotFound) {
			t.Errorf("ResetToken(unknown) = %v, want ErrNotFound", err)
		}
		if n := len(f.outbox(t)); n != 3 {
			t.Errorf("outbox rows = %d after a failed reset, want 3", n)
		}
	})
}

func TestSetPassword(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		ctx := t.Context()
		u := f.mustCreate(t, "dave", "old-password")
		oldToken := f.lastToken(t)
		f.clock.Advance(24 * time.Hour)

		if err := f.svc.SetPassword(ctx, "admin", "DAVE", "new-password"); err != nil {
			t.Fatalf("SetPassword: %v", err)
		}
		got := f.reload(t, u.ID)
		if err := f.svc.VerifyPassword(ctx, got, "old-password"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("VerifyPassword(old) = %v, want ErrBadCredentials", err)
		}
		if err := f.svc.VerifyPassword(ctx, got, "new-password"); err != nil {
			t.Errorf("VerifyPassword(new) = %v, want nil", err)
		}
		if !got.PasswordChangedAt.Equal(f.clock.Now()) {
			t.Errorf("PasswordChangedAt = %v, want %v", got.PasswordChangedAt, f.clock.Now())
		}
		mails := f.outbox(t)
		if len(mails) != 2 || !strings.Contains(mails[1].Body, "Why: password changed") {
			t.Fatalf("want a second email with reason %q, got %d emails", "password changed", len(mails))
		}
		newToken := tokenIn(t, mails[1].Body)
		if f.svc.TokenMatches(got, oldToken) || !f.svc.TokenMatches(got, newToken) {
			t.Errorf("after SetPassword: old matches %t, new matches %t; want false, true",
				f.svc.TokenMatches(got, oldToken), f.svc.TokenMatches(got, newToken))
		}
		if n := count(t, db, &models.AuditEntry{}, "action = ? AND actor = ?", "user.password.set", "admin"); n != 1 {
			t.Errorf("user.password.set audit rows = %d, want 1", n)
		}
		if err := f.svc.SetPassword(ctx, "admin", "nobody", "new-password"); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetPassword(unknown) = %v, want ErrNotFound", err)
		}
	})
}

func TestChangeOwnPassword(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{LockoutThreshold: 3})
		ctx := t.Context()
		u := f.mustCreate(t, "erin", "erin-password")
		oldToken := f.lastToken(t)

		if err := f.svc.ChangeOwnPassword(ctx, u.ID, "", "wrong-password", "erin-new-password"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("ChangeOwnPassword(wrong current) = %v, want ErrBadCredentials", err)
		}
		got := f.reload(t, u.ID)
		if err := f.svc.VerifyPassword(ctx, got, "erin-password"); err != nil {
			t.Errorf("password changed despite a wrong current password: %v", err)
		}
		if got.LoginFailures != 1 {
			t.Errorf("LoginFailures = %d, want 1 (a wrong current password counts)", got.LoginFailures)
		}
		if n := len(f.outbox(t)); n != 1 {
			t.Errorf("outbox rows = %d, want 1", n)
		}

		if err := f.svc.ChangeOwnPassword(ctx, u.ID, "", "erin-password", "erin-new-password"); err != nil {
			t.Fatalf("ChangeOwnPassword: %v", err)
		}
		got = f.reload(t, u.ID)
		if err := f.svc.VerifyPassword(ctx, got, "erin-new-password"); err != nil {
			t.Errorf("VerifyPassword(new) = %v, want nil", err)
		}
		if got.LoginFailures != 0 {
			t.Errorf("LoginFailures = %d after success, want 0", got.LoginFailures)
		}
		mails := f.outbox(t)
		if len(mails) != 2 || !strings.Contains(mails[1].Body, "Why: password changed") {
			t.Fatalf("want a second email with reason %q, got %d emails", "password changed", len(mails))
		}
		if newToken := tokenIn(t, mails[1].Body); f.svc.TokenMatches(got, oldToken) || !f.svc.TokenMatches(got, newToken) {
			t.Errorf("token not regenerated by ChangeOwnPassword")
		}
		if n := count(t, db, &models.AuditEntry{}, "action = ? AND actor = ?", "user.password.change", "user:erin"); n != 1 {
			t.Errorf("user.password.change audit rows by user:erin = %d, want 1 (one actor format, as every other entry)", n)
		}
		var fe *apperr.Error
		if err := f.svc.ChangeOwnPassword(ctx, u.ID, "", "erin-new-password", "short"); !errors.As(err, &fe) {
			t.Errorf("ChangeOwnPassword(short new) = %v, want a FieldError", err)
		}
		if err := f.svc.ChangeOwnPassword(ctx, "no-such-id", "", "x", "long-enough"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ChangeOwnPassword(unknown id) = %v, want ErrNotFound", err)
		}
	})
}

func TestGetListUpdateDelete(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		ctx := t.Context()
		for _, n := range []string{"frank", "grace", "heidi", "ivan_x", "ivanx"} {
			f.mustCreate(t, n, "some-password")
		}
		if _, err := f.svc.UpdateUser(ctx, "admin", "heidi", UserUpdate{Email: ptr("Heidi.K@Corp.Example")}); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}

		if u, err := f.svc.GetUser(ctx, "GRACE"); err != nil || u.Username != "grace" {
			t.Errorf("GetUser(GRACE) = %q, %v; want grace", u.Username, err)
		}
		if _, err := f.svc.GetUser(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetUser(nobody) = %v, want ErrNotFound", err)
		}
		if _, err := f.svc.GetUserByID(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetUserByID(nope) = %v, want ErrNotFound", err)
		}

		list := func(fl ListFilter) ([]string, int64) {
			t.Helper()
			us, total, err := f.svc.ListUsers(ctx, fl)
			if err != nil {
				t.Fatalf("ListUsers(%+v): %v", fl, err)
			}
			var names []string
			for _, u := range us {
				names = append(names, u.Username)
			}
			return names, total
		}
		for _, tc := range []struct {
			f     ListFilter
			want  string
			total int64
		}{
			{ListFilter{}, "frank,grace,heidi,ivan_x,ivanx", 5},
			{ListFilter{Query: "RAN"}, "frank", 1},
			{ListFilter{Query: "corp.EXAMPLE"}, "heidi", 1}, // email, any case
			{ListFilter{Query: "example.com"}, "frank,grace,ivan_x,ivanx", 4},
			{ListFilter{Query: "n_x"}, "ivan_x", 1},             // _ is literal, not a wildcard
			{ListFilter{Query: "%"}, "", 0},                     // % is literal
			{ListFilter{Limit: 2, Offset: 1}, "grace,heidi", 5}, // a page, with the full total
			{ListFilter{Query: "i", Limit: 1}, "heidi", 3},
		} {
			names, total := list(tc.f)
			if got := strings.Join(names, ","); got != tc.want || total != tc.total {
				t.Errorf("ListUsers(%+v) = %q, total %d; want %q, total %d", tc.f, got, total, tc.want, tc.total)
			}
		}

		u, err := f.svc.UpdateUser(ctx, "root", "frank", UserUpdate{Name: ptr("Frank N."), Admin: ptr(true)})
		if err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		if u.Name != "Frank N." || !u.Admin || u.Email != "frank@example.com" {
			t.Errorf("UpdateUser returned %+v, want the new name, admin and the old email", u)
		}
		if got := f.reload(t, u.ID); got.Name != "Frank N." || !got.Admin {
			t.Errorf("stored after update: name %q admin %t, want %q true", got.Name, got.Admin, "Frank N.")
		}
		var e models.AuditEntry
		if err := db.Where("action = ? AND target = ?", "user.update", "frank").Take(&e).Error; err != nil {
			t.Fatalf("audit entry for update: %v", err)
		}
		if e.Actor != "root" || !strings.Contains(e.Detail, "admin false -> true") {
			t.Errorf("update audit = %+v, want actor root and the admin change", e)
		}
		if _, err := f.svc.UpdateUser(ctx, "root", "nobody", UserUpdate{Admin: ptr(true)}); !errors.Is(err, ErrNotFound) {
			t.Errorf("UpdateUser(nobody) = %v, want ErrNotFound", err)
		}

		if err := db.Create(&models.LoginSession{IDHash: "s1", UserID: u.ID, ExpiresAt: time.Now().Add(time.Hour)}).Error; err != nil {
			t.Fatal(err)
		}
		// frank is the only administrator: another one lets him go
		// (TestLastAdminStays covers the refusal).
		if _, err := f.svc.CreateUser(ctx, "root", NewUser{Username: "ivan", Email: "ivan@example.com", Password: "Correct-Horse-1", Admin: true}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeleteUser(ctx, "root", "frank"); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if _, err := f.svc.GetUser(ctx, "frank"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetUser after delete = %v, want ErrNotFound", err)
		}
		if n := count(t, db, &models.LoginSession{}, "user_id = ?", u.ID); n != 0 {
			t.Errorf("sessions left after delete = %d, want 0", n)
		}
		if n := count(t, db, &models.SecurityTokenHistory{}, "user_id = ?", u.ID); n != 1 {
			t.Errorf("history rows after delete = %d, want 1 (kept so the token is never reissued)", n)
		}
		if n := count(t, db, &models.AuditEntry{}, "action = ? AND target = ?", "user.delete", "frank"); n != 1 {
			t.Errorf("user.delete audit rows = %d, want 1", n)
		}
		if err := f.svc.DeleteUser(ctx, "root", "frank"); !errors.Is(err, ErrNotFound) {
			t.Errorf("second DeleteUser = %v, want ErrNotFound", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestCreateUserConcurrentSameName(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{})
		const n = 6
		errs := make(chan error, n)
		for i := range n {
			go func() {
				_, err := f.svc.CreateUser(t.Context(), "admin", NewUser{Username: "zed", Email: fmt.Sprintf("zed%d@example.com", i), Password: "zed-password"})
				errs <- err
			}()
		}
		ok := 0
		for range n {
			err := <-errs
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrDuplicateUsername):
				t.Errorf("concurrent CreateUser error = %v, want nil or ErrDuplicateUsername", err)
			}
		}
		if ok != 1 {
			t.Errorf("successful creations = %d, want 1", ok)
		}
		if got := len(f.outbox(t)); got != 1 {
			t.Errorf("outbox rows = %d, want 1", got)
		}
	})
}

// sessionIDs returns the IDHash of every browser session of userID, sorted.
func sessionIDs(t *testing.T, db *gorm.DB, userID string) []string {
	t.Helper()
	var ids []string
	if err := db.Model(&models.LoginSession{}).Where("user_id = ?", userID).Order("id_hash").Pluck("id_hash", &ids).Error; err != nil {
		t.Fatal(err)
	}
	return ids
}

func addSessions(t *testing.T, db *gorm.DB, userID string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		s := models.LoginSession{IDHash: id, UserID: userID, AuthTime: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		if err := db.Create(&s).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// A password set by an administrator (API, CLI and console all call
// SetPassword) ends every browser session of the user, and only theirs;
// the self-service change keeps the session that made it.
func TestPasswordChangeEndsSessions(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := t.Context()
		f := setup(t, db, Options{})
		victim := f.mustCreate(t, "vera", "vera-password")
		other := f.mustCreate(t, "otto", "otto-password")
		addSessions(t, db, victim.ID, "v-laptop", "v-phone", "v-attacker")
		addSessions(t, db, other.ID, "o-laptop")

		if err := f.svc.SetPassword(ctx, "admin", "vera", "vera-new-password"); err != nil {
			t.Fatalf("SetPassword: %v", err)
		}
		if got := sessionIDs(t, db, victim.ID); len(got) != 0 {
			t.Errorf("sessions of vera after an admin-set password: got %v, want none", got)
		}
		if got := sessionIDs(t, db, other.ID); !slices.Equal(got, []string{"o-laptop"}) {
			t.Errorf("sessions of otto: got %v, want [o-laptop] untouched", got)
		}

		addSessions(t, db, victim.ID, "v-laptop", "v-phone")
		if err := f.svc.ChangeOwnPassword(ctx, victim.ID, "v-laptop", "vera-new-password", "vera-third-password"); err != nil {
			t.Fatalf("ChangeOwnPassword: %v", err)
		}
		if got := sessionIDs(t, db, victim.ID); !slices.Equal(got, []string{"v-laptop"}) {
			t.Errorf("sessions of vera after her own change: got %v, want only [v-laptop], the one making it", got)
		}

		// A change that fails ends nothing.
		addSessions(t, db, victim.ID, "v-phone")
		if err := f.svc.ChangeOwnPassword(ctx, victim.ID, "v-laptop", "wrong-password", "vera-fourth-password"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("ChangeOwnPassword(wrong current): got %v, want ErrBadCredentials", err)
		}
		if got := sessionIDs(t, db, victim.ID); !slices.Equal(got, []string{"v-laptop", "v-phone"}) {
			t.Errorf("sessions of vera after a refused change: got %v, want [v-laptop v-phone]", got)
		}
	})
}

// Deleting a user removes their sessions, consents and OAuth requests in
// the same transaction, and nobody else's.
func TestDeleteUserCascades(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := t.Context()
		f := setup(t, db, Options{})
		gone := f.mustCreate(t, "gina", "gina-password")
		kept := f.mustCreate(t, "kurt", "kurt-password")
		for _, u := range []models.User{gone, kept} {
			addSessions(t, db, u.ID, u.Username+"-s")
			if err := db.Create(&models.Consent{UserID: u.ID, ClientID: "app", Scopes: []string{"openid"}}).Error; err != nil {
				t.Fatal(err)
			}
			req := models.OAuthRequest{Kind: "access_token", Signature: u.ID, RequestID: "r-" + u.ID, ClientID: "app", Subject: u.ID, Active: true, Data: []byte("{}")}
			if err := db.Create(&req).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := f.svc.DeleteUser(ctx, "admin", "gina"); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		for _, c := range []struct {
			model any
			where string
		}{
			{&models.User{}, "id = ?"},
			{&models.LoginSession{}, "user_id = ?"},
			{&models.Consent{}, "user_id = ?"},
			{&models.OAuthRequest{}, "subject = ?"},
		} {
			if n := count(t, db, c.model, c.where, gone.ID); n != 0 {
				t.Errorf("%T rows of the deleted user: got %d, want 0", c.model, n)
			}
			if n := count(t, db, c.model, c.where, kept.ID); n != 1 {
				t.Errorf("%T rows of the other user: got %d, want 1", c.model, n)
			}
		}
		if n := count(t, db, &models.SecurityTokenHistory{}, "user_id = ?", gone.ID); n == 0 {
			t.Error("the deleted user's token history is gone, want it kept so no token is issued twice")
		}
		if err := f.svc.DeleteUser(ctx, "admin", "gina"); !errors.Is(err, ErrNotFound) {
			t.Errorf("DeleteUser again: got %v, want ErrNotFound", err)
		}
	})
}
