package legacy

import (
	"context"

	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
)

// TokenLength is the length of a security token.
const TokenLength = 24

// splitCandidate splits what was sent in the password field into a
// password and a candidate security token, the token being the last
// TokenLength bytes. ok is false when the string is too short to hold both
// a (non-empty) password and a token.
func splitCandidate(sent string) (password, token string, ok bool) {
	if len(sent) <= TokenLength {
		return sent, "", false
	}
	cut := len(sent) - TokenLength
	return sent[:cut], sent[cut:], true
}

// TokenMatcher says whether candidate is u's current security token.
type TokenMatcher interface {
	TokenMatches(u models.User, candidate string) bool
}

// tokenSplit is the grant's policy, handed to the sign-in core: outside a
// trusted range the password must be followed by the user's security
// token; from a trusted range the password alone is enough (and the whole
// string is also tried as the password, which may end like a token).
type tokenSplit struct {
	tokens  TokenMatcher
	trusted bool
	// admitted, when set, learns what admitted a successful attempt.
	admitted *admission
}

// admission is what admitted a successful password grant.
type admission int

const (
	viaToken admission = iota + 1
	viaTrustedRange
)

// admit records a and returns the success result.
func (v tokenSplit) admit(a admission) string {
	if v.admitted != nil {
		*v.admitted = a
	}
	return signin.ResultSuccess
}

var _ signin.Verifier = tokenSplit{}

// Cost is two verifications: the most Verify checks, when the string is
// long enough to split.
func (tokenSplit) Cost() int { return 2 }

// Verify decides the split and tells "right password, wrong or missing
// token" from "wrong password" for the login history.
func (v tokenSplit) Verify(_ context.Context, u models.User, sent string, check signin.Check) (string, error) {
	pw, token, long := splitCandidate(sent)
	// The token check is a keyed hash: cheap, so it decides the split.
	if long && v.tokens.TokenMatches(u, token) {
		if ok, err := check(pw); ok || err != nil {
			return v.admit(viaToken), err
		}
		if v.trusted {
			if ok, err := check(sent); ok || err != nil {
				return v.admit(viaTrustedRange), err
			}
		}
		return signin.ResultInvalidPassword, nil
	}
	ok, err := check(sent)
	if err != nil {
		return "", err
	}
	if ok {
		if v.trusted {
			return v.admit(viaTrustedRange), nil
		}
		return signin.ResultTokenRequired, nil
	}
	if long {
		if ok, err := check(pw); ok || err != nil {
			return signin.ResultInvalidToken, err
		}
	}
	return signin.ResultInvalidPassword, nil
}
