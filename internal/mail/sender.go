package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// ErrNotFailed is returned by Retry when no failed message has the id.
var ErrNotFailed = errors.New("no failed mail message with that id")

// Backoff bounds: the n-th failure waits about minBackoff * 2^(n-1), never
// more than maxBackoff.
const (
	minBackoff = 2 * time.Second
	maxBackoff = 15 * time.Minute
)

// maxLastError bounds the error text kept on a row.
const maxLastError = 1000

// SenderOptions tunes a Sender. Zero values take the defaults noted.
type SenderOptions struct {
	// From is the From header and, as a bare address, the envelope sender.
	From string
	// PollInterval is how often Run looks for due messages; default 2s.
	PollInterval time.Duration
	// MaxAttempts is how many failed attempts mark a message Failed;
	// default 12.
	MaxAttempts int
	// ClaimFor is how long a claimed message is kept from other senders;
	// default 5 minutes. One attempt is given at most half of it, so that
	// a claim never lapses while its message is still being sent.
	ClaimFor time.Duration
	// Logger receives one line per delivery and per failure; default
	// discards.
	Logger *slog.Logger
	// Now is the clock; default time.Now. Tests move it forward to skip
	// backoff.
	Now func() time.Time
}

// Outbox is the storage a Sender delivers from (storage.Store).
type Outbox interface {
	ClaimMail(ctx context.Context, now, until time.Time) (models.MailMessage, bool, error)
	DeleteMail(ctx context.Context, id uint64) error
	RecordMailFailure(ctx context.Context, id uint64, claimedUntil time.Time, f storage.MailFailure) (bool, error)
	MailCounts(ctx context.Context) (queued, failed int64, err error)
	ListFailedMail(ctx context.Context, limit int) ([]models.MailMessage, error)
	RetryMail(ctx context.Context, id uint64, now time.Time) error
}

// Stats counts the outbox.
type Stats struct {
	// Queued messages are still to be delivered or retried.
	Queued int64
	// Failed messages exhausted MaxAttempts and wait for Retry.
	Failed int64
}

// Sender delivers the outbox through a Transport. Any number of Senders,
// in one process or on several replicas, may share one database: each
// message is claimed by one of them before it is sent, so it is sent once
// unless a sender dies between handing it to the transport and deleting
// the row (delivery is at least once, never knowingly twice).
type Sender struct {
	store     Outbox
	keys      *keyring.Keyring
	transport Transport
	from      string // header form
	envelope  string // bare address
	opts      SenderOptions
	log       *slog.Logger
}

