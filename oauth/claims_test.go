package oauth

import (
	"testing"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/models"
)

// email_verified says what the user's row says, and only with the email
// scope.
func TestUserClaimsEmailVerified(t *testing.T) {
	for _, verified := range []bool{false, true} {
		u := models.User{ID: "u1", Username: "alice", Email: "alice@example.com", EmailVerified: verified}
		claims := UserClaims(u, fosite.Arguments{ScopeOpenID, ScopeEmail})
		if claims["email_verified"] != verified || claims["email"] != u.Email {
			t.Errorf("verified=%t: got %v", verified, claims)
		}
		if _, ok := UserClaims(u, fosite.Arguments{ScopeOpenID})["email_verified"]; ok {
			t.Errorf("verified=%t: email_verified without the email scope", verified)
		}
	}
}
