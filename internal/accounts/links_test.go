package accounts

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

var linkLine = regexp.MustCompile(`(?m)^    (https?://\S+)$`)

// linkToken returns the token of the one link in body, whose path must be
// path.
func linkToken(t *testing.T, body, path string) string {
	t.Helper()
	m := linkLine.FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("found %d links in the email, want 1:\n%s", len(m), body)
	}
	u, err := url.Parse(m[0][1])
	if err != nil || u.Path != path || u.Query().Get("token") == "" {
		t.Fatalf("link %q: want a %s link with a token", m[0][1], path)
	}
	return u.Query().Get("token")
}

// mailsTo returns the messages to addr whose subject contains subject.
func (f fixture) mailsTo(t *testing.T, addr, subject string) []sentMail {
	t.Helper()
	var out []sentMail
	for _, m := range f.outbox(t) {
		if m.To == addr && strings.Contains(m.Subject, subject) {
			out = append(out, m)
		}
	}
	return out
}

func TestPasswordResetByLink(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{Issuer: "https://id.example.com"})
		ctx := t.Context()
		u := f.mustCreate(t, "alice", "old password")
		oldToken := f.lastToken(t)

		if err := f.svc.RequestPasswordReset(ctx, "ALICE", "192.0.2.7"); err != nil {
			t.Fatal(err)
		}
		resets := f.mailsTo(t, u.Email, "password reset")
		if len(resets) != 1 {
			t.Fatalf("got %d reset emails, want 1", len(resets))
		}
		token := linkToken(t, resets[0].Body, ResetPath)
		if n := count(t, db, &models.EmailToken{}, "hash = ?", token); n != 0 {
			t.Fatal("the link's token is stored in clear")
		}
		if err := f.svc.CheckResetLink(ctx, token); err != nil {
			t.Fatalf("CheckResetLink: %v", err)
		}
		if err := f.svc.ResetPassword(ctx, token, "short"); err == nil {
			t.Fatal("a too short password was accepted")
		}
		if err := f.svc.ResetPassword(ctx, token, "new password 1"); err != nil {
			t.Fatalf("ResetPassword: %v", err)
		}
		after := f.reload(t, u.ID)
		if after.PasswordHash == u.PasswordHash || !after.PasswordChangedAt.After(u.PasswordChangedAt.Add(-time.Second)) {
			t.Error("the password did not change")
		}
		if !after.EmailVerified {
			t.Error("following a reset link sent to the address did not verify it")
		}
		newToken := f.lastToken(t)
		if newToken == oldToken || !f.svc.TokenMatches(after, newToken) || f.svc.TokenMatches(after, oldToken) {
			t.Error("the reset did not issue and email a new security token")
		}
		// Replayed: used once.
		if err := f.svc.ResetPassword(ctx, token, "new password 2"); !errors.Is(err, ErrLinkUsed) {
			t.Errorf("replayed link: got %v, want ErrLinkUsed", err)
		}
		if err := f.svc.CheckResetLink(ctx, token); !errors.Is(err, ErrLinkUsed) {
			t.Errorf("CheckResetLink after use: got %v, want ErrLinkUsed", err)
		}
		if err := f.svc.ResetPassword(ctx, token+"x", "new password 2"); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("altered link: got %v, want ErrLinkInvalid", err)
		}
		// A verification link is not a reset link.
		if err := f.svc.SendVerification(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		vtoken := linkToken(t, f.mailsTo(t, u.Email, "verify")[0].Body, VerifyPath)
		if err := f.svc.ResetPassword(ctx, vtoken, "new password 2"); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("a verification link used to reset: got %v, want ErrLinkInvalid", err)
		}
	})
}

