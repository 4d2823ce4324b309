package accounts

import (
	"github.com/authgate/authgate/internal/testutil"

	"crypto/rand"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 3, 14, 9, 26, 53, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type syncBuffer = testutil.SyncBuffer

type fixture struct {
	svc   *Service
	db    *gorm.DB
	keys  *keyring.Keyring
	clock *clock
	logs  *syncBuffer
}

// setup returns a Service over db with a cheap hasher, a fake clock and
// captured logs. opts.Now and opts.Logger are filled in.
func setup(t *testing.T, db *gorm.DB, opts Options) fixture {
	t.Helper()
	root := make([]byte, 48)
	if _, err := rand.Read(root); err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.New(root)
	if err != nil {
		t.Fatalf("keyring.New: %v", err)
	}
	hasher, err := password.NewHasher(password.Params{Time: 1, Memory: 8 * 1024, Threads: 1}, 4)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	c := newClock()
	logs := &syncBuffer{}
	if opts.Organization == "" {
		opts.Organization = "Acme"
	}
	opts.Now = c.Now
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return fixture{svc: New(storage.New(db), keys, hasher, opts), db: db, keys: keys, clock: c, logs: logs}
}

type sentMail struct {
	To, Subject, Body string
}

// outbox returns every queued message, oldest first, with its body opened.
func (f fixture) outbox(t *testing.T) []sentMail {
	t.Helper()
	var rows []models.MailMessage
	if err := f.db.Order("id").Find(&rows).Error; err != nil {
		t.Fatalf("read outbox: %v", err)
	}
	out := make([]sentMail, 0, len(rows))
	for _, r := range rows {
		body, err := f.keys.Open("mail-outbox", r.BodySealed)
		if err != nil {
			t.Fatalf("open mail %d: %v", r.ID, err)
		}
		out = append(out, sentMail{To: r.To, Subject: r.Subject, Body: string(body)})
	}
	return out
}

var tokenLine = regexp.MustCompile(`(?m)^    ([A-Za-z0-9]+)$`)

// tokenIn extracts the token from a token email body.
func tokenIn(t *testing.T, body string) string {
	t.Helper()
	m := tokenLine.FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("found %d token lines in the email, want 1:\n%s", len(m), body)
	}
	if len(m[0][1]) != TokenLength {
		t.Fatalf("token in email has length %d, want %d", len(m[0][1]), TokenLength)
	}
	return m[0][1]
}

// lastToken returns the token in the newest message of the outbox.
func (f fixture) lastToken(t *testing.T) string {
	t.Helper()
	mails := f.outbox(t)
	if len(mails) == 0 {
		t.Fatal("outbox is empty, want a token email")
	}
	return tokenIn(t, mails[len(mails)-1].Body)
}

func (f fixture) mustCreate(t *testing.T, username, pw string) models.User {
	t.Helper()
	u, err := f.svc.CreateUser(t.Context(), "admin", NewUser{Username: username, Email: username + "@example.com", Name: "User " + username, Password: pw})
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

func (f fixture) reload(t *testing.T, id string) models.User {
	t.Helper()
	u, err := f.svc.GetUserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("GetUserByID: %v", err)
	}
	return u
}

func count(t *testing.T, db *gorm.DB, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	q := db.Model(model)
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Count(&n).Error; err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}
