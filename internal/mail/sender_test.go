package mail

import (
	"github.com/authgate/authgate/internal/testutil"

	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

const testFrom = "authgate <no-reply@example.com>"

// clock is a settable time source for Sender.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().Add(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

type logBuffer = testutil.SyncBuffer

func testKeys(t *testing.T, fill byte) *keyring.Keyring {
	t.Helper()
	k, err := keyring.New(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatalf("keyring.New: %v", err)
	}
	return k
}

type senderFixture struct {
	db     *gorm.DB
	keys   *keyring.Keyring
	clock  *clock
	logs   *logBuffer
	sender *Sender
}

func newFixture(t *testing.T, db *gorm.DB, tr Transport, maxAttempts int) *senderFixture {
	t.Helper()
	f := &senderFixture{db: db, keys: testKeys(t, 'k'), clock: newClock(), logs: &logBuffer{}}
	s, err := NewSender(storage.New(db), f.keys, tr, SenderOptions{
		From:        testFrom,
		MaxAttempts: maxAttempts,
		Logger:      slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:         f.clock.Now,
	})
	if err != nil {
		t.Fatalf("NewSender: %v", err)
	}
	f.sender = s
	return f
}

func (f *senderFixture) enqueue(t *testing.T, msg Message) {
	t.Helper()
	f.enqueueAt(t, msg, f.clock.Now())
}

// enqueueAt queues msg due from at.
func (f *senderFixture) enqueueAt(t *testing.T, msg Message, at time.Time) {
	t.Helper()
	if err := Enqueue(t.Context(), storage.New(f.db), f.keys, msg, at); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

func (f *senderFixture) deliver(t *testing.T) int {
	t.Helper()
	n, err := f.sender.DeliverDue(t.Context())
	if err != nil {
		t.Fatalf("DeliverDue: %v", err)
	}
	return n
}

func rows(t *testing.T, db *gorm.DB) []models.MailMessage {
	t.Helper()
	var out []models.MailMessage
	if err := db.Order("id").Find(&out).Error; err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	return out
}

// tokenMessage is a message carrying a made-up security token.
func tokenMessage(token string) Message {
	return Message{
		To:      "Alice <alice@example.org>",
		Subject: "Your new security token",
		Body:    "Hello Alice,\n\nyour security token is\n" + token + "\n\nauthgate",
	}
}

func TestSenderDeliversOverSMTP(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		srv := startServer(t, serverOptions{})
		f := newFixture(t, db, NewSMTPTransport(SMTPOptions{Host: srv.Host, Port: srv.Port, TLS: TLSNone}), 5)
		const token = "TOKEN-9f8e7d6c5b4a3210"
		msg := tokenMessage(token)
		f.enqueue(t, msg)

		stored := rows(t, db)
		if len(stored) != 1 {
			t.Fatalf("outbox holds %d rows, want 1", len(stored))
		}
		if bytes.Contains(stored[0].BodySealed, []byte(token)) || bytes.Contains(stored[0].BodySealed, []byte("security token is")) {
			t.Errorf("sealed body holds plaintext: %q", stored[0].BodySealed)
		}
		if opened, err := f.keys.Open(sealPurpose, stored[0].BodySealed); err != nil || string(opened) != msg.Body {
			t.Errorf("Open(sealed body) = %q, %v; want %q", opened, err, msg.Body)
		}

		if got, want := f.deliver(t), 1; got != want {
			t.Fatalf("DeliverDue delivered %d, want %d", got, want)
		}
		msgs := srv.Messages()
		if len(msgs) != 1 {
			t.Fatalf("server received %d messages, want 1", len(msgs))
		}
		if got, want := msgs[0].From, "no-reply@example.com"; got != want {
			t.Errorf("envelope from = %q, want %q", got, want)
		}
		if got, want := strings.Join(msgs[0].To, ","), "alice@example.org"; got != want {
			t.Errorf("envelope to = %q, want %q", got, want)
		}
		p := parseComposed(t, msgs[0].Data)
		if want := strings.ReplaceAll(msg.Body, "\n", "\r\n") + "\r\n"; p.Body != want {
			t.Errorf("delivered body = %q, want %q", p.Body, want)
		}
		if p.Subject != msg.Subject {
			t.Errorf("delivered subject = %q, want %q", p.Subject, msg.Subject)
		}
		if left := rows(t, db); len(left) != 0 {
			t.Errorf("outbox holds %d rows after delivery, want 0 (the token must not outlive delivery)", len(left))
		}

		f.clock.Advance(time.Hour)
		if got := f.deliver(t); got != 0 {
			t.Errorf("second DeliverDue delivered %d, want 0", got)
		}
		if got := len(srv.Messages()); got != 1 {
			t.Errorf("server received %d messages in all, want 1", got)
		}
		logs := f.logs.String()
		if !strings.Contains(logs, "mail_id=") {
			t.Errorf("logs = %q, want a line with mail_id", logs)
		}
		for _, secret := range []string{token, "alice@example.org"} {
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain %q:\n%s", secret, logs)
			}
		}
	})
}

