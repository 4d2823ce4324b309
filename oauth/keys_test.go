package oauth

import (
	"bytes"
	"context"
	"crypto"
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
	return currentKIDOf(t, m, AlgRS256)
}

// currentKIDOf returns the kid of the key that signs alg now, checking
// that its private key suits alg.
func currentKIDOf(t *testing.T, m *KeyManager, alg string) string {
	t.Helper()
	k, err := m.SigningKey(WithAlgorithm(context.Background(), alg))
	if err != nil {
		t.Fatalf("SigningKey: %v", err)
	}
	jwk, ok := k.(*jose.JSONWebKey)
	if !ok {
		t.Fatalf("SigningKey: got %T, want *jose.JSONWebKey", k)
	}
	if pub, ok := jwk.Key.(crypto.Signer); !ok || !keyAlgorithm(alg, pub.Public()) || jwk.Algorithm != alg {
		t.Fatalf("SigningKey(%s): got %s key %T, want one for %s", alg, jwk.Algorithm, jwk.Key, alg)
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

// countKeys returns how many keys are stored and how many of them sign
// now (one per algorithm when all is well).
func countKeys(t *testing.T, db *gorm.DB) (total, current int64) {
	t.Helper()
	var rows []models.SigningKey
	if err := db.Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		total++
		if KeyState(r, time.Now()) == KeyCurrent {
			current++
		}
	}
	return total, current
}

var nAlgs = int64(len(SigningAlgorithms))

func TestKeyManager(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, db *gorm.DB)
	}{
		{"no key before Ensure", testNoKey},
		{"Ensure is idempotent", testEnsureIdempotent},
		{"concurrent Ensure makes one key", testEnsureConcurrent},
		{"Rotate pre-publishes and keeps the old public key until it expires", testRotate},
		{"Rotate now", testRotateNow},
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
	m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), KeyOptions{Retention: time.Hour})
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
	m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), KeyOptions{Retention: time.Hour})
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	kid := currentKID(t, m)
	for i := range 3 {
		// A second replica, and this one again.
		for _, mm := range []*KeyManager{m, NewKeyManager(storage.New(db), newKeyring(t, keysSecret), KeyOptions{Retention: time.Hour})} {
			if err := mm.Ensure(ctx); err != nil {
				t.Fatalf("Ensure #%d: %v", i+2, err)
			}
			if got := currentKID(t, mm); got != kid {
				t.Fatalf("current kid after Ensure #%d: got %s, want %s", i+2, got, kid)
			}
		}
	}
	if total, current := countKeys(t, db); total != nAlgs || current != nAlgs {
		t.Fatalf("keys: got %d (%d current), want %d (one current per algorithm)", total, current, nAlgs)
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
			m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), KeyOptions{Retention: time.Hour})
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
	if total, current := countKeys(t, db); total != nAlgs || current != nAlgs {
		t.Fatalf("keys: got %d (%d current), want %d (one current per algorithm)", total, current, nAlgs)
	}
}

