package oauth

import (
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// Origins of a grant: how it began. A grant keeps its origin across every
// refresh, so that a credential that ends can take what it obtained with
// it (see Guard).
const (
	// OriginCode is a grant begun by a person in the code flow.
	OriginCode = "authorization_code"
	// OriginPasswordToken is a password grant admitted by the password
	// and the user's security token.
	OriginPasswordToken = "password+security_token"
	// OriginPasswordTrusted is a password grant admitted by the password
	// alone, from a trusted range.
	OriginPasswordTrusted = "password+trusted_range"
	// OriginPasswordTOTP is a password grant admitted by the password and
	// a current TOTP code in place of the security token.
	OriginPasswordTOTP = "password+totp"
	// OriginDevice is a grant begun by the device authorization grant: a
	// person approved a device's request at /device.
	OriginDevice = "device_code"
	// OriginAppPassword is a password grant admitted by an app password
	// (Session.AppPasswordID names it): it ends with the app password,
	// not with the password. Like every password origin it starts with
	// "password+", which the partial index of the password grant's tokens
	// (migration 0017) selects on.
	OriginAppPassword = "password+app_password"
)

// PasswordOrigins are the origins of the password grant's grants.
func PasswordOrigins() []string {
	return []string{OriginPasswordToken, OriginPasswordTrusted, OriginPasswordTOTP, OriginAppPassword}
}

// IsPasswordOrigin reports whether origin is one of the password grant's.
func IsPasswordOrigin(origin string) bool {
	return slices.Contains(PasswordOrigins(), origin)
}

// Session is fosite's OpenID Connect session plus how the grant began. It
// is stored with every token of the grant (never in a token itself) and
// carried through refreshes.
type Session struct {
	openid.DefaultSession
	// Origin is one of the Origin constants; empty for grants without a
	// user (client credentials) and for grants stored before origins were
	// recorded.
	Origin string `json:"origin,omitempty"`
	// BeganAt is when the credentials were checked, to the nanosecond: a
	// credential changed after it ends the grant.
	BeganAt time.Time `json:"began_at,omitzero"`
	// AppPasswordID is the app password that admitted a grant of origin
	// OriginAppPassword.
	AppPasswordID string `json:"app_password_id,omitempty"`
}

var _ openid.Session = (*Session)(nil)

// NewSession returns an empty session for subject, ready for fosite.
func NewSession(subject string) *Session {
	return &Session{DefaultSession: openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Subject: subject, Extra: map[string]interface{}{}},
		Headers: &jwt.Headers{Extra: map[string]interface{}{}},
		Subject: subject,
	}}
}

// Clone returns a deep copy; fosite clones the prototype session before
// decoding into it, so the copy must keep this type.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := *s
	if d, ok := s.DefaultSession.Clone().(*openid.DefaultSession); ok && d != nil {
		c.DefaultSession = *d
	}
	return &c
}
