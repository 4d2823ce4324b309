package mail

import (
	"time"

	"github.com/authgate/authgate/models"
)

// ActionRetry is the audit log's action for putting failed mail back in
// the queue (Sender.Retry keeps no log; the admin API and the CLI write it).
const ActionRetry = "mail.retry"

// FailedView is how the admin API and the CLI show a failed message as
// JSON: who it was for, what it was and why it failed, never its body
// (which may hold a security token; only the sender ever opens it).
type FailedView struct {
	ID        uint64    `json:"id"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	CreatedAt time.Time `json:"created_at"`
}

// FailedViewOf returns the FailedView of m, its time in UTC.
func FailedViewOf(m models.MailMessage) FailedView {
	return FailedView{
		ID: m.ID, To: m.To, Subject: m.Subject, Attempts: m.Attempts, LastError: m.LastError,
		CreatedAt: m.CreatedAt.UTC(),
	}
}
