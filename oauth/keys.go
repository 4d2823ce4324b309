package oauth

import (
	"context"
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
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v3"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

const (
	keySealPurpose = "signing-key"
	keyBits        = 2048
	keyAlgorithm   = "RS256"
)

// AuditKeyRotate is the audit action of a signing key rotation.
const AuditKeyRotate = storage.AuditSigningKeyRotate

// KeyStore is what KeyManager needs of storage (storage.Store).
type KeyStore interface {
	EnsureSigningKey(ctx context.Context, newKey func() (models.SigningKey, error)) error
	RotateSigningKey(ctx context.Context, next models.SigningKey, now, expires time.Time, actor string) error
	PublishedSigningKeys(ctx context.Context, now time.Time) ([]models.SigningKey, error)
	SigningKeys(ctx context.Context) ([]models.SigningKey, error)
}

// ErrNoSigningKey is returned when the database holds no current key.
var ErrNoSigningKey = errors.New("no current signing key; run authgate migrate or authgate keys rotate")

// KeyManager keeps the RSA signing keys in the database, their private
// parts sealed with the system secret, so that every replica signs with
// the same key.
//
// Requests only read the key set held in memory: they never wait on the
// database for a key, so a request that holds a transaction (one pool
// connection) never asks the pool for a second one. The set is loaded by
// Ensure and Load and kept fresh by Run, off the request path; a replica
// sees another's rotation within Run's interval.
type KeyManager struct {
	store KeyStore
	keys  *keyring.Keyring
	// Retention is how long a retired key's public part stays in the JWKS:
	// the longest lifetime of any token it signed.
	retention time.Duration
	now       func() time.Time

	set atomic.Pointer[keySet]
	// reload asks Run for an early load (a token named a key this replica
	// does not know yet); it holds at most one request.
	reload chan struct{}
}

// keySet is one immutable load of the keys.
type keySet struct {
	current *jose.JSONWebKey
	public  map[string]*rsa.PublicKey
	jwks    []byte
	jwksTag string
}

// NewKeyManager returns a KeyManager with no keys loaded. retention should
// be the longest lifetime of a token signed by a key.
func NewKeyManager(store KeyStore, keys *keyring.Keyring, retention time.Duration) *KeyManager {
	return &KeyManager{store: store, keys: keys, retention: retention, now: time.Now, reload: make(chan struct{}, 1)}
}

// Ensure creates the first signing key if there is none, then loads the
// keys. It is safe when several replicas start at once.
func (m *KeyManager) Ensure(ctx context.Context) error {
	if err := m.store.EnsureSigningKey(ctx, m.newKey); err != nil {
		return err
	}
	return m.Load(ctx)
}

// Rotate makes a new key current and records it in the audit log as done
// by actor, in the same transaction. The old key's public part stays in
// the JWKS for the retention period, so tokens it signed still verify.
func (m *KeyManager) Rotate(ctx context.Context, actor string) (string, error) {
	// The key is made before the transaction: RSA key generation takes
	// long enough that no lock should wait for it.
	next, err := m.newKey()
	if err != nil {
		return "", err
	}
	now := m.now().UTC()
	if err := m.store.RotateSigningKey(ctx, next, now, now.Add(m.retention), actor); err != nil {
		return "", err
	}
	if err := m.Load(ctx); err != nil {
		return next.ID, fmt.Errorf("load keys after rotation: %w", err)
	}
	return next.ID, nil
}

// newKey makes a key with its private part sealed.
func (m *KeyManager) newKey() (models.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
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
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return models.SigningKey{}, fmt.Errorf("encode public key: %w", err)
	}
	sum := sha256.Sum256(pubDER)
	return models.SigningKey{
		ID:            base64.RawURLEncoding.EncodeToString(sum[:12]),
		Algorithm:     keyAlgorithm,
		PublicPEM:     string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})),
		PrivateSealed: sealed,
		CreatedAt:     m.now().UTC(),
	}, nil
}

