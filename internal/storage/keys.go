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

// EnsureSigningKeys stores, for each algorithm in algs that has no key
// that is or will be its signing key (none with retired_at unset), the
// key newKey makes for it, active at once. newKey runs inside the
// transaction, only when needed. When several replicas call it at once,
// exactly one key per algorithm is stored.
func (s *Store) EnsureSigningKeys(ctx context.Context, algs []string, newKey func(alg string) (models.SigningKey, error)) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockSigningKeys(ctx); err != nil {
			return err
		}
		for _, alg := range algs {
			var n int64
			if err := s.Conn(ctx).Model(&models.SigningKey{}).
				Where("algorithm = ? AND retired_at IS NULL", alg).Count(&n).Error; err != nil {
				return fmt.Errorf("count signing keys: %w", err)
			}
			if n > 0 {
				continue
			}
			k, err := newKey(alg)
			if err != nil {
				return err
			}
			if k.ActivatesAt.IsZero() {
				k.ActivatesAt = k.CreatedAt
			}
			if err := s.Conn(ctx).Create(&k).Error; err != nil {
				return fmt.Errorf("store signing key: %w", err)
			}
		}
		return nil
	})
}

// RotateSigningKey stores next, which is published at once and signs from
// next.ActivatesAt. Every key of next's algorithm that would still sign
// then is retired at next.ActivatesAt and stays published for retention
// after it; a key that was waiting to become current and would not have
// signed before next (a rotation overtaken by another) leaves the JWKS at
// next.ActivatesAt, having signed nothing. The audit entry naming actor
// commits with the change, in one transaction.
func (s *Store) RotateSigningKey(ctx context.Context, next models.SigningKey, retention time.Duration, actor, detail string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockSigningKeys(ctx); err != nil {
			return err
		}
		at := next.ActivatesAt
		db := s.Conn(ctx).Model(&models.SigningKey{})
		if err := db.Where("algorithm = ? AND (retired_at IS NULL OR retired_at > ?) AND activates_at < ?", next.Algorithm, at, at).
			Updates(map[string]any{"retired_at": at, "expires_at": at.Add(retention)}).Error; err != nil {
			return fmt.Errorf("retire signing key: %w", err)
		}
		if err := s.Conn(ctx).Model(&models.SigningKey{}).
			Where("algorithm = ? AND (retired_at IS NULL OR retired_at > ?) AND activates_at >= ?", next.Algorithm, at, at).
			Updates(map[string]any{"retired_at": at, "expires_at": at}).Error; err != nil {
			return fmt.Errorf("cancel waiting signing key: %w", err)
		}
		if err := s.Conn(ctx).Create(&next).Error; err != nil {
			return fmt.Errorf("store signing key: %w", err)
		}
		return s.Audit(ctx, actor, AuditSigningKeyRotate, next.ID, detail)
	})
}

// PublishedSigningKeys returns every key still published at now (no
// expiry, or an expiry after now), the latest activation first, with the
// sealed private parts.
func (s *Store) PublishedSigningKeys(ctx context.Context, now time.Time) ([]models.SigningKey, error) {
	var rows []models.SigningKey
	if err := s.Conn(ctx).
		Where("expires_at IS NULL OR expires_at > ?", now).
		Order("activates_at DESC, created_at DESC, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	return rows, nil
}

// SigningKeys returns every stored key, the latest activation first,
// without private parts.
func (s *Store) SigningKeys(ctx context.Context) ([]models.SigningKey, error) {
	var rows []models.SigningKey
	if err := s.Conn(ctx).Omit("private_sealed").Order("activates_at DESC, created_at DESC, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return rows, nil
}
