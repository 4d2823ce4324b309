package mail

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/models"
)

// sealPurpose names the key that seals outbox bodies.
const sealPurpose = "mail-outbox"

// Message is one plain-text email.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Queue is where Enqueue stores messages (storage.Store).
type Queue interface {
	EnqueueMail(ctx context.Context, m *models.MailMessage) error
}

// Enqueue stores msg in the outbox, due from now (the caller's clock, the
// one its change is stamped with). Called with the transaction that made
// the change the message announces in ctx, the two commit together. The
// body is sealed because it may hold a secret.
func Enqueue(ctx context.Context, q Queue, keys *keyring.Keyring, msg Message, now time.Time) error {
	if strings.ContainsAny(msg.To, "\r\n") || strings.ContainsAny(msg.Subject, "\r\n") {
		return fmt.Errorf("enqueue mail: header contains a line break")
	}
	sealed, err := keys.Seal(sealPurpose, []byte(msg.Body))
	if err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	row := models.MailMessage{
		To:         msg.To,
		Subject:    msg.Subject,
		BodySealed: sealed,
		// At the precision both databases keep, as the sender compares it.
		NextAttempt: now.UTC().Truncate(time.Microsecond),
	}
	if err := q.EnqueueMail(ctx, &row); err != nil {
		return fmt.Errorf("enqueue mail: %w", err)
	}
	return nil
}
