package adminapi

import (
	"context"
	"net/http"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()

		t.Run("create, get, update, delete", func(t *testing.T) {
			resp := e.do(t, "POST", "/admin/api/users", e.adminToken, map[string]any{
				"username": "Erin", "email": "erin@example.com", "name": "Erin Example", "password": "erin-password-1",
			})
			var u userJSON
			resp.want(t, http.StatusCreated, &u)
			if u.Username != "erin" || u.Email != "erin@example.com" || u.Name != "Erin Example" || u.Admin || u.ID == "" {
				t.Errorf("got %+v, want erin, erin@example.com, Erin Example, not admin", u)
			}
			if got, want := resp.header.Get("Location"), "/admin/api/users/erin"; got != want {
				t.Errorf("got Location %q, want %q", got, want)
			}
			e.wantAudit(t, "user.create", "erin", adminActor)
			if got := e.mailedTokens(t, "erin@example.com"); len(got) != 1 {
				t.Errorf("got %d token emails to erin, want 1", len(got))
			}

			var got userJSON
			e.do(t, "GET", "/admin/api/users/ERIN", e.clientToken, nil).want(t, http.StatusOK, &got)
			if got.ID != u.ID {
				t.Errorf("GET ERIN: got id %q, want %q", got.ID, u.ID)
			}

			e.do(t, "PATCH", "/admin/api/users/erin", e.clientToken, map[string]any{"name": "Erin E.", "admin": true}).want(t, http.StatusOK, &got)
			if got.Name != "Erin E." || !got.Admin || got.Email != "erin@example.com" {
				t.Errorf("PATCH: got %+v, want name Erin E., admin, email kept", got)
			}
			e.wantAudit(t, "user.update", "erin", "client:"+e.automation.ID)

			e.do(t, "DELETE", "/admin/api/users/erin", e.adminToken, nil).want(t, http.StatusNoContent, nil)
			e.wantAudit(t, "user.delete", "erin", adminActor)
			e.do(t, "GET", "/admin/api/users/erin", e.adminToken, nil).wantError(t, http.StatusNotFound, codeNotFound, "")
		})

		t.Run("duplicate username", func(t *testing.T) {
			e.do(t, "POST", "/admin/api/users", e.adminToken, map[string]any{
				"username": "BOB", "email": "other@example.com", "password": "other-password-1",
			}).wantError(t, http.StatusConflict, codeConflict, "")
		})

		t.Run("bad input names the field", func(t *testing.T) {
			valid := func(change map[string]any) map[string]any {
				m := map[string]any{"username": "frank", "email": "frank@example.com", "password": "frank-password-1"}
				for k, v := range change {
					if v == nil {
						delete(m, k)
					} else {
						m[k] = v
					}
				}
				return m
			}
			cases := []struct {
				name  string
				body  map[string]any
				field string
			}{
				{"missing username", valid(map[string]any{"username": nil}), "username"},
				{"bad username", valid(map[string]any{"username": "frank smith"}), "username"},
				{"bad email", valid(map[string]any{"email": "Frank <frank@example.com>"}), "email"},
				{"short password", valid(map[string]any{"password": "short"}), "password"},
				{"name with control characters", valid(map[string]any{"name": "Frank\nBcc: x"}), "name"},
				{"unknown field", valid(map[string]any{"password_hash": "$argon2id$x"}), "password_hash"},
				{"wrong type", valid(map[string]any{"admin": "yes"}), "admin"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					before := countRows[models.User](t, e.db)
					e.do(t, "POST", "/admin/api/users", e.adminToken, tc.body).wantError(t, http.StatusBadRequest, codeInvalidRequest, tc.field)
					if after := countRows[models.User](t, e.db); after != before {
						t.Errorf("got %d users after a refused create, want %d", after, before)
					}
				})
			}
			e.do(t, "PATCH", "/admin/api/users/"+userName, e.adminToken, map[string]any{"email": "not an address"}).
				wantError(t, http.StatusBadRequest, codeInvalidRequest, "email")
			e.do(t, "PATCH", "/admin/api/users/"+userName, e.adminToken, map[string]any{"username": "robert"}).
				wantError(t, http.StatusBadRequest, codeInvalidRequest, "username")
		})

		t.Run("list with search and pages", func(t *testing.T) {
			for _, name := range []string{"page-a", "page-b", "page-c"} {
				if _, err := e.accounts.CreateUser(ctx, "test", accountsUser(name, false)); err != nil {
					t.Fatal(err)
				}
			}
			var p pageJSON[userJSON]
			e.do(t, "GET", "/admin/api/users?q=PAGE-&limit=2", e.adminToken, nil).want(t, http.StatusOK, &p)
			if p.Total != 3 || p.Limit != 2 || p.Offset != 0 || len(p.Items) != 2 || p.Items[0].Username != "page-a" || p.Items[1].Username != "page-b" {
				t.Errorf("first page: got total %d limit %d offset %d items %v; want 3, 2, 0, [page-a page-b]", p.Total, p.Limit, p.Offset, usernames(p.Items))
			}
			e.do(t, "GET", "/admin/api/users?q=page-&limit=2&offset=2", e.adminToken, nil).want(t, http.StatusOK, &p)
			if p.Total != 3 || len(p.Items) != 1 || p.Items[0].Username != "page-c" {
				t.Errorf("second page: got total %d items %v; want 3, [page-c]", p.Total, usernames(p.Items))
			}
			e.do(t, "GET", "/admin/api/users", e.adminToken, nil).want(t, http.StatusOK, &p)
			if p.Limit != defaultPageLimit || p.Total < 5 {
				t.Errorf("default page: got limit %d total %d; want %d and at least 5", p.Limit, p.Total, defaultPageLimit)
			}
			for _, q := range []struct{ query, field string }{
				{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=ten", "limit"}, {"offset=-1", "offset"},
			} {
				e.do(t, "GET", "/admin/api/users?"+q.query, e.adminToken, nil).wantError(t, http.StatusBadRequest, codeInvalidRequest, q.field)
			}
		})

		t.Run("set password regenerates and emails the token", func(t *testing.T) {
			if _, err := e.accounts.CreateUser(ctx, "test", accountsUser("gina", false)); err != nil {
				t.Fatal(err)
			}
			before := e.mailedTokens(t, "gina@example.com")
			resp := e.do(t, "POST", "/admin/api/users/gina/password", e.adminToken, map[string]string{"password": "gina-new-password"})
			resp.want(t, http.StatusNoContent, nil)
			if len(resp.body) != 0 {
				t.Errorf("got body %q, want none", resp.body)
			}
			e.wantAudit(t, "user.password.set", "gina", adminActor)
			after := e.mailedTokens(t, "gina@example.com")
			if len(after) != len(before)+1 {
				t.Fatalf("got %d token emails, want %d", len(after), len(before)+1)
			}
			u, err := e.accounts.GetUser(ctx, "gina")
			if err != nil {
				t.Fatal(err)
			}
			if e.accounts.TokenMatches(u, before[len(before)-1]) || !e.accounts.TokenMatches(u, after[len(after)-1]) {
				t.Errorf("after set password: want the old token dead and the emailed one current")
			}
			if _, err := e.passwordGrant("gina", "gina-password-1"); !isOAuthError(err, "invalid_grant") {
				t.Errorf("old password: got %v, want invalid_grant", err)
			}
			if _, err := e.passwordGrant("gina", "gina-new-password"); err != nil {
				t.Errorf("new password: %v", err)
			}
			e.do(t, "POST", "/admin/api/users/gina/password", e.adminToken, map[string]string{"password": "short"}).
				wantError(t, http.StatusBadRequest, codeInvalidRequest, "password")
			e.do(t, "POST", "/admin/api/users/gina/password", e.adminToken, map[string]string{}).
				wantError(t, http.StatusBadRequest, codeInvalidRequest, "password")
		})

		t.Run("reset token emails it and never returns it", func(t *testing.T) {
			if _, err := e.accounts.CreateUser(ctx, "test", accountsUser("hank", false)); err != nil {
				t.Fatal(err)
			}
			before := e.mailedTokens(t, "hank@example.com")
			resp := e.do(t, "POST", "/admin/api/users/hank/reset-token", e.clientToken, nil)
			resp.want(t, http.StatusNoContent, nil)
			if len(resp.body) != 0 {
				t.Errorf("got body %q, want none", resp.body)
			}
			e.wantAudit(t, "user.token.reset", "hank", "client:"+e.automation.ID)
			after := e.mailedTokens(t, "hank@example.com")
			if len(after) != len(before)+1 {
				t.Fatalf("got %d token emails, want %d", len(after), len(before)+1)
			}
			u, err := e.accounts.GetUser(ctx, "hank")
			if err != nil {
				t.Fatal(err)
			}
			if e.accounts.TokenMatches(u, before[len(before)-1]) || !e.accounts.TokenMatches(u, after[len(after)-1]) {
				t.Errorf("after reset: want the old token dead and the emailed one current")
			}
		})

		t.Run("unlock", func(t *testing.T) {
			u, err := e.accounts.CreateUser(ctx, "test", accountsUser("ivy", false))
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := e.accounts.RecordFailure(ctx, u.ID, accounts.ChannelLegacy); err != nil {
					t.Fatal(err)
				}
			}
			var got userJSON
			e.do(t, "GET", "/admin/api/users/ivy", e.adminToken, nil).want(t, http.StatusOK, &got)
			if !got.LegacyLocked || got.LegacyLockedUntil == nil || got.LegacyFailures != 3 || got.LoginLocked {
				t.Fatalf("before unlock: got legacy_locked %t until %v failures %d, login_locked %t; want locked, 3, login open",
					got.LegacyLocked, got.LegacyLockedUntil, got.LegacyFailures, got.LoginLocked)
			}
			e.do(t, "POST", "/admin/api/users/ivy/unlock", e.adminToken, nil).want(t, http.StatusOK, &got)
			if got.LegacyLocked || got.LegacyLockedUntil != nil || got.LegacyFailures != 0 {
				t.Errorf("after unlock: got legacy_locked %t until %v failures %d; want open, null, 0", got.LegacyLocked, got.LegacyLockedUntil, got.LegacyFailures)
			}
			e.wantAudit(t, "user.unlock", "ivy", adminActor)
		})

		t.Run("not found", func(t *testing.T) {
			for _, r := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/admin/api/users/nobody", nil},
				{"PATCH", "/admin/api/users/nobody", map[string]string{"name": "x"}},
				{"DELETE", "/admin/api/users/nobody", nil},
				{"POST", "/admin/api/users/nobody/password", map[string]string{"password": "long-enough-1"}},
				{"POST", "/admin/api/users/nobody/reset-token", nil},
				{"POST", "/admin/api/users/nobody/unlock", nil},
			} {
				t.Run(r.method+" "+r.path, func(t *testing.T) {
					e.do(t, r.method, r.path, e.adminToken, r.body).wantError(t, http.StatusNotFound, codeNotFound, "")
				})
			}
		})
	})
}

func usernames(us []userJSON) []string {
	out := make([]string, 0, len(us))
	for _, u := range us {
		out = append(out, u.Username)
	}
	return out
}
