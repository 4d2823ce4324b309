package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v3"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// The JWS algorithms authgate signs with. RS256 is every client's default.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// SigningAlgorithms lists the algorithms authgate signs with, the default
// first; each has its own signing key.
var SigningAlgorithms = []string{AlgRS256, AlgES256, AlgEdDSA}

const (
	keySealPurpose = "signing-key"
	keyBits        = 2048
)

// The states of a signing key at a moment (KeyState).
const (
	// KeyNext is published but does not sign yet.
	KeyNext = "next"
	// KeyCurrent signs the tokens of its algorithm.
	KeyCurrent = "current"
	// KeyRetired no longer signs; it stays published until every token it
	// signed has expired.
	KeyRetired = "retired"
	// KeyRemoved has left the JWKS.
	KeyRemoved = "removed"
)

// KeyState returns the state of k at now. Every replica computes it from
// the stored times alone, so all replicas agree without talking.
func KeyState(k models.SigningKey, now time.Time) string {
	switch {
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return KeyRemoved
	case now.Before(k.ActivatesAt):
		return KeyNext
	case k.RetiredAt != nil && !now.Before(*k.RetiredAt):
		return KeyRetired
	default:
		return KeyCurrent
	}
}

// KeyView is how the CLI and the admin API show a signing key: its public
// part, its state at a moment and its times, in UTC.
type KeyView struct {
	KID         string     `json:"kid"`
	Algorithm   string     `json:"algorithm"`
	State       string     `json:"state"`
	Current     bool       `json:"current"`
	PublicPEM   string     `json:"public_pem"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatesAt time.Time  `json:"activates_at"`
	RetiredAt   *time.Time `json:"retired_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// ViewOf returns the view of k at now.
func ViewOf(k models.SigningKey, now time.Time) KeyView {
	state := KeyState(k, now)
	return KeyView{
		KID: k.ID, Algorithm: k.Algorithm, State: state, Current: state == KeyCurrent, PublicPEM: k.PublicPEM,
		CreatedAt: k.CreatedAt.UTC(), ActivatesAt: k.ActivatesAt.UTC(), RetiredAt: utc(k.RetiredAt), ExpiresAt: utc(k.ExpiresAt),
	}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// AuditKeyRotate is the audit action of a signing key rotation.
const AuditKeyRotate = storage.AuditSigningKeyRotate

// KeyStore is what KeyManager needs of storage (storage.Store).
type KeyStore interface {
	EnsureSigningKeys(ctx context.Context, algs []string, newKey func(alg string) (models.SigningKey, error)) error
	RotateSigningKey(ctx context.Context, next models.SigningKey, retention time.Duration, actor, detail string) error
	PublishedSigningKeys(ctx context.Context, now time.Time) ([]models.SigningKey, error)
	SigningKeys(ctx context.Context) ([]models.SigningKey, error)
}

// ErrNoSigningKey is returned when the database holds no current key.
var ErrNoSigningKey = errors.New("no current signing key; run authgate migrate or authgate keys rotate")

// ErrUnknownAlgorithm is returned for an algorithm authgate does not sign
// with.
var ErrUnknownAlgorithm = errors.New("unsupported signing algorithm")

// KeyOptions tune a KeyManager.
type KeyOptions struct {
	// Retention is how long a retired key's public part stays in the
	// JWKS: the longest lifetime of any token it signed.
	Retention time.Duration
	// PrePublish is how long a rotated key is published before it signs:
	// the JWKS cache lifetime plus the replicas' key refresh interval, so
	// that every verifier can know the key before it meets a token.
	PrePublish time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// KeyManager keeps the signing keys in the database, their private parts
// sealed with the system secret, so that every replica signs with the same
// keys: one current key per algorithm (SigningAlgorithms).
//
// Requests only read the key set held in memory: they never wait on the
// database for a key, so a request that holds a transaction (one pool
// connection) never asks the pool for a second one. The set is loaded by
// Ensure and Load and kept fresh by Run, off the request path; a replica
// sees another's rotation within Run's interval. Which key signs is
// decided at each signature from the keys' times, so replicas that loaded
// a rotated key switch to it together, at its activation.
type KeyManager struct {
	store KeyStore
	keys  *keyring.Keyring
	o     KeyOptions

	set atomic.Pointer[keySet]
	// reload asks Run for an early load (a token named a key this replica
	// does not know yet); it holds at most one request.
	reload chan struct{}
}

// keySet is one immutable load of the keys.
type keySet struct {
	// signers holds, per algorithm, the keys that sign now or will,
	// the latest activation first.
	signers map[string][]signingKey
	public  map[string]publicKey
	jwks    []byte
	jwksTag string
}

// signingKey is a private key with the time it signs from and until.
type signingKey struct {
	jwk      *jose.JSONWebKey
	from     time.Time
	until    time.Time // zero: no end yet
	hasUntil bool
}

type publicKey struct {
	alg string
	key crypto.PublicKey
}

// NewKeyManager returns a KeyManager with no keys loaded.
func NewKeyManager(store KeyStore, keys *keyring.Keyring, o KeyOptions) *KeyManager {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &KeyManager{store: store, keys: keys, o: o, reload: make(chan struct{}, 1)}
}

// PrePublish is how long a rotated key waits in the JWKS before it signs.
func (m *KeyManager) PrePublish() time.Duration { return m.o.PrePublish }

// Ensure creates a first signing key for each algorithm that has none,
// then loads the keys. It is safe when several replicas start at once.
func (m *KeyManager) Ensure(ctx context.Context) error {
	if err := m.store.EnsureSigningKeys(ctx, SigningAlgorithms, m.newKey); err != nil {
		return err
	}
	return m.Load(ctx)
}

// Rotation is what a rotation did.
type Rotation struct {
	Key models.SigningKey
	// Immediate is set when the key signs at once (--now): verifiers that
	// cached the JWKS before it may refuse its tokens until they refetch.
	Immediate bool
}

// Rotate makes a new key for alg (RS256 when empty) and records it in the
// audit log as done by actor, in the same transaction. The key is
// published at once and signs after PrePublish, or at once when now is
// set (an emergency: a key that leaked). The key it replaces stays
// published for the retention period after it stops signing, so tokens it
// signed still verify.
func (m *KeyManager) Rotate(ctx context.Context, actor, alg string, now bool) (Rotation, error) {
	if alg == "" {
		alg = AlgRS256
	}
	if !slices.Contains(SigningAlgorithms, alg) {
		return Rotation{}, fmt.Errorf("%w %q; use %s", ErrUnknownAlgorithm, alg, algList())
	}
	// The key is made before the transaction: RSA key generation takes
	// long enough that no lock should wait for it.
	next, err := m.newKey(alg)
	if err != nil {
		return Rotation{}, err
	}
	next.ActivatesAt = next.CreatedAt
	detail := "new " + alg + " signing key, current at once"
	if !now {
		next.ActivatesAt = next.CreatedAt.Add(m.o.PrePublish)
		detail = "new " + alg + " signing key, current at " + next.ActivatesAt.Format(time.RFC3339)
	}
	if err := m.store.RotateSigningKey(ctx, next, m.o.Retention, actor, detail); err != nil {
		return Rotation{}, err
	}
	next.PrivateSealed = nil
	if err := m.Load(ctx); err != nil {
		return Rotation{Key: next, Immediate: now}, fmt.Errorf("load keys after rotation: %w", err)
	}
	return Rotation{Key: next, Immediate: now}, nil
}

func algList() string {
	return fmt.Sprintf("%s, %s or %s", SigningAlgorithms[0], SigningAlgorithms[1], SigningAlgorithms[2])
}

// generate makes a private key for alg.
func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgRS256:
		return rsa.GenerateKey(rand.Reader, keyBits)
	case AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownAlgorithm, alg)
}

// newKey makes a key for alg with its private part sealed, active from
// its creation.
func (m *KeyManager) newKey(alg string) (models.SigningKey, error) {
	priv, err := generate(alg)
	if err != nil {
		return models.SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return models.SigningKey{}, fmt.Errorf("encode signing key: %w", err)
	}
	sealed, err := m.keys.Seal(keySealPurpose, der)
	if err != nil {
		return models.SigningKey{}, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return models.SigningKey{}, fmt.Errorf("encode public key: %w", err)
	}
	sum := sha256.Sum256(pubDER)
	// To the microsecond, as PostgreSQL keeps it: the times Rotate reports
	// are the stored ones.
	now := m.o.Now().UTC().Truncate(time.Microsecond)
	return models.SigningKey{
		ID:            base64.RawURLEncoding.EncodeToString(sum[:12]),
		Algorithm:     alg,
		PublicPEM:     string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})),
		PrivateSealed: sealed,
		CreatedAt:     now,
		ActivatesAt:   now,
	}, nil
}

