package storage

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/models"
)

// CreateAppPassword stores p: ErrConflict if its ID or hash is taken (in a
// savepoint, so the transaction in ctx survives it).
func (s *Store) CreateAppPassword(ctx context.Context, p *models.AppPassword) error {
	return s.savepoint(ctx, func(db *gorm.DB) error { return db.Create(p).Error })
}

// AppPasswordByHash returns the app password whose value has the keyed
// hash hash, revoked or not, or ErrNotFound.
func (s *Store) AppPasswordByHash(ctx context.Context, hash string) (models.AppPassword, error) {
	var p models.AppPassword
	err := s.conn(ctx).Where("hash = ?", hash).Take(&p).Error
	return p, mapErr(err)
}

// AppPasswordByID returns the app password with id, revoked or not, or
// ErrNotFound.
func (s *Store) AppPasswordByID(ctx context.Context, id string) (models.AppPassword, error) {
	var p models.AppPassword
	err := s.conn(ctx).Where("id = ?", id).Take(&p).Error
	return p, mapErr(err)
}

// ListAppPasswords returns the app passwords of userID, newest first;
// revoked ones only when withRevoked is set.
func (s *Store) ListAppPasswords(ctx context.Context, userID string, withRevoked bool) ([]models.AppPassword, error) {
	q := s.conn(ctx).Where("user_id = ?", userID)
	if !withRevoked {
		q = q.Where("revoked_at IS NULL")
	}
	out := []models.AppPassword{}
	err := q.Order("created_at DESC, id").Find(&out).Error
	return out, err
}

// ActiveAppPasswords returns the app passwords of userID that work at now
// (neither revoked nor expired), newest first.
func (s *Store) ActiveAppPasswords(ctx context.Context, userID string, now time.Time) ([]models.AppPassword, error) {
	out := []models.AppPassword{}
	err := s.conn(ctx).Where("user_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", userID, now.UTC()).
		Order("created_at DESC, id").Find(&out).Error
	return out, err
}

// RevokeAppPassword revokes the app password id of userID at at. Revoking
// one already revoked changes nothing and is no error; ErrNotFound if
// userID has no app password id.
func (s *Store) RevokeAppPassword(ctx context.Context, userID, id string, at time.Time) (revoked bool, err error) {
	err = s.InTx(ctx, func(ctx context.Context) error {
		db := s.conn(ctx)
		res := db.Model(&models.AppPassword{}).Where("id = ? AND user_id = ? AND revoked_at IS NULL", id, userID).
			Update("revoked_at", at.UTC())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected > 0 {
			revoked = true
			return nil
		}
		var n int64
		if err := db.Model(&models.AppPassword{}).Where("id = ? AND user_id = ?", id, userID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	return revoked, err
}

// RevokeUserAppPasswords revokes every app password of userID not yet
// revoked, at at, and returns how many it revoked.
func (s *Store) RevokeUserAppPasswords(ctx context.Context, userID string, at time.Time) (int64, error) {
	res := s.conn(ctx).Model(&models.AppPassword{}).Where("user_id = ? AND revoked_at IS NULL", userID).
		Update("revoked_at", at.UTC())
	return res.RowsAffected, res.Error
}

// TouchAppPassword records a use of the app password id: when, through
// which client and from which address.
func (s *Store) TouchAppPassword(ctx context.Context, id string, at time.Time, clientID, sourceIP string) error {
	return s.conn(ctx).Model(&models.AppPassword{}).Where("id = ?", id).Updates(map[string]any{
		"last_used_at": at.UTC(), "last_used_client": clientID, "last_used_ip": sourceIP,
	}).Error
}
