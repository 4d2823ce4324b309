package adminapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/authgate/authgate/internal/mail"
	"github.com/authgate/authgate/models"
)

// FailedMail is the part of the mail sender the admin API uses: failed
// messages without their bodies, and putting one back in the queue.
type FailedMail interface {
	ListFailed(ctx context.Context, limit int) ([]models.MailMessage, error)
	Retry(ctx context.Context, id uint64) error
}

var errNoFailedMail = &apiError{status: http.StatusNotFound, body: errorBody{
	Error: codeNotFound, Description: "No failed message has this id; see GET /admin/api/mail/failed."}}

// handleListFailedMail lists the messages that exhausted their delivery
// attempts, oldest first: recipient, subject, attempts and the last error,
// never the sealed body (a security token may be in it).
func (a *api) handleListFailedMail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit, err := queryInt(r.URL.Query(), "limit", defaultPageLimit, 1, maxPageLimit)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		list, err := a.Mail.ListFailed(r.Context(), limit)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		items := make([]mail.FailedView, 0, len(list))
		for _, m := range list {
			items = append(items, mail.FailedViewOf(m))
		}
		writeJSON(w, http.StatusOK, itemsJSON[mail.FailedView]{Items: items})
	})
}

// retriedMailJSON names the message put back in the queue.
type retriedMailJSON struct {
	ID uint64 `json:"id"`
}

// handleRetryMail puts a failed message back in the queue with a fresh set
// of attempts. The sender keeps no audit log, so the entry is written
// here, once the message is queued again.
func (a *api) handleRetryMail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
		if err != nil || id == 0 {
			a.writeError(w, r, fieldError("id", "must be a positive whole number"))
			return
		}
		if err := a.Mail.Retry(ctx, id); err != nil {
			if errors.Is(err, mail.ErrNotFailed) {
				err = errNoFailedMail
			}
			a.writeError(w, r, err)
			return
		}
		if err := a.AuditLog.Audit(ctx, actorOf(ctx), mail.ActionRetry, strconv.FormatUint(id, 10), ""); err != nil {
			a.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, retriedMailJSON{ID: id})
	})
}
