package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/authgate/authgate/models"
)

// Audit writes one audit entry. Called with a transaction in ctx, the
// entry commits or rolls back with the change it describes. An empty
// actor is recorded as "unknown".
func (s *Store) Audit(ctx context.Context, actor, action, target, detail string) error {
	if actor == "" {
		actor = "unknown"
	}
	e := models.AuditEntry{Time: time.Now().UTC(), Actor: actor, Action: action, Target: target, Detail: detail}
	if err := s.conn(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// AuditFilter selects audit entries. Empty fields match everything.
type AuditFilter struct {
	Actor  string
	Action string
	Target string
	Since  time.Time
	// Limit is the page size: 100 when zero, at most 1000.
	Limit int
	// BeforeID pages backwards: only entries with a smaller ID.
	BeforeID uint64
}

// ListAudit returns the newest entries matching f first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]models.AuditEntry, error) {
	q := s.conn(ctx).Model(&models.AuditEntry{})
	if f.Actor != "" {
		q = q.Where("actor = ?", f.Actor)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.Target != "" {
		q = q.Where("target = ?", f.Target)
	}
	if !f.Since.IsZero() {
		q = q.Where("time >= ?", f.Since)
	}
	if f.BeforeID > 0 {
		q = q.Where("id < ?", f.BeforeID)
	}
	switch {
	case f.Limit <= 0:
		f.Limit = 100
	case f.Limit > 1000:
		f.Limit = 1000
	}
	var out []models.AuditEntry
	if err := q.Order("id DESC").Limit(f.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	return out, nil
}
