package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
)

// idClaims are the claims of a typical ID token.
func idClaims() fjwt.MapClaims {
	now := time.Now()
	return fjwt.MapClaims{
		"iss": "https://auth.example.com", "sub": "0123456789abcdef0123456789abcdef", "aud": []string{"webapp"},
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "auth_time": now.Unix(), "nonce": "n-0S6_WzA2Mj",
		"at_hash": "77QmUPtjPfzWtF2AnpK9RQ", "sid": "3c6e0b8a9c15224a8228b9a98ca1531d", "amr": []string{"pwd"}, "acr": "urn:authgate:pwd",
		"rat": now.Unix(), "jti": "b1f0e2d3-0000-4000-8000-000000000000",
	}
}

func newTestKeys(t testing.TB) *KeyManager {
	t.Helper()
	m := NewKeyManager(storage.New(testdb.Open(t, "sqlite")), newKeyring(t, keysSecret), KeyOptions{Retention: time.Hour})
	if err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

// Each algorithm signs with its own key, and Decode verifies a token of
// any algorithm by its kid, refusing one whose alg is not its key's.
func TestSignerAlgorithms(t *testing.T) {
	t.Parallel()
	m := newTestKeys(t)
	s := m.Signer()
	ctx := context.Background()
	for _, alg := range SigningAlgorithms {
		tok, sig, err := s.Generate(WithAlgorithm(ctx, alg), idClaims(), &fjwt.Headers{})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if !strings.HasSuffix(tok, "."+sig) {
			t.Errorf("%s: signature %q is not the token's last part", alg, sig)
		}
		dec, err := s.Decode(ctx, tok)
		if err != nil {
			t.Fatalf("%s: decode: %v", alg, err)
		}
		if string(dec.Method) != alg || dec.Header["kid"] != currentKIDOf(t, m, alg) {
			t.Errorf("%s: got alg %s kid %v, want %s and the current %s key", alg, dec.Method, dec.Header["kid"], alg, alg)
		}
	}
	if _, _, err := s.Generate(WithAlgorithm(ctx, "HS256"), idClaims(), &fjwt.Headers{}); !errors.Is(err, ErrUnknownAlgorithm) {
		t.Errorf("Generate(HS256): got %v, want %v", err, ErrUnknownAlgorithm)
	}
	// A token whose header names another key's algorithm does not verify.
	es, _, _ := s.Generate(WithAlgorithm(ctx, AlgES256), idClaims(), &fjwt.Headers{})
	rsKID := currentKID(t, m)
	forged := strings.Replace(es, strings.Split(es, ".")[0], headerWith(t, es, rsKID), 1)
	if _, err := s.Decode(ctx, forged); err == nil {
		t.Error("Decode: an ES256 token naming the RS256 kid verified")
	}
}

// headerWith returns raw's header naming kid instead.
func headerWith(t *testing.T, raw, kid string) string {
	t.Helper()
	tok, err := fjwt.Parse(raw, nil)
	if tok == nil || tok.Header == nil {
		t.Fatalf("parse: %v", err)
	}
	h := &fjwt.Headers{Extra: map[string]any{"kid": kid, "alg": string(tok.Method), "typ": "JWT"}}
	b, err := json.Marshal(h.ToMap())
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// BenchmarkSignIDToken signs a typical ID token with each algorithm, as
// the token endpoint does (compare with benchstat).
func BenchmarkSignIDToken(b *testing.B) {
	m := newTestKeys(b)
	s := m.Signer()
	for _, alg := range SigningAlgorithms {
		b.Run(alg, func(b *testing.B) {
			ctx := WithAlgorithm(context.Background(), alg)
			claims := idClaims()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Generate(ctx, claims, &fjwt.Headers{Extra: map[string]any{}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