// Load reads the keys from the database and makes them the set requests
// use. It holds no lock while it queries; concurrent loads are harmless
// (the last one wins, and each is a consistent set).
func (m *KeyManager) Load(ctx context.Context) error {
	rows, err := m.store.PublishedSigningKeys(ctx, m.now().UTC())
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

// parse builds a key set from stored rows, newest first.
func (m *KeyManager) parse(rows []models.SigningKey) (*keySet, error) {
	public := make(map[string]*rsa.PublicKey, len(rows))
	jwks := jose.JSONWebKeySet{}
	var current *jose.JSONWebKey
	for _, row := range rows {
		block, _ := pem.Decode([]byte(row.PublicPEM))
		if block == nil {
			return nil, fmt.Errorf("signing key %s: bad public key", row.ID)
		}
		pk, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", row.ID, err)
		}
		rpk, ok := pk.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("signing key %s: not RSA", row.ID)
		}
		public[row.ID] = rpk
		jwks.Keys = append(jwks.Keys, jose.JSONWebKey{Key: rpk, KeyID: row.ID, Algorithm: row.Algorithm, Use: "sig"})
		if row.Current && current == nil {
			der, err := m.keys.Open(keySealPurpose, row.PrivateSealed)
			if err != nil {
				return nil, fmt.Errorf("signing key %s: %w", row.ID, err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return nil, fmt.Errorf("signing key %s: %w", row.ID, err)
			}
			current = &jose.JSONWebKey{Key: priv, KeyID: row.ID, Algorithm: row.Algorithm, Use: "sig"}
		}
	}
	if current == nil {
		return nil, ErrNoSigningKey
	}
	body, err := json.Marshal(jwks)
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	sum := sha256.Sum256(body)
	tag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	return &keySet{current: current, public: public, jwks: body, jwksTag: tag}, nil
}

// ErrKeySecret is returned by CheckCurrent when the system secret cannot
// open the current signing key: AUTHGATE_SECRET is not the one that sealed
// it (changed, or another replica or CLI runs with another).
var ErrKeySecret = errors.New("the system secret (AUTHGATE_SECRET) cannot open the current signing key; give every replica and the CLI the secret that sealed it")

// CheckCurrent reports whether the current signing key in the database can
// be opened with the system secret: ErrKeySecret when it cannot,
// ErrNoSigningKey when there is none. It reads the keys (one query) and
// opens the current one's sealed private part, which costs one AES-GCM
// open: cheap enough for a readiness probe.
func (m *KeyManager) CheckCurrent(ctx context.Context) error {
	rows, err := m.store.PublishedSigningKeys(ctx, m.now().UTC())
	if err != nil {
		return err
	}
	for _, row := range rows {
		if !row.Current {
			continue
		}
		if _, err := m.keys.Open(keySealPurpose, row.PrivateSealed); err != nil {
			return fmt.Errorf("signing key %s: %w: %w", row.ID, ErrKeySecret, err)
		}
		return nil
	}
	return ErrNoSigningKey
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

// SigningKey returns the current private key as a JWK with its kid, the
// form fosite's signer expects. It never queries the database.
func (m *KeyManager) SigningKey(context.Context) (interface{}, error) {
	set, err := m.loaded()
	if err != nil {
		return nil, err
	}
	return set.current, nil
}

// PublicKey returns the public key with the given kid. It never queries
// the database: an unknown kid fails, and asks Run for an early load so
// that a key another replica just made is known soon after.
func (m *KeyManager) PublicKey(_ context.Context, kid string) (*rsa.PublicKey, error) {
	set, err := m.loaded()
	if err != nil {
		return nil, err
	}
	if pk, ok := set.public[kid]; ok {
		return pk, nil
	}
	select {
	case m.reload <- struct{}{}:
	default:
	}
	return nil, fmt.Errorf("unknown signing key %q", kid)
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

// List returns every stored key, newest first, without private parts.
func (m *KeyManager) List(ctx context.Context) ([]models.SigningKey, error) {
	return m.store.SigningKeys(ctx)
}
