package console

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/authgate/authgate/internal/testdb"
)

// With the database down, the console answers 503 with a page that says
// so, like the other surfaces, not a 500.
func TestDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	db, proxy := testdb.Cuttable(t)
	e := newEnv(t, db)
	t.Cleanup(func() { proxy.SetDown(false) })
	b := e.signedIn(e.createUser("root", true))
	wantStatus(t, b.get("/admin/users"), http.StatusOK)

	proxy.SetDown(true)
	for _, path := range []string{"/admin/", "/admin/users", "/admin/clients", "/admin/trusted-ips"} {
		r := b.get(path)
		wantStatus(t, r, http.StatusServiceUnavailable)
		wantContains(t, r.body, "Temporarily unavailable", `role="alert"`, "cannot reach the database", "Try again")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("GET %s: 503 without Retry-After", path)
		}
	}
	r := b.post("/admin/users", url.Values{"username": {"eve"}, "email": {"eve@example.com"}, "password": {"correct horse battery"}})
	wantStatus(t, r, http.StatusServiceUnavailable)
	wantContains(t, r.body, "nothing was changed")

	proxy.SetDown(false)
	wantStatus(t, b.get("/admin/users"), http.StatusOK)
}
