package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	pooledargon2 "github.com/minio/argon2"
	"golang.org/x/crypto/argon2"
)

// ErrMismatch is returned when a password does not match its hash.
var ErrMismatch = errors.New("password does not match")

// ErrMalformedHash is returned for a stored hash that cannot be parsed.
var ErrMalformedHash = errors.New("malformed password hash")

// ErrBusy is returned when no hashing slot frees up before the context ends.
var ErrBusy = errors.New("password hashing is saturated")

// Params are the argon2id cost parameters.
type Params struct {
	Time    uint32
	Memory  uint32 // KiB
	Threads uint8
}

// Hasher hashes and verifies argon2id passwords. At most MaxConcurrent
// hashes run at once; the rest wait until their context ends.
type Hasher struct {
	params Params
	slots  chan struct{}
	dummy  string
	// idKey is argon2id with h.params over reused memory (see derive).
	idKey func(password, salt, secret, data []byte, keyLen uint32) []byte
}

// NewHasher returns a Hasher; maxConcurrent <= 0 means runtime.NumCPU().
func NewHasher(p Params, maxConcurrent int) (*Hasher, error) {
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	if p.Time == 0 || p.Threads == 0 || p.Memory == 0 {
		return nil, fmt.Errorf("password: argon2id parameters must be positive (time %d, memory %d KiB, threads %d)", p.Time, p.Memory, p.Threads)
	}
	h := &Hasher{params: p, slots: make(chan struct{}, maxConcurrent), idKey: pooledargon2.NewIDKey(p.Time, p.Memory, p.Threads)}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	// The dummy hash lets a lookup of an unknown user cost the same as a real one.
	h.dummy = h.encode(salt, h.derive(p, []byte("authgate-dummy"), salt, 32), p)
	return h, nil
}

// Hash returns the encoded argon2id hash of secret.
func (h *Hasher) Hash(ctx context.Context, secret string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := h.derive(h.params, []byte(secret), salt, 32)
	return h.encode(salt, key, h.params), nil
}

// Verify checks secret against encoded. It returns nil on a match,
// ErrMismatch on a mismatch and another error if it could not decide.
func (h *Hasher) Verify(ctx context.Context, encoded, secret string) error {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return err
	}
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	got := h.derive(p, []byte(secret), salt, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// VerifyDummy spends the time of one verification and always fails. Use it
// when there is no hash to verify against, so timing does not tell.
func (h *Hasher) VerifyDummy(ctx context.Context, secret string) error {
	if err := h.Verify(ctx, h.dummy, secret); err != nil && !errors.Is(err, ErrMismatch) {
		return err
	}
	return ErrMismatch
}

// IsHash reports whether s looks like an encoding produced by Hash.
func IsHash(s string) bool { return strings.HasPrefix(s, "$argon2id$") }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

func (h *Hasher) release() { <-h.slots }

// derive computes the argon2id key of secret under p.
//
// A hash allocates its whole memory cost (64 MiB by default) and drops it
// when it returns. With golang.org/x/crypto/argon2 that garbage piled up
// until the collector's pacing caught it: about 400 MB resident for two
// hashes in flight, and a memory limit that held it down made every
// allocating request pay (half the throughput). github.com/minio/argon2,
// x/crypto's implementation over memory kept in a sync.Pool, hashes with
// the Hasher's parameters in memory that the last hash used: the heap
// stays near (hashes in flight) × memory cost. A stored hash with other
// parameters (older settings, until the user's next sign-in rehashes it)
// takes x/crypto's path; the two compute the same function (a test checks
// that they agree).
func (h *Hasher) derive(p Params, secret, salt []byte, keyLen uint32) []byte {
	if p == h.params {
		return h.idKey(secret, salt, nil, nil, keyLen)
	}
	return argon2.IDKey(secret, salt, p.Time, p.Memory, p.Threads, keyLen)
}

func (h *Hasher) encode(salt, key []byte, p Params) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if p.Time == 0 || p.Threads == 0 || p.Memory == 0 || p.Memory > 4<<20 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