func TestSenderRetriesWithBackoff(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		// The first attempt is refused at RCPT, the second at the end of
		// DATA; the third goes through.
		srv := startServer(t, serverOptions{Reject: func(stage string, attempt int, _ []byte) error {
			switch {
			case stage == "rcpt" && attempt == 1:
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
			case stage == "data" && attempt == 2:
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "content rejected"}
			}
			return nil
		}})
		f := newFixture(t, db, NewSMTPTransport(SMTPOptions{Host: srv.Host, Port: srv.Port, TLS: TLSNone}), 5)
		f.enqueue(t, tokenMessage("TOKEN-retry-0123456789"))

		for attempt, wantCode := range []string{"451", "554"} {
			attempts := attempt + 1
			before := f.clock.Now()
			if got := f.deliver(t); got != 0 {
				t.Fatalf("attempt %d: delivered %d, want 0", attempts, got)
			}
			r := rows(t, db)
			if len(r) != 1 {
				t.Fatalf("attempt %d: outbox holds %d rows, want 1", attempts, len(r))
			}
			row := r[0]
			if row.Attempts != attempts || row.Failed || row.ClaimedUntil != nil {
				t.Fatalf("attempt %d: row = {Attempts:%d Failed:%v ClaimedUntil:%v}, want {Attempts:%d Failed:false ClaimedUntil:nil}",
					attempts, row.Attempts, row.Failed, row.ClaimedUntil, attempts)
			}
			if !strings.Contains(row.LastError, wantCode) {
				t.Errorf("attempt %d: LastError = %q, want it to mention %s", attempts, row.LastError, wantCode)
			}
			// Backoff: about 2s after the first failure, 4s after the
			// second, with the upper half jittered.
			full := minBackoff << (attempts - 1)
			wait := row.NextAttempt.Sub(before)
			if wait < full/2-time.Millisecond || wait > full+time.Millisecond {
				t.Errorf("attempt %d: next attempt in %v, want between %v and %v", attempts, wait, full/2, full)
			}

			// Not due yet: nothing is sent.
			f.clock.Set(row.NextAttempt.Add(-time.Millisecond))
			if got := f.deliver(t); got != 0 {
				t.Fatalf("attempt %d: delivered %d before the backoff ended, want 0", attempts, got)
			}
			if got := srv.Attempts(); got != attempts {
				t.Fatalf("server saw %d attempts before the backoff ended, want %d", got, attempts)
			}
			f.clock.Set(row.NextAttempt)
		}

		if got := f.deliver(t); got != 1 {
			t.Fatalf("third attempt delivered %d, want 1", got)
		}
		f.clock.Advance(time.Hour)
		if got := f.deliver(t); got != 0 {
			t.Errorf("after delivery DeliverDue delivered %d more, want 0", got)
		}
		if got := len(srv.Messages()); got != 1 {
			t.Errorf("server accepted %d messages, want exactly 1", got)
		}
		if got := srv.Attempts(); got != 3 {
			t.Errorf("server saw %d attempts, want 3", got)
		}
		if left := rows(t, db); len(left) != 0 {
			t.Errorf("outbox holds %d rows after delivery, want 0", len(left))
		}
	})
}

func TestSenderGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		const token = "TOKEN-echoed-by-a-filter-42"
		var accept atomic.Bool
		// A content filter that quotes the offending line back: the token.
		srv := startServer(t, serverOptions{Reject: func(stage string, _ int, data []byte) error {
			if stage != "data" || accept.Load() {
				return nil
			}
			quoted := ""
			for line := range strings.SplitSeq(string(data), "\r\n") {
				if strings.Contains(line, "TOKEN-") {
					quoted = line
				}
			}
			return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "spam detected in: " + quoted}
		}})
		const maxAttempts = 3
		f := newFixture(t, db, NewSMTPTransport(SMTPOptions{Host: srv.Host, Port: srv.Port, TLS: TLSNone}), maxAttempts)
		msg := tokenMessage(token)
		f.enqueue(t, msg)

		for i := range maxAttempts {
			if got := f.deliver(t); got != 0 {
				t.Fatalf("attempt %d: delivered %d, want 0", i+1, got)
			}
			f.clock.Advance(maxBackoff + time.Second)
		}
		r := rows(t, db)
		if len(r) != 1 {
			t.Fatalf("outbox holds %d rows, want the failed one", len(r))
		}
		row := r[0]
		if !row.Failed || row.Attempts != maxAttempts {
			t.Fatalf("row = {Failed:%v Attempts:%d}, want {Failed:true Attempts:%d}", row.Failed, row.Attempts, maxAttempts)
		}
		if !strings.Contains(row.LastError, "554") {
			t.Errorf("LastError = %q, want it to mention 554", row.LastError)
		}
		if strings.Contains(row.LastError, token) || strings.Contains(row.LastError, msg.Body) {
			t.Errorf("LastError = %q holds the body", row.LastError)
		}
		if logs := f.logs.String(); strings.Contains(logs, token) {
			t.Errorf("logs hold the token:\n%s", logs)
		}

		// A failed message stays put, however long we wait.
		f.clock.Advance(24 * time.Hour)
		if got := f.deliver(t); got != 0 {
			t.Fatalf("failed message delivered %d, want 0", got)
		}
		if got := srv.Attempts(); got != maxAttempts {
			t.Errorf("server saw %d attempts, want %d", got, maxAttempts)
		}

		st, err := f.sender.Stats(t.Context())
		if err != nil {
			t.Fatalf("Stats: %v", err)
		}
		if want := (Stats{Queued: 0, Failed: 1}); st != want {
			t.Errorf("Stats = %+v, want %+v", st, want)
		}
		failed, err := f.sender.ListFailed(t.Context(), 10)
		if err != nil {
			t.Fatalf("ListFailed: %v", err)
		}
		if len(failed) != 1 || failed[0].ID != row.ID || failed[0].To != msg.To || failed[0].LastError != row.LastError {
			t.Fatalf("ListFailed = %+v, want the row %d", failed, row.ID)
		}
		if failed[0].BodySealed != nil {
			t.Errorf("ListFailed returned BodySealed (%d bytes), want none", len(failed[0].BodySealed))
		}

		if err := f.sender.Retry(t.Context(), row.ID+1000); !errors.Is(err, ErrNotFailed) {
			t.Errorf("Retry(unknown id) = %v, want ErrNotFailed", err)
		}
		if err := f.sender.Retry(t.Context(), row.ID); err != nil {
			t.Fatalf("Retry: %v", err)
		}
		if st, _ := f.sender.Stats(t.Context()); st != (Stats{Queued: 1}) {
			t.Errorf("Stats after Retry = %+v, want {Queued:1 Failed:0}", st)
		}
		if err := f.sender.Retry(t.Context(), row.ID); !errors.Is(err, ErrNotFailed) {
			t.Errorf("Retry of a queued message = %v, want ErrNotFailed", err)
		}
		accept.Store(true)
		if got := f.deliver(t); got != 1 {
			t.Fatalf("after Retry delivered %d, want 1", got)
		}
		if got := len(srv.Messages()); got != 1 {
			t.Errorf("server accepted %d messages, want 1", got)
		}
		if st, _ := f.sender.Stats(t.Context()); st != (Stats{}) {
			t.Errorf("Stats after delivery = %+v, want zero", st)
		}
	})
}

func TestSenderPermanentFailures(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		srv := startServer(t, serverOptions{})
		f := newFixture(t, db, NewSMTPTransport(SMTPOptions{Host: srv.Host, Port: srv.Port, TLS: TLSNone}), 5)
		// Enqueue only refuses line breaks; a malformed address is found
		// when the message is composed, and waiting will not fix it.
		f.enqueue(t, Message{To: "not an address", Subject: "s", Body: "TOKEN-not-delivered"})
		if got := f.deliver(t); got != 0 {
			t.Fatalf("delivered %d, want 0", got)
		}
		r := rows(t, db)
		if len(r) != 1 || !r[0].Failed || r[0].Attempts != 1 {
			t.Fatalf("rows = %+v, want one Failed row after 1 attempt", r)
		}
		if strings.Contains(r[0].LastError, "TOKEN-not-delivered") {
			t.Errorf("LastError = %q holds the body", r[0].LastError)
		}
		if got := srv.Attempts(); got != 0 {
			t.Errorf("server saw %d attempts, want 0", got)
		}
	})
}

