package storage

import (
	"context"
	"time"

	"github.com/authgate/authgate/models"
)

// CreateBrownout stores b and sets its ID. The rules a window obeys (it
// ends before the sunset, overlaps no other) are the clients service's,
// checked under the client's row lock in the same transaction.
func (s *Store) CreateBrownout(ctx context.Context, b *models.ClientBrownout) error {
	return mapErr(s.conn(ctx).Create(b).Error)
}

// ClientBrownouts returns the brownouts of clientID that end after
// endsAfter (every one when endsAfter is zero), by start.
func (s *Store) ClientBrownouts(ctx context.Context, clientID string, endsAfter time.Time) ([]models.ClientBrownout, error) {
	var out []models.ClientBrownout
	q := s.conn(ctx).Where("client_id = ?", clientID)
	if !endsAfter.IsZero() {
		q = q.Where("ends_at > ?", endsAfter)
	}
	err := q.Order("starts_at, id").Find(&out).Error
	return out, err
}

// BrownoutsEndingAfter returns every client's brownouts that end after t,
// by client and start.
func (s *Store) BrownoutsEndingAfter(ctx context.Context, t time.Time) ([]models.ClientBrownout, error) {
	var out []models.ClientBrownout
	err := s.conn(ctx).Where("ends_at > ?", t).Order("client_id, starts_at, id").Find(&out).Error
	return out, err
}

// DeleteBrownout removes the brownout id of clientID, or returns
// ErrNotFound (also when it belongs to another client).
func (s *Store) DeleteBrownout(ctx context.Context, clientID string, id uint64) error {
	res := s.conn(ctx).Where("id = ? AND client_id = ?", id, clientID).Delete(&models.ClientBrownout{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
