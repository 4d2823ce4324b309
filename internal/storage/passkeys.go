package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/models"
)

// CreateWebAuthnCredential stores a new passkey. A credential id already
// registered (to anyone) is ErrConflict.
func (s *Store) CreateWebAuthnCredential(ctx context.Context, c models.WebAuthnCredential) error {
	err := s.savepoint(ctx, func(db *gorm.DB) error { return db.Create(&c).Error })
	if err != nil {
		return fmt.Errorf("create passkey: %w", err)
	}
	return nil
}

// WebAuthnCredentials returns the passkeys of userID, oldest first.
func (s *Store) WebAuthnCredentials(ctx context.Context, userID string) ([]models.WebAuthnCredential, error) {
	var out []models.WebAuthnCredential
	if err := s.conn(ctx).Where("user_id = ?", userID).Order("created_at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	return out, nil
}

// CountWebAuthnCredentials returns how many passkeys userID has.
func (s *Store) CountWebAuthnCredentials(ctx context.Context, userID string) (int64, error) {
	var n int64
	if err := s.conn(ctx).Model(&models.WebAuthnCredential{}).Where("user_id = ?", userID).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count passkeys: %w", err)
	}
	return n, nil
}

// WebAuthnCredentialByCredentialID returns the passkey whose authenticator
// credential id is credentialID; ErrNotFound if none.
func (s *Store) WebAuthnCredentialByCredentialID(ctx context.Context, credentialID []byte) (models.WebAuthnCredential, error) {
	var c models.WebAuthnCredential
	if err := s.conn(ctx).Where("credential_id = ?", credentialID).Take(&c).Error; err != nil {
		return models.WebAuthnCredential{}, fmt.Errorf("load passkey: %w", mapErr(err))
	}
	return c, nil
}

// updateWebAuthnCredential changes the passkey id of userID; ErrNotFound
// when userID has no such passkey (another user's id is not found either).
func (s *Store) updateWebAuthnCredential(ctx context.Context, userID, id string, fields map[string]any) error {
	res := s.conn(ctx).Model(&models.WebAuthnCredential{}).Where("id = ? AND user_id = ?", id, userID).Updates(fields)
	if res.Error != nil {
		return fmt.Errorf("update passkey: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update passkey: %w", ErrNotFound)
	}
	return nil
}

// RenameWebAuthnCredential renames the passkey id of userID.
func (s *Store) RenameWebAuthnCredential(ctx context.Context, userID, id, name string) error {
	return s.updateWebAuthnCredential(ctx, userID, id, map[string]any{"name": name})
}

// SetWebAuthnPasswordless sets whether the passkey id of userID signs in
// without a password.
func (s *Store) SetWebAuthnPasswordless(ctx context.Context, userID, id string, on bool) error {
	return s.updateWebAuthnCredential(ctx, userID, id, map[string]any{"passwordless": on})
}

// DeleteWebAuthnCredential removes the passkey id of userID; ErrNotFound
// when userID has no such passkey.
func (s *Store) DeleteWebAuthnCredential(ctx context.Context, userID, id string) error {
	res := s.conn(ctx).Where("id = ? AND user_id = ?", id, userID).Delete(&models.WebAuthnCredential{})
	if res.Error != nil {
		return fmt.Errorf("delete passkey: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete passkey: %w", ErrNotFound)
	}
	return nil
}

// DeleteUserWebAuthnCredentials removes every passkey of userID and the
// ceremonies under way for them, and returns how many passkeys it removed.
func (s *Store) DeleteUserWebAuthnCredentials(ctx context.Context, userID string) (int64, error) {
	var n int64
	err := s.InTx(ctx, func(ctx context.Context) error {
		res := s.conn(ctx).Where("user_id = ?", userID).Delete(&models.WebAuthnCredential{})
		if res.Error != nil {
			return res.Error
		}
		n = res.RowsAffected
		return s.conn(ctx).Where("user_id = ?", userID).Delete(&models.WebAuthnCeremony{}).Error
	})
	if err != nil {
		return 0, fmt.Errorf("delete passkeys of user: %w", err)
	}
	return n, nil
}

