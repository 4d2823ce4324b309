package storage

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/models"
)

// UseClientAssertionJTI records the jti (keyed hash jtiHash) of a client
// assertion that expires at expires. A jti already recorded is
// ErrConflict: of assertions with one jti, however many arrive at once on
// however many replicas, one is accepted. A row whose assertion expired
// no longer matters (the assertion is refused for its expiry) and is
// pruned by PruneClientAuth.
func (s *Store) UseClientAssertionJTI(ctx context.Context, jtiHash string, expires time.Time) error {
	row := models.ClientAssertionJTI{JTIHash: jtiHash, ExpiresAt: expires.UTC()}
	if err := s.savepoint(ctx, func(db *gorm.DB) error { return db.Create(&row).Error }); err != nil {
		return fmt.Errorf("record client assertion: %w", mapErr(err))
	}
	return nil
}

// ClientAssertionJTIUsed reports whether the jti with keyed hash jtiHash
// was recorded.
func (s *Store) ClientAssertionJTIUsed(ctx context.Context, jtiHash string) (bool, error) {
	var n int64
	if err := s.conn(ctx).Model(&models.ClientAssertionJTI{}).Where("jti_hash = ?", jtiHash).Count(&n).Error; err != nil {
		return false, fmt.Errorf("look up client assertion: %w", err)
	}
	return n > 0, nil
}

// CreatePushedAuthRequest stores a pushed authorization request.
func (s *Store) CreatePushedAuthRequest(ctx context.Context, p *models.PushedAuthRequest) error {
	p.CreatedAt, p.ExpiresAt = p.CreatedAt.UTC(), p.ExpiresAt.UTC()
	if err := s.conn(ctx).Create(p).Error; err != nil {
		return fmt.Errorf("store pushed authorization request: %w", mapErr(err))
	}
	return nil
}

// PushedAuthRequest returns the pushed authorization request with the
// request_uri hash uriHash if it has not expired at now; ErrNotFound
// otherwise.
func (s *Store) PushedAuthRequest(ctx context.Context, uriHash string, now time.Time) (models.PushedAuthRequest, error) {
	var p models.PushedAuthRequest
	if err := s.conn(ctx).Where("request_uri_hash = ? AND expires_at > ?", uriHash, now.UTC()).Take(&p).Error; err != nil {
		return models.PushedAuthRequest{}, fmt.Errorf("load pushed authorization request: %w", mapErr(err))
	}
	return p, nil
}

// ConsumePushedAuthRequest deletes the pushed authorization request with
// the request_uri hash uriHash if it has not expired at now. Of calls at
// once, one succeeds; the others, and a call for an expired, used or
// unknown request, get ErrNotFound.
func (s *Store) ConsumePushedAuthRequest(ctx context.Context, uriHash string, now time.Time) error {
	res := s.conn(ctx).Where("request_uri_hash = ? AND expires_at > ?", uriHash, now.UTC()).Delete(&models.PushedAuthRequest{})
	if res.Error != nil {
		return fmt.Errorf("use pushed authorization request: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("use pushed authorization request: %w", ErrNotFound)
	}
	return nil
}

// PruneClientAuth deletes the assertion jtis and pushed authorization
// requests that expired before cutoff, and returns how many rows went.
func (s *Store) PruneClientAuth(ctx context.Context, cutoff time.Time) (int64, error) {
	cutoff = cutoff.UTC()
	a := s.conn(ctx).Where("expires_at < ?", cutoff).Delete(&models.ClientAssertionJTI{})
	if a.Error != nil {
		return 0, fmt.Errorf("prune client assertions: %w", a.Error)
	}
	p := s.conn(ctx).Where("expires_at < ?", cutoff).Delete(&models.PushedAuthRequest{})
	if p.Error != nil {
		return a.RowsAffected, fmt.Errorf("prune pushed authorization requests: %w", p.Error)
	}
	return a.RowsAffected + p.RowsAffected, nil
}
