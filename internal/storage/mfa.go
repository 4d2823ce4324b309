package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/models"
)

// Multi-factor authentication: TOTP factors, recovery codes and the
// second step of a browser sign-in. Every rule that must hold across
// replicas (a code is accepted once, a recovery code once, an enrolment is
// confirmed once) is one conditional UPDATE here.

// PutPendingTOTP starts (or restarts) the TOTP enrolment of userID with a
// sealed secret. A pending enrolment is no factor until ConfirmTOTP.
// ErrConflict when the user already has a confirmed TOTP factor.
func (s *Store) PutPendingTOTP(ctx context.Context, userID string, sealed []byte, now time.Time) error {
	res := s.conn(ctx).Exec(
		"INSERT INTO totp_factors (user_id, secret_sealed, last_step, confirmed_at, last_used_at, created_at)"+
			" VALUES (?, ?, 0, NULL, NULL, ?)"+
			" ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, last_step = 0, created_at = excluded.created_at"+
			" WHERE totp_factors.confirmed_at IS NULL",
		userID, sealed, now.UTC())
	if res.Error != nil {
		return fmt.Errorf("start totp enrolment: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("start totp enrolment: %w", ErrConflict)
	}
	return nil
}

// TOTPFactor returns the TOTP row of userID, confirmed or pending; ok is
// false when there is none.
func (s *Store) TOTPFactor(ctx context.Context, userID string) (f models.TOTPFactor, ok bool, err error) {
	err = s.conn(ctx).Where("user_id = ?", userID).Take(&f).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.TOTPFactor{}, false, nil
	}
	if err != nil {
		return models.TOTPFactor{}, false, fmt.Errorf("load totp factor: %w", err)
	}
	return f, true, nil
}

// ConfirmTOTP turns the pending enrolment of userID into a factor, with
// the code of step consumed, and replaces the user's recovery codes with
// codeHashes, in one transaction. ErrConflict when there is no pending
// enrolment (none, or confirmed by a parallel request).
func (s *Store) ConfirmTOTP(ctx context.Context, userID string, step int64, codeHashes []string, now time.Time) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		now := now.UTC()
		res := s.conn(ctx).Model(&models.TOTPFactor{}).
			Where("user_id = ? AND confirmed_at IS NULL AND last_step < ?", userID, step).
			Updates(map[string]any{"confirmed_at": now, "last_step": step, "last_used_at": now})
		if res.Error != nil {
			return fmt.Errorf("confirm totp: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("confirm totp: %w", ErrConflict)
		}
		return s.ReplaceRecoveryCodes(ctx, userID, codeHashes, now)
	})
}

// ConsumeTOTPStep accepts a code of time step for the confirmed factor of
// userID: it reports true only for the one caller, on any replica, that
// raised the user's last step to step. A code of a step already used (or
// older) is refused.
func (s *Store) ConsumeTOTPStep(ctx context.Context, userID string, step int64, now time.Time) (bool, error) {
	res := s.conn(ctx).Model(&models.TOTPFactor{}).
		Where("user_id = ? AND confirmed_at IS NOT NULL AND last_step < ?", userID, step).
		Updates(map[string]any{"last_step": step, "last_used_at": now.UTC()})
	if res.Error != nil {
		return false, fmt.Errorf("consume totp code: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// ReplaceRecoveryCodes drops every recovery code of userID and stores
// codeHashes instead.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, codeHashes []string, now time.Time) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		db := s.conn(ctx)
		if err := db.Where("user_id = ?", userID).Delete(&models.RecoveryCode{}).Error; err != nil {
			return fmt.Errorf("drop recovery codes: %w", err)
		}
		if len(codeHashes) == 0 {
			return nil
		}
		rows := make([]models.RecoveryCode, len(codeHashes))
		for i, h := range codeHashes {
			rows[i] = models.RecoveryCode{UserID: userID, CodeHash: h, CreatedAt: now.UTC()}
		}
		if err := db.Create(&rows).Error; err != nil {
			return fmt.Errorf("store recovery codes: %w", mapErr(err))
		}
		return nil
	})
}

