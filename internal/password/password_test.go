package password

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// cheap are parameters fast enough for tests; production uses far more.
var cheap = Params{Time: 1, Memory: 8 << 10, Threads: 1}

func newHasher(t *testing.T, p Params, maxConcurrent int) *Hasher {
	t.Helper()
	h, err := NewHasher(p, maxConcurrent)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashVerify(t *testing.T) {
	h := newHasher(t, cheap, 2)
	ctx := t.Context()
	enc, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !IsHash(enc) || strings.Contains(enc, "correct horse") {
		t.Fatalf("Hash = %q, want an argon2id encoding without the password", enc)
	}
	if err := h.Verify(ctx, enc, "correct horse"); err != nil {
		t.Errorf("Verify(right password) = %v, want nil", err)
	}
	for _, wrong := range []string{"", "correct hors", "correct horse ", "Correct horse", "correct horse\x00"} {
		if err := h.Verify(ctx, enc, wrong); !errors.Is(err, ErrMismatch) {
			t.Errorf("Verify(%q) = %v, want ErrMismatch", wrong, err)
		}
	}
	again, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if again == enc {
		t.Error("two hashes of one password are equal: the salt is not fresh")
	}
}

// TestVerifyUsesTheStoredParameters: raising the cost must not lock out
// users whose hashes were made with the old one.
func TestVerifyUsesTheStoredParameters(t *testing.T) {
	old := newHasher(t, cheap, 1)
	enc, err := old.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(enc, "$m=8192,t=1,p=1$") {
		t.Errorf("Hash = %q, want the parameters m=8192,t=1,p=1 in it", enc)
	}
	stronger := newHasher(t, Params{Time: 2, Memory: 16 << 10, Threads: 2}, 1)
	if err := stronger.Verify(t.Context(), enc, "pw"); err != nil {
		t.Errorf("a hasher with other parameters: Verify = %v, want nil", err)
	}
	if enc2, _ := stronger.Hash(t.Context(), "pw"); !strings.Contains(enc2, "$m=16384,t=2,p=2$") {
		t.Errorf("Hash = %q, want the new parameters in it", enc2)
	}
}

func TestVerifyRefusesMalformedHashes(t *testing.T) {
	h := newHasher(t, cheap, 1)
	good, err := h.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=..,t=..,p=.., salt, key
	with := func(i int, v string) string {
		p := slices.Clone(parts)
		p[i] = v
		return strings.Join(p, "$")
	}
	for name, enc := range map[string]string{
		"empty":             "",
		"plain text":        "pw",
		"bcrypt":            "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"argon2i":           with(1, "argon2i"),
		"other version":     with(2, "v=16"),
		"no version":        with(2, "x"),
		"zero time":         with(3, "m=8192,t=0,p=1"),
		"zero memory":       with(3, "m=0,t=1,p=1"),
		"zero threads":      with(3, "m=8192,t=1,p=0"),
		"memory over cap":   with(3, "m=4194305,t=1,p=1"),
		"no parameters":     with(3, ""),
		"salt not base64":   with(4, "!!!"),
		"key not base64":    with(5, "!!!"),
		"key too short":     with(5, "AAAAAAAAAAAAAAAAAAAA"), // 15 bytes
		"missing a part":    strings.Join(parts[:5], "$"),
		"one part too many": good + "$x",
	} {
		if err := h.Verify(t.Context(), enc, "pw"); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%s: Verify(%q) = %v, want ErrMalformedHash", name, enc, err)
		}
	}
}

func TestIsHash(t *testing.T) {
	for s, want := range map[string]bool{
		"$argon2id$v=19$m=8192,t=1,p=1$c2FsdA$a2V5": true,
		"$argon2i$v=19$m=8192,t=1,p=1$c2FsdA$a2V5":  false,
		"argon2id":                  false,
		"":                          false,
		"$2a$10$abcdefghijklmnopqr": false,
	} {
		if got := IsHash(s); got != want {
			t.Errorf("IsHash(%q) = %t, want %t", s, got, want)
		}
	}
}

// TestVerifyDummyAlwaysFails, even for the dummy hash's own input.
func TestVerifyDummyAlwaysFails(t *testing.T) {
	h := newHasher(t, cheap, 1)
	for _, pw := range []string{"", "authgate-dummy", "anything"} {
		if err := h.VerifyDummy(t.Context(), pw); !errors.Is(err, ErrMismatch) {
			t.Errorf("VerifyDummy(%q) = %v, want ErrMismatch", pw, err)
		}
	}
}