// WebAuthnUse is what a verified assertion reports about its passkey.
type WebAuthnUse struct {
	// SignCount is the assertion's signature counter.
	SignCount   uint32
	BackupState bool
	At          time.Time
}

// ErrSignCount is returned by RecordWebAuthnUse when the assertion's
// signature counter does not exceed the stored one: a cloned
// authenticator, or an assertion used twice.
var ErrSignCount = errors.New("signature counter did not increase")

// RecordWebAuthnUse records a verified use of the passkey id: its counter,
// backup state and time. It is one conditional update, so that of two
// assertions with the same counter (on any replica) only one passes: the
// stored counter must be below the new one, unless the authenticator keeps
// no counter (both zero). Otherwise it changes nothing and returns
// ErrSignCount; a passkey deleted meanwhile is ErrNotFound.
func (s *Store) RecordWebAuthnUse(ctx context.Context, id string, u WebAuthnUse) error {
	count := int64(u.SignCount)
	q := s.conn(ctx).Model(&models.WebAuthnCredential{}).Where("id = ?", id)
	if count == 0 {
		q = q.Where("sign_count = 0")
	} else {
		q = q.Where("sign_count < ?", count)
	}
	res := q.Updates(map[string]any{"sign_count": count, "backup_state": u.BackupState, "last_used_at": u.At.UTC()})
	if res.Error != nil {
		return fmt.Errorf("record passkey use: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var n int64
	if err := s.conn(ctx).Model(&models.WebAuthnCredential{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return fmt.Errorf("record passkey use: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("record passkey use: %w", ErrNotFound)
	}
	return fmt.Errorf("record passkey use: %w", ErrSignCount)
}

// CreateWebAuthnCeremony stores the server's half of a ceremony. An id
// hash already in use is ErrConflict.
func (s *Store) CreateWebAuthnCeremony(ctx context.Context, c models.WebAuthnCeremony) error {
	if err := s.savepoint(ctx, func(db *gorm.DB) error { return db.Create(&c).Error }); err != nil {
		return fmt.Errorf("create passkey ceremony: %w", err)
	}
	return nil
}

// TakeWebAuthnCeremony returns the ceremony whose id hash is idHash and
// deletes it: of any number of callers (on any replica) at most one gets
// it. A ceremony that expired by now is deleted and not returned. Missing,
// taken or expired is ErrNotFound.
func (s *Store) TakeWebAuthnCeremony(ctx context.Context, idHash string, now time.Time) (models.WebAuthnCeremony, error) {
	var c models.WebAuthnCeremony
	err := s.InTx(ctx, func(ctx context.Context) error {
		if err := s.conn(ctx).Where("id_hash = ?", idHash).Take(&c).Error; err != nil {
			return mapErr(err)
		}
		res := s.conn(ctx).Where("id_hash = ?", idHash).Delete(&models.WebAuthnCeremony{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return models.WebAuthnCeremony{}, fmt.Errorf("take passkey ceremony: %w", err)
	}
	if !c.ExpiresAt.After(now) {
		return models.WebAuthnCeremony{}, fmt.Errorf("take passkey ceremony: expired: %w", ErrNotFound)
	}
	return c, nil
}

// DeleteWebAuthnCeremony removes the ceremony whose id hash is idHash, if
// there is one.
func (s *Store) DeleteWebAuthnCeremony(ctx context.Context, idHash string) error {
	if err := s.conn(ctx).Where("id_hash = ?", idHash).Delete(&models.WebAuthnCeremony{}).Error; err != nil {
		return fmt.Errorf("delete passkey ceremony: %w", err)
	}
	return nil
}

// DeleteExpiredWebAuthnCeremonies removes the ceremonies expired by now
// and returns how many it removed.
func (s *Store) DeleteExpiredWebAuthnCeremonies(ctx context.Context, now time.Time) (int64, error) {
	res := s.conn(ctx).Where("expires_at <= ?", now.UTC()).Delete(&models.WebAuthnCeremony{})
	if res.Error != nil {
		return 0, fmt.Errorf("delete expired passkey ceremonies: %w", res.Error)
	}
	return res.RowsAffected, nil
}
