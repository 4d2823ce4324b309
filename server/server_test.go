package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"gorm.io/gorm"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/server"
)

const (
	goldenIssuer = "https://id.example.test"
	goldenSecret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
)

// newTestServer builds the public handler on a fresh SQLite database, the way
// serve does, with the issuer fixed so its documents are reproducible.
func newTestServer(t *testing.T, edit func(*config.Config)) (http.Handler, *oauth.Provider) {
	t.Helper()
	h, p, _ := newServerOn(t, "sqlite", edit)
	return h, p
}

// newServerOn builds the public handler on a fresh database of the given
// kind and returns it with its provider and database.
func newServerOn(t testing.TB, kind string, edit func(*config.Config)) (http.Handler, *oauth.Provider, *gorm.DB) {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.Issuer = goldenIssuer
	cfg.Secret = goldenSecret
	if edit != nil {
		edit(&cfg)
	}
	db := testdb.Open(t, kind)
	kr, err := keyring.New([]byte(cfg.Secret))
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{Time: 1, Memory: 8192, Threads: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := oauth.NewKeyManager(storage.New(db), kr, cfg.TokenRetention())
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	provider := oauth.NewProvider(oauth.Settings{
		Issuer:                cfg.Issuer,
		AccessTokenLifespan:   cfg.AccessTokenLifespan,
		RefreshTokenLifespan:  cfg.RefreshTokenLifespan,
		AuthorizeCodeLifespan: cfg.AuthorizeCodeLifespan,
		IDTokenLifespan:       cfg.IDTokenLifespan,
	}, oauth.NewStore(storage.New(db), kr, nil), keys, kr, &oauth.SecretHasher{Keys: kr, Argon2: hasher})
	h, err := server.New(server.Deps{
		Config:   cfg,
		Store:    storage.New(db),
		Keys:     kr,
		Provider: provider,
		Users:    accounts.New(storage.New(db), kr, hasher, accounts.Options{LockoutThreshold: cfg.LockoutThreshold, LockoutDuration: cfg.LockoutDuration}),
		ClientIP: clientip.New(nil, clientip.AnyHeader),
	})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	return h, provider, db
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