func testRotate(t *testing.T, db *gorm.DB) {
	ctx := context.Background()
	const retention, prePublish = time.Hour, 5 * time.Minute
	t0 := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	clk := &clock{t: t0}
	m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), KeyOptions{Retention: retention, PrePublish: prePublish, Now: clk.now})
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	oldKID := currentKID(t, m)
	esKID := currentKIDOf(t, m, AlgES256)

	rotated := t0.Add(time.Minute)
	clk.set(rotated)
	rot, err := m.Rotate(ctx, "test", "", false)
	if err != nil {
		t.Fatal(err)
	}
	newKID := rot.Key.ID
	if newKID == oldKID || newKID == "" || rot.Immediate || rot.Key.Algorithm != AlgRS256 {
		t.Fatalf("Rotate: got %+v, want a new RS256 kid (old %q), not immediate", rot, oldKID)
	}
	activates := rotated.Add(prePublish)
	if !rot.Key.ActivatesAt.Equal(activates) {
		t.Fatalf("Rotate: activates at %v, want %v (the pre-publication later)", rot.Key.ActivatesAt, activates)
	}
	var old models.SigningKey
	if err := db.Where("id = ?", oldKID).Take(&old).Error; err != nil {
		t.Fatal(err)
	}
	wantExpiry := activates.Add(retention)
	if old.RetiredAt == nil || !old.RetiredAt.Equal(activates) || old.ExpiresAt == nil || !old.ExpiresAt.Equal(wantExpiry) {
		t.Fatalf("replaced key: got retired_at=%v expires_at=%v, want %v %v", old.RetiredAt, old.ExpiresAt, activates, wantExpiry)
	}

	tests := []struct {
		name      string
		at        time.Time
		wantKIDs  []string
		wantSigns string
		oldState  string
	}{
		{"published at once, not signing", rotated, []string{newKID, oldKID}, oldKID, KeyCurrent},
		{"a second before activation", activates.Add(-time.Second), []string{newKID, oldKID}, oldKID, KeyCurrent},
		{"at activation", activates, []string{newKID, oldKID}, newKID, KeyRetired},
		{"just before the old key expires", wantExpiry.Add(-time.Second), []string{newKID, oldKID}, newKID, KeyRetired},
		{"after the old key expires", wantExpiry.Add(time.Second), []string{newKID}, newKID, KeyRemoved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk.set(tc.at)
			if err := m.Load(ctx); err != nil {
				t.Fatal(err)
			}
			got := slices.DeleteFunc(jwksKIDs(t, m), func(k string) bool { return k != newKID && k != oldKID })
			if !slices.Equal(got, tc.wantKIDs) {
				t.Errorf("JWKS RS256 kids: got %v, want %v", got, tc.wantKIDs)
			}
			_, _, err := m.PublicKey(ctx, oldKID)
			if published := slices.Contains(tc.wantKIDs, oldKID); published != (err == nil) {
				t.Errorf("PublicKey(old): got error %v, want published=%v", err, published)
			}
			if got := currentKID(t, m); got != tc.wantSigns {
				t.Errorf("signing kid: got %s, want %s", got, tc.wantSigns)
			}
			if got := currentKIDOf(t, m, AlgES256); got != esKID {
				t.Errorf("ES256 signing kid: got %s, want %s (an RS256 rotation leaves it)", got, esKID)
			}
			if got := KeyState(old, tc.at); got != tc.oldState {
				t.Errorf("KeyState(old): got %s, want %s", got, tc.oldState)
			}
		})
	}
	// The switch needs no load: a set loaded before the activation signs
	// with the new key from the activation on.
	clk.set(activates.Add(-time.Second))
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	clk.set(activates)
	if got := currentKID(t, m); got != newKID {
		t.Errorf("signing kid at activation, loaded before it: got %s, want %s", got, newKID)
	}
}

// An emergency rotation signs at once and withdraws a key that was
// waiting, which never signed.
func testRotateNow(t *testing.T, db *gorm.DB) {
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second)
	clk := &clock{t: t0}
	m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), KeyOptions{Retention: time.Hour, PrePublish: time.Hour, Now: clk.now})
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	oldKID := currentKIDOf(t, m, AlgEdDSA)
	waiting, err := m.Rotate(ctx, "test", AlgEdDSA, false)
	if err != nil {
		t.Fatal(err)
	}
	clk.set(t0.Add(time.Minute))
	rot, err := m.Rotate(ctx, "test", AlgEdDSA, true)
	if err != nil {
		t.Fatal(err)
	}
	if !rot.Immediate || !rot.Key.ActivatesAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Rotate(now): got %+v, want immediate, active at %v", rot, t0.Add(time.Minute))
	}
	if got := currentKIDOf(t, m, AlgEdDSA); got != rot.Key.ID {
		t.Fatalf("EdDSA signing kid after --now: got %s, want %s", got, rot.Key.ID)
	}
	kids := jwksKIDs(t, m)
	if slices.Contains(kids, waiting.Key.ID) || !slices.Contains(kids, oldKID) || !slices.Contains(kids, rot.Key.ID) {
		t.Errorf("JWKS after --now: got %v, want the new %s and the replaced %s, not the withdrawn %s", kids, rot.Key.ID, oldKID, waiting.Key.ID)
	}
	// Much later, the withdrawn key still never signs.
	clk.set(t0.Add(2 * time.Hour))
	if got := currentKIDOf(t, m, AlgEdDSA); got != rot.Key.ID {
		t.Errorf("EdDSA signing kid later: got %s, want %s", got, rot.Key.ID)
	}
	if _, err := m.Rotate(ctx, "test", "HS256", false); !errors.Is(err, ErrUnknownAlgorithm) {
		t.Errorf("Rotate(HS256): got %v, want %v", err, ErrUnknownAlgorithm)
	}
}

