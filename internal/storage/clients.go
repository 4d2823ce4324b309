package storage

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/authgate/authgate/models"
)

// CreateClient stores c: ErrConflict if its ID is taken (in a savepoint,
// so the transaction in ctx survives it).
func (s *Store) CreateClient(ctx context.Context, c *models.Client) error {
	return s.savepoint(ctx, func(db *gorm.DB) error { return db.Create(c).Error })
}

// ClientByID returns the client with id, or ErrNotFound.
func (s *Store) ClientByID(ctx context.Context, id string) (models.Client, error) {
	var c models.Client
	err := s.conn(ctx).Where("id = ?", id).Take(&c).Error
	return c, mapErr(err)
}

// LockClient is ClientByID holding the row's lock until the transaction in
// ctx ends (on SQLite the transaction already holds the write lock).
func (s *Store) LockClient(ctx context.Context, id string) (models.Client, error) {
	var c models.Client
	err := s.conn(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", id).Take(&c).Error
	return c, mapErr(err)
}

// ListClients returns every client ordered by name, then ID.
func (s *Store) ListClients(ctx context.Context) ([]models.Client, error) {
	var out []models.Client
	err := s.conn(ctx).Order("name, id").Find(&out).Error
	return out, err
}

// ClientsByID returns the clients among ids that exist, in no order.
func (s *Store) ClientsByID(ctx context.Context, ids []string) ([]models.Client, error) {
	var out []models.Client
	if len(ids) == 0 {
		return out, nil
	}
	err := s.conn(ctx).Where("id IN ?", ids).Find(&out).Error
	return out, err
}

// SaveClient writes every column of c, which exists (read with
// LockClient in the same transaction), and reads it back into c, so that c
// holds what is stored.
func (s *Store) SaveClient(ctx context.Context, c *models.Client) error {
	db := s.conn(ctx)
	if err := db.Save(c).Error; err != nil {
		return err
	}
	return mapErr(db.Where("id = ?", c.ID).Take(c).Error)
}

// DeleteClient removes the client with id and, in the same transaction,
// the consents given to it, its brownouts and sunset notices, the app
// passwords bound to it (revoked) and every OAuth request (code, token, refresh
// token, PKCE and OpenID session) issued to it. ErrNotFound if there is no
// such client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		db := s.conn(ctx)
		if err := db.Where("client_id = ?", id).Delete(&models.OAuthRequest{}).Error; err != nil {
			return err
		}
		if err := s.DeleteClientConsents(ctx, id); err != nil {
			return err
		}
		if err := db.Where("client_id = ?", id).Delete(&models.ClientBrownout{}).Error; err != nil {
			return err
		}
		if err := db.Where("client_id = ?", id).Delete(&models.LegacyNotice{}).Error; err != nil {
			return err
		}
		if err := db.Where("client_id = ?", id).Delete(&models.DeviceCode{}).Error; err != nil {
			return err
		}
		if err := db.Where("client_id = ?", id).Delete(&models.PushedAuthRequest{}).Error; err != nil {
			return err
		}
		// An app password bound to the client can never be used again.
		if err := db.Model(&models.AppPassword{}).Where("client_id = ? AND revoked_at IS NULL", id).
			Update("revoked_at", time.Now().UTC()).Error; err != nil {
			return err
		}
		res := db.Where("id = ?", id).Delete(&models.Client{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// UpsertClient creates c or, when a client with its ID exists, overwrites
// every column of it but CreatedAt, in one statement, so that replicas
// starting together do not race.
func (s *Store) UpsertClient(ctx context.Context, c *models.Client) error {
	return s.conn(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"name", "secret_hash", "public", "first_party", "grant_types", "response_types",
			"redirect_uris", "scopes", "audience", "access_token_format", "legacy_sunset", "legacy_deprecated_at", "updated_at",
			"post_logout_redirect_uris"}),
	}).Create(c).Error
}
