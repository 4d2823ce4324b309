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
	"sync"
	"time"

	"github.com/go-jose/go-jose/v3"
	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/audit"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/models"
)

const (
	keySealPurpose = "signing-key"
	keyBits        = 2048
	keyAlgorithm   = "RS256"
	// keyLockID serialises first-key creation across replicas on PostgreSQL.
	keyLockID = 0x617574686b79 // "authky"
)

// AuditKeyRotate is the audit action of a signing key rotation.
const AuditKeyRotate = "signing_key.rotate"

// ErrNoSigningKey is returned when the database holds no current key.
var ErrNoSigningKey = errors.New("no current signing key; run authgate migrate or authgate keys rotate")

// KeyManager keeps the RSA signing keys in the database, their private
// parts sealed with the system secret, so that every replica signs with
// the same key. It caches them for a short time; a replica sees another's
// rotation within RefreshEvery.
type KeyManager struct {
	db   *gorm.DB
	keys *keyring.Keyring
	// Retention is how long a retired key's public part stays in the JWKS:
	// the longest lifetime of any token it signed.
	retention    time.Duration
	refreshEvery time.Duration
	now          func() time.Time

	mu       sync.Mutex
	loadedAt time.Time
	current  *jose.JSONWebKey
	public   map[string]*rsa.PublicKey
	jwks     []byte
	jwksTag  string
}

// NewKeyManager returns a KeyManager. retention should be the longest
// lifetime of a token signed by a key.
func NewKeyManager(db *gorm.DB, keys *keyring.Keyring, retention time.Duration) *KeyManager {
	return &KeyManager{db: db, keys: keys, retention: retention, refreshEvery: 10 * time.Second, now: time.Now}
}

// Ensure creates the first signing key if there is none. It is safe when
// several replicas start at once.
func (m *KeyManager) Ensure(ctx context.Context) error {
	return m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", keyLockID).Error; err != nil {
				return fmt.Errorf("lock signing keys: %w", err)
			}
		}
		var n int64
		if err := tx.Model(&models.SigningKey{}).Where("current = ?", true).Count(&n).Error; err != nil {
			return fmt.Errorf("count signing keys: %w", err)
		}
		if n > 0 {
			return nil
		}
		_, err := m.insertCurrent(tx)
		return err
	})
}

// Rotate makes a new key current and records it in the audit log as done
// by actor, in the same transaction. The old key's public part stays in
// the JWKS for the retention period, so tokens it signed still verify.
func (m *KeyManager) Rotate(ctx context.Context, actor string) (string, error) {
	var kid string
	err := m.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", keyLockID).Error; err != nil {
				return fmt.Errorf("lock signing keys: %w", err)
			}
		}
		now := m.now().UTC()
		expires := now.Add(m.retention)
		if err := tx.Model(&models.SigningKey{}).Where("current = ?", true).
			Updates(map[string]any{"current": false, "retired_at": now, "expires_at": expires}).Error; err != nil {
			return fmt.Errorf("retire signing key: %w", err)
		}
		var err error
		if kid, err = m.insertCurrent(tx); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, AuditKeyRotate, kid, "new current signing key")
	})
	if err != nil {
		return "", err
	}
	m.invalidate()
	return kid, nil
}

func (m *KeyManager) insertCurrent(tx *gorm.DB) (string, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return "", fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("encode signing key: %w", err)
	}
	sealed, err := m.keys.Seal(keySealPurpose, der)
	if err != nil {
		return "", err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	sum := sha256.Sum256(pubDER)
	kid := base64.RawURLEncoding.EncodeToString(sum[:12])
	row := models.SigningKey{
		ID:            kid,
		Algorithm:     keyAlgorithm,
		PublicPEM:     string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})),
		PrivateSealed: sealed,
		Current:       true,
		CreatedAt:     m.now().UTC(),
	}
	if err := tx.Create(&row).Error; err != nil {
		return "", fmt.Errorf("store signing key: %w", err)
	}
	return kid, nil
}

func (m *KeyManager) invalidate() {
	m.mu.Lock()
	m.loadedAt = time.Time{}
	m.mu.Unlock()
}

// load refreshes the cache when it is stale or force is set.
func (m *KeyManager) load(ctx context.Context, force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !force && m.current != nil && m.now().Sub(m.loadedAt) < m.refreshEvery {
		return nil
	}
	var rows []models.SigningKey
	now := m.now().UTC()
	if err := m.db.WithContext(ctx).
		Where("current = ? OR expires_at IS NULL OR expires_at > ?", true, now).
		Order("created_at DESC").Find(&rows).Error; err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	public := make(map[string]*rsa.PublicKey, len(rows))
	set := jose.JSONWebKeySet{}
	var current *jose.JSONWebKey
	for _, row := range rows {
		block, _ := pem.Decode([]byte(row.PublicPEM))
		if block == nil {
			return fmt.Errorf("signing key %s: bad public key", row.ID)
		}
		pk, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", row.ID, err)
		}
		rpk, ok := pk.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("signing key %s: not RSA", row.ID)
		}
		public[row.ID] = rpk
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: rpk, KeyID: row.ID, Algorithm: row.Algorithm, Use: "sig"})
		if row.Current && current == nil {
			der, err := m.keys.Open(keySealPurpose, row.PrivateSealed)
			if err != nil {
				return fmt.Errorf("signing key %s: %w", row.ID, err)
			}
			priv, err := x509.ParsePKCS8PrivateKey(der)
			if err != nil {
				return fmt.Errorf("signing key %s: %w", row.ID, err)
			}
			current = &jose.JSONWebKey{Key: priv, KeyID: row.ID, Algorithm: row.Algorithm, Use: "sig"}
		}
	}
	if current == nil {
		return ErrNoSigningKey
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("encode jwks: %w", err)
	}
	sum := sha256.Sum256(jwks)
	m.jwksTag = `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	m.current, m.public, m.jwks, m.loadedAt = current, public, jwks, m.now()
	return nil
}

// SigningKey returns the current private key as a JWK with its kid, the
// form fosite's signer expects.
func (m *KeyManager) SigningKey(ctx context.Context) (interface{}, error) {
	if err := m.load(ctx, false); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.current, nil
}

// PublicKey returns the public key with the given kid, reloading once if it
// is unknown (another replica may just have rotated).
func (m *KeyManager) PublicKey(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if err := m.load(ctx, false); err != nil {
		return nil, err
	}
	m.mu.Lock()
	pk, ok := m.public[kid]
	m.mu.Unlock()
	if ok {
		return pk, nil
	}
	if err := m.load(ctx, true); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if pk, ok := m.public[kid]; ok {
		return pk, nil
	}
	return nil, fmt.Errorf("unknown signing key %q", kid)
}

// JWKSWithETag returns the encoded public key set and an ETag for it.
func (m *KeyManager) JWKSWithETag(ctx context.Context) ([]byte, string, error) {
	if err := m.load(ctx, false); err != nil {
		return nil, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.jwks, m.jwksTag, nil
}

// List returns every stored key, newest first, without private parts.
func (m *KeyManager) List(ctx context.Context) ([]models.SigningKey, error) {
	var rows []models.SigningKey
	if err := m.db.WithContext(ctx).Omit("private_sealed").Order("created_at DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return rows, nil
}
