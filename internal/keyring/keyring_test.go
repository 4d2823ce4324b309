package keyring

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testSecret = "0123456789abcdef0123456789abcdef" // exactly MinLength bytes

func newKeyring(t *testing.T, secret string) *Keyring {
	t.Helper()
	k, err := New([]byte(secret))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return k
}

func TestNewRefusesShortSecrets(t *testing.T) {
	for _, n := range []int{0, 1, MinLength - 1} {
		if _, err := New(bytes.Repeat([]byte("s"), n)); !errors.Is(err, ErrTooShort) {
			t.Errorf("New(%d bytes) = %v, want ErrTooShort", n, err)
		}
	}
	if _, err := New(bytes.Repeat([]byte("s"), MinLength)); err != nil {
		t.Errorf("New(%d bytes) = %v, want nil", MinLength, err)
	}
}

// TestNewCopiesTheSecret: a caller reusing its buffer must not change the
// keys of a Keyring already built.
func TestNewCopiesTheSecret(t *testing.T) {
	secret := []byte(testSecret)
	k, err := New(secret)
	if err != nil {
		t.Fatal(err)
	}
	before := k.Key("p")
	for i := range secret {
		secret[i] = 'x'
	}
	if after := k.Key("p"); !bytes.Equal(before, after) {
		t.Errorf("Key changed after the caller overwrote its secret")
	}
}

// TestDerivationIsStable pins the derivation: every stored MAC (client
// secrets, session ids) and every sealed value (mail, TOTP secrets,
// signing keys) depends on it, so a change would lock everyone out. The
// values are HMAC-SHA256 computed independently of this code.
func TestDerivationIsStable(t *testing.T) {
	k := newKeyring(t, testSecret)
	if got, want := hex.EncodeToString(k.Key("session")), "11fc82e7b1c0400aea3a8654e34251ea47674fce8936cb7536c3e68c7b5feae7"; got != want {
		t.Errorf("Key(session) = %s, want %s", got, want)
	}
	if got, want := k.MAC("client-secret", []byte("hello")), "4e6fc34941c5b71b4e1ed208e859d43d2dad6cd340d50c386a5c397de0ed2b94"; got != want {
		t.Errorf("MAC(client-secret, hello) = %s, want %s", got, want)
	}
	// Sealed by this code at the time of writing: it must stay readable.
	sealed, _ := hex.DecodeString("54db1b1b90ef7dd0ef57a44c963c74348ab0542350186a5e85b05fd9042b1ced43379f0735")
	pt, err := k.Open("mail", sealed)
	if err != nil || string(pt) != "token 123" {
		t.Errorf("Open(a value sealed earlier) = %q, %v; want %q, nil", pt, err, "token 123")
	}
}

func TestKeysArePerPurposeAndPerSecret(t *testing.T) {
	k := newKeyring(t, testSecret)
	other := newKeyring(t, strings.ToUpper(testSecret))
	a, b := k.Key("a"), k.Key("b")
	if len(a) != 32 {
		t.Errorf("Key is %d bytes, want 32", len(a))
	}
	if bytes.Equal(a, b) {
		t.Error("two purposes share a key")
	}
	if !bytes.Equal(a, k.Key("a")) {
		t.Error("Key is not deterministic")
	}
	if bytes.Equal(a, other.Key("a")) {
		t.Error("two secrets give the same key")
	}
	// Sealing keys are derived apart from MAC keys of the same name.
	if bytes.Equal(k.Key("seal/a"), a) {
		t.Error("the sealing key of a purpose equals its MAC key")
	}
	data := []byte("data")
	if k.MAC("a", data) == k.MAC("b", data) {
		t.Error("a MAC made for one purpose equals another's")
	}
	if k.MAC("a", data) == other.MAC("a", data) {
		t.Error("a MAC verifies under another secret")
	}
}

func TestEqual(t *testing.T) {
	k := newKeyring(t, testSecret)
	m := k.MAC("p", []byte("x"))
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{m, m, true},
		{m, k.MAC("p", []byte("y")), false},
		{m, m[:len(m)-1], false},
		{m, "", false},
		{"", "", true},
	} {
		if got := Equal(c.a, c.b); got != c.want {
			t.Errorf("Equal(%q, %q) = %t, want %t", c.a, c.b, got, c.want)
		}
	}
}

