package mfa

import (
	"context"
	"errors"
	"strings"

	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// CodeVerifier returns the sign-in core's Verifier for a second factor
// typed as text: six digits are a TOTP code, anything else a recovery
// code. Whatever it decides, it is consumed at most once across replicas;
// every failure costs the core's one dummy verification (Cost 1), so a
// wrong, reused or unknown code cannot be told apart by timing.
func (s *Service) CodeVerifier(code string) signin.Verifier {
	return &codeVerifier{svc: s, code: strings.TrimSpace(code)}
}

type codeVerifier struct {
	svc    *Service
	code   string
	factor string
}

var (
	_ signin.Verifier    = (*codeVerifier)(nil)
	_ signin.FactorNamer = (*codeVerifier)(nil)
)

// Cost is one verification: a code check spends no argon2id, so the core
// pads every failure with one.
func (*codeVerifier) Cost() int { return 1 }

// Factor is FactorTOTP or FactorRecoveryCode, by the code's shape.
func (v *codeVerifier) Factor() string { return v.factor }

// Verify checks the code of u; it never calls check (no password here).
func (v *codeVerifier) Verify(ctx context.Context, u models.User, _ string, _ signin.Check) (string, error) {
	if isCode(v.code) {
		v.factor = signin.FactorTOTP
		m, step, err := v.svc.MatchCode(ctx, u.ID, v.code)
		if err != nil {
			return "", err
		}
		switch m {
		case CodeFresh:
			ok, err := v.svc.ConsumeStep(ctx, u.ID, step)
			if err != nil {
				return "", err
			}
			if ok {
				return signin.ResultSuccess, nil
			}
			return signin.ResultCodeReused, nil // a parallel request used it first
		case CodeReused:
			return signin.ResultCodeReused, nil
		default:
			return signin.ResultInvalidCode, nil
		}
	}
	v.factor = signin.FactorRecoveryCode
	code, ok := normalizeRecovery(v.code)
	if !ok {
		return signin.ResultInvalidCode, nil
	}
	h := v.svc.recoveryHash(u.ID, code)
	used, err := v.svc.store.UseRecoveryCode(ctx, u.ID, h, v.svc.now())
	if err != nil {
		return "", err
	}
	if used {
		return signin.ResultSuccess, nil
	}
	spent, err := v.svc.store.RecoveryCodeSpent(ctx, u.ID, h)
	if err != nil {
		return "", err
	}
	if spent {
		return signin.ResultCodeReused, nil
	}
	return signin.ResultInvalidCode, nil
}

// CodeMatch is what a TOTP code is for a user.
type CodeMatch int

// CodeMatch values.
const (
	// NoTOTP: the user has no confirmed TOTP factor.
	NoTOTP CodeMatch = iota
	// CodeWrong: not a code of the window around now.
	CodeWrong
	// CodeReused: a code of the window whose step was used already.
	CodeReused
	// CodeFresh: a code of the window not used yet; ConsumeStep takes it.
	CodeFresh
)

// MatchCode checks code against the confirmed TOTP factor of userID
// within one step either side of now, without consuming it (the legacy
// grant checks the password before it consumes the code). step is the
// matching time step.
func (s *Service) MatchCode(ctx context.Context, userID, code string) (CodeMatch, int64, error) {
	f, ok, err := s.store.TOTPFactor(ctx, userID)
	if err != nil {
		return NoTOTP, 0, err
	}
	if !ok || f.ConfirmedAt == nil {
		return NoTOTP, 0, nil
	}
	secret, err := s.open(f)
	if err != nil {
		return NoTOTP, 0, err
	}
	step, ok := matchStep(secret, code, s.now())
	switch {
	case !ok:
		return CodeWrong, 0, nil
	case step <= f.LastStep:
		return CodeReused, step, nil
	}
	return CodeFresh, step, nil
}

// ConsumeStep uses the code of step for userID: true for the one caller,
// on any replica, that got it first.
func (s *Service) ConsumeStep(ctx context.Context, userID string, step int64) (bool, error) {
	return s.store.ConsumeTOTPStep(ctx, userID, step, s.now())
}

// Confirmation returns the Verifier that confirms the pending enrolment of
// the user with its first code; on success the factor is live and Codes
// holds the recovery codes to show once.
func (s *Service) Confirmation(code string) *Confirmation {
	return &Confirmation{svc: s, code: strings.TrimSpace(code)}
}

// Confirmation is the Verifier of an enrolment's first code.
type Confirmation struct {
	svc  *Service
	code string
	// Codes are the new recovery codes after a success, never stored in
	// plain text.
	Codes []string
}

var _ signin.Verifier = (*Confirmation)(nil)

// Cost is one verification, like CodeVerifier.
func (*Confirmation) Cost() int { return 1 }

// Factor is FactorTOTP.
func (*Confirmation) Factor() string { return signin.FactorTOTP }

// Verify checks the code against the pending secret and, when it matches,
// confirms the factor with new recovery codes in one transaction.
func (c *Confirmation) Verify(ctx context.Context, u models.User, _ string, _ signin.Check) (string, error) {
	f, ok, err := c.svc.store.TOTPFactor(ctx, u.ID)
	if err != nil {
		return "", err
	}
	if !ok || f.ConfirmedAt != nil {
		return signin.ResultInvalidCode, nil
	}
	secret, err := c.svc.open(f)
	if err != nil {
		return "", err
	}
	step, ok := matchStep(secret, c.code, c.svc.now())
	if !ok {
		return signin.ResultInvalidCode, nil
	}
	codes, hashes, err := c.svc.newRecoveryCodes(u.ID)
	if err != nil {
		return "", err
	}
	if err := c.svc.store.ConfirmTOTP(ctx, u.ID, step, hashes, c.svc.now()); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			// Confirmed by a parallel request, or restarted meanwhile.
			return signin.ResultInvalidCode, nil
		}
		return "", err
	}
	c.Codes = codes
	return signin.ResultSuccess, nil
}
