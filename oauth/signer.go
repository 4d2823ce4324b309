package oauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	fjwt "github.com/ory/fosite/token/jwt"
)

// Signer is fosite's JWT signer over the KeyManager: it signs with the
// current key of the algorithm the context names (WithAlgorithm; RS256 by
// default) and verifies a token by its kid against every published key, of
// any algorithm, so that an id_token_hint signed before a rotation or with
// another client's algorithm still decodes.
type Signer struct {
	keys *KeyManager
}

var _ fjwt.Signer = (*Signer)(nil)

// Signer returns the fosite signer over m.
func (m *KeyManager) Signer() *Signer { return &Signer{keys: m} }

// Generate signs claims with header's fields added.
func (s *Signer) Generate(ctx context.Context, claims fjwt.MapClaims, header fjwt.Mapper) (string, string, error) {
	return s.sign(algorithmOf(ctx), claims, header)
}

// Sign signs claims with the current key of alg (RS256 when empty).
func (s *Signer) Sign(_ context.Context, alg string, claims fjwt.MapClaims, header fjwt.Mapper) (string, error) {
	tok, _, err := s.sign(cmpAlg(alg), claims, header)
	return tok, err
}

func cmpAlg(alg string) string {
	if alg == "" {
		return AlgRS256
	}
	return alg
}

func (s *Signer) sign(alg string, claims fjwt.MapClaims, header fjwt.Mapper) (string, string, error) {
	if claims == nil || header == nil {
		return "", "", errors.New("sign: claims and header are required")
	}
	key, err := s.keys.SigningKeyFor(alg)
	if err != nil {
		return "", "", err
	}
	tok := fjwt.NewWithClaims(jose.SignatureAlgorithm(key.Algorithm), claims)
	for k, v := range header.ToMap() {
		if _, ok := tok.Header[k]; !ok {
			tok.Header[k] = v
		}
	}
	raw, err := tok.SignedString(key)
	if err != nil {
		return "", "", fmt.Errorf("sign %s token: %w", alg, err)
	}
	return raw, raw[strings.LastIndexByte(raw, '.')+1:], nil
}

// Validate checks a token's signature and claims and returns its
// signature.
func (s *Signer) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

// Decode verifies a token against the published key its kid names, which
// must be of the algorithm its header names.
func (s *Signer) Decode(ctx context.Context, token string) (*fjwt.Token, error) {
	return fjwt.ParseWithClaims(token, fjwt.MapClaims{}, func(t *fjwt.Token) (interface{}, error) {
		kid, _ := t.Header["kid"].(string)
		pk, alg, err := s.keys.PublicKey(ctx, kid)
		if err != nil {
			return nil, err
		}
		if string(t.Method) != alg {
			return nil, fmt.Errorf("token alg %q does not match key %s (%s)", t.Method, kid, alg)
		}
		// A JWK: go-jose verifies with it for every key type, where a bare
		// ed25519.PublicKey would be turned into a pointer it refuses.
		return &jose.JSONWebKey{Key: pk, KeyID: kid, Algorithm: alg}, nil
	})
}

// GetSignature returns the signature part of a token.
func (s *Signer) GetSignature(_ context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("header, body and signature must all be set")
	}
	return parts[2], nil
}

// Hash returns the SHA-256 of in (at_hash and c_hash).
func (s *Signer) Hash(_ context.Context, in []byte) ([]byte, error) {
	sum := sha256.Sum256(in)
	return sum[:], nil
}

// GetSigningMethodLength is the size of the hash Hash returns.
func (s *Signer) GetSigningMethodLength(context.Context) int { return sha256.Size }

// idTokenStrategy signs each ID token with the algorithm its client chose
// (id_token_signed_response_alg).
type idTokenStrategy struct {
	*openid.DefaultStrategy
}

// GenerateIDToken signs the ID token of r with its client's algorithm.
func (s idTokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, r fosite.Requester) (string, error) {
	if c, ok := ClientOf(r.GetClient()); ok {
		ctx = WithAlgorithm(ctx, c.IDTokenAlg)
		if c.IDTokenAlg == AlgEdDSA {
			// fosite hashes at_hash and c_hash with SHA-256 whatever the
			// algorithm, where EdDSA (Ed25519) calls for SHA-512; both are
			// optional in the code flow, so an EdDSA token carries neither
			// rather than a wrong one.
			if sess, ok := r.GetSession().(openid.Session); ok && sess.IDTokenClaims() != nil {
				sess.IDTokenClaims().AccessTokenHash = ""
				sess.IDTokenClaims().CodeHash = ""
			}
		}
	}
	return s.DefaultStrategy.GenerateIDToken(ctx, lifespan, r)
}

// newIDTokenHelper returns fosite's ID token helper signing with keys, in
// each client's algorithm.
func newIDTokenHelper(keys *KeyManager, cfg *fosite.Config) *openid.IDTokenHandleHelper {
	return &openid.IDTokenHandleHelper{IDTokenStrategy: idTokenStrategy{&openid.DefaultStrategy{Signer: keys.Signer(), Config: cfg}}}
}
