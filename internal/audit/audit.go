// Package audit records administrative changes: who did what, to what, when.
package audit

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/models"
)

// Record writes one audit entry using db, which may be a transaction so
// that the entry commits or rolls back with the change it describes.
func Record(ctx context.Context, db *gorm.DB, actor, action, target, detail string) error {
	if actor == "" {
		actor = "unknown"
	}
	e := models.AuditEntry{Time: time.Now().UTC(), Actor: actor, Action: action, Target: target, Detail: detail}
	if err := db.WithContext(ctx).Create(&e).Error; err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// Filter selects audit entries.
type Filter struct {
	Actor  string
	Action string
	Target string
	Since  time.Time
	Limit  int
	// BeforeID pages backwards: only entries with a smaller ID.
	BeforeID uint64
}

// List returns the newest entries matching f first.
func List(ctx context.Context, db *gorm.DB, f Filter) ([]models.AuditEntry, error) {
	q := db.WithContext(ctx).Model(&models.AuditEntry{})
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