// UseRecoveryCode spends the unused recovery code of userID whose hash is
// codeHash: true for the one caller that spent it, false when it is
// unknown or already used.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, codeHash string, now time.Time) (bool, error) {
	res := s.conn(ctx).Model(&models.RecoveryCode{}).
		Where("user_id = ? AND code_hash = ? AND used_at IS NULL", userID, codeHash).
		Update("used_at", now.UTC())
	if res.Error != nil {
		return false, fmt.Errorf("use recovery code: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// RecoveryCodesLeft counts the unused recovery codes of userID.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int64
	if err := s.conn(ctx).Model(&models.RecoveryCode{}).Where("user_id = ? AND used_at IS NULL", userID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return int(n), nil
}

// DeleteTOTP removes the TOTP factor (confirmed or pending) and the
// recovery codes of userID, and the second steps the user's browsers are
// in. It reports whether there was a factor or a code to remove.
func (s *Store) DeleteTOTP(ctx context.Context, userID string) (bool, error) {
	removed := false
	err := s.InTx(ctx, func(ctx context.Context) error {
		db := s.conn(ctx)
		res := db.Where("user_id = ?", userID).Delete(&models.TOTPFactor{})
		if res.Error != nil {
			return fmt.Errorf("delete totp factor: %w", res.Error)
		}
		removed = res.RowsAffected > 0
		res = db.Where("user_id = ?", userID).Delete(&models.RecoveryCode{})
		if res.Error != nil {
			return fmt.Errorf("delete recovery codes: %w", res.Error)
		}
		removed = removed || res.RowsAffected > 0
		if err := db.Where("user_id = ?", userID).Delete(&models.SecondStep{}).Error; err != nil {
			return fmt.Errorf("delete second steps: %w", err)
		}
		return nil
	})
	return removed, err
}

// CreateSecondStep stores a browser's pending second step.
func (s *Store) CreateSecondStep(ctx context.Context, st models.SecondStep) error {
	if err := s.conn(ctx).Create(&st).Error; err != nil {
		return fmt.Errorf("create second step: %w", mapErr(err))
	}
	return nil
}

// SecondStep returns the second step whose id hash is idHash, expired or
// not (the caller counts an expired one as a failure); ok is false when
// there is none.
func (s *Store) SecondStep(ctx context.Context, idHash string) (st models.SecondStep, ok bool, err error) {
	err = s.conn(ctx).Where("id_hash = ?", idHash).Take(&st).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return models.SecondStep{}, false, nil
	}
	if err != nil {
		return models.SecondStep{}, false, fmt.Errorf("load second step: %w", err)
	}
	return st, true, nil
}

// SetSecondStepState stores a factor's scratch state on a second step.
// ErrNotFound when the step is gone.
func (s *Store) SetSecondStepState(ctx context.Context, idHash, state string) error {
	res := s.conn(ctx).Model(&models.SecondStep{}).Where("id_hash = ?", idHash).Update("state", state)
	if res.Error != nil {
		return fmt.Errorf("update second step: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update second step: %w", ErrNotFound)
	}
	return nil
}

// DeleteSecondStep ends a second step; it reports whether this call ended
// it (so that of two parallel completions one wins).
func (s *Store) DeleteSecondStep(ctx context.Context, idHash string) (bool, error) {
	res := s.conn(ctx).Where("id_hash = ?", idHash).Delete(&models.SecondStep{})
	if res.Error != nil {
		return false, fmt.Errorf("delete second step: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// DeleteExpiredSecondSteps removes the second steps expired before now.
func (s *Store) DeleteExpiredSecondSteps(ctx context.Context, now time.Time) (int64, error) {
	res := s.conn(ctx).Where("expires_at < ?", now.UTC()).Delete(&models.SecondStep{})
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired second steps: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// SetSessionAMR records how the session whose id hash is idHash signed in
// (after an enrolment proved a new factor in it).
func (s *Store) SetSessionAMR(ctx context.Context, idHash, amr string) error {
	if err := s.conn(ctx).Model(&models.LoginSession{}).Where("id_hash = ?", idHash).Update("amr", amr).Error; err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	return nil
}

// SetUserRequireMFA sets the MFA policy of the user with id. ErrNotFound
// if there is none.
func (s *Store) SetUserRequireMFA(ctx context.Context, id string, require bool) error {
	res := s.conn(ctx).Model(&models.User{}).Where("id = ?", id).Update("require_mfa", require)
	if res.Error != nil {
		return fmt.Errorf("set user mfa policy: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set user mfa policy: %w", ErrNotFound)
	}
	return nil
}

// SetClientRequireMFA sets the MFA policy of the client with id.
// ErrNotFound if there is none.
func (s *Store) SetClientRequireMFA(ctx context.Context, id string, require bool) error {
	res := s.conn(ctx).Model(&models.Client{}).Where("id = ?", id).Update("require_mfa", require)
	if res.Error != nil {
		return fmt.Errorf("set client mfa policy: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set client mfa policy: %w", ErrNotFound)
	}
	return nil
}

// RecoveryCodeSpent reports whether userID has a used recovery code whose
// hash is codeHash (to tell a reused code from a wrong one in the login
// history).
func (s *Store) RecoveryCodeSpent(ctx context.Context, userID, codeHash string) (bool, error) {
	var n int64
	if err := s.conn(ctx).Model(&models.RecoveryCode{}).Where("user_id = ? AND code_hash = ? AND used_at IS NOT NULL", userID, codeHash).Count(&n).Error; err != nil {
		return false, fmt.Errorf("look up recovery code: %w", err)
	}
	return n > 0, nil
}
