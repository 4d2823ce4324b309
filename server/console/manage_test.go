package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

// TestDeleteAndRotate: users and clients are deleted and secrets replaced
// only through a confirmation and with the form's CSRF token; nobody
// deletes themselves; the console's own client stays; a new secret is
// shown once, not cached, and the old one stops matching.
func TestDeleteAndRotate(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		root := e.createUser("root", true)
		e.createUser("dana", false)
		b := e.signedIn(root)

		t.Run("delete a user", func(t *testing.T) {
			r := b.get("/admin/users/dana")
			wantContains(t, r.body, `id="delete-user"`)
			r = b.post("/admin/users/dana/delete/confirm", nil)
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.body, "Delete the user dana?", `id="confirm-submit"`)
			wantStatus(t, b.postRaw("/admin/users/dana/delete", url.Values{}), http.StatusForbidden)
			if _, err := e.accounts.GetUser(ctx, "dana"); err != nil {
				t.Fatalf("dana is gone after a confirmation page or a POST without CSRF token: %v", err)
			}
			r = b.post("/admin/users/dana/delete", nil)
			wantStatus(t, r, http.StatusSeeOther)
			if _, err := e.accounts.GetUser(ctx, "dana"); err == nil {
				t.Fatal("dana still exists")
			}
			wantContains(t, b.get("/admin/users").body, "Deleted the user dana")
			wantStatus(t, b.post("/admin/users/dana/delete", nil), http.StatusNotFound)

			r = b.post("/admin/users/root/delete", nil)
			wantStatus(t, r, http.StatusBadRequest)
			wantContains(t, r.body, "cannot delete yourself")
			if strings.Contains(b.get("/admin/users/root").body, `id="delete-user"`) {
				t.Error("your own page offers to delete you")
			}
		})

		t.Run("delete a client", func(t *testing.T) {
			cl, _, err := e.clients.Create(ctx, "test", clients.NewClient{Name: "Batch", GrantTypes: []string{clients.GrantClientCredentials}})
			if err != nil {
				t.Fatal(err)
			}
			r := b.post("/admin/clients/"+cl.ID+"/delete/confirm", nil)
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.body, "Delete the client Batch?")
			wantStatus(t, b.postRaw("/admin/clients/"+cl.ID+"/delete", url.Values{}), http.StatusForbidden)
			r = b.post("/admin/clients/"+cl.ID+"/delete", nil)
			wantStatus(t, r, http.StatusSeeOther)
			if _, err := e.clients.Get(ctx, cl.ID); err == nil {
				t.Fatal("the client still exists")
			}
			for _, path := range []string{"/admin/clients/" + ClientID + "/delete/confirm", "/admin/clients/" + ClientID + "/delete"} {
				r = b.post(path, nil)
				wantStatus(t, r, http.StatusConflict)
				wantContains(t, r.body, "console&#39;s own client cannot be deleted")
			}
			if _, err := e.clients.Get(ctx, ClientID); err != nil {
				t.Fatalf("the console's client is gone: %v", err)
			}
			if strings.Contains(b.get("/admin/clients/"+ClientID).body, `id="delete-client"`) {
				t.Error("the console's client offers to be deleted")
			}
		})

		t.Run("rotate a secret", func(t *testing.T) {
			cl, secret, err := e.clients.Create(ctx, "test", clients.NewClient{Name: "Batch 2", GrantTypes: []string{clients.GrantClientCredentials}})
			if err != nil {
				t.Fatal(err)
			}
			r := b.post("/admin/clients/"+cl.ID+"/rotate-secret/confirm", nil)
			wantStatus(t, r, http.StatusOK)
			wantContains(t, r.body, "Replace the secret of Batch 2?")
			if got, _ := e.clients.Get(ctx, cl.ID); got.SecretHash != cl.SecretHash {
				t.Fatal("the confirmation page replaced the secret")
			}
			r = b.post("/admin/clients/"+cl.ID+"/rotate-secret", nil)
			wantStatus(t, r, http.StatusOK)
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control of the secret page: got %q, want no-store", cc)
			}
			m := regexp.MustCompile(`id="client-secret">([A-Za-z0-9_-]{43})<`).FindStringSubmatch(r.body)
			if m == nil {
				t.Fatalf("no secret on the page:\n%s", r.body)
			}
			h := &oauth.SecretHasher{Keys: e.keys}
			got, _ := e.clients.Get(ctx, cl.ID)
			if err := h.Compare(ctx, []byte(got.SecretHash), []byte(m[1])); err != nil {
				t.Errorf("the shown secret does not match the stored hash: %v", err)
			}
			if err := h.Compare(ctx, []byte(got.SecretHash), []byte(secret)); err == nil {
				t.Error("the old secret still matches")
			}
			if strings.Contains(b.get("/admin/clients/"+cl.ID).body, m[1]) {
				t.Error("the client's page shows the secret again")
			}
			pub, _, err := e.clients.Create(ctx, "test", clients.NewClient{Name: "SPA", Public: true, GrantTypes: []string{clients.GrantAuthorizationCode}, RedirectURIs: []string{"https://spa.example/cb"}})
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, b.post("/admin/clients/"+pub.ID+"/rotate-secret", nil), http.StatusBadRequest)
			wantStatus(t, b.post("/admin/clients/"+ClientID+"/rotate-secret", nil), http.StatusConflict)
		})
	})
}

// TestAuditPage: the audit log page lists entries newest first, filters
// by actor, action and target, and pages back by id.
func TestAuditPage(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		b := e.signedIn(e.createUser("root", true))
		st := storage.New(db)
		for i := range 60 {
			actor := "cli:ops"
			if i%2 == 1 {
				actor = "user:root"
			}
			if err := st.Audit(ctx, actor, "client.update", fmt.Sprintf("c%02d", i), fmt.Sprintf("change %d <b>", i)); err != nil {
				t.Fatal(err)
			}
		}
		r := b.get("/admin/audit")
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, `id="nav-audit" aria-current="page"`, "c59", "change 59 &lt;b&gt;", `id="next-page"`)
		if strings.Contains(r.body, ">c09<") {
			t.Error("the first page shows an old entry")
		}
		next := regexp.MustCompile(`href="([^"]+)" id="next-page"`).FindStringSubmatch(r.body)
		r = b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
		wantStatus(t, r, http.StatusOK)
		wantContains(t, r.body, ">c09<", ">c00<", `id="newest-page"`)
		if strings.Contains(r.body, `id="next-page"`) || strings.Contains(r.body, ">c59<") {
			t.Error("the second page is not the last one or repeats the first")
		}

		r = b.get("/admin/audit?actor=cli:ops&action=client.update")
		wantContains(t, r.body, ">c58<", `value="cli:ops"`)
		if strings.Contains(r.body, ">c59<") {
			t.Error("the actor filter let user:root's entry through")
		}
		r = b.get("/admin/audit?target=c07")
		if n := strings.Count(r.body, `<tr id="audit-`); n != 1 {
			t.Errorf("target filter: %d rows, want 1", n)
		}
		r = b.get("/admin/audit?action=user.delete")
		wantContains(t, r.body, "No entries match")
		r = b.get("/admin/audit?before=-1")
		wantStatus(t, r, http.StatusBadRequest)
		wantContains(t, r.body, "c59")
		var n int64
		db.Model(&models.AuditEntry{}).Count(&n)
		if n != 61 { // the 60 above and root's user.create
			t.Errorf("viewing the audit log wrote to it: %d entries, want 61", n)
		}
	})
}
