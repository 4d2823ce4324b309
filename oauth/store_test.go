package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/oauth/storetest"
)

const testSecret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

func testKeyring(t testing.TB) *keyring.Keyring {
	t.Helper()
	k, err := keyring.New([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestStore runs the storage conformance suite on every database, each
// subtest on a fresh database (a fresh schema on PostgreSQL).
func TestStore(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) (*oauth.Store, *gorm.DB) {
				db := testdb.Open(t, kind)
				return oauth.NewStore(storage.New(db), testKeyring(t), nil), db
			})
		})
		// As NewProvider sets it up: a code's OpenID Connect session
		// under the code's signature.
		t.Run(kind+"/code-signature", func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) (*oauth.Store, *gorm.DB) {
				db := testdb.Open(t, kind)
				s := oauth.NewStore(storage.New(db), testKeyring(t), nil)
				oauth.SetCodeSignature(s, codeSignature)
				return s, db
			})
		})
	}
}

// codeSignature stands in for the token strategy's: the part after the
// dot of a code the strategy made, a digest of anything else.
func codeSignature(_ context.Context, code string) string {
	if i := strings.LastIndex(code, "."); i >= 0 {
		return code[i+1:]
	}
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// An OpenID Connect session stored by an earlier version (under a keyed
// hash of the code) is still found for its code; one stored now is under
// the code's signature, beside the code's own row, and the exchange's
// first read of the code brings it along.
func TestOpenIDConnectSessionKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testdb.Open(t, "sqlite")
	kr := testKeyring(t)
	before := oauth.NewStore(storage.New(db), kr, nil)
	now := oauth.NewStore(storage.New(db), kr, nil)
	oauth.SetCodeSignature(now, codeSignature)
	if err := db.Create(&models.Client{ID: "app", Name: "App", GrantTypes: []string{"authorization_code"}}).Error; err != nil {
		t.Fatal(err)
	}

	req := func(nonce string) *fosite.Request {
		r := fosite.NewRequest()
		r.ID = "req-" + nonce
		r.Client = oauth.NewClient(models.Client{ID: "app", Name: "App"})
		sess := oauth.NewSession("user-1")
		sess.Claims.Nonce = nonce
		sess.SetExpiresAt(fosite.AuthorizeCode, time.Now().Add(10*time.Minute))
		r.Session = sess
		return r
	}
	if err := before.CreateOpenIDConnectSession(ctx, "key-old.sig-old", req("n-old")); err != nil {
		t.Fatal(err)
	}
	if err := now.CreateOpenIDConnectSession(ctx, "key-new.sig-new", req("n-new")); err != nil {
		t.Fatal(err)
	}
	for code, nonce := range map[string]string{"key-old.sig-old": "n-old", "key-new.sig-new": "n-new"} {
		got, err := now.GetOpenIDConnectSession(ctx, code, &fosite.Request{Session: oauth.NewSession("")})
		if err != nil {
			t.Fatalf("%s: %v", code, err)
		}
		if n := got.GetSession().(*oauth.Session).Claims.Nonce; n != nonce {
			t.Fatalf("%s: nonce %q, want %q", code, n, nonce)
		}
	}
	var keys []string
	if err := db.Model(&models.OAuthRequest{}).Where("kind = ?", "oidc").Order("signature").Pluck("signature", &keys).Error; err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !slices.Contains(keys, "sig-new") || slices.Contains(keys, "key-old.sig-old") || slices.Contains(keys, "key-new.sig-new") {
		t.Fatalf("stored keys %q: want the new session under its code's signature and no code stored", keys)
	}
	// The exchange's transaction: the code's first read brings the
	// session along; with the database row gone, the session is still
	// found within the transaction.
	if err := now.CreateAuthorizeCodeSession(ctx, "sig-new", req("n-new")); err != nil {
		t.Fatal(err)
	}
	txCtx, err := now.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = now.Rollback(txCtx) }()
	if _, err := now.GetAuthorizeCodeSession(txCtx, "sig-new", oauth.NewSession("")); err != nil {
		t.Fatal(err)
	}
	if err := storage.New(db).Conn(txCtx).Where("kind = ? AND signature = ?", "oidc", "sig-new").Delete(&models.OAuthRequest{}).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := now.GetOpenIDConnectSession(txCtx, "key-new.sig-new", &fosite.Request{Session: oauth.NewSession("")}); err != nil {
		t.Fatalf("session read ahead with the code: %v", err)
	}
}

