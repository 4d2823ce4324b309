package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// TestUserPage: a user's page edits email and name (both or neither),
// disables and enables the user behind a confirmation, and refuses
// disabling oneself and, through the service, the last administrator.
func TestUserPage(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		root := e.createUser("root", true)
		dana := e.createUser("dana", false)
		b := e.signedIn(root)

		r := b.get("/admin/users?q=dana")
		wantContains(t, r.body, `href="/admin/users/dana"`)
		r = b.get("/admin/users/dana")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="user-form"`, `value="dana@example.com"`, `id="user-status">active<`, `id="disable-toggle"`)
		wantStatus(t, b.get("/admin/users/nobody"), http.StatusNotFound)

		r = b.post("/admin/users/dana", url.Values{"email": {"not an email"}, "name": {"Dana Changed"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, `id="email-error" role="alert"`, `value="Dana Changed"`)
		if u, _ := e.accounts.GetUser(ctx, "dana"); u.Name != dana.Name || u.Email != dana.Email {
			t.Errorf("a refused save changed the user: %+v", u)
		}
		r = b.post("/admin/users/dana", url.Values{"email": {"dana@corp.example"}, "name": {"Dana D."}})
		wantStatus(t, r, http.StatusSeeOther)
		if u, _ := e.accounts.GetUser(ctx, "dana"); u.Name != "Dana D." || u.Email != "dana@corp.example" {
			t.Errorf("after saving: %+v", u)
		}
		// The address marked verified, and not.
		r = b.post("/admin/users/dana", url.Values{"email": {"dana@corp.example"}, "name": {"Dana D."}, "email_verified": {"true"}})
		wantStatus(t, r, http.StatusSeeOther)
		if u, _ := e.accounts.GetUser(ctx, "dana"); !u.EmailVerified {
			t.Error("the box did not mark dana's address verified")
		}
		wantContains(t, b.get("/admin/users/dana").body, `id="email-verified" name="email_verified" type="checkbox" value="true" checked`)
		wantStatus(t, b.post("/admin/users/dana", url.Values{"email": {"dana@corp.example"}, "name": {"Dana D."}}), http.StatusSeeOther)
		if u, _ := e.accounts.GetUser(ctx, "dana"); u.EmailVerified {
			t.Error("an unticked box left dana's address verified")
		}
		// Requiring a second factor, and making it optional again.
		wantContains(t, b.get("/admin/users/dana").body, `id="require-mfa-toggle"`, "Require a second factor")
		wantStatus(t, b.postRaw("/admin/users/dana/require-mfa", url.Values{"required": {"true"}}), http.StatusForbidden)
		wantStatus(t, b.post("/admin/users/dana/require-mfa", url.Values{"required": {"yes"}}), http.StatusBadRequest)
		if u, _ := e.accounts.GetUser(ctx, "dana"); u.RequireMFA {
			t.Fatal("a refused form required MFA")
		}
		wantStatus(t, b.post("/admin/users/dana/require-mfa", url.Values{"required": {"true"}}), http.StatusSeeOther)
		if u, _ := e.accounts.GetUser(ctx, "dana"); !u.RequireMFA {
			t.Fatal("dana's second factor is not required")
		}
		wantContains(t, b.get("/admin/users/dana").body, "Make the second factor optional", "must sign in with a second factor")
		wantStatus(t, b.post("/admin/users/dana/require-mfa", url.Values{"required": {"false"}}), http.StatusSeeOther)
		if u, _ := e.accounts.GetUser(ctx, "dana"); u.RequireMFA {
			t.Fatal("dana's second factor is still required")
		}
		// Without the form's CSRF token nothing changes.
		r = b.postRaw("/admin/users/dana/disabled", url.Values{"disabled": {"true"}})
		wantStatus(t, r, http.StatusForbidden)

		now := time.Now().UTC()
		if err := db.Create(&models.LoginSession{IDHash: "dana-session", UserID: dana.ID, AuthTime: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now}).Error; err != nil {
			t.Fatal(err)
		}
		r = b.post("/admin/users/dana/disabled/confirm", url.Values{"disabled": {"true"}})
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, "Disable dana?", `id="confirm-submit"`)
		if u, _ := e.accounts.GetUser(ctx, "dana"); u.Disabled {
			t.Fatal("the confirmation page disabled dana")
		}
		r = b.post("/admin/users/dana/disabled", url.Values{"disabled": {"true"}})
		wantStatus(t, r, http.StatusSeeOther)
		if u, _ := e.accounts.GetUser(ctx, "dana"); !u.Disabled {
			t.Fatal("dana is not disabled")
		}
		if n := countRows(t, db, &models.LoginSession{}, "user_id = ?", dana.ID); n != 0 {
			t.Errorf("dana has %d sessions after being disabled, want 0", n)
		}
		r = b.get("/admin/users/dana")
		wantContains(t, r.body, `id="user-status">disabled`, `id="notice"`)
		r = b.get("/admin/users?q=dana")
		wantContains(t, r.body, "(disabled)")

		r = b.post("/admin/users/dana/disabled", url.Values{"disabled": {"false"}})
		wantStatus(t, r, http.StatusSeeOther)
		if u, _ := e.accounts.GetUser(ctx, "dana"); u.Disabled {
			t.Fatal("dana is still disabled")
		}
		wantStatus(t, b.post("/admin/users/dana/disabled", url.Values{"disabled": {"maybe"}}), http.StatusBadRequest)

		r = b.post("/admin/users/root/disabled", url.Values{"disabled": {"true"}})
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, "cannot disable yourself")

		// Another administrator disables root: root's console session ends.
		if _, err := e.accounts.UpdateUser(ctx, "test", "dana", accounts.UserUpdate{Admin: &[]bool{true}[0]}); err != nil {
			t.Fatal(err)
		}
		danaNow, _ := e.accounts.GetUser(ctx, "dana")
		b2 := e.signedIn(danaNow)
		wantStatus(t, b2.post("/admin/users/root/disabled", url.Values{"disabled": {"true"}}), http.StatusSeeOther)
		if r := b.get("/admin/users"); r.status != http.StatusFound || !strings.HasPrefix(r.location(), "/admin/login") {
			t.Errorf("root's console after being disabled: status %d to %q, want a redirect to sign in", r.status, r.location())
		}
	})
}
