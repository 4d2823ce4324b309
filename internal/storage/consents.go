package storage

import (
	"context"
	"fmt"

	"gorm.io/gorm/clause"

	"github.com/authgate/authgate/models"
)

// SaveConsent records that userID granted clientID scopes, replacing what
// the user granted that client before.
func (s *Store) SaveConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	c := models.Consent{UserID: userID, ClientID: clientID, Scopes: scopes}
	err := s.Conn(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}, {Name: "client_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"scopes", "updated_at"}),
	}).Create(&c).Error
	if err != nil {
		return fmt.Errorf("save consent: %w", err)
	}
	return nil
}

// Consent returns the scopes userID granted clientID; ok is false when the
// user never consented to that client.
func (s *Store) Consent(ctx context.Context, userID, clientID string) (scopes []string, ok bool, err error) {
	var cs []models.Consent
	if err := s.Conn(ctx).Where("user_id = ? AND client_id = ?", userID, clientID).Limit(1).Find(&cs).Error; err != nil {
		return nil, false, fmt.Errorf("load consent: %w", err)
	}
	if len(cs) == 0 {
		return nil, false, nil
	}
	return cs[0].Scopes, true, nil
}

// DeleteUserConsents removes every consent userID gave.
func (s *Store) DeleteUserConsents(ctx context.Context, userID string) error {
	if err := s.Conn(ctx).Where("user_id = ?", userID).Delete(&models.Consent{}).Error; err != nil {
		return fmt.Errorf("delete consents of user: %w", err)
	}
	return nil
}

// DeleteClientConsents removes every consent given to clientID.
func (s *Store) DeleteClientConsents(ctx context.Context, clientID string) error {
	if err := s.Conn(ctx).Where("client_id = ?", clientID).Delete(&models.Consent{}).Error; err != nil {
		return fmt.Errorf("delete consents of client: %w", err)
	}
	return nil
}