func TestPasswordResetLinkExpiresAndEnds(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{Issuer: "https://id.example.com", ResetLinkLifespan: time.Hour})
		ctx := t.Context()
		u := f.mustCreate(t, "alice", "old password")
		for range 2 {
			if err := f.svc.RequestPasswordReset(ctx, "alice@example.com", ""); err != nil {
				t.Fatal(err)
			}
		}
		mails := f.mailsTo(t, u.Email, "password reset")
		first, second := linkToken(t, mails[0].Body, ResetPath), linkToken(t, mails[1].Body, ResetPath)
		f.clock.Advance(time.Hour + time.Second)
		if err := f.svc.ResetPassword(ctx, first, "new password 1"); !errors.Is(err, ErrLinkExpired) {
			t.Errorf("expired link: got %v, want ErrLinkExpired", err)
		}
		f.clock.Advance(-30 * time.Minute)
		// Any password change ends the links sent before it.
		if err := f.svc.SetPassword(ctx, "admin", "alice", "admin's password"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.ResetPassword(ctx, second, "new password 1"); !errors.Is(err, ErrLinkUsed) {
			t.Errorf("link sent before a password change: got %v, want ErrLinkUsed", err)
		}
	})
}

func TestPasswordResetUnknownAndDisabled(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{Issuer: "https://id.example.com"})
		ctx := t.Context()
		f.mustCreate(t, "alice", "old password")
		before := len(f.outbox(t))
		for _, login := range []string{"nobody", "nobody@example.com", "", strings.Repeat("x", 5000)} {
			if err := f.svc.RequestPasswordReset(ctx, login, ""); err != nil {
				t.Errorf("RequestPasswordReset(%.20q): %v, want nil (the same answer)", login, err)
			}
		}
		yes := true
		if _, err := f.svc.UpdateUser(ctx, "admin", "alice", UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RequestPasswordReset(ctx, "alice", ""); err != nil {
			t.Fatal(err)
		}
		if n := len(f.outbox(t)); n != before {
			t.Errorf("got %d new emails for unknown or disabled accounts, want 0", n-before)
		}
	})
}

// Many requests at once for one account, from several sources, send at
// most the hourly limit of emails.
func TestPasswordResetPerAccountLimitBurst(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{Issuer: "https://id.example.com", LinkEmailsPerHour: 3})
		ctx := t.Context()
		u := f.mustCreate(t, "alice", "old password")
		var wg sync.WaitGroup
		var failed atomic.Int32
		for i := range 12 {
			wg.Go(func() {
				source := []string{"127.0.0.1", "127.0.0.2"}[i%2]
				if err := f.svc.RequestPasswordReset(ctx, "alice", source); err != nil {
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		if n := failed.Load(); n != 0 {
			t.Fatalf("%d requests failed, want every one answered alike", n)
		}
		if n := len(f.mailsTo(t, u.Email, "password reset")); n != 3 {
			t.Errorf("got %d reset emails from a burst of 12, want the limit of 3", n)
		}
		// Verification emails count in the same hourly limit.
		if err := f.svc.SendVerification(ctx, u.ID); !errors.Is(err, ErrTooManyLinks) {
			t.Errorf("a verification past the limit: got %v, want ErrTooManyLinks", err)
		}
		f.clock.Advance(time.Hour + time.Second)
		if err := f.svc.SendVerification(ctx, u.ID); err != nil {
			t.Errorf("a verification an hour later: %v", err)
		}
	})
}

// Two uses of one link at once: one changes the password.
func TestPasswordResetLinkRace(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{Issuer: "https://id.example.com"})
		ctx := t.Context()
		u := f.mustCreate(t, "alice", "old password")
		if err := f.svc.RequestPasswordReset(ctx, "alice", ""); err != nil {
			t.Fatal(err)
		}
		token := linkToken(t, f.mailsTo(t, u.Email, "password reset")[0].Body, ResetPath)
		var wg sync.WaitGroup
		var ok atomic.Int32
		for i := range 6 {
			wg.Go(func() {
				if err := f.svc.ResetPassword(ctx, token, "new password "+string(rune('a'+i))); err == nil {
					ok.Add(1)
				} else if !errors.Is(err, ErrLinkUsed) && !errors.Is(err, storage.ErrEmailTokenUsed) {
					t.Errorf("a losing use: got %v, want ErrLinkUsed", err)
				}
			})
		}
		wg.Wait()
		if n := ok.Load(); n != 1 {
			t.Errorf("%d uses of one link succeeded, want 1", n)
		}
	})
}

