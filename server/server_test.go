package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/app"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
)

const (
	goldenIssuer = "https://id.example.test"
	goldenSecret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
)

// newTestServer builds the public handler on a fresh SQLite database, the way
// serve does, with the issuer fixed so its documents are reproducible.
func newTestServer(t *testing.T, edit func(*config.Config)) (http.Handler, *app.App) {
	t.Helper()
	h, a, _ := newServerOn(t, "sqlite", edit)
	return h, a
}

// newServerOn builds the application on a fresh database of the given kind
// through the composition root, and returns its public handler, the
// application and the database.
func newServerOn(t testing.TB, kind string, edit func(*config.Config)) (http.Handler, *app.App, *gorm.DB) {
	t.Helper()
	cfg := config.Default()
	cfg.Issuer = goldenIssuer
	cfg.Secret = goldenSecret
	cfg.AdminURL = "http://127.0.0.1:1"
	cfg.DatabaseURL = testdb.URL(t, kind)
	cfg.Mail.Outbox = t.TempDir()
	if edit != nil {
		edit(&cfg)
	}
	a, err := app.New(context.Background(), cfg, app.Options{Argon2: &password.Params{Time: 1, Memory: 8192, Threads: 1}})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	// The tests' own connection, for rows no service writes.
	db, err := storage.Open(context.Background(), cfg.DatabaseURL, storage.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = storage.Close(db) })
	return a.Public, a, db
}

// serveGET serves one GET request.
func serveGET(t *testing.T, h http.Handler, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
