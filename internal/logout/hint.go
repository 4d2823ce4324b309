package logout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Algorithms authgate may sign with; a hint in any other is refused.
var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// ErrBadHint is returned for an id_token_hint that is not an ID token
// authgate issued: malformed, wrongly signed, or from another issuer.
var ErrBadHint = errors.New("the id_token_hint is not an ID token this server issued")

// ErrUnknownKey is returned for a well-formed hint signed by a key that is
// no longer published: it may be genuine but cannot be checked.
var ErrUnknownKey = errors.New("the id_token_hint was signed by a key this server no longer publishes")

// Hint is what a verified id_token_hint says.
type Hint struct {
	Subject  string
	SID      string
	Audience []string
	// AuthorizedParty is the azp claim, when present.
	AuthorizedParty string
}

// Client returns the client the hint was issued to: azp, else its one
// audience; "" when it cannot tell.
func (h Hint) Client() string {
	if h.AuthorizedParty != "" {
		return h.AuthorizedParty
	}
	if len(h.Audience) == 1 {
		return h.Audience[0]
	}
	return ""
}

// KeySource gives the public keys authgate signs with, as a JWKS
// (oauth.Provider.JWKS).
type KeySource interface {
	JWKS(ctx context.Context) ([]byte, string, error)
}

// Verifier checks id_token_hints.
type Verifier struct {
	Issuer string
	Keys   KeySource
}

// Verify checks that raw is an ID token authgate signed with a published
// key and issued as Issuer. An expired token is accepted: OpenID Connect
// RP-Initiated Logout 1.0 section 4 lets the hint identify the session
// after the token's expiry.
func (v Verifier) Verify(ctx context.Context, raw string) (Hint, error) {
	if len(raw) > 16<<10 {
		return Hint{}, ErrBadHint
	}
	tok, err := jwt.ParseSigned(raw, algorithms)
	if err != nil || len(tok.Headers) != 1 {
		return Hint{}, ErrBadHint
	}
	body, _, err := v.Keys.JWKS(ctx)
	if err != nil {
		return Hint{}, fmt.Errorf("load keys: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return Hint{}, fmt.Errorf("decode keys: %w", err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) == 0 {
		return Hint{}, ErrUnknownKey
	}
	var claims struct {
		jwt.Claims
		SID string `json:"sid"`
		AZP string `json:"azp"`
	}
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		return Hint{}, ErrBadHint
	}
	if claims.Issuer != v.Issuer || claims.Subject == "" {
		return Hint{}, ErrBadHint
	}
	return Hint{Subject: claims.Subject, SID: claims.SID, Audience: claims.Audience, AuthorizedParty: claims.AZP}, nil
}