func TestSealOpen(t *testing.T) {
	k := newKeyring(t, testSecret)
	plaintext := []byte("security token ABCDEFGHIJKLMNOPQRSTUVWX")
	s1, err := k.Seal("mail", plaintext)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := k.Seal("mail", plaintext)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(s1, s2) {
		t.Error("two seals of the same plaintext are equal: the nonce is not fresh")
	}
	if bytes.Contains(s1, plaintext[len(plaintext)-24:]) {
		t.Error("the sealed value contains the plaintext")
	}
	for _, s := range [][]byte{s1, s2} {
		got, err := k.Open("mail", s)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Errorf("Open = %q, %v; want the plaintext", got, err)
		}
	}
	empty, err := k.Seal("mail", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.Open("mail", empty); err != nil || len(got) != 0 {
		t.Errorf("Open(Seal(empty)) = %q, %v; want empty, nil", got, err)
	}
}

func TestOpenRefusesWhatItDidNotSeal(t *testing.T) {
	k := newKeyring(t, testSecret)
	sealed, err := k.Seal("mail", []byte("token"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Open("totp", sealed); !errors.Is(err, ErrOpen) {
		t.Errorf("Open under another purpose = %v, want ErrOpen", err)
	}
	if _, err := newKeyring(t, strings.ToUpper(testSecret)).Open("mail", sealed); !errors.Is(err, ErrOpen) {
		t.Errorf("Open under another secret = %v, want ErrOpen", err)
	}
	// Every byte is covered: nonce, ciphertext and tag.
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		if _, err := k.Open("mail", tampered); !errors.Is(err, ErrOpen) {
			t.Errorf("Open with byte %d flipped = %v, want ErrOpen", i, err)
		}
	}
	for _, n := range []int{0, 1, 11, 12, len(sealed) - 1} {
		if _, err := k.Open("mail", sealed[:n]); !errors.Is(err, ErrOpen) {
			t.Errorf("Open of the first %d bytes = %v, want ErrOpen", n, err)
		}
	}
	if _, err := k.Open("mail", append(bytes.Clone(sealed), 0)); !errors.Is(err, ErrOpen) {
		t.Errorf("Open with a byte appended = %v, want ErrOpen", err)
	}
}

func TestRandomString(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := RandomString(24)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(raw) != 24 {
			t.Fatalf("RandomString(24) = %q: %d bytes, %v; want 24 bytes of base64url", s, len(raw), err)
		}
		if seen[s] {
			t.Fatalf("RandomString repeated %q", s)
		}
		seen[s] = true
	}
}

func TestLoadOrCreateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "secret")

	v, created, err := LoadOrCreateFile(path)
	if err != nil || !created || len(v) < MinLength {
		t.Fatalf("first LoadOrCreateFile = %d bytes, created %t, %v; want a new secret", len(v), created, err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s has mode %o, want %o", p, got, want)
		}
	}
	if _, err := New([]byte(v)); err != nil {
		t.Errorf("the created secret is refused by New: %v", err)
	}

	again, created, err := LoadOrCreateFile(path)
	if err != nil || created || again != v {
		t.Errorf("second LoadOrCreateFile = created %t, %v, same value %t; want the same secret, not created", created, err, again == v)
	}

	// A file written by hand, with surrounding whitespace, is read trimmed.
	handWritten := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(handWritten, []byte("  "+testSecret+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, created, err := LoadOrCreateFile(handWritten); err != nil || created || got != testSecret {
		t.Errorf("LoadOrCreateFile(hand-written) = %q, %t, %v; want the trimmed secret", got, created, err)
	}

	short := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(short, []byte(testSecret[:MinLength-1]+"   \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateFile(short); !errors.Is(err, ErrTooShort) {
		t.Errorf("LoadOrCreateFile(short secret) = %v, want ErrTooShort", err)
	}
	// A directory where the file should be is an error, not a new secret.
	if _, _, err := LoadOrCreateFile(t.TempDir()); err == nil {
		t.Error("LoadOrCreateFile(a directory) succeeded")
	}
}
