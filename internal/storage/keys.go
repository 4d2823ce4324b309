package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/authgate/authgate/models"
)

// AuditSigningKeyRotate is the audit action of a signing key rotation.
const AuditSigningKeyRotate = "signing_key.rotate"

// signingKeyLockID serialises the creation and rotation of signing keys
// across replicas on PostgreSQL ("authky").
const signingKeyLockID = 0x617574686b79

// lockSigningKeys takes the signing-key lock for the transaction in ctx.
// SQLite serialises writers by itself.
func (s *Store) lockSigningKeys(ctx context.Context) error {
	if s.Dialect() != "postgres" {
		return nil
	}
	if err := s.Conn(ctx).Exec("SELECT pg_advisory_xact_lock(?)", signingKeyLockID).Error; err != nil {
		return fmt.Errorf("lock signing keys: %w", err)
	}
	return nil
}

// EnsureSigningKey stores the key newKey makes when there is no current
// signing key, and does nothing when there is one. newKey runs inside the
// transaction, only when needed. When several replicas call it at once,
// exactly one key is stored.
func (s *Store) EnsureSigningKey(ctx context.Context, newKey func() (models.SigningKey, error)) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockSigningKeys(ctx); err != nil {
			return err
		}
		var n int64
		if err := s.Conn(ctx).Model(&models.SigningKey{}).Where("current = ?", true).Count(&n).Error; err != nil {
			return fmt.Errorf("count signing keys: %w", err)
		}
		if n > 0 {
			return nil
		}
		k, err := newKey()
		if err != nil {
			return err
		}
		k.Current = true
		if err := s.Conn(ctx).Create(&k).Error; err != nil {
			return fmt.Errorf("store signing key: %w", err)
		}
		return nil
	})
}

// RotateSigningKey makes next the current signing key. The key that was
// current is retired at now and stays published until expires. The audit
// entry naming actor commits with the change, in one transaction.
func (s *Store) RotateSigningKey(ctx context.Context, next models.SigningKey, now, expires time.Time, actor string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockSigningKeys(ctx); err != nil {
			return err
		}
		if err := s.Conn(ctx).Model(&models.SigningKey{}).Where("current = ?", true).
			Updates(map[string]any{"current": false, "retired_at": now, "expires_at": expires}).Error; err != nil {
			return fmt.Errorf("retire signing key: %w", err)
		}
		next.Current = true
		if err := s.Conn(ctx).Create(&next).Error; err != nil {
			return fmt.Errorf("store signing key: %w", err)
		}
		return s.Audit(ctx, actor, AuditSigningKeyRotate, next.ID, "new current signing key")
	})
}

// PublishedSigningKeys returns the current key and every retired key whose
// public part is still published at now, newest first, with the sealed
// private parts.
func (s *Store) PublishedSigningKeys(ctx context.Context, now time.Time) ([]models.SigningKey, error) {
	var rows []models.SigningKey
	if err := s.Conn(ctx).
		Where("current = ? OR expires_at IS NULL OR expires_at > ?", true, now).
		Order("created_at DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	return rows, nil
}

// SigningKeys returns every stored key, newest first, without private
// parts.
func (s *Store) SigningKeys(ctx context.Context) ([]models.SigningKey, error) {
	var rows []models.SigningKey
	if err := s.Conn(ctx).Omit("private_sealed").Order("created_at DESC").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return rows, nil
}
