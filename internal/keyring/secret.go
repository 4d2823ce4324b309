package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MinLength is the shortest system secret accepted, in bytes.
const MinLength = 32

// ErrTooShort is returned for a system secret under MinLength bytes.
var ErrTooShort = errors.New("system secret must be at least 32 bytes")

// ErrOpen is returned when sealed data fails authentication.
var ErrOpen = errors.New("sealed data cannot be opened with this secret")

// Keyring holds the system secret and derives one independent key per
// purpose, so that a hash made for one use never verifies for another.
type Keyring struct {
	root []byte
}

// New returns a Keyring for the given system secret.
func New(systemSecret []byte) (*Keyring, error) {
	if len(systemSecret) < MinLength {
		return nil, ErrTooShort
	}
	root := make([]byte, len(systemSecret))
	copy(root, systemSecret)
	return &Keyring{root: root}, nil
}

// Key derives a 32-byte key for purpose.
func (k *Keyring) Key(purpose string) []byte {
	m := hmac.New(sha256.New, k.root)
	m.Write([]byte("authgate/v1/" + purpose))
	return m.Sum(nil)
}

// MAC returns the hex HMAC-SHA256 of data under the key for purpose.
func (k *Keyring) MAC(purpose string, data []byte) string {
	m := hmac.New(sha256.New, k.Key(purpose))
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil))
}

// Equal compares two MACs in constant time.
func Equal(a, b string) bool {
	return hmac.Equal([]byte(a), []byte(b))
}

// Seal encrypts and authenticates plaintext with AES-256-GCM under the key
// for purpose. The output is nonce || ciphertext.
func (k *Keyring) Seal(purpose string, plaintext []byte) ([]byte, error) {
	aead, err := k.aead(purpose)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead.Seal(nonce, nonce, plaintext, []byte(purpose)), nil
}

// Open reverses Seal.
func (k *Keyring) Open(purpose string, sealed []byte) ([]byte, error) {
	aead, err := k.aead(purpose)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, ErrOpen
	}
	nonce, ct := sealed[:aead.NonceSize()], sealed[aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, ct, []byte(purpose))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

func (k *Keyring) aead(purpose string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.Key("seal/" + purpose))
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return cipher.NewGCM(block)
}

// RandomString returns n bytes of crypto/rand entropy, base64url encoded.
func RandomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// LoadOrCreateFile reads the system secret from path, creating it with 48
// random bytes (mode 0600) if it does not exist. created reports whether a
// new secret was written.
func LoadOrCreateFile(path string) (value string, created bool, err error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		v := strings.TrimSpace(string(raw))
		if len(v) < MinLength {
			return "", false, fmt.Errorf("secret file %s: %w", path, ErrTooShort)
		}
		return v, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("read secret file: %w", err)
	}
	v, err := RandomString(48)
	if err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("create secret file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			// Another process created it first; use theirs.
			return LoadOrCreateFile(path)
		}
		return "", false, fmt.Errorf("create secret file: %w", err)
	}
	if _, err := f.WriteString(v + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("write secret file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("write secret file: %w", err)
	}
	return v, true, nil
}
