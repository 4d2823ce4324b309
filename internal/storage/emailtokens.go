package storage

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/models"
)

// Errors of UseEmailToken beyond ErrNotFound: the link was followed
// before, or too late.
var (
	ErrEmailTokenUsed    = errors.New("email link already used")
	ErrEmailTokenExpired = errors.New("email link expired")
)

// CreateEmailToken stores t: ErrConflict if its hash is taken (in a
// savepoint, so the transaction in ctx survives it).
func (s *Store) CreateEmailToken(ctx context.Context, t *models.EmailToken) error {
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	return s.savepoint(ctx, func(db *gorm.DB) error { return db.Create(t).Error })
}

// EmailTokensSince counts the links sent to userID at or after since,
// used or not, of every purpose (or of purposes, when given). Read after
// the user's row lock (LockUserByID), the count holds until the
// transaction ends, on every replica.
func (s *Store) EmailTokensSince(ctx context.Context, userID string, since time.Time, purposes ...string) (int64, error) {
	var n int64
	q := s.conn(ctx).Model(&models.EmailToken{}).Where("user_id = ? AND created_at >= ?", userID, since.UTC())
	if len(purposes) > 0 {
		q = q.Where("purpose IN ?", purposes)
	}
	err := q.Count(&n).Error
	return n, err
}

// EmailToken returns the link with hash and purpose as it stands, or
// ErrNotFound; ErrEmailTokenUsed or ErrEmailTokenExpired (with the row)
// when it can no longer be used at now.
func (s *Store) EmailToken(ctx context.Context, hash, purpose string, now time.Time) (models.EmailToken, error) {
	var t models.EmailToken
	if err := s.conn(ctx).Where("hash = ? AND purpose = ?", hash, purpose).Take(&t).Error; err != nil {
		return t, mapErr(err)
	}
	switch {
	case t.UsedAt != nil:
		return t, ErrEmailTokenUsed
	case !t.ExpiresAt.After(now):
		return t, ErrEmailTokenExpired
	}
	return t, nil
}

// UseEmailToken marks the link with hash and purpose used at now, with one
// conditional update, so that of any number of uses at once exactly one
// succeeds; it returns the row. A link unknown (or of another purpose) is
// ErrNotFound, one used before ErrEmailTokenUsed, one past its expiry
// ErrEmailTokenExpired.
func (s *Store) UseEmailToken(ctx context.Context, hash, purpose string, now time.Time) (models.EmailToken, error) {
	res := s.conn(ctx).Model(&models.EmailToken{}).
		Where("hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", hash, purpose, now.UTC()).
		Update("used_at", now.UTC())
	if res.Error != nil {
		return models.EmailToken{}, res.Error
	}
	t, err := s.EmailToken(ctx, hash, purpose, now)
	if res.RowsAffected == 0 {
		if err == nil { // cannot happen: the update would have matched
			err = ErrEmailTokenUsed
		}
		return t, err
	}
	if errors.Is(err, ErrEmailTokenUsed) {
		err = nil // the mark just made
	}
	return t, err
}

// EndEmailTokens marks every unused link of purpose of userID used at now
// (a password change ends the reset links sent before it; a new email
// change the confirmation links of the ones before), and returns how many.
func (s *Store) EndEmailTokens(ctx context.Context, userID, purpose string, now time.Time) (int64, error) {
	res := s.conn(ctx).Model(&models.EmailToken{}).
		Where("user_id = ? AND purpose = ? AND used_at IS NULL", userID, purpose).Update("used_at", now.UTC())
	return res.RowsAffected, res.Error
}

// PruneEmailTokens deletes the links that expired before before and
// returns how many.
func (s *Store) PruneEmailTokens(ctx context.Context, before time.Time) (int64, error) {
	res := s.conn(ctx).Where("expires_at < ?", before.UTC()).Delete(&models.EmailToken{})
	return res.RowsAffected, res.Error
}

// SetEmailVerified sets the email_verified flag of the user with id,
// and, when email is not empty, the address first (an email change that
// was confirmed). ErrNotFound if there is no such user.
func (s *Store) SetEmailVerified(ctx context.Context, id, email string, verified bool) error {
	fields := map[string]any{"email_verified": verified}
	if email != "" {
		fields["email"] = email
	}
	res := s.conn(ctx).Model(&models.User{}).Where("id = ?", id).Updates(fields)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
