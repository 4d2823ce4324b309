package server_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/loadtest"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// The benchmarks below serve requests through the real handler, fosite and
// the database, in process (no network), once per database kind. Compare
// runs with benchstat:
//
//	go test ./server -run '^$' -bench . -count 10 > new.txt

func newBenchServer(b *testing.B, kind string) (http.Handler, string) {
	b.Helper()
	h, p, db := newServerOn(b, kind, nil)
	sec, err := keyring.RandomString(32)
	if err != nil {
		b.Fatal(err)
	}
	hash, _ := p.Secrets.Hash(context.Background(), []byte(sec))
	c := models.Client{ID: "bench", Name: "bench", SecretHash: string(hash), GrantTypes: []string{"client_credentials"}, Scopes: []string{"profile"}, AccessTokenFormat: "opaque"}
	if err := db.Create(&c).Error; err != nil {
		b.Fatal(err)
	}
	return h, sec
}

func post(h http.Handler, path, secret string, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("bench", secret)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// BenchmarkClientCredentials is one client_credentials token request: a
// client lookup (cached), an HMAC secret check and one insert.
func BenchmarkClientCredentials(b *testing.B) {
	for _, kind := range testdb.Kinds {
		b.Run(kind, func(b *testing.B) {
			h, sec := newBenchServer(b, kind)
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"profile"}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if rec := post(h, "/oauth2/token", sec, form); rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkIntrospect is one introspection of an active opaque token.
func BenchmarkIntrospect(b *testing.B) {
	for _, kind := range testdb.Kinds {
		b.Run(kind, func(b *testing.B) {
			h, sec := newBenchServer(b, kind)
			rec := post(h, "/oauth2/token", sec, url.Values{"grant_type": {"client_credentials"}})
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
				b.Fatalf("token: %s", rec.Body)
			}
			form := url.Values{"token": {tok.AccessToken}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rec := post(h, "/oauth2/introspect", sec, form)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"active":true`) {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkDiscovery serves the precomputed discovery document.
func BenchmarkDiscovery(b *testing.B) {
	h, _, _ := newServerOn(b, "sqlite", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, "/.well-known/openid-configuration", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkJWKS serves the public signing keys from memory.
func BenchmarkJWKS(b *testing.B) {
	h, _, _ := newServerOn(b, "sqlite", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkRefresh is one rotating refresh: the refresh token read and
// locked, the grant's guard asked, the old pair revoked and a new pair
// stored, in one transaction.
func BenchmarkRefresh(b *testing.B) {
	for _, kind := range testdb.Kinds {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			h, a, db := newServerOn(b, kind, nil)
			sec, err := keyring.RandomString(32)
			if err != nil {
				b.Fatal(err)
			}
			hash, _ := a.Secrets.Hash(ctx, []byte(sec))
			c := models.Client{ID: "bench", Name: "bench", SecretHash: string(hash), GrantTypes: []string{"password", "refresh_token"},
				Scopes: []string{"profile", "offline_access"}, AccessTokenFormat: "opaque"}
			if err := db.Create(&c).Error; err != nil {
				b.Fatal(err)
			}
			const pw = "bench user passphrase"
			if _, err := a.Accounts.CreateUser(ctx, "bench", accounts.NewUser{Username: "bench", Email: "bench@example.com", Password: pw}); err != nil {
				b.Fatal(err)
			}
			// httptest's requests come from 192.0.2.1: the password alone.
			if _, err := a.Trust.Add(ctx, "bench", "192.0.2.0/24", "httptest"); err != nil {
				b.Fatal(err)
			}
			refreshToken := func(rec *httptest.ResponseRecorder) string {
				var tok struct {
					RefreshToken string `json:"refresh_token"`
				}
				if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &tok) != nil || tok.RefreshToken == "" {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				return tok.RefreshToken
			}
			rt := refreshToken(post(h, "/oauth2/token", sec, url.Values{"grant_type": {"password"}, "username": {"bench"}, "password": {pw}, "scope": {"profile offline_access"}}))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rt = refreshToken(post(h, "/oauth2/token", sec, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}))
			}
		})
	}
}

// BenchmarkAuthorizationCode is one signed-in authorization code flow with
// PKCE over loopback HTTP, as a relying party drives it: the authorization
// request (session, user and consent read, the code's rows written) and the
// code exchange (the code read and locked, the ID token signed, the access
// token stored), for ID tokens signed with RS256 and with ES256. The load
// tool's code-flow client runs the flows, one after another, with its
// browser session kept (a first flow signs in).
func BenchmarkAuthorizationCode(b *testing.B) {
	for _, kind := range testdb.Kinds {
		for _, alg := range []string{"RS256", "ES256"} {
			b.Run(kind+"/"+alg, func(b *testing.B) {
				ctx := context.Background()
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				issuer := "http://" + ln.Addr().String()
				h, a, _ := newServerOn(b, kind, func(c *config.Config) { c.Issuer = issuer; c.RateLimit.PerMinute = 0 })
				srv := httptest.NewUnstartedServer(h)
				srv.Listener = ln
				srv.Start()
				b.Cleanup(srv.Close)
				c, secret, err := a.Clients.Create(ctx, "bench", clients.NewClient{
					Name: "bench", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"http://127.0.0.1:1/callback"},
					Scopes: []string{"openid", "profile"}, FirstParty: true, IDTokenAlg: alg,
				})
				if err != nil {
					b.Fatal(err)
				}
				const pw = "bench user passphrase"
				if _, err := a.Accounts.CreateUser(ctx, "bench", accounts.NewUser{Username: "bench", Email: "bench@example.com", Password: pw}); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				res, err := loadtest.Run(ctx, loadtest.Config{
					Scenario: loadtest.AuthorizationCode, Issuer: issuer, ClientID: c.ID, ClientSecret: secret,
					Username: "bench", Password: pw, Scope: "openid profile", RedirectURI: "http://127.0.0.1:1/callback",
					ReuseSession: true, Concurrency: 1, Requests: b.N,
				})
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if res.Successes != int64(b.N) {
					b.Fatalf("%d of %d flows succeeded: %+v", res.Successes, b.N, res.Errors)
				}
			})
		}
	}
}