func TestSenderWrongSecret(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		srv := startServer(t, serverOptions{})
		f := newFixture(t, db, NewSMTPTransport(SMTPOptions{Host: srv.Host, Port: srv.Port, TLS: TLSNone}), 5)
		if err := Enqueue(t.Context(), storage.New(db), testKeys(t, 'x'), tokenMessage("TOKEN-other-secret"), f.clock.Now()); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		if got := f.deliver(t); got != 0 {
			t.Fatalf("delivered %d, want 0", got)
		}
		r := rows(t, db)
		if len(r) != 1 || r[0].Failed || r[0].Attempts != 1 || !strings.Contains(r[0].LastError, "open body") {
			t.Fatalf("row = %+v, want a retryable failure mentioning \"open body\"", r)
		}
		if got := srv.Attempts(); got != 0 {
			t.Errorf("server saw %d attempts, want 0", got)
		}
	})
}

func TestSenderHonoursClaims(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		dir := t.TempDir()
		f := newFixture(t, db, NewFileTransport(dir), 5)
		f.enqueue(t, tokenMessage("TOKEN-claimed"))
		// Another replica holds the message for the next minute.
		until := f.clock.Now().UTC().Add(time.Minute)
		if err := db.Model(&models.MailMessage{}).Where("1 = 1").Update("claimed_until", until).Error; err != nil {
			t.Fatalf("claim: %v", err)
		}
		if got := f.deliver(t); got != 0 {
			t.Fatalf("delivered a message claimed by another sender: %d, want 0", got)
		}
		// The other replica died; its claim lapses and we take over.
		f.clock.Set(until.Add(time.Millisecond))
		if got := f.deliver(t); got != 1 {
			t.Fatalf("after the claim lapsed delivered %d, want 1", got)
		}
		if files, _ := filepath.Glob(filepath.Join(dir, "*.eml")); len(files) != 1 {
			t.Errorf("outbox folder holds %v, want one .eml", files)
		}
	})
}

// openShared opens two connection pools on one fresh database, as two
// replicas would.
func openShared(t *testing.T, kind string) (*gorm.DB, *gorm.DB) {
	t.Helper()
	u := testdb.URL(t, kind)
	var dbs [2]*gorm.DB
	for i := range dbs {
		db, err := storage.Open(t.Context(), u, storage.Options{MaxOpenConns: 4})
		if err != nil {
			t.Fatalf("open %s: %v", kind, err)
		}
		t.Cleanup(func() { _ = storage.Close(db) })
		dbs[i] = db
	}
	if err := storage.Migrate(t.Context(), dbs[0]); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return dbs[0], dbs[1]
}

