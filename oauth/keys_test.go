package oauth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func newKeyring(t testing.TB, s string) *keyring.Keyring {
	t.Helper()
	k, err := keyring.New([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const keysSecret = "keys-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

// clock is a settable time source for KeyManager.now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func currentKID(t *testing.T, m *KeyManager) string {
	t.Helper()
	k, err := m.SigningKey(context.Background())
	if err != nil {
		t.Fatalf("SigningKey: %v", err)
	}
	jwk, ok := k.(*jose.JSONWebKey)
	if !ok {
		t.Fatalf("SigningKey: got %T, want *jose.JSONWebKey", k)
	}
	if _, ok := jwk.Key.(*rsa.PrivateKey); !ok {
		t.Fatalf("SigningKey: got key %T, want *rsa.PrivateKey", jwk.Key)
	}
	return jwk.KeyID
}

// jwksKIDs returns the kids the JWKS publishes, in order.
func jwksKIDs(t *testing.T, m *KeyManager) []string {
	t.Helper()
	body, _, err := m.JWKSWithETag(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("JWKS %s: %v", body, err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids
}

func countKeys(t *testing.T, db *gorm.DB) (total, current int64) {
	t.Helper()
	if err := db.Model(&models.SigningKey{}).Count(&total).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Model(&models.SigningKey{}).Where("current = ?", true).Count(&current).Error; err != nil {
		t.Fatal(err)
	}
	return total, current
}

func TestKeyManager(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, db *gorm.DB)
	}{
		{"no key before Ensure", testNoKey},
		{"Ensure is idempotent", testEnsureIdempotent},
		{"concurrent Ensure makes one key", testEnsureConcurrent},
		{"Rotate keeps the old public key until it expires", testRotate},
		{"private key is sealed", testSealed},
		{"JWKS has public parts only", testJWKSPublicOnly},
	}
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, testdb.Open(t, kind)) })
			}
		})
	}
}

func testNoKey(t *testing.T, db *gorm.DB) {
	m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), time.Hour)
	if err := m.Load(context.Background()); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("Load: got %v, want %v", err, ErrNoSigningKey)
	}
	if _, err := m.SigningKey(context.Background()); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("SigningKey: got %v, want %v", err, ErrNoSigningKey)
	}
	if _, _, err := m.JWKSWithETag(context.Background()); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("JWKS: got %v, want %v", err, ErrNoSigningKey)
	}
}

func testEnsureIdempotent(t *testing.T, db *gorm.DB) {
	ctx := context.Background()
	m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), time.Hour)
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	kid := currentKID(t, m)
	for i := range 3 {
		// A second replica, and this one again.
		for _, mm := range []*KeyManager{m, NewKeyManager(storage.New(db), newKeyring(t, keysSecret), time.Hour)} {
			if err := mm.Ensure(ctx); err != nil {
				t.Fatalf("Ensure #%d: %v", i+2, err)
			}
			if got := currentKID(t, mm); got != kid {
				t.Fatalf("current kid after Ensure #%d: got %s, want %s", i+2, got, kid)
			}
		}
	}
	if total, current := countKeys(t, db); total != 1 || current != 1 {
		t.Fatalf("keys: got %d (%d current), want 1 (1 current)", total, current)
	}
}

func testEnsureConcurrent(t *testing.T, db *gorm.DB) {
	const replicas = 6
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	start := make(chan struct{})
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), time.Hour)
			<-start
			errs[i] = m.Ensure(context.Background())
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Ensure: %v", i, err)
		}
	}
	if total, current := countKeys(t, db); total != 1 || current != 1 {
		t.Fatalf("keys: got %d (%d current), want 1 (1 current)", total, current)
	}
}

func testRotate(t *testing.T, db *gorm.DB) {
	ctx := context.Background()
	const retention = time.Hour
	t0 := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := &clock{t: t0}
	m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), retention)
	m.now = clk.now
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	oldKID := currentKID(t, m)

	clk.set(t0.Add(time.Minute))
	newKID, err := m.Rotate(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if newKID == oldKID || newKID == "" {
		t.Fatalf("Rotate: got kid %q, want a new one (old %q)", newKID, oldKID)
	}
	if got := currentKID(t, m); got != newKID {
		t.Fatalf("current kid after Rotate: got %s, want %s", got, newKID)
	}
	var old models.SigningKey
	if err := db.Where("id = ?", oldKID).Take(&old).Error; err != nil {
		t.Fatal(err)
	}
	wantExpiry := t0.Add(time.Minute).Add(retention)
	if old.Current || old.RetiredAt == nil || !old.RetiredAt.Equal(t0.Add(time.Minute)) || old.ExpiresAt == nil || !old.ExpiresAt.Equal(wantExpiry) {
		t.Fatalf("retired key: got current=%v retired_at=%v expires_at=%v, want false %v %v", old.Current, old.RetiredAt, old.ExpiresAt, t0.Add(time.Minute), wantExpiry)
	}
	if total, current := countKeys(t, db); total != 2 || current != 1 {
		t.Fatalf("keys: got %d (%d current), want 2 (1 current)", total, current)
	}

	tests := []struct {
		name     string
		at       time.Time
		wantKIDs []string
	}{
		{"right after rotation", t0.Add(2 * time.Minute), []string{newKID, oldKID}},
		{"just before the old key expires", wantExpiry.Add(-time.Second), []string{newKID, oldKID}},
		{"after the old key expires", wantExpiry.Add(time.Second), []string{newKID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk.set(tc.at)
			if err := m.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if got := jwksKIDs(t, m); !slices.Equal(got, tc.wantKIDs) {
				t.Errorf("JWKS kids: got %v, want %v", got, tc.wantKIDs)
			}
			_, err := m.PublicKey(ctx, oldKID)
			if published := slices.Contains(tc.wantKIDs, oldKID); published != (err == nil) {
				t.Errorf("PublicKey(old): got error %v, want published=%v", err, published)
			}
			if got := currentKID(t, m); got != newKID {
				t.Errorf("current kid: got %s, want %s", got, newKID)
			}
		})
	}
}

