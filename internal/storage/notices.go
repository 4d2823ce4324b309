package storage

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"github.com/authgate/authgate/models"
)

// ClaimNotice records n unless a row with its key (client, user, sunset,
// milestone) exists, and reports whether this call recorded it: of any
// number of replicas claiming one notice at once, exactly one gets true.
// Enqueue the email in the same transaction, so that a claim never stands
// without its message.
func (s *Store) ClaimNotice(ctx context.Context, n *models.LegacyNotice) (bool, error) {
	n.Sunset = n.Sunset.UTC().Truncate(time.Microsecond)
	res := s.conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(n)
	if res.Error != nil {
		return false, mapErr(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// NoticesOfClient returns the notices recorded for clientID, by sunset,
// milestone (largest first) and user.
func (s *Store) NoticesOfClient(ctx context.Context, clientID string) ([]models.LegacyNotice, error) {
	var out []models.LegacyNotice
	err := s.conn(ctx).Where("client_id = ?", clientID).Order("sunset, days DESC, user_id").Find(&out).Error
	return out, err
}

// NoticedUsers returns the ids of the users who have the notice of
// clientID for sunset at milestone days.
func (s *Store) NoticedUsers(ctx context.Context, clientID string, sunset time.Time, days int) ([]string, error) {
	var out []string
	err := s.conn(ctx).Model(&models.LegacyNotice{}).
		Where("client_id = ? AND sunset = ? AND days = ?", clientID, sunset.UTC().Truncate(time.Microsecond), days).
		Pluck("user_id", &out).Error
	return out, err
}

// RecentUsersOfClient returns the users who had a login event with result
// at clientID with one of methods at or after since, by username. Users
// deleted since are left out.
func (s *Store) RecentUsersOfClient(ctx context.Context, clientID string, methods []string, result string, since time.Time) ([]models.User, error) {
	var out []models.User
	sub := s.conn(ctx).Model(&models.LoginEvent{}).Select("user_id").
		Where("client_id = ? AND method IN ? AND result = ? AND time >= ? AND user_id <> ''", clientID, methods, result, since.UTC())
	err := s.conn(ctx).Where("id IN (?)", sub).Order("username").Find(&out).Error
	return out, err
}
