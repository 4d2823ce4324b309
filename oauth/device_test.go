package oauth

import (
	"strings"
	"testing"
)

func TestNormalizeUserCode(t *testing.T) {
	for _, tc := range []struct {
		typed, want string
		ok          bool
	}{
		{"BCDF-GHJK", "BCDFGHJK", true},
		{"bcdf-ghjk", "BCDFGHJK", true},
		{" bcdf ghjk ", "BCDFGHJK", true},
		{"BCDFGHJK", "BCDFGHJK", true},
		{"B-C-D-F-G-H-J-K", "BCDFGHJK", true},
		{"BCDF-GHJ", "", false},   // too short
		{"BCDF-GHJKL", "", false}, // too long
		{"BCDF-GHJA", "", false},  // a vowel is never in a code
		{"BCDF-GHJ1", "", false},  // nor a digit
		{"BCDF_GHJK", "", false},  // nor other punctuation
		{"ＢCDF-GHJK", "", false},  // nor a look-alike
		{"", "", false},
	} {
		got, ok := NormalizeUserCode(tc.typed)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("NormalizeUserCode(%q): got %q, %t, want %q, %t", tc.typed, got, ok, tc.want, tc.ok)
		}
	}
}

// Every drawn code is in the alphabet, normalises to itself, reads back
// from its shown form, and the letters are spread over the whole
// alphabet.
func TestNewUserCode(t *testing.T) {
	seen := map[rune]int{}
	codes := map[string]bool{}
	for range 2000 {
		c, err := newUserCode()
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := NormalizeUserCode(FormatUserCode(c)); !ok || n != c {
			t.Fatalf("code %q: normalised from %q to %q, %t", c, FormatUserCode(c), n, ok)
		}
		codes[c] = true
		for _, r := range c {
			seen[r]++
		}
	}
	if len(codes) < 1990 {
		t.Errorf("2000 draws gave only %d distinct codes", len(codes))
	}
	// 16000 letters over 20: about 800 each; a letter under 600 or over
	// 1000 is a broken draw (the chance by luck is negligible).
	for _, r := range userCodeAlphabet {
		if n := seen[r]; n < 600 || n > 1000 {
			t.Errorf("letter %c drawn %d times of 16000, want about 800", r, n)
		}
	}
	for r := range seen {
		if !strings.ContainsRune(userCodeAlphabet, r) {
			t.Errorf("letter %c is not in the alphabet", r)
		}
	}
}

func FuzzNormalizeUserCode(f *testing.F) {
	for _, s := range []string{"BCDF-GHJK", "bcdf ghjk", "", "ＢCDF", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		got, ok := NormalizeUserCode(typed)
		if !ok {
			return
		}
		if len(got) != UserCodeLength || strings.Trim(got, userCodeAlphabet) != "" {
			t.Fatalf("NormalizeUserCode(%q) = %q, accepted", typed, got)
		}
		if again, ok := NormalizeUserCode(FormatUserCode(got)); !ok || again != got {
			t.Fatalf("not stable: %q -> %q -> %q", typed, got, again)
		}
	})
}
