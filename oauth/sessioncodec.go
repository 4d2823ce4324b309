package oauth

import (
	"encoding/json"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"
)

// A Session is stored with every token of its grant and decoded on every
// use of one (introspection, refresh, the code exchange). fosite's own
// encoding writes every field of the ID token's claims and headers, empty
// or not: about 500 bytes of JSON for a client-credentials token that has
// none, decoded field by field on every introspection. The stored form
// below keeps the same names and leaves out what is empty, so that a row
// written by an earlier version (every field present) decodes into it
// unchanged, and a decoded session is the one that was encoded.

// storedSession is the JSON form of a Session.
type storedSession struct {
	Claims        *storedClaims                  `json:"id_token_claims,omitempty"`
	HeadersJSON   *storedHeaders                 `json:"headers,omitempty"`
	ExpiresAt     map[fosite.TokenType]time.Time `json:"expires_at,omitempty"`
	Username      string                         `json:"username,omitempty"`
	Subject       string                         `json:"subject,omitempty"`
	Origin        string                         `json:"origin,omitempty"`
	BeganAt       time.Time                      `json:"began_at,omitzero"`
	AppPasswordID string                         `json:"app_password_id,omitempty"`
}

// storedHeaders is jwt.Headers, absent when it has no extra header.
type storedHeaders struct {
	Extra map[string]any `json:"extra,omitempty"`
}

// storedClaims is jwt.IDTokenClaims under the same names, without the
// empty ones.
type storedClaims struct {
	JTI                                 string         `json:"jti,omitempty"`
	Issuer                              string         `json:"iss,omitempty"`
	Subject                             string         `json:"sub,omitempty"`
	Audience                            []string       `json:"aud,omitempty"`
	Nonce                               string         `json:"nonce,omitempty"`
	ExpiresAt                           time.Time      `json:"exp,omitzero"`
	IssuedAt                            time.Time      `json:"iat,omitzero"`
	RequestedAt                         time.Time      `json:"rat,omitzero"`
	AuthTime                            time.Time      `json:"auth_time,omitzero"`
	AccessTokenHash                     string         `json:"at_hash,omitempty"`
	AuthenticationContextClassReference string         `json:"acr,omitempty"`
	AuthenticationMethodsReferences     []string       `json:"amr,omitempty"`
	CodeHash                            string         `json:"c_hash,omitempty"`
	Extra                               map[string]any `json:"ext,omitempty"`
}

// MarshalJSON writes the stored form of s.
func (s *Session) MarshalJSON() ([]byte, error) {
	return json.Marshal(s.stored())
}

// stored returns the stored form of s, without what is empty.
func (s *Session) stored() storedSession {
	out := storedSession{
		ExpiresAt:     s.ExpiresAt,
		Username:      s.Username,
		Subject:       s.Subject,
		Origin:        s.Origin,
		BeganAt:       s.BeganAt,
		AppPasswordID: s.AppPasswordID,
	}
	if c := s.Claims; c != nil {
		if sc := storedClaims(*c); !sc.empty() {
			out.Claims = &sc
		}
	}
	if h := s.Headers; h != nil && len(h.Extra) > 0 {
		out.HeadersJSON = &storedHeaders{Extra: h.Extra}
	}
	return out
}

// UnmarshalJSON reads a session in the stored form, or in fosite's full
// form of earlier versions.
func (s *Session) UnmarshalJSON(data []byte) error {
	var in storedSession
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	s.load(in)
	return nil
}

// load sets s to the stored session in. Like NewSession it leaves the
// claims and the headers non-nil, with non-nil extras, whatever was
// stored.
func (s *Session) load(in storedSession) {
	// The prototype's claims, headers and their (empty) extras are
	// reused: decoding allocates only what the row holds.
	if s.Claims == nil {
		s.Claims = &jwt.IDTokenClaims{}
	}
	extra := s.Claims.Extra
	if in.Claims != nil {
		*s.Claims = jwt.IDTokenClaims(*in.Claims)
	} else {
		*s.Claims = jwt.IDTokenClaims{}
	}
	if s.Claims.Extra == nil {
		if extra == nil || len(extra) > 0 {
			extra = map[string]any{}
		}
		s.Claims.Extra = extra
	}
	if s.Headers == nil || len(s.Headers.Extra) > 0 {
		s.Headers = &jwt.Headers{}
	}
	switch {
	case in.HeadersJSON != nil && in.HeadersJSON.Extra != nil:
		s.Headers.Extra = in.HeadersJSON.Extra
	case s.Headers.Extra == nil:
		s.Headers.Extra = map[string]any{}
	}
	s.ExpiresAt = in.ExpiresAt
	s.Username = in.Username
	s.Subject = in.Subject
	s.Origin = in.Origin
	s.BeganAt = in.BeganAt
	s.AppPasswordID = in.AppPasswordID
}

// empty reports whether the claims carry nothing.
func (c *storedClaims) empty() bool {
	return c.JTI == "" && c.Issuer == "" && c.Subject == "" && len(c.Audience) == 0 && c.Nonce == "" &&
		c.ExpiresAt.IsZero() && c.IssuedAt.IsZero() && c.RequestedAt.IsZero() && c.AuthTime.IsZero() &&
		c.AccessTokenHash == "" && c.AuthenticationContextClassReference == "" &&
		len(c.AuthenticationMethodsReferences) == 0 && c.CodeHash == "" && len(c.Extra) == 0
}
