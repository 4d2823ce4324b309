package apppasswords

import (
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// Prefix starts every app password, so that secret scanners recognise one.
const Prefix = "agp_"

// The shape of a value: Prefix, randomLength characters drawn from
// alphabet with crypto/rand, then checksumLength characters of checksum.
const (
	randomLength   = 30 // 30 × log2(62) ≈ 178 bits
	checksumLength = 6  // 62^6 > 2^32
	// Length is the length of an app password.
	Length = len(Prefix) + randomLength + checksumLength
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Generate returns a new app password.
func Generate() (string, error) { return generate(rand.Reader) }

// generate draws the random part from r by rejection sampling (a byte is
// used only below 248 = 4×62, so every character is equally likely) and
// appends its checksum.
func generate(r io.Reader) (string, error) {
	const limit = 256 - 256%len(alphabet)
	out := make([]byte, 0, randomLength)
	buf := make([]byte, 48)
	for len(out) < randomLength {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("generate app password: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphabet[int(b)%len(alphabet)])
			if len(out) == randomLength {
				break
			}
		}
	}
	return Prefix + string(out) + checksum(string(out)), nil
}

// checksum is the CRC32 (IEEE) of the random part, in base 62, left-padded
// with zeros to checksumLength characters.
func checksum(random string) string {
	n := crc32.ChecksumIEEE([]byte(random))
	var b [checksumLength]byte
	for i := checksumLength - 1; i >= 0; i-- {
		b[i] = alphabet[n%62]
		n /= 62
	}
	return string(b[:])
}

// LooksLike reports whether s has the shape of an app password: the
// prefix, the length, the alphabet and a checksum that matches. It says
// nothing of whether one was ever issued; it catches a typo (or a
// password that merely starts with the prefix) without a lookup.
func LooksLike(s string) bool {
	if len(s) != Length || !strings.HasPrefix(s, Prefix) {
		return false
	}
	body := s[len(Prefix):]
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(alphabet, body[i]) < 0 {
			return false
		}
	}
	random, sum := body[:randomLength], body[randomLength:]
	return checksum(random) == sum
}
