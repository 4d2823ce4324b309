package accounts

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestTokenFromReaderRejectsBiasedBytes(t *testing.T) {
	t.Parallel()
	// 248..255 would map to 'A'..'H' again under a plain modulo; they must
	// be skipped. 0 is 'A', 61 is '9', 62 wraps to 'A', 247 is '9'.
	in := []byte{248, 0, 255, 61, 62, 247, 250, 251}
	in = append(in, bytes.Repeat([]byte{1}, 24)...) // fills the first 32-byte read
	in = append(in, bytes.Repeat([]byte{2}, 32)...)
	got, err := tokenFromReader(bytes.NewReader(in))
	if err != nil {
		t.Fatalf("tokenFromReader: %v", err)
	}
	want := "A9A9" + strings.Repeat("B", 20)
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestTokenFromReaderShortInput(t *testing.T) {
	t.Parallel()
	if _, err := tokenFromReader(bytes.NewReader(bytes.Repeat([]byte{255}, 64))); err == nil {
		t.Fatal("got nil error from a reader that only yields rejected bytes and then ends, want an error")
	}
}

func TestGenerateTokenFormatUniquenessAndUniformity(t *testing.T) {
	t.Parallel()
	const draws = 2000
	seen := make(map[string]bool, draws)
	counts := make(map[rune]int)
	for range draws {
		tok, err := GenerateToken()
		if err != nil {
			t.Fatalf("GenerateToken: %v", err)
		}
		if len(tok) != TokenLength {
			t.Fatalf("len(%q) = %d, want %d", tok, len(tok), TokenLength)
		}
		for _, r := range tok {
			if !strings.ContainsRune(tokenAlphabet, r) {
				t.Fatalf("token %q has %q, want only [A-Za-z0-9]", tok, r)
			}
			counts[r]++
		}
		if seen[tok] {
			t.Fatalf("token %q drawn twice", tok)
		}
		seen[tok] = true
	}
	if TokenLength != 24 || len(tokenAlphabet) != 62 {
		t.Fatalf("got TokenLength %d and alphabet of %d, want 24 and 62", TokenLength, len(tokenAlphabet))
	}
	if len(counts) != 62 {
		t.Fatalf("got %d distinct characters over %d draws, want 62", len(counts), draws)
	}
	// Chi-square against the uniform distribution, 61 degrees of freedom.
	// A byte%62 draw (modulo bias) scores about 300; a fair one about 61
	// and above 150 with probability far below one in a million.
	expected := float64(draws*TokenLength) / 62
	var chi2 float64
	for _, r := range tokenAlphabet {
		d := float64(counts[r]) - expected
		chi2 += d * d / expected
	}
	if chi2 > 150 || math.IsNaN(chi2) {
		t.Fatalf("chi-square of character counts = %.1f, want <= 150 (counts %v)", chi2, counts)
	}
}