func TestEmailVerificationAndChange(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db, Options{Issuer: "https://id.example.com", VerifyOnCreate: true})
		ctx := t.Context()
		u := f.mustCreate(t, "alice", "old password")
		if u.EmailVerified {
			t.Fatal("a new user is verified")
		}
		verify := f.mailsTo(t, u.Email, "verify your email")
		if len(verify) != 1 {
			t.Fatalf("got %d verification emails on creation, want 1", len(verify))
		}
		got, err := f.svc.VerifyEmail(ctx, linkToken(t, verify[0].Body, VerifyPath))
		if err != nil || !got.EmailVerified || !f.reload(t, u.ID).EmailVerified {
			t.Fatalf("VerifyEmail: %+v, %v; want verified", got, err)
		}

		// A change needs the current password and lands only when confirmed.
		if err := f.svc.RequestEmailChange(ctx, u.ID, "wrong password", "new@example.org"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("email change with a wrong password: got %v, want ErrBadCredentials", err)
		}
		if err := f.svc.RequestEmailChange(ctx, u.ID, "old password", "not an address"); err == nil {
			t.Error("an invalid new address was accepted")
		}
		if err := f.svc.RequestEmailChange(ctx, u.ID, "old password", "new@example.org"); err != nil {
			t.Fatal(err)
		}
		if now := f.reload(t, u.ID); now.Email != u.Email || !now.EmailVerified {
			t.Errorf("before confirmation: email %q verified=%t, want the old one, still verified", now.Email, now.EmailVerified)
		}
		if n := len(f.mailsTo(t, u.Email, "about to change")); n != 1 {
			t.Errorf("the old address got %d notices of the change, want 1", n)
		}
		confirm := f.mailsTo(t, "new@example.org", "confirm your new email")
		if len(confirm) != 1 {
			t.Fatalf("the new address got %d confirmation emails, want 1", len(confirm))
		}
		ctoken := linkToken(t, confirm[0].Body, ConfirmEmailPath)
		if _, err := f.svc.VerifyEmail(ctx, ctoken); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("a change link used to verify: got %v, want ErrLinkInvalid", err)
		}
		got, err = f.svc.ConfirmEmailChange(ctx, ctoken)
		if err != nil || got.Email != "new@example.org" || !got.EmailVerified {
			t.Fatalf("ConfirmEmailChange: %+v, %v", got, err)
		}
		if now := f.reload(t, u.ID); now.Email != "new@example.org" || !now.EmailVerified {
			t.Errorf("after confirmation: email %q verified=%t", now.Email, now.EmailVerified)
		}
		if n := len(f.mailsTo(t, u.Email, "was changed")); n != 1 {
			t.Errorf("the old address got %d emails saying it was changed, want 1", n)
		}
		if _, err := f.svc.ConfirmEmailChange(ctx, ctoken); !errors.Is(err, ErrLinkUsed) {
			t.Errorf("replayed change link: got %v, want ErrLinkUsed", err)
		}

		// An administrator's change of address is not verified; the flag
		// can be set.
		email := "admin-set@example.net"
		after, err := f.svc.UpdateUser(ctx, "admin", "alice", UserUpdate{Email: &email})
		if err != nil || after.EmailVerified {
			t.Errorf("admin email change: verified=%t, %v; want not verified", after.EmailVerified, err)
		}
		yes := true
		after, err = f.svc.UpdateUser(ctx, "admin", "alice", UserUpdate{EmailVerified: &yes})
		if err != nil || !after.EmailVerified {
			t.Errorf("admin marks verified: verified=%t, %v", after.EmailVerified, err)
		}
	})
}