// Load reads the keys from the database and makes them the set requests
// use. It holds no lock while it queries; concurrent loads are harmless
// (the last one wins, and each is a consistent set).
func (m *KeyManager) Load(ctx context.Context) error {
	rows, err := m.store.PublishedSigningKeys(ctx, m.o.Now().UTC())
	if err != nil {
		return err
	}
	set, err := m.parse(rows)
	if err != nil {
		return err
	}
	m.set.Store(set)
	return nil
}

// keyAlgorithm checks that a public key suits alg.
func keyAlgorithm(alg string, pk crypto.PublicKey) bool {
	switch k := pk.(type) {
	case *rsa.PublicKey:
		return alg == AlgRS256
	case *ecdsa.PublicKey:
		return alg == AlgES256 && k.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == AlgEdDSA
	}
	return false
}

// parse builds a key set from stored rows, the latest activation first.
func (m *KeyManager) parse(rows []models.SigningKey) (*keySet, error) {
	now := m.o.Now()
	set := &keySet{signers: map[string][]signingKey{}, public: make(map[string]publicKey, len(rows))}
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, row := range rows {
		block, _ := pem.Decode([]byte(row.PublicPEM))
		if block == nil {
			return nil, fmt.Errorf("signing key %s: bad public key", row.ID)
		}
		pk, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", row.ID, err)
		}
		if !keyAlgorithm(row.Algorithm, pk) {
			return nil, fmt.Errorf("signing key %s: %T is not a %s key", row.ID, pk, row.Algorithm)
		}
		set.public[row.ID] = publicKey{alg: row.Algorithm, key: pk}
		jwks.Keys = append(jwks.Keys, jose.JSONWebKey{Key: pk, KeyID: row.ID, Algorithm: row.Algorithm, Use: "sig"})
		if row.RetiredAt != nil && !now.Before(*row.RetiredAt) {
			continue // it signs no more: no need for its private part
		}
		der, err := m.keys.Open(keySealPurpose, row.PrivateSealed)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", row.ID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", row.ID, err)
		}
		sk := signingKey{jwk: &jose.JSONWebKey{Key: priv, KeyID: row.ID, Algorithm: row.Algorithm, Use: "sig"}, from: row.ActivatesAt}
		if row.RetiredAt != nil {
			sk.until, sk.hasUntil = *row.RetiredAt, true
		}
		set.signers[row.Algorithm] = append(set.signers[row.Algorithm], sk)
	}
	if len(set.signers[AlgRS256]) == 0 {
		return nil, ErrNoSigningKey
	}
	body, err := json.Marshal(jwks)
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	sum := sha256.Sum256(body)
	set.jwks = body
	set.jwksTag = `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	return set, nil
}

// current returns the key of alg that signs at now.
func (s *keySet) current(alg string, now time.Time) (*jose.JSONWebKey, error) {
	keys, ok := s.signers[alg]
	if !ok && !slices.Contains(SigningAlgorithms, alg) {
		return nil, fmt.Errorf("%w %q", ErrUnknownAlgorithm, alg)
	}
	for _, k := range keys {
		if !now.Before(k.from) && (!k.hasUntil || now.Before(k.until)) {
			return k.jwk, nil
		}
	}
	return nil, fmt.Errorf("%w for %s", ErrNoSigningKey, alg)
}

// ErrKeySecret is returned by CheckCurrent when the system secret cannot
// open the current signing key: AUTHGATE_SECRET is not the one that sealed
// it (changed, or another replica or CLI runs with another).
var ErrKeySecret = errors.New("the system secret (AUTHGATE_SECRET) cannot open the current signing key; give every replica and the CLI the secret that sealed it")

// CheckCurrent reports whether the current signing keys in the database
// can be opened with the system secret: ErrKeySecret when one cannot,
// ErrNoSigningKey when there is no RS256 key. It reads the keys (one
// query) and opens the current ones' sealed private parts, which costs an
// AES-GCM open each: cheap enough for a readiness probe.
func (m *KeyManager) CheckCurrent(ctx context.Context) error {
	now := m.o.Now().UTC()
	rows, err := m.store.PublishedSigningKeys(ctx, now)
	if err != nil {
		return err
	}
	rs256 := false
	for _, row := range rows {
		if KeyState(row, now) != KeyCurrent {
			continue
		}
		if _, err := m.keys.Open(keySealPurpose, row.PrivateSealed); err != nil {
			return fmt.Errorf("signing key %s: %w: %w", row.ID, ErrKeySecret, err)
		}
		rs256 = rs256 || row.Algorithm == AlgRS256
	}
	if !rs256 {
		return ErrNoSigningKey
	}
	return nil
}

// minReloadGap bounds the loads that unknown key ids can ask for, so that
// tokens made up by a client cannot keep the database busy.
const minReloadGap = time.Second

// Run loads the keys every interval until ctx ends, and soon after a token
// names a key this replica does not know (another replica may just have
// rotated). A failed load is logged and the previous set kept.
func (m *KeyManager) Run(ctx context.Context, every time.Duration, logger *slog.Logger) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.reload:
			if wait := minReloadGap - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
		}
		last = time.Now()
		if err := m.Load(ctx); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "load signing keys", "error", err)
		}
	}
}

// loaded returns the key set requests use, or ErrNoSigningKey before the
// first successful load.
func (m *KeyManager) loaded() (*keySet, error) {
	set := m.set.Load()
	if set == nil {
		return nil, ErrNoSigningKey
	}
	return set, nil
}

type algKey struct{}

// WithAlgorithm returns ctx naming the algorithm SigningKey and Signer
// sign with in it.
func WithAlgorithm(ctx context.Context, alg string) context.Context {
	return context.WithValue(ctx, algKey{}, alg)
}

// algorithmOf returns the algorithm ctx names, RS256 when none.
func algorithmOf(ctx context.Context) string {
	if alg, ok := ctx.Value(algKey{}).(string); ok && alg != "" {
		return alg
	}
	return AlgRS256
}

// SigningKey returns the private key that signs now for the algorithm ctx
// names (WithAlgorithm; RS256 by default), as a JWK with its kid and alg,
// the form fosite's signer expects. It never queries the database.
func (m *KeyManager) SigningKey(ctx context.Context) (interface{}, error) {
	return m.SigningKeyFor(algorithmOf(ctx))
}

// SigningKeyFor returns the private key that signs now for alg. It never
// queries the database.
func (m *KeyManager) SigningKeyFor(alg string) (*jose.JSONWebKey, error) {
	set, err := m.loaded()
	if err != nil {
		return nil, err
	}
	return set.current(alg, m.o.Now())
}

// PublicKey returns the public key with the given kid and its algorithm.
// It never queries the database: an unknown kid fails, and asks Run for
// an early load so that a key another replica just made is known soon
// after.
func (m *KeyManager) PublicKey(_ context.Context, kid string) (crypto.PublicKey, string, error) {
	set, err := m.loaded()
	if err != nil {
		return nil, "", err
	}
	if pk, ok := set.public[kid]; ok {
		return pk.key, pk.alg, nil
	}
	select {
	case m.reload <- struct{}{}:
	default:
	}
	return nil, "", fmt.Errorf("unknown signing key %q", kid)
}

// JWKSWithETag returns the encoded public key set and an ETag for it. It
// never queries the database.
func (m *KeyManager) JWKSWithETag(context.Context) ([]byte, string, error) {
	set, err := m.loaded()
	if err != nil {
		return nil, "", err
	}
	return set.jwks, set.jwksTag, nil
}

// List returns every stored key, the latest activation first, without
// private parts.
func (m *KeyManager) List(ctx context.Context) ([]models.SigningKey, error) {
	return m.store.SigningKeys(ctx)
}

// Now is the KeyManager's clock.
func (m *KeyManager) Now() time.Time { return m.o.Now() }