func testSealed(t *testing.T, db *gorm.DB) {
	ctx := context.Background()
	kr := newKeyring(t, keysSecret)
	m := NewKeyManager(storage.New(db), kr, time.Hour)
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	var row models.SigningKey
	if err := db.Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParsePKCS8PrivateKey(row.PrivateSealed); err == nil {
		t.Fatal("the stored private key parses as PKCS#8: it is not sealed")
	}
	der, err := kr.Open(keySealPurpose, row.PrivateSealed)
	if err != nil {
		t.Fatalf("open sealed key: %v", err)
	}
	if bytes.Contains(row.PrivateSealed, der) || bytes.Contains([]byte(row.PublicPEM), der) {
		t.Fatal("the stored row holds the plain private key")
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("opened key: %v", err)
	}
	block, _ := pem.Decode([]byte(row.PublicPEM))
	if block == nil {
		t.Fatalf("public key %q is not PEM", row.PublicPEM)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.(*rsa.PrivateKey).PublicKey.Equal(pub) {
		t.Fatal("the sealed private key does not match the stored public key")
	}
	if _, err := newKeyring(t, "another-secret-0123456789-abcdefghijklmnopqrstuvwxyz").Open(keySealPurpose, row.PrivateSealed); err == nil {
		t.Fatal("another system secret opened the sealed key")
	}
	other := NewKeyManager(storage.New(db), newKeyring(t, "another-secret-0123456789-abcdefghijklmnopqrstuvwxyz"), time.Hour)
	if err := other.Load(ctx); err == nil {
		t.Fatal("a replica with another system secret loaded the signing key")
	}
}

func testJWKSPublicOnly(t *testing.T, db *gorm.DB) {
	ctx := context.Background()
	m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), time.Hour)
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	_, tag1, err := m.JWKSWithETag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rotate(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	body, tag2, err := m.JWKSWithETag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tag1 == tag2 || tag2 == "" {
		t.Errorf("ETag: got %s before and %s after rotation, want a new one", tag1, tag2)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("keys: got %d, want 2", len(set.Keys))
	}
	for _, k := range set.Keys {
		for field, want := range map[string]string{"kty": "RSA", "use": "sig", "alg": "RS256"} {
			if k[field] != want {
				t.Errorf("key %v: %s got %v, want %s", k["kid"], field, k[field], want)
			}
		}
		for _, field := range []string{"kid", "n", "e"} {
			if s, _ := k[field].(string); s == "" {
				t.Errorf("key %v: no %s", k["kid"], field)
			}
		}
		for _, field := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[field]; ok {
				t.Errorf("key %v: publishes private field %s", k["kid"], field)
			}
		}
	}
}

func TestKeyManagerRun(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := t.Context()
		m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), time.Hour)
		other := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), time.Hour)
		if err := m.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		if err := other.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		// Run's interval is long: only the unknown kid can make it load.
		go m.Run(ctx, time.Hour, nil)
		kid, err := other.Rotate(ctx, "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.PublicKey(ctx, kid); err == nil {
			t.Fatal("PublicKey(new kid) before any load: got a key, want an error (requests never query)")
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := m.PublicKey(ctx, kid); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the other replica's new key was not loaded within 5s of an unknown kid")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got := currentKID(t, m); got != kid {
			t.Fatalf("current kid: got %s, want %s", got, kid)
		}
	})
	t.Run("interval", func(t *testing.T) {
		db := testdb.Open(t, "sqlite")
		ctx := t.Context()
		m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), time.Hour)
		other := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), time.Hour)
		if err := m.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		go m.Run(ctx, 10*time.Millisecond, nil)
		kid, err := other.Rotate(ctx, "test")
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for currentKID(t, m) != kid {
			if time.Now().After(deadline) {
				t.Fatal("Run did not load the other replica's rotation within 5s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
