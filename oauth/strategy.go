package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/authgate/authgate/internal/keyring"
)

// TokenStrategy issues opaque HMAC access tokens (fosite's strategy) by
// default, and RFC 9068 JWT access tokens to clients set to receive them.
// Both kinds are also stored, so introspection and revocation treat them
// alike. Refresh tokens and codes are always opaque.
type TokenStrategy struct {
	*oauth2.HMACSHAStrategy
	keys   *KeyManager
	issuer string
}

var _ oauth2.CoreStrategy = (*TokenStrategy)(nil)

// NewTokenStrategy returns a TokenStrategy.
func NewTokenStrategy(hmac *oauth2.HMACSHAStrategy, keys *KeyManager, issuer string) *TokenStrategy {
	return &TokenStrategy{HMACSHAStrategy: hmac, keys: keys, issuer: issuer}
}

func isJWT(token string) bool { return strings.Count(token, ".") == 2 }

// AccessTokenSignature returns the part of the token the store keys it by.
func (s *TokenStrategy) AccessTokenSignature(ctx context.Context, token string) string {
	if isJWT(token) {
		return token[strings.LastIndex(token, ".")+1:]
	}
	return s.HMACSHAStrategy.AccessTokenSignature(ctx, token)
}

// AccessTokenClaims are the RFC 9068 claims of a JWT access token.
type AccessTokenClaims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
	AuthTime int64  `json:"auth_time,omitempty"`
}

// GenerateAccessToken issues an access token in the client's format.
func (s *TokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	c, ok := ClientOf(r.GetClient())
	if !ok || c.AccessTokenFormat != FormatJWT {
		return s.HMACSHAStrategy.GenerateAccessToken(ctx, r)
	}
	alg := cmpAlg(c.AccessTokenAlg)
	jwk, err := s.keys.SigningKeyFor(alg)
	if err != nil {
		return "", "", err
	}
	method := jwt.GetSigningMethod(jwk.Algorithm)
	if method == nil {
		return "", "", fmt.Errorf("%w %q", ErrUnknownAlgorithm, jwk.Algorithm)
	}
	now := time.Now().UTC()
	exp := r.GetSession().GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		exp = now.Add(time.Hour)
	}
	jti, err := keyring.RandomString(16)
	if err != nil {
		return "", "", err
	}
	sub := r.GetSession().GetSubject()
	if sub == "" {
		sub = c.GetID()
	}
	aud := []string(r.GetGrantedAudience())
	if len(aud) == 0 {
		aud = []string{c.GetID()}
	}
	claims := AccessTokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   sub,
			Audience:  aud,
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ID:        jti,
		},
		ClientID: c.GetID(),
		Scope:    strings.Join(r.GetGrantedScopes(), " "),
	}
	t := jwt.NewWithClaims(method, claims)
	t.Header["typ"] = "at+jwt"
	t.Header["kid"] = jwk.KeyID
	signed, err := t.SignedString(jwk.Key)
	if err != nil {
		return "", "", fmt.Errorf("sign access token: %w", err)
	}
	return signed, s.AccessTokenSignature(ctx, signed), nil
}

// ValidateAccessToken checks a token's integrity and expiry. Whether it is
// still active is up to the store.
func (s *TokenStrategy) ValidateAccessToken(ctx context.Context, r fosite.Requester, token string) error {
	if !isJWT(token) {
		return s.HMACSHAStrategy.ValidateAccessToken(ctx, r, token)
	}
	_, err := s.ParseJWT(ctx, token)
	if errors.Is(err, jwt.ErrTokenExpired) {
		return fosite.ErrTokenExpired.WithWrap(err)
	}
	if err != nil {
		return fosite.ErrTokenSignatureMismatch.WithWrap(err)
	}
	return nil
}

// ParseJWT verifies a JWT access token against the signing keys.
func (s *TokenStrategy) ParseJWT(ctx context.Context, token string) (*AccessTokenClaims, error) {
	claims := &AccessTokenClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (interface{}, error) {
		// ID tokens share the signer and issuer; only typ tells them apart
		// (RFC 9068 section 4).
		if typ, _ := t.Header["typ"].(string); !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
			return nil, fmt.Errorf("typ %q is not at+jwt", typ)
		}
		kid, _ := t.Header["kid"].(string)
		pk, alg, err := s.keys.PublicKey(ctx, kid)
		if err != nil {
			return nil, err
		}
		if t.Method.Alg() != alg {
			return nil, fmt.Errorf("token alg %q does not match key %s (%s)", t.Method.Alg(), kid, alg)
		}
		return pk, nil
	}, jwt.WithValidMethods(SigningAlgorithms), jwt.WithIssuer(s.issuer), jwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	return claims, nil
}
