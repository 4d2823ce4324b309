package oauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

const testIssuer = "https://id.example.test"

// newProvider builds the provider on a fresh SQLite database with a
// signing key.
func newProvider(t *testing.T) *oauth.Provider {
	t.Helper()
	db := testdb.Open(t, "sqlite")
	kr := testKeyring(t)
	keys := oauth.NewKeyManager(storage.New(db), kr, oauth.KeyOptions{Retention: 2 * time.Hour})
	if err := keys.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return oauth.NewProvider(oauth.Settings{
		Issuer:                testIssuer,
		AccessTokenLifespan:   time.Hour,
		RefreshTokenLifespan:  24 * time.Hour,
		AuthorizeCodeLifespan: 10 * time.Minute,
		IDTokenLifespan:       time.Hour,
	}, oauth.NewStore(storage.New(db), kr, nil), keys, kr, &oauth.SecretHasher{Keys: kr})
}

func tokenRequest(format, subject string, exp time.Time) *fosite.Request {
	c := oauth.NewClient(models.Client{ID: "svc", Name: "Service", AccessTokenFormat: format})
	sess := oauth.NewSession(subject)
	sess.SetExpiresAt(fosite.AccessToken, exp)
	r := fosite.NewRequest()
	r.Client = c
	r.Session = sess
	r.GrantScope("openid")
	r.GrantScope("profile")
	return r
}

// segments decodes a JWT's header and claims without verifying it.
func segments(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q: got %d segments, want 3", token, len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	return header, claims
}

func signingKey(t *testing.T, p *oauth.Provider) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := oauth.KeysOf(p).SigningKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	jwk := k.(*jose.JSONWebKey)
	return jwk.Key.(*rsa.PrivateKey), jwk.KeyID
}

func TestJWTAccessToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProvider(t)
	_, kid := signingKey(t, p)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	r := tokenRequest(oauth.FormatJWT, "user-1", exp)
	token, sig, err := oauth.StrategyOf(p).GenerateAccessToken(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := token[strings.LastIndex(token, ".")+1:]; sig != want || oauth.StrategyOf(p).AccessTokenSignature(ctx, token) != want {
		t.Errorf("signature: got %q, want the JWT's signature segment %q", sig, want)
	}
	header, claims := segments(t, token)
	for name, want := range map[string]any{"typ": "at+jwt", "alg": "RS256", "kid": kid} {
		if header[name] != want {
			t.Errorf("header %s: got %v, want %v", name, header[name], want)
		}
	}
	for name, want := range map[string]any{
		"iss": testIssuer, "sub": "user-1", "client_id": "svc", "scope": "openid profile", "exp": float64(exp.Unix()),
	} {
		if claims[name] != want {
			t.Errorf("claim %s: got %v, want %v", name, claims[name], want)
		}
	}
	for _, name := range []string{"aud", "iat", "jti"} {
		if _, ok := claims[name]; !ok {
			t.Errorf("claim %s missing", name)
		}
	}
	if err := oauth.StrategyOf(p).ValidateAccessToken(ctx, r, token); err != nil {
		t.Fatalf("ValidateAccessToken: %v", err)
	}

	t.Run("client without subject", func(t *testing.T) {
		token, _, err := oauth.StrategyOf(p).GenerateAccessToken(ctx, tokenRequest(oauth.FormatJWT, "", exp))
		if err != nil {
			t.Fatal(err)
		}
		if _, claims := segments(t, token); claims["sub"] != "svc" {
			t.Errorf("sub: got %v, want the client id svc", claims["sub"])
		}
	})

	t.Run("opaque client", func(t *testing.T) {
		r := tokenRequest(oauth.FormatOpaque, "user-1", exp)
		token, _, err := oauth.StrategyOf(p).GenerateAccessToken(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(token, ".") == 2 {
			t.Fatalf("opaque client got a JWT: %s", token)
		}
		if err := oauth.StrategyOf(p).ValidateAccessToken(ctx, r, token); err != nil {
			t.Fatalf("ValidateAccessToken: %v", err)
		}
	})
}

// signJWT signs claims with key under kid, with typ unless it is empty.
func signJWT(t *testing.T, method jwt.SigningMethod, key any, kid, typ string, c jwt.MapClaims) string {
	t.Helper()
	tk := jwt.NewWithClaims(method, c)
	delete(tk.Header, "typ")
	if typ != "" {
		tk.Header["typ"] = typ
	}
	tk.Header["kid"] = kid
	s, err := tk.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTAccessTokenTampered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := newProvider(t)
	priv, kid := signingKey(t, p)
	attacker, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	r := tokenRequest(oauth.FormatJWT, "user-1", exp)
	good, _, err := oauth.StrategyOf(p).GenerateAccessToken(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": testIssuer, "sub": "user-1", "client_id": "svc", "scope": "openid profile", "exp": exp.Unix(), "iat": time.Now().Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
		return signJWT(t, method, key, kid, "at+jwt", c)
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{"payload changed", parts[0] + "." + enc(claims(func(c jwt.MapClaims) { c["sub"] = "admin" })) + "." + parts[2], fosite.ErrTokenSignatureMismatch},
		{"scope widened", parts[0] + "." + enc(claims(func(c jwt.MapClaims) { c["scope"] = "openid authgate:admin" })) + "." + parts[2], fosite.ErrTokenSignatureMismatch},
		{"signature changed", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])), fosite.ErrTokenSignatureMismatch},
		{"signature removed", parts[0] + "." + parts[1] + ".", fosite.ErrTokenSignatureMismatch},
		{"alg none", enc(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}) + "." + parts[1] + ".", fosite.ErrTokenSignatureMismatch},
		{"HS256 keyed with the public key", sign(jwt.SigningMethodHS256, pubPEM, kid, claims(nil)), fosite.ErrTokenSignatureMismatch},
		{"another key under the current kid", sign(jwt.SigningMethodRS256, attacker, kid, claims(nil)), fosite.ErrTokenSignatureMismatch},
		{"unknown kid", sign(jwt.SigningMethodRS256, priv, "unknown", claims(nil)), fosite.ErrTokenSignatureMismatch},
		{"another issuer", sign(jwt.SigningMethodRS256, priv, kid, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.test" })), fosite.ErrTokenSignatureMismatch},
		{"no expiry", sign(jwt.SigningMethodRS256, priv, kid, claims(func(c jwt.MapClaims) { delete(c, "exp") })), fosite.ErrTokenSignatureMismatch},
		// An ID token has the same signer and issuer; RFC 9068 section 4
		// requires refusing any typ but at+jwt.
		{"typ JWT, as an ID token", signJWT(t, jwt.SigningMethodRS256, priv, kid, "JWT", claims(nil)), fosite.ErrTokenSignatureMismatch},
		{"no typ", signJWT(t, jwt.SigningMethodRS256, priv, kid, "", claims(nil)), fosite.ErrTokenSignatureMismatch},
		{"expired", sign(jwt.SigningMethodRS256, priv, kid, claims(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), fosite.ErrTokenExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := oauth.StrategyOf(p).ValidateAccessToken(ctx, r, tc.token)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ValidateAccessToken: got %v, want %v", err, tc.wantErr)
			}
		})
	}

	t.Run("expired by its session", func(t *testing.T) {
		r := tokenRequest(oauth.FormatJWT, "user-1", time.Now().Add(-time.Minute))
		token, _, err := oauth.StrategyOf(p).GenerateAccessToken(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := oauth.StrategyOf(p).ValidateAccessToken(ctx, r, token); !errors.Is(err, fosite.ErrTokenExpired) {
			t.Fatalf("ValidateAccessToken: got %v, want %v", err, fosite.ErrTokenExpired)
		}
	})
}
