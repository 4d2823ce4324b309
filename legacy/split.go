package legacy

import (
	"context"
	"slices"
	"time"

	"github.com/authgate/authgate/internal/mfa"
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

// Codes is what the grant needs of the second factors (mfa.Service): a
// user's current TOTP code sent after the password in place of the
// security token, and the policy that makes it the only way.
type Codes interface {
	// MatchCode checks a code against the user's confirmed TOTP factor
	// without consuming it.
	MatchCode(ctx context.Context, userID, code string) (mfa.CodeMatch, int64, error)
	// ConsumeStep uses the code of step: true for the one caller that got
	// it first, on any replica.
	ConsumeStep(ctx context.Context, userID string, step int64) (bool, error)
	// Required reports whether u must use a second factor, for a client
	// that requires it (clientRequires) or not.
	Required(u models.User, clientRequires bool) bool
}

// tokenSplit is the grant's policy, handed to the sign-in core: outside a
// trusted range the password must be followed by the user's security
// token, or, for a user with TOTP, by a current six-digit code; from a
// trusted range the password alone is enough (and the whole string is
// also tried as the password, which may end like a token or a code).
// When the MFA policy applies to the user (per user, per client or
// server-wide) a code is the only way: the token and the password alone
// are refused.
type tokenSplit struct {
	tokens  TokenMatcher
	trusted bool
	// codes, when set, accepts a TOTP code in place of the token.
	codes Codes
	// clientRequires is the client's MFA policy.
	clientRequires bool
	// admitted, when set, learns what admitted a successful attempt.
	admitted *admission
	// factor names, after Verify, the credential that decided.
	factor *string
}

// admission is what admitted a successful password grant.
type admission int

const (
	viaToken admission = iota + 1
	viaTrustedRange
	viaCode
)

// admit records a and returns the success result.
func (v tokenSplit) admit(a admission) string {
	if v.admitted != nil {
		*v.admitted = a
	}
	switch a {
	case viaToken:
		v.name(signin.FactorSecurityToken)
	case viaCode:
		v.name(signin.FactorTOTP)
	}
	return signin.ResultSuccess
}

func (v tokenSplit) name(f string) {
	if v.factor != nil {
		*v.factor = f
	}
}

// Factor names the credential that decided the attempt (signin.FactorNamer).
func (v tokenSplit) Factor() string {
	if v.factor == nil {
		return ""
	}
	return *v.factor
}

var (
	_ signin.Verifier    = tokenSplit{}
	_ signin.FactorNamer = tokenSplit{}
)

// Cost is two verifications: the most Verify checks, when the string is
// long enough to split.
func (tokenSplit) Cost() int { return 2 }

// Verify decides the split and tells "right password, wrong or missing
// token or code" from "wrong password" for the login history. The order
// is fixed: the last 24 characters as the security token (a keyed hash:
// cheap), then the last six as a TOTP code of the window around now (an
// HMAC: cheap), then the whole string as the password; a candidate
// password is only hashed once the cheap part matched, and never more
// than twice.
func (v tokenSplit) Verify(ctx context.Context, u models.User, sent string, check signin.Check) (string, error) {
	required := v.codes != nil && v.codes.Required(u, v.clientRequires)
	pw, token, long := splitCandidate(sent)
	if long && v.tokens.TokenMatches(u, token) {
		v.name(signin.FactorSecurityToken)
		ok, err := check(pw)
		if err != nil {
			return "", err
		}
		if ok {
			if required {
				return signin.ResultMFARequired, nil
			}
			return v.admit(viaToken), nil
		}
		if v.trusted && !required {
			if ok, err := check(sent); ok || err != nil {
				return v.admit(viaTrustedRange), err
			}
		}
		return signin.ResultInvalidPassword, nil
	}
	cpw, code, coded := splitCode(sent)
	wrongCode := false
	if coded && v.codes != nil {
		m, step, err := v.codes.MatchCode(ctx, u.ID, code)
		if err != nil {
			return "", err
		}
		switch m {
		case mfa.CodeFresh, mfa.CodeReused:
			v.name(signin.FactorTOTP)
			ok, err := check(cpw)
			if err != nil {
				return "", err
			}
			if ok {
				if m == mfa.CodeReused {
					return signin.ResultCodeReused, nil
				}
				won, err := v.codes.ConsumeStep(ctx, u.ID, step)
				if err != nil {
					return "", err
				}
				if !won {
					return signin.ResultCodeReused, nil
				}
				return v.admit(viaCode), nil
			}
			if v.trusted && !required {
				if ok, err := check(sent); ok || err != nil {
					v.name(signin.FactorPassword)
					return v.admit(viaTrustedRange), err
				}
			}
			return signin.ResultInvalidPassword, nil
		case mfa.CodeWrong:
			wrongCode = true
		}
	}
	ok, err := check(sent)
	if err != nil {
		return "", err
	}
	if ok {
		if required {
			return signin.ResultMFARequired, nil
		}
		if v.trusted {
			return v.admit(viaTrustedRange), nil
		}
		return signin.ResultTokenRequired, nil
	}
	// One more verification labels the failure: a right password with a
	// wrong code (for a user with TOTP) or a wrong token.
	if wrongCode && (required || !long) {
		v.name(signin.FactorTOTP)
		if ok, err := check(cpw); ok || err != nil {
			return signin.ResultInvalidCode, err
		}
		return signin.ResultInvalidPassword, nil
	}
	if long {
		if ok, err := check(pw); ok || err != nil {
			if required {
				return signin.ResultMFARequired, err
			}
			v.name(signin.FactorSecurityToken)
			return signin.ResultInvalidToken, err
		}
	}
	return signin.ResultInvalidPassword, nil
}

// splitCode splits what was sent into a password and a candidate TOTP
// code: its last six characters when they are ASCII digits and something
// precedes them.
func splitCode(sent string) (password, code string, ok bool) {
	if len(sent) <= mfa.Digits {
		return sent, "", false
	}
	cut := len(sent) - mfa.Digits
	if !mfa.IsCode(sent[cut:]) {
		return sent, "", false
	}
	return sent[:cut], sent[cut:], true
}

// AppPasswords is what the grant needs of the app passwords
// (apppasswords.Service).
type AppPasswords interface {
	// Lookup finds the app password whose value is value, revoked or
	// expired or not; found is false for one never issued.
	Lookup(ctx context.Context, value string) (p models.AppPassword, found bool, err error)
	// Used records a successful use.
	Used(ctx context.Context, id, clientID, sourceIP string) error
}

// appPasswordCheck is the grant's policy, handed to the sign-in core, for
// a value of an app password's shape: the whole password field is the
// app password, from any network (no security token, trusted ranges do
// not matter). It must be one of the user's, neither revoked nor expired,
// for this client if bound to one, and hold every requested scope. Every
// check is a keyed hash or a comparison: the core pads every failure to
// the cost of the password grant's failures.
type appPasswordCheck struct {
	passwords AppPasswords
	clientID  string
	// accepted is whether the client takes app passwords at all.
	accepted bool
	// malformed marks a value with the prefix and a wrong checksum.
	malformed bool
	scopes    []string
	now       time.Time
	// used, when set, learns the app password a verdict was about.
	used *models.AppPassword
}

var (
	_ signin.Verifier         = appPasswordCheck{}
	_ signin.AppPasswordNamer = appPasswordCheck{}
)

// Cost is the password grant's: a failure here costs what a wrong
// password + token costs, so timing tells no credential from another.
func (appPasswordCheck) Cost() int { return tokenSplit{}.Cost() }

// AppPasswordName names the app password, once it was found to be the
// user's.
func (v appPasswordCheck) AppPasswordName() string {
	if v.used == nil {
		return ""
	}
	return v.used.Name
}

// Verify decides the attempt without checking the user's password.
func (v appPasswordCheck) Verify(ctx context.Context, u models.User, sent string, _ signin.Check) (string, error) {
	switch {
	case !v.accepted:
		return signin.ResultAppPasswordWrongClient, nil
	case v.malformed:
		return signin.ResultAppPasswordMalformed, nil
	}
	p, found, err := v.passwords.Lookup(ctx, sent)
	if err != nil {
		return "", err
	}
	if !found || p.UserID != u.ID {
		return signin.ResultAppPasswordInvalid, nil
	}
	if v.used != nil {
		*v.used = p
	}
	switch {
	case p.RevokedAt != nil:
		return signin.ResultAppPasswordRevoked, nil
	case p.ExpiresAt != nil && !v.now.Before(*p.ExpiresAt):
		return signin.ResultAppPasswordExpired, nil
	case p.ClientID != "" && p.ClientID != v.clientID:
		return signin.ResultAppPasswordWrongClient, nil
	}
	for _, sc := range v.scopes {
		if !slices.Contains(p.Scopes, sc) {
			return signin.ResultAppPasswordScope, nil
		}
	}
	return signin.ResultSuccess, nil
}

// refusal is the policy of an attempt refused whatever the secret (a
// password sent to a client that accepts only app passwords): counted and
// priced like any failure of the password grant.
type refusal string

// Cost is the password grant's.
func (refusal) Cost() int { return tokenSplit{}.Cost() }

// Verify refuses with the result r names.
func (r refusal) Verify(context.Context, models.User, string, signin.Check) (string, error) {
	return string(r), nil
}
