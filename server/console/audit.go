package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// AuditLog lists the audit log; *storage.Store is one.
type AuditLog interface {
	ListAudit(ctx context.Context, f storage.AuditFilter) ([]models.AuditEntry, error)
}

// auditPerPage is the page size of the audit log.
const auditPerPage = 50

type auditData struct {
	Actor, Action, Target string
	Entries               []models.AuditEntry
	// NewestURL leads back to the first page, NextURL to older entries;
	// empty when there is none.
	NewestURL, NextURL string
}

// handleAudit shows the audit log, newest first, filtered by actor,
// action and target (each matched exactly), in pages of auditPerPage that
// go back by entry id (before), so that entries written meanwhile do not
// shift the pages.
func (c *console) handleAudit(w http.ResponseWriter, r *http.Request, a admin) {
	q := r.URL.Query()
	d := auditData{
		Actor:  strings.TrimSpace(q.Get("actor")),
		Action: strings.TrimSpace(q.Get("action")),
		Target: strings.TrimSpace(q.Get("target")),
	}
	p, err := c.page(w, r, a, "Audit log", "audit")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	status := http.StatusOK
	var before uint64
	if s := q.Get("before"); s != "" {
		if before, err = strconv.ParseUint(s, 10, 64); err != nil || before == 0 {
			status, before = http.StatusBadRequest, 0
			p.Error = "The page address is not valid; showing the newest entries."
		}
	}
	entries, err := c.AuditLog.ListAudit(r.Context(), storage.AuditFilter{
		Actor: d.Actor, Action: d.Action, Target: d.Target, Limit: auditPerPage, BeforeID: before,
	})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Entries = entries
	filters := url.Values{}
	for k, v := range map[string]string{"actor": d.Actor, "action": d.Action, "target": d.Target} {
		if v != "" {
			filters.Set(k, v)
		}
	}
	if before > 0 {
		d.NewestURL = "/admin/audit"
		if len(filters) > 0 {
			d.NewestURL += "?" + filters.Encode()
		}
	}
	if len(entries) == auditPerPage {
		next := url.Values{}
		for k, v := range filters {
			next[k] = v
		}
		next.Set("before", strconv.FormatUint(entries[len(entries)-1].ID, 10))
		d.NextURL = "/admin/audit?" + next.Encode()
	}
	p.Data = d
	c.pages.Render(w, r, status, "audit", p)
}