// NewSender returns a Sender; it fails if opts.From is not an address.
func NewSender(store Outbox, keys *keyring.Keyring, t Transport, opts SenderOptions) (*Sender, error) {
	if store == nil || keys == nil || t == nil {
		return nil, errors.New("mail sender: store, keys and transport are required")
	}
	if err := checkHeader(opts.From); err != nil {
		return nil, fmt.Errorf("mail sender: from: %w", err)
	}
	addr, err := mail.ParseAddress(opts.From)
	if err != nil {
		return nil, fmt.Errorf("mail sender: from %q: %w", opts.From, err)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 12
	}
	if opts.ClaimFor <= 0 {
		opts.ClaimFor = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sender{
		store:     store,
		keys:      keys,
		transport: t,
		from:      opts.From,
		envelope:  addr.Address,
		opts:      opts,
		log:       opts.Logger,
	}, nil
}

// now returns the clock in UTC at the microsecond precision both databases
// keep, so that a time written can be matched exactly later.
func (s *Sender) now() time.Time {
	return s.opts.Now().UTC().Truncate(time.Microsecond)
}

// Run delivers due messages every PollInterval until ctx is done, then
// returns nil. Errors are logged, not returned: a database outage must not
// stop the sender for good.
func (s *Sender) Run(ctx context.Context) error {
	ticker := time.NewTicker(s.opts.PollInterval)
	defer ticker.Stop()
	for {
		if _, err := s.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "mail outbox", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// DeliverDue sends every message that is due and not claimed by another
// sender, one at a time, and reports how many were delivered. A message
// that fails is rescheduled with exponential backoff, or marked Failed
// after MaxAttempts; that is not an error of DeliverDue, which fails only
// when the database does.
func (s *Sender) DeliverDue(ctx context.Context) (delivered int, err error) {
	for ctx.Err() == nil {
		row, until, ok, err := s.claim(ctx)
		if err != nil {
			return delivered, err
		}
		if !ok {
			return delivered, nil
		}
		sent, err := s.deliver(ctx, row, until)
		if sent {
			delivered++
		}
		if err != nil {
			return delivered, err
		}
	}
	return delivered, nil
}

// claim takes one due message for this sender until the returned time.
func (s *Sender) claim(ctx context.Context) (models.MailMessage, time.Time, bool, error) {
	now := s.now()
	until := now.Add(s.opts.ClaimFor)
	row, ok, err := s.store.ClaimMail(ctx, now, until)
	if err != nil {
		return row, until, false, fmt.Errorf("claim mail: %w", err)
	}
	return row, until, ok, nil
}

// deliver sends one claimed message. sent reports whether the transport
// took it; err reports only database failures.
func (s *Sender) deliver(ctx context.Context, row models.MailMessage, claimedUntil time.Time) (sent bool, err error) {
	body, err := s.keys.Open(sealPurpose, row.BodySealed)
	if err != nil {
		// Perhaps this replica has the wrong secret; another may not.
		return false, s.fail(ctx, row, claimedUntil, "", fmt.Errorf("open body: %w", err), false)
	}
	plain := string(body)
	msg := Message{To: row.To, Subject: row.Subject, Body: plain}
	raw, err := Compose(s.from, msg, s.opts.Now())
	if err != nil {
		// A bad address or subject will not get better by waiting.
		return false, s.fail(ctx, row, claimedUntil, plain, err, true)
	}
	to, err := mail.ParseAddress(row.To)
	if err != nil {
		return false, s.fail(ctx, row, claimedUntil, plain, err, true)
	}
	sendCtx, cancel := context.WithTimeout(ctx, s.opts.ClaimFor/2)
	err = s.transport.Send(sendCtx, s.envelope, to.Address, raw)
	cancel()
	if err != nil {
		return false, s.fail(ctx, row, claimedUntil, plain, err, false)
	}
	if err := s.forget(ctx, row.ID, claimedUntil); err != nil {
		return true, fmt.Errorf("delete delivered mail %d: %w", row.ID, err)
	}
	s.log.InfoContext(ctx, "mail delivered", "mail_id", row.ID, "attempts", row.Attempts+1)
	return true, nil
}

// forget deletes a delivered message. The row holds a security token: it
// must not outlive delivery, and a row left behind would be sent again once
// its claim lapsed. So a delete the database cannot take now (an outage,
// a failover under way) is retried while the claim still holds, keeping a
// tenth of ClaimFor in hand; each try has a context of its own, so that
// shutting down between sending and deleting does not leave the message to
// be sent again either.
func (s *Sender) forget(ctx context.Context, id uint64, claimedUntil time.Time) error {
	deadline := claimedUntil.Add(-s.opts.ClaimFor / 10)
	wait := 100 * time.Millisecond
	for {
		delCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := s.store.DeleteMail(delCtx, id)
		cancel()
		if err == nil || !storage.IsUnavailable(err) || ctx.Err() != nil || s.now().Add(wait).After(deadline) {
			return err
		}
		s.log.WarnContext(ctx, "delivered mail not deleted yet, retrying", "mail_id", id, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// fail records a failed attempt and releases the claim. body is only used
// to scrub the error text; it is never stored or logged.
func (s *Sender) fail(ctx context.Context, row models.MailMessage, claimedUntil time.Time, body string, cause error, permanent bool) error {
	attempts := row.Attempts + 1
	failed := permanent || attempts >= s.opts.MaxAttempts
	now := s.now()
	next := now.Add(backoff(attempts)).Truncate(time.Microsecond)
	text := scrub(cause.Error(), body)
	updCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	// Only the claim holder may record the outcome; if the claim lapsed,
	// another sender owns the row now.
	recorded, err := s.store.RecordMailFailure(updCtx, row.ID, claimedUntil, storage.MailFailure{
		Attempts: attempts, LastError: text, NextAttempt: next, Failed: failed,
	})
	if err != nil {
		return fmt.Errorf("record mail failure %d: %w", row.ID, err)
	}
	if !recorded {
		s.log.WarnContext(ctx, "mail claim lapsed before the attempt was recorded", "mail_id", row.ID)
		return nil
	}
	if failed {
		s.log.ErrorContext(ctx, "mail delivery failed for good", "mail_id", row.ID, "attempts", attempts, "error", text)
	} else {
		s.log.WarnContext(ctx, "mail delivery failed", "mail_id", row.ID, "attempts", attempts, "next_attempt", next, "error", text)
	}
	return nil
}

// backoff returns the wait after the given number of failed attempts:
// exponential from minBackoff, capped at maxBackoff, with the upper half
// randomised so that many messages failing together do not retry in step.
func backoff(attempts int) time.Duration {
	d := maxBackoff
	if attempts < 1 {
		attempts = 1
	}
	if attempts <= 30 {
		if e := minBackoff << (attempts - 1); e < maxBackoff {
			d = e
		}
	}
	return d/2 + rand.N(d/2+1)
}

// scrub bounds err and removes any part of body it quotes: servers and
// filters sometimes echo content back in their replies, and the body may
// hold a security token that must not be stored in clear text.
func scrub(text, body string) string {
	for _, line := range strings.Split(body, "\n") {
		for _, field := range append([]string{strings.TrimSpace(line)}, strings.Fields(line)...) {
			if len(field) >= 8 {
				text = strings.ReplaceAll(text, field, "[redacted]")
			}
		}
	}
	if len(text) > maxLastError {
		// Cut before a rune starts, never inside one.
		i := maxLastError
		for i > 0 && !utf8.RuneStart(text[i]) {
			i--
		}
		text = text[:i]
	}
	return text
}

// Stats counts queued and failed messages.
func (s *Sender) Stats(ctx context.Context) (Stats, error) {
	queued, failed, err := s.store.MailCounts(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("mail stats: %w", err)
	}
	return Stats{Queued: queued, Failed: failed}, nil
}

// ListFailed returns up to limit failed messages, oldest first (limit <= 0
// means 100). BodySealed is left empty: callers see who, what and why, not
// the sealed content.
func (s *Sender) ListFailed(ctx context.Context, limit int) ([]models.MailMessage, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.store.ListFailedMail(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("list failed mail: %w", err)
	}
	return rows, nil
}

// Retry puts a failed message back in the queue with a fresh set of
// attempts, due now. It returns ErrNotFailed if id is not a failed message.
func (s *Sender) Retry(ctx context.Context, id uint64) error {
	err := s.store.RetryMail(ctx, id, s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("retry mail %d: %w", id, ErrNotFailed)
	}
	if err != nil {
		return fmt.Errorf("retry mail %d: %w", id, err)
	}
	return nil
}
