package storage

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/authgate/authgate/models"
)

// EnqueueMail stores m in the outbox. Called with the transaction that made
// the change m announces in ctx, the two commit together.
func (s *Store) EnqueueMail(ctx context.Context, m *models.MailMessage) error {
	return s.conn(ctx).Create(m).Error
}

const dueMail = "failed = ? AND next_attempt <= ? AND (claimed_until IS NULL OR claimed_until < ?)"

// ClaimMail takes the next message due at now that no other sender holds,
// marking it claimed until until; ok is false when none is due. Two
// senders never claim the same message: PostgreSQL skips rows another
// sender has locked, SQLite updates only while the message is still due.
func (s *Store) ClaimMail(ctx context.Context, now, until time.Time) (m models.MailMessage, ok bool, err error) {
	db := s.conn(ctx)
	if s.Dialect() == "postgres" {
		err := db.Transaction(func(tx *gorm.DB) error {
			res := tx.Clauses(clause.Locking{Strength: clause.LockingStrengthUpdate, Options: clause.LockingOptionsSkipLocked}).
				Where(dueMail, false, now, now).
				Order("next_attempt, id").Limit(1).Find(&m)
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			ok = true
			return tx.Model(&models.MailMessage{}).Where("id = ?", m.ID).Update("claimed_until", until).Error
		})
		return m, ok && err == nil, err
	}
	for ctx.Err() == nil {
		res := db.Where(dueMail, false, now, now).Order("next_attempt, id").Limit(1).Find(&m)
		if res.Error != nil || res.RowsAffected == 0 {
			return m, false, res.Error
		}
		res = db.Model(&models.MailMessage{}).
			Where("id = ? AND "+dueMail, m.ID, false, now, now).
			Update("claimed_until", until)
		if res.Error != nil {
			return m, false, res.Error
		}
		if res.RowsAffected == 1 {
			return m, true, nil
		}
	}
	return m, false, ctx.Err()
}

// DeleteMail removes the message with id (once delivered).
func (s *Store) DeleteMail(ctx context.Context, id uint64) error {
	return s.conn(ctx).Delete(&models.MailMessage{}, id).Error
}

// MailFailure is what a failed delivery attempt records.
type MailFailure struct {
	Attempts    int
	LastError   string
	NextAttempt time.Time
	// Failed gives up on the message: it stays visible and is not retried.
	Failed bool
}

// RecordMailFailure records f on the message with id and releases its
// claim, but only while the claim taken at ClaimMail (claimedUntil) still
// holds; recorded is false if it had lapsed.
func (s *Store) RecordMailFailure(ctx context.Context, id uint64, claimedUntil time.Time, f MailFailure) (recorded bool, err error) {
	res := s.conn(ctx).Model(&models.MailMessage{}).
		Where("id = ? AND claimed_until = ?", id, claimedUntil).
		Updates(map[string]any{
			"attempts":      f.Attempts,
			"last_error":    f.LastError,
			"next_attempt":  f.NextAttempt,
			"claimed_until": nil,
			"failed":        f.Failed,
		})
	return res.RowsAffected > 0, res.Error
}

// MailCounts returns the number of messages waiting and failed for good.
func (s *Store) MailCounts(ctx context.Context) (queued, failed int64, err error) {
	if err := s.conn(ctx).Model(&models.MailMessage{}).Where("failed = ?", false).Count(&queued).Error; err != nil {
		return 0, 0, err
	}
	if err := s.conn(ctx).Model(&models.MailMessage{}).Where("failed = ?", true).Count(&failed).Error; err != nil {
		return 0, 0, err
	}
	return queued, failed, nil
}

// ListFailedMail returns up to limit messages that failed for good, oldest
// first, without their sealed bodies.
func (s *Store) ListFailedMail(ctx context.Context, limit int) ([]models.MailMessage, error) {
	var rows []models.MailMessage
	err := s.conn(ctx).Omit("BodySealed").
		Where("failed = ?", true).Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].BodySealed = nil
	}
	return rows, nil
}

// RetryMail makes the failed message with id due at now again with a fresh
// attempt count; ErrNotFound if there is no failed message with that id.
func (s *Store) RetryMail(ctx context.Context, id uint64, now time.Time) error {
	res := s.conn(ctx).Model(&models.MailMessage{}).
		Where("id = ? AND failed = ?", id, true).
		Updates(map[string]any{
			"attempts":      0,
			"last_error":    "",
			"next_attempt":  now,
			"claimed_until": nil,
			"failed":        false,
		})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
