package adminapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// auditEntryJSON is how the API shows an audit entry.
type auditEntryJSON struct {
	ID     uint64    `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail"`
}

// auditPageJSON is one page of the audit log, newest first.
type auditPageJSON struct {
	Items []auditEntryJSON `json:"items"`
	// NextBeforeID is the before_id of the next (older) page; null on the
	// last page.
	NextBeforeID *uint64 `json:"next_before_id"`
}

func (a *api) handleAudit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, err := queryInt(q, "limit", defaultPageLimit, 1, maxPageLimit)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		var before uint64
		if s := q.Get("before_id"); s != "" {
			if before, err = strconv.ParseUint(s, 10, 64); err != nil || before == 0 {
				a.writeError(w, r, fieldError("before_id", "must be a positive whole number"))
				return
			}
		}
		list, err := a.AuditLog.ListAudit(r.Context(), storage.AuditFilter{
			Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target"), Limit: limit, BeforeID: before,
		})
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out := auditPageJSON{Items: make([]auditEntryJSON, 0, len(list))}
		for _, e := range list {
			out.Items = append(out.Items, auditEntryView(e))
		}
		if len(list) == limit {
			next := list[len(list)-1].ID
			out.NextBeforeID = &next
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func auditEntryView(e models.AuditEntry) auditEntryJSON {
	return auditEntryJSON{ID: e.ID, Time: e.Time.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail}
}