// Inside a transaction begun by the store, new rows are held back and
// written together at commit (one statement): before it, the transaction's
// own connection sees none of them unless the store reads one; after it,
// all are there. A rollback writes none.
func TestTransactionWritesNewRowsTogether(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := testdb.Open(t, kind)
			st := storage.New(db)
			s := oauth.NewStore(st, testKeyring(t), nil)
			oauth.SetCodeSignature(s, codeSignature)
			if err := db.Create(&models.Client{ID: "app", Name: "App", GrantTypes: []string{"authorization_code"}}).Error; err != nil {
				t.Fatal(err)
			}
			count := func(ctx context.Context, requestID string) int64 {
				t.Helper()
				var n int64
				if err := st.Conn(ctx).Model(&models.OAuthRequest{}).Where("request_id = ?", requestID).Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			for _, end := range []string{"commit", "rollback"} {
				r := fosite.NewRequest()
				r.ID = "req-" + end
				r.Client = oauth.NewClient(models.Client{ID: "app", Name: "App"})
				sess := oauth.NewSession("user-1")
				sess.SetExpiresAt(fosite.AuthorizeCode, time.Now().Add(10*time.Minute))
				r.Session = sess
				code := "key-" + end + ".sig-" + end
				tx, err := s.BeginTX(ctx)
				if err != nil {
					t.Fatal(err)
				}
				ended := false
				// A failure below must not leave the transaction open
				// (PostgreSQL's schema cleanup would wait for it).
				t.Cleanup(func() {
					if !ended {
						_ = s.Rollback(tx)
					}
				})
				if err := s.CreateAuthorizeCodeSession(tx, "sig-"+end, r); err != nil {
					t.Fatal(err)
				}
				if err := s.CreatePKCERequestSession(tx, "sig-"+end, r); err != nil {
					t.Fatal(err)
				}
				if err := s.CreateOpenIDConnectSession(tx, code, r); err != nil {
					t.Fatal(err)
				}
				if n := count(tx, r.ID); n != 0 {
					t.Fatalf("%s: %d rows written before the transaction ended, want them held back", end, n)
				}
				if end == "rollback" {
					ended = true
					if err := s.Rollback(tx); err != nil {
						t.Fatal(err)
					}
					if n := count(ctx, r.ID); n != 0 {
						t.Fatalf("rollback: %d rows written, want none", n)
					}
					continue
				}
				// The store reading one of them writes them first.
				if _, err := s.GetPKCERequestSession(tx, "sig-"+end, oauth.NewSession("")); err != nil {
					t.Fatalf("a held-back row read in its transaction: %v", err)
				}
				if n := count(tx, r.ID); n != 3 {
					t.Fatalf("after a read in the transaction: %d rows, want 3", n)
				}
				ended = true
				if err := s.Commit(tx); err != nil {
					t.Fatal(err)
				}
				if n := count(ctx, r.ID); n != 3 {
					t.Fatalf("after commit: %d rows, want 3", n)
				}
			}
		})
	}
}

// A token stored by an earlier version (its request as JSON) still works
// after an upgrade, on every database; one stored now is in the binary
// form and carries no JSON.
func TestRequestStoredAsJSONStillReads(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := testdb.Open(t, kind)
			st := storage.New(db)
			s := oauth.NewStore(st, testKeyring(t), nil)
			if err := db.Create(&models.Client{ID: "svc", Name: "Service", GrantTypes: []string{"client_credentials"}}).Error; err != nil {
				t.Fatal(err)
			}
			exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
			old := `{"id":"req-old","requested_at":"2026-11-30T10:00:00Z","client_id":"svc","requested_scope":["profile"],"granted_scope":["profile"],` +
				`"requested_audience":[],"granted_audience":[],"form":{"grant_type":["client_credentials"]},` +
				`"session":{"id_token_claims":{"jti":"","iss":"","sub":"","aud":null,"nonce":"","exp":"0001-01-01T00:00:00Z","iat":"0001-01-01T00:00:00Z",` +
				`"rat":"0001-01-01T00:00:00Z","auth_time":"0001-01-01T00:00:00Z","at_hash":"","acr":"","amr":null,"c_hash":"","ext":{}},` +
				`"headers":{"extra":{}},"expires_at":{"access_token":"` + exp.Format(time.RFC3339) + `"},"username":"","subject":""}}`
			if err := st.InsertOAuthRequest(ctx, models.OAuthRequest{
				Kind: "access", Signature: "sig-old", RequestID: "req-old", ClientID: "svc",
				RequestedAt: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC), ExpiresAt: &exp, Active: true, Data: []byte(old),
			}); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetAccessTokenSession(ctx, "sig-old", oauth.NewSession(""))
			if err != nil {
				t.Fatalf("a JSON row no longer reads: %v", err)
			}
			if got.GetID() != "req-old" || got.GetClient().GetID() != "svc" || !slices.Equal(got.GetGrantedScopes(), []string{"profile"}) ||
				!got.GetSession().GetExpiresAt(fosite.AccessToken).Equal(exp) {
				t.Fatalf("JSON row read as id %q client %q scopes %q expiry %v", got.GetID(), got.GetClient().GetID(), got.GetGrantedScopes(), got.GetSession().GetExpiresAt(fosite.AccessToken))
			}

			r := fosite.NewRequest()
			r.ID = "req-new"
			r.Client = got.GetClient()
			r.GrantScope("profile")
			r.Session = oauth.NewSession("")
			r.Session.SetExpiresAt(fosite.AccessToken, exp)
			if err := s.CreateAccessTokenSession(ctx, "sig-new", r); err != nil {
				t.Fatal(err)
			}
			row, err := st.OAuthRequest(ctx, "access", "sig-new", false)
			if err != nil {
				t.Fatal(err)
			}
			if len(row.Data) == 0 || row.Data[0] == '{' {
				t.Fatalf("a new row was stored as JSON: %q", row.Data)
			}
			again, err := s.GetAccessTokenSession(ctx, "sig-new", oauth.NewSession(""))
			if err != nil || again.GetID() != "req-new" || !slices.Equal(again.GetGrantedScopes(), []string{"profile"}) {
				t.Fatalf("the new row read as %v, %v", again, err)
			}
		})
	}
}