func testSealed(t *testing.T, db *gorm.DB) {
	ctx := context.Background()
	kr := newKeyring(t, keysSecret)
	m := NewKeyManager(storage.New(db), kr, KeyOptions{Retention: time.Hour})
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	var row models.SigningKey
	if err := db.Where("algorithm = ?", AlgRS256).Take(&row).Error; err != nil {
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
	other := NewKeyManager(storage.New(db), newKeyring(t, "another-secret-0123456789-abcdefghijklmnopqrstuvwxyz"), KeyOptions{Retention: time.Hour})
	if err := other.Load(ctx); err == nil {
		t.Fatal("a replica with another system secret loaded the signing key")
	}
}

func testJWKSPublicOnly(t *testing.T, db *gorm.DB) {
	ctx := context.Background()
	m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), KeyOptions{Retention: time.Hour})
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	_, tag1, err := m.JWKSWithETag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rotate(ctx, "test", AlgRS256, false); err != nil {
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
	if len(set.Keys) != 4 {
		t.Fatalf("keys: got %d, want 4 (two RS256, ES256, EdDSA)", len(set.Keys))
	}
	shape := map[string]struct {
		fields map[string]string
		public []string
	}{
		"RS256": {map[string]string{"kty": "RSA"}, []string{"n", "e"}},
		"ES256": {map[string]string{"kty": "EC", "crv": "P-256"}, []string{"x", "y"}},
		"EdDSA": {map[string]string{"kty": "OKP", "crv": "Ed25519"}, []string{"x"}},
	}
	for _, k := range set.Keys {
		alg, _ := k["alg"].(string)
		sh, ok := shape[alg]
		if !ok {
			t.Fatalf("key %v: alg %q", k["kid"], alg)
		}
		sh.fields["use"] = "sig"
		for field, want := range sh.fields {
			if k[field] != want {
				t.Errorf("key %v: %s got %v, want %s", k["kid"], field, k[field], want)
			}
		}
		for _, field := range append([]string{"kid"}, sh.public...) {
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
		m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), KeyOptions{Retention: time.Hour})
		other := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), KeyOptions{Retention: time.Hour})
		if err := m.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		if err := other.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		// Run's interval is long: only the unknown kid can make it load.
		go m.Run(ctx, time.Hour, nil)
		rot, err := other.Rotate(ctx, "test", AlgRS256, true)
		if err != nil {
			t.Fatal(err)
		}
		kid := rot.Key.ID
		if _, _, err := m.PublicKey(ctx, kid); err == nil {
			t.Fatal("PublicKey(new kid) before any load: got a key, want an error (requests never query)")
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, _, err := m.PublicKey(ctx, kid); err == nil {
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
		m := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), KeyOptions{Retention: time.Hour})
		other := NewKeyManager(storage.New(db), newKeyring(t, keysSecret), KeyOptions{Retention: time.Hour})
		if err := m.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		go m.Run(ctx, 10*time.Millisecond, nil)
		rot, err := other.Rotate(ctx, "test", AlgRS256, true)
		if err != nil {
			t.Fatal(err)
		}
		kid := rot.Key.ID
		deadline := time.Now().Add(5 * time.Second)
		for currentKID(t, m) != kid {
			if time.Now().After(deadline) {
				t.Fatal("Run did not load the other replica's rotation within 5s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
