package apppasswords

import (
	"bytes"
	"strings"
	"testing"
)

func TestGenerateShape(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		v, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != Length || !strings.HasPrefix(v, Prefix) {
			t.Fatalf("Generate() = %q: want %d characters starting %q", v, Length, Prefix)
		}
		if !LooksLike(v) {
			t.Fatalf("LooksLike(%q) = false for a generated value", v)
		}
		if seen[v] {
			t.Fatalf("Generate() repeated %q", v)
		}
		seen[v] = true
	}
}

// Every character of the random part is equally likely: the bytes that
// would bias the draw (248..255) are skipped, not folded.
func TestGenerateSkipsBiasedBytes(t *testing.T) {
	in := append(bytes.Repeat([]byte{255, 248}, 24), bytes.Repeat([]byte{1}, 48)...)
	v, err := generate(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v[len(Prefix):len(Prefix)+randomLength], strings.Repeat("1", randomLength); got != want {
		t.Errorf("random part = %q, want %q", got, want)
	}
	if _, err := generate(bytes.NewReader(bytes.Repeat([]byte{250}, 48))); err == nil {
		t.Error("generate from a reader of only biased bytes: want an error when it runs dry")
	}
}

// A known value: the checksum is CRC32 (IEEE) of the random part in base
// 62, as a scanner outside authgate would compute it.
func TestChecksumKnownValue(t *testing.T) {
	random := strings.Repeat("a", randomLength)
	// crc32.ChecksumIEEE of 30 × "a" is 0x6BC1D3C1 (Python: zlib.crc32(b"a"*30)).
	got := checksum(random)
	if len(got) != checksumLength {
		t.Fatalf("checksum length %d, want %d", len(got), checksumLength)
	}
	n := uint64(0)
	for _, c := range got {
		n = n*62 + uint64(strings.IndexRune(alphabet, c))
	}
	if n != 0x6BC1D3C1 {
		t.Errorf("checksum(%q) decodes to %#x, want 0x6BC1D3C1", random, n)
	}
}

func TestLooksLikeCatchesTypos(t *testing.T) {
	v, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	// Every single-character change in the body is caught (CRC32 detects
	// every single-symbol error of this length).
	for i := len(Prefix); i < len(v); i++ {
		for _, c := range []byte{'0', 'Z', 'z'} {
			if v[i] == c {
				continue
			}
			typo := v[:i] + string(c) + v[i+1:]
			if LooksLike(typo) {
				t.Fatalf("LooksLike accepted a typo at %d: %q", i, typo)
			}
		}
	}
	// Two adjacent characters swapped.
	for i := len(Prefix); i+1 < len(v); i++ {
		if v[i] == v[i+1] {
			continue
		}
		swapped := v[:i] + string(v[i+1]) + string(v[i]) + v[i+2:]
		if LooksLike(swapped) {
			t.Fatalf("LooksLike accepted a transposition at %d: %q", i, swapped)
		}
	}
	for _, bad := range []string{
		"", Prefix, v[:len(v)-1], v + "x", "AGP_" + v[len(Prefix):], "ghp_" + v[len(Prefix):],
		v[:10] + "-" + v[11:], v[:10] + "é" + v[12:],
	} {
		if LooksLike(bad) {
			t.Errorf("LooksLike(%q) = true, want false", bad)
		}
	}
}

func FuzzLooksLike(f *testing.F) {
	v, _ := Generate()
	f.Add(v)
	f.Add("agp_")
	f.Add("password123456789012345678901234567890")
	f.Fuzz(func(t *testing.T, s string) {
		if LooksLike(s) && (len(s) != Length || !strings.HasPrefix(s, Prefix)) {
			t.Fatalf("LooksLike(%q) = true for a value of the wrong shape", s)
		}
	})
}