func TestSendersDeliverEachMessageOnce(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			db1, db2 := openShared(t, kind)
			srv := startServer(t, serverOptions{DataDelay: 2 * time.Millisecond})
			tr := NewSMTPTransport(SMTPOptions{Host: srv.Host, Port: srv.Port, TLS: TLSNone})
			f1 := newFixture(t, db1, tr, 5)
			s2, err := NewSender(storage.New(db2), f1.keys, tr, SenderOptions{From: testFrom, Now: f1.clock.Now})
			if err != nil {
				t.Fatalf("NewSender: %v", err)
			}
			const n = 40
			for i := range n {
				f1.enqueue(t, Message{To: "bob@example.org", Subject: fmt.Sprintf("message %d", i), Body: "body"})
			}

			var wg sync.WaitGroup
			var total atomic.Int64
			errs := make(chan error, 2)
			for _, s := range []*Sender{f1.sender, s2} {
				wg.Go(func() {
					for {
						got, err := s.DeliverDue(t.Context())
						if err != nil {
							errs <- err
							return
						}
						total.Add(int64(got))
						if got == 0 {
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("DeliverDue: %v", err)
			}

			seen := map[string]int{}
			for _, m := range srv.Messages() {
				seen[parseComposed(t, m.Data).Subject]++
			}
			for i := range n {
				subject := fmt.Sprintf("message %d", i)
				if seen[subject] != 1 {
					t.Errorf("%q delivered %d times, want 1", subject, seen[subject])
				}
			}
			if got := total.Load(); got != n {
				t.Errorf("senders reported %d deliveries, want %d", got, n)
			}
			if left := rows(t, db1); len(left) != 0 {
				t.Errorf("outbox holds %d rows, want 0", len(left))
			}
		})
	}
}

func TestSenderRun(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		dir := t.TempDir()
		keys := testKeys(t, 'k')
		s, err := NewSender(storage.New(db), keys, NewFileTransport(dir), SenderOptions{From: testFrom, PollInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatalf("NewSender: %v", err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()

		if err := Enqueue(t.Context(), storage.New(db), keys, tokenMessage("TOKEN-run"), time.Now()); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		var files []string
		for len(files) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			files, _ = filepath.Glob(filepath.Join(dir, "*.eml"))
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Run did not return after cancel")
		}
		if len(files) != 1 {
			t.Fatalf("Run wrote %v, want one .eml", files)
		}
		raw, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if p := parseComposed(t, raw); !strings.Contains(p.Body, "TOKEN-run") {
			t.Errorf("delivered body = %q, want the token", p.Body)
		}
		if left := rows(t, db); len(left) != 0 {
			t.Errorf("outbox holds %d rows, want 0", len(left))
		}
	})
}

func TestNewSenderRejectsBadFrom(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, "sqlite")
	for _, from := range []string{"", "not an address", "a@example.com\r\nBcc: x@example.net"} {
		if _, err := NewSender(storage.New(db), testKeys(t, 'k'), NewFileTransport(t.TempDir()), SenderOptions{From: from}); err == nil {
			t.Errorf("NewSender(From: %q): got nil error, want one", from)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for attempts := 1; attempts <= 40; attempts++ {
		full := maxBackoff
		if attempts < 20 && minBackoff<<(attempts-1) < maxBackoff {
			full = minBackoff << (attempts - 1)
		}
		for range 50 {
			if d := backoff(attempts); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want between %v and %v", attempts, d, full/2, full)
			}
		}
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	body := "Hello,\n\nyour token is\nTOKEN-abcdef123456\n"
	got := scrub("554 rejected: TOKEN-abcdef123456 (your token is)", body)
	if strings.Contains(got, "TOKEN-abcdef123456") || strings.Contains(got, "your token is") {
		t.Errorf("scrub = %q, want the body's lines removed", got)
	}
	if !strings.Contains(got, "554 rejected") {
		t.Errorf("scrub = %q, want the rest kept", got)
	}
	if got := scrub(strings.Repeat("é", 2000), ""); len(got) > maxLastError || !strings.HasSuffix(got, "é") {
		t.Errorf("scrub kept %d bytes ending %q, want at most %d ending in a whole rune", len(got), got[len(got)-2:], maxLastError)
	}
}

// cutAfterSend is a transport that takes each message and then cuts the
// database off for a while, as a failover right after delivery would.
type cutAfterSend struct {
	proxy interface{ SetDown(bool) }
	down  time.Duration
	sent  atomic.Int32
}

func (c *cutAfterSend) Send(context.Context, string, string, []byte) error {
	c.sent.Add(1)
	c.proxy.SetDown(true)
	time.AfterFunc(c.down, func() { c.proxy.SetDown(false) })
	return nil
}

// TestSenderDeletesAfterOutage checks that a message delivered just before
// the database went away is still deleted once it is back, by the sender
// that sent it: a row left behind would be sent a second time when its
// claim lapsed.
func TestSenderDeletesAfterOutage(t *testing.T) {
	t.Parallel()
	db, proxy := testdb.Cuttable(t)
	tr := &cutAfterSend{proxy: proxy, down: 700 * time.Millisecond}
	f := newFixture(t, db, tr, 5)
	f.enqueue(t, tokenMessage("TOKEN-outage"))
	if got := f.deliver(t); got != 1 {
		t.Fatalf("delivered %d, want 1", got)
	}
	if n := tr.sent.Load(); n != 1 {
		t.Fatalf("transport got %d messages, want 1", n)
	}
	if left := rows(t, db); len(left) != 0 {
		t.Fatalf("outbox holds %d rows after delivery, want 0: it would be sent again", len(left))
	}
	if !strings.Contains(f.logs.String(), "delivered mail not deleted yet, retrying") {
		t.Errorf("the outage was not seen by the delete; logs:\n%s", f.logs.String())
	}
}
