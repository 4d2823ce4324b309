package oauth

import (
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// NewSession returns an empty session for subject, ready for fosite.
func NewSession(subject string) *openid.DefaultSession {
	return &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{Subject: subject, Extra: map[string]interface{}{}},
		Headers: &jwt.Headers{Extra: map[string]interface{}{}},
		Subject: subject,
	}
}
