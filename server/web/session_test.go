package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
)

func TestSecureCookies(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"https://id.example.com", true},
		{"https://127.0.0.1:8443", true},
		{"http://127.0.0.1:8080", false},
		{"http://127.0.0.2", false},
		{"http://localhost:8080", false},
		{"http://[::1]:8080", false},
		{"http://id.example.com", true},
		{"http://10.0.0.1", true},
		{"not a url\x00", true},
	} {
		if got := SecureCookies(tt.url); got != tt.want {
			t.Errorf("SecureCookies(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

// jar replays the cookies of responses into the next requests, the way a
// browser on one host does.
type jar map[string]*http.Cookie

func (j jar) take(rec *httptest.ResponseRecorder) {
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(j, c.Name)
		} else {
			j[c.Name] = c
		}
	}
}

func (j jar) request(form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range j {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func TestSessions(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		keys, err := keyring.New([]byte("web-session-test-secret-0123456789abcdef"))
		if err != nil {
			t.Fatal(err)
		}
		store := storage.New(db)
		public := NewSessions(store, keys, SessionOptions{Name: "authgate", Secure: true, Lifespan: time.Hour})
		console := NewSessions(store, keys, SessionOptions{Name: "authgate_admin", Purpose: "admin-", Secure: true, Lifespan: time.Hour})
		b := jar{}

		rec := httptest.NewRecorder()
		anon, err := public.CSRFToken(rec, b.request(nil))
		if err != nil {
			t.Fatal(err)
		}
		b.take(rec)
		c := b["__Host-authgate_csrf"]
		if c == nil || !c.Secure || c.Path != "/" || !c.HttpOnly || c.Domain != "" {
			t.Fatalf("CSRF cookie: got %+v, want __Host-authgate_csrf, Secure, HttpOnly, Path=/, no Domain", c)
		}
		if !public.CheckCSRF(b.request(url.Values{CSRFField: {anon}})) {
			t.Error("the anonymous token does not pass for its own cookie")
		}
		if public.CheckCSRF(b.request(url.Values{CSRFField: {anon + "x"}})) || public.CheckCSRF(b.request(nil)) {
			t.Error("a wrong or missing token passes")
		}

		rec = httptest.NewRecorder()
		if _, err := public.Start(ctx, rec, b.request(nil), "user-1"); err != nil {
			t.Fatal(err)
		}
		b.take(rec)
		if b["__Host-authgate_session"] == nil || !b["__Host-authgate_session"].Secure {
			t.Fatalf("session cookie: got %+v", b["__Host-authgate_session"])
		}
		if _, ok := b["__Host-authgate_csrf"]; ok {
			t.Error("the anonymous CSRF cookie survived the sign-in")
		}
		ls, ok, err := public.Current(b.request(nil))
		if err != nil || !ok || ls.UserID != "user-1" {
			t.Fatalf("Current = %+v, %v, %v; want user-1's session", ls, ok, err)
		}
		if _, ok, _ := console.Current(b.request(nil)); ok {
			t.Error("a public session opens the console")
		}

		// A signed-in browser: the anonymous pair, even planted back,
		// does not pass; the session's token does.
		b["__Host-authgate_csrf"] = c
		if public.CheckCSRF(b.request(url.Values{CSRFField: {anon}})) {
			t.Error("an anonymous token passes in a signed-in browser")
		}
		signed, err := public.CSRFToken(httptest.NewRecorder(), b.request(nil))
		if err != nil {
			t.Fatal(err)
		}
		if !public.CheckCSRF(b.request(url.Values{CSRFField: {signed}})) {
			t.Error("the session's token does not pass")
		}

		// A new sign-in rotates the token.
		rec = httptest.NewRecorder()
		if _, err := public.Start(ctx, rec, b.request(nil), "user-1"); err != nil {
			t.Fatal(err)
		}
		b.take(rec)
		if public.CheckCSRF(b.request(url.Values{CSRFField: {signed}})) {
			t.Error("the previous session's token passes after a new sign-in")
		}

		rec = httptest.NewRecorder()
		if err := public.End(ctx, rec, b.request(nil)); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := public.Current(b.request(nil)); ok {
			t.Error("the session lives on after End")
		}
	})
}
