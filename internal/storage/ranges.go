package storage

import (
	"context"

	"gorm.io/gorm"

	"github.com/authgate/authgate/models"
)

// ListTrustedRanges returns every trusted range ordered by CIDR.
func (s *Store) ListTrustedRanges(ctx context.Context) ([]models.TrustedRange, error) {
	var out []models.TrustedRange
	err := s.conn(ctx).Order("cidr").Find(&out).Error
	return out, err
}

// TrustedCIDRs returns the CIDR of every trusted range, in no order.
func (s *Store) TrustedCIDRs(ctx context.Context) ([]string, error) {
	var out []string
	err := s.conn(ctx).Model(&models.TrustedRange{}).Pluck("cidr", &out).Error
	return out, err
}

// AddTrustedRange stores r: ErrConflict if its CIDR is already there (in a
// savepoint, so the transaction in ctx survives it).
func (s *Store) AddTrustedRange(ctx context.Context, r *models.TrustedRange) error {
	return s.savepoint(ctx, func(db *gorm.DB) error { return db.Create(r).Error })
}

// RemoveTrustedRange deletes the range with exactly this CIDR, or returns
// ErrNotFound.
func (s *Store) RemoveTrustedRange(ctx context.Context, cidr string) error {
	res := s.conn(ctx).Where("cidr = ?", cidr).Delete(&models.TrustedRange{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