// TestVerifyDummyCostsAVerification: a lookup of an unknown user calls
// VerifyDummy so that it takes as long as a wrong password for a known
// one. The medians of the two, measured interleaved in one run, must be
// close; on a shared machine one run can be skewed, so it fails only when
// three runs in a row are out of bounds.
func TestVerifyDummyCostsAVerification(t *testing.T) {
	h := newHasher(t, Params{Time: 2, Memory: 16 << 10, Threads: 1}, 1)
	ctx := t.Context()
	enc, err := h.Hash(ctx, "right")
	if err != nil {
		t.Fatal(err)
	}
	median := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	var report []string
	for range 3 {
		const n = 15
		var real, dummy []time.Duration
		for range n {
			start := time.Now()
			_ = h.Verify(ctx, enc, "wrong")
			real = append(real, time.Since(start))
			start = time.Now()
			_ = h.VerifyDummy(ctx, "wrong")
			dummy = append(dummy, time.Since(start))
		}
		mr, md := median(real), median(dummy)
		ratio := float64(md) / float64(mr)
		if ratio >= 0.5 && ratio <= 2 {
			return
		}
		report = append(report, fmt.Sprintf("median VerifyDummy %v, median Verify %v: ratio %.2f", md, mr, ratio))
	}
	t.Errorf("in three runs the ratio was outside 0.5..2:\n%s", strings.Join(report, "\n"))
}

// TestConcurrencyIsBounded: with every slot taken, a hash waits, and gives
// up with ErrBusy (and the context's error) when its context ends.
func TestConcurrencyIsBounded(t *testing.T) {
	h := newHasher(t, cheap, 2)
	enc, err := h.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	// Take both slots, as two hashes in flight would.
	for range 2 {
		if err := h.acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := h.Verify(ctx, enc, "pw"); !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify with every slot taken = %v, want ErrBusy and DeadlineExceeded", err)
	}
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("Hash with every slot taken = %v, want ErrBusy", err)
	}

	// Freeing one slot lets a waiting verification through.
	done := make(chan error, 1)
	go func() { done <- h.Verify(t.Context(), enc, "pw") }()
	select {
	case err := <-done:
		t.Fatalf("Verify ran with every slot taken: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	h.release()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Verify after a slot freed = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Verify still waiting after a slot freed")
	}
	h.release()
}

func TestNewHasherDefaultsToNumCPU(t *testing.T) {
	h := newHasher(t, cheap, 0)
	if got, want := cap(h.slots), runtime.NumCPU(); got != want {
		t.Errorf("slots = %d, want runtime.NumCPU() = %d", got, want)
	}
	h = newHasher(t, cheap, 3)
	if got := cap(h.slots); got != 3 {
		t.Errorf("slots = %d, want 3", got)
	}
}

// The pooled implementation (the Hasher's own parameters) and x/crypto's
// (every other stored hash) must compute the same function: a hash made by
// one verifies with the other, whatever the parameters.
func TestPooledArgon2AgreesWithXCrypto(t *testing.T) {
	for _, p := range []Params{
		{Time: 1, Memory: 1024, Threads: 1},
		{Time: 2, Memory: 1000, Threads: 3}, // not a multiple of 4 × threads
		{Time: 1, Memory: 8192, Threads: 2},
		{Time: 3, Memory: 64, Threads: 4},
	} {
		h, err := NewHasher(p, 1)
		if err != nil {
			t.Fatal(err)
		}
		for i, secret := range []string{"", "correct horse", strings.Repeat("é", 100)} {
			salt := []byte(fmt.Sprintf("salt-%d-0123456789", i))
			// Twice: the second runs in the memory the first used.
			for range 2 {
				pooled := h.derive(p, []byte(secret), salt, 32)
				want := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, 32)
				if !bytes.Equal(pooled, want) {
					t.Fatalf("params %+v, secret %d: pooled %x, x/crypto %x", p, i, pooled, want)
				}
			}
		}
		// A hash stored under other parameters takes x/crypto's path.
		other := Params{Time: p.Time + 1, Memory: p.Memory, Threads: p.Threads}
		o, err := NewHasher(other, 1)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := o.Hash(context.Background(), "pw")
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Verify(context.Background(), enc, "pw"); err != nil {
			t.Fatalf("params %+v: a hash made under %+v does not verify: %v", p, other, err)
		}
		if err := h.Verify(context.Background(), enc, "pW"); !errors.Is(err, ErrMismatch) {
			t.Fatalf("params %+v: wrong password under other parameters: %v", p, err)
		}
	}
}

func TestNewHasherRefusesZeroParameters(t *testing.T) {
	for _, p := range []Params{{Time: 0, Memory: 1024, Threads: 1}, {Time: 1, Memory: 0, Threads: 1}, {Time: 1, Memory: 1024, Threads: 0}} {
		if _, err := NewHasher(p, 1); err == nil || !strings.Contains(err.Error(), "must be positive") {
			t.Fatalf("NewHasher(%+v) = %v, want a clear error", p, err)
		}
	}
}
