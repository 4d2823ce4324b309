package accounts

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// A password change keeps the user's app passwords and lists the active
// ones, with the page to review them, in the token email; the policy
// option revokes them instead, audited. Expired and revoked ones are not
// listed.
func TestPasswordChangeAndAppPasswords(t *testing.T) {
	t.Parallel()
	for _, revoke := range []bool{false, true} {
		t.Run(map[bool]string{false: "kept", true: "revoked by policy"}[revoke], func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, db *gorm.DB) {
				ctx := context.Background()
				f := setup(t, db, Options{AccountURL: "https://id.example.com/account", RevokeAppPasswordsOnPasswordChange: revoke})
				u, err := f.svc.CreateUser(ctx, "cli:test", NewUser{Username: "dana", Email: "dana@example.com", Password: "Correct-Horse-1"})
				if err != nil {
					t.Fatal(err)
				}
				now := f.clock.Now()
				past := now.Add(-time.Hour)
				for _, p := range []models.AppPassword{
					{ID: "a1", UserID: u.ID, Name: "Nightly export", Hash: "h1", CreatedAt: now},
					{ID: "a2", UserID: u.ID, Name: "Old job", Hash: "h2", CreatedAt: now, ExpiresAt: &past},
					{ID: "a3", UserID: u.ID, Name: "Gone", Hash: "h3", CreatedAt: now, RevokedAt: &past},
				} {
					if err := db.Create(&p).Error; err != nil {
						t.Fatal(err)
					}
				}
				if err := f.svc.SetPassword(ctx, "cli:test", "dana", "Another-Horse-2"); err != nil {
					t.Fatal(err)
				}
				mails := f.outbox(t)
				body := mails[len(mails)-1].Body
				if !strings.Contains(body, "- Nightly export") || strings.Contains(body, "Old job") || strings.Contains(body, "- Gone") ||
					!strings.Contains(body, "https://id.example.com/account/app-passwords") {
					t.Errorf("token email after a password change:\n%s", body)
				}
				var a1 models.AppPassword
				if err := db.Where("id = ?", "a1").Take(&a1).Error; err != nil {
					t.Fatal(err)
				}
				if revoked := a1.RevokedAt != nil; revoked != revoke {
					t.Errorf("app password revoked by the password change: %t, want %t", revoked, revoke)
				}
				var n int64
				db.Model(&models.AuditEntry{}).Where("action = ?", "app_password.revoke_all").Count(&n)
				if want := map[bool]int64{false: 0, true: 1}[revoke]; n != want {
					t.Errorf("audit entries of the revocation: %d, want %d", n, want)
				}
				if revoke && !strings.Contains(body, "no longer work") {
					t.Errorf("the email does not say the app passwords were revoked:\n%s", body)
				}
			})
		})
	}
}
