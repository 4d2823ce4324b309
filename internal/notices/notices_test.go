package notices_test

import (
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/notices"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestDue(t *testing.T) {
	t.Parallel()
	sunset := time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC)
	days := []int{1, 7, 30}
	day := 24 * time.Hour
	for _, tc := range []struct {
		name   string
		before time.Duration // now = sunset - before
		want   int           // 0: none due
	}{
		{"two months before", 60 * day, 0},
		{"just before 30 days", 30*day + time.Second, 0},
		{"30 days before", 30 * day, 30},
		{"20 days before", 20 * day, 30},
		{"7 days before", 7 * day, 7},
		{"5 days before: the 30-day notice is not sent late", 5 * day, 7},
		{"1 day before", day, 1},
		{"an hour before", time.Hour, 1},
		{"at the sunset", 0, 0},
		{"after it", -time.Hour, 0},
	} {
		got, ok := notices.Due(days, sunset, sunset.Add(-tc.before))
		if ok != (tc.want != 0) || got != tc.want {
			t.Errorf("%s: Due = %d, %v; want %d", tc.name, got, ok, tc.want)
		}
	}
}

type world struct {
	st     *storage.Store
	db     *gorm.DB
	keys   *keyring.Keyring
	now    time.Time
	client models.Client
}

func newWorld(t *testing.T, db *gorm.DB) *world {
	t.Helper()
	root := make([]byte, 48)
	if _, err := rand.Read(root); err != nil {
		t.Fatal(err)
	}
	keys, err := keyring.New(root)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{st: storage.New(db), db: db, keys: keys, now: time.Date(2030, 6, 25, 12, 0, 0, 0, time.UTC)}
	ctx := t.Context()
	sunset := time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC) // 5.5 days ahead: the 7-day notice is due
	w.client = models.Client{ID: "loader", Name: "Data Loader", GrantTypes: []string{"password"}, AccessTokenFormat: "opaque", LegacySunset: &sunset,
		LegacyMigrationURL: "https://wiki.example.com/loader"}
	other := models.Client{ID: "other", Name: "Other", GrantTypes: []string{"password"}, AccessTokenFormat: "opaque", LegacySunset: &sunset}
	for _, c := range []*models.Client{&w.client, &other} {
		if err := w.st.CreateClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"ana", "ben", "cai", "dov", "eve"} {
		u := models.User{ID: "u-" + name, Username: name, Email: name + "@example.com", PasswordHash: "x", SecurityTokenHash: "t" + name}
		if err := w.st.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
		ev := models.LoginEvent{Time: w.now.Add(-time.Duration(i) * time.Hour), UserID: u.ID, Username: name, ClientID: "loader", Method: "password_grant", Result: "Success"}
		switch name {
		case "dov": // long ago
			ev.Time = w.now.AddDate(0, 0, -100)
		case "eve": // another client's user
			ev.ClientID = "other"
		case "cai": // only refreshes since
			ev.Method = "password_grant_refresh"
		}
		if err := w.st.RecordLogin(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) service(now func() time.Time) *notices.Service {
	return notices.New(w.st, w.keys, notices.Options{
		Organization: "Acme", Issuer: "https://id.example.com", MigrationURL: "https://intranet.example.com/oauth",
		Days: []int{30, 7, 1}, Lookback: 90 * 24 * time.Hour,
		Methods: []string{"password_grant", "password_grant_refresh"}, Success: "Success", Now: now,
	})
}

// outbox returns the outbox's messages to addr, their bodies opened.
func (w *world) outbox(t *testing.T) map[string][]string {
	t.Helper()
	var rows []models.MailMessage
	if err := w.db.Order("id").Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rows {
		body, err := w.keys.Open("mail-outbox", r.BodySealed)
		if err != nil {
			t.Fatal(err)
		}
		out[r.To] = append(out[r.To], r.Subject+"\n"+string(body))
	}
	return out
}

// Three replicas running the janitor at the same moment, again and again:
// every recent user of the client gets exactly one notice per milestone.
func TestNoticesOncePerUserAndMilestoneAcrossReplicas(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		var mu sync.Mutex
		now := w.now
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		replicas := []*notices.Service{w.service(clock), w.service(clock), w.service(clock)}
		runAll := func() {
			var wg sync.WaitGroup
			for range 3 { // each replica's janitor comes round several times
				for _, r := range replicas {
					wg.Go(func() {
						if _, err := r.Run(t.Context()); err != nil {
							t.Errorf("Run: %v", err)
						}
					})
				}
			}
			wg.Wait()
		}
		runAll()
		got := w.outbox(t)
		for _, name := range []string{"ana", "ben", "cai"} {
			msgs := got[name+"@example.com"]
			if len(msgs) != 1 {
				t.Fatalf("%s after the 7-day run: %d notices, want 1", name, len(msgs))
			}
			for _, part := range []string{"Acme: Data Loader stops accepting passwords after 2030-06-30", "device flow", "app password", "https://id.example.com/account",
				"authorization code flow", "How to migrate: https://wiki.example.com/loader", "Notice 7 days before"} {
				if !strings.Contains(msgs[0], part) {
					t.Errorf("notice to %s lacks %q:\n%s", name, part, msgs[0])
				}
			}
		}
		if n := len(got["dov@example.com"]); n != 0 {
			t.Errorf("dov (last used the client 100 days ago): %d notices", n)
		}
		if msgs := got["eve@example.com"]; len(msgs) != 1 || strings.Contains(msgs[0], "Data Loader") {
			t.Errorf("eve (a user of the other client only): got %q, want that client's one notice", msgs)
		}

		// A day before: the 1-day notice, once.
		mu.Lock()
		now = time.Date(2030, 6, 30, 6, 0, 0, 0, time.UTC)
		mu.Unlock()
		runAll()
		got = w.outbox(t)
		for _, name := range []string{"ana", "ben", "cai"} {
			msgs := got[name+"@example.com"]
			if len(msgs) != 2 || !strings.Contains(msgs[1], "Notice 1 days before") {
				t.Errorf("%s after the 1-day run: %d notices, want 2, the second for 1 day", name, len(msgs))
			}
		}

		// After the sunset nothing more goes out.
		mu.Lock()
		now = time.Date(2030, 7, 2, 0, 0, 0, 0, time.UTC)
		mu.Unlock()
		runAll()
		if got := w.outbox(t); len(got["ana@example.com"]) != 2 {
			t.Errorf("after the sunset: %d notices to ana, want still 2", len(got["ana@example.com"]))
		}
	})
}

func TestSendNow(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		s := w.service(func() time.Time { return w.now })
		r, err := s.SendNow(t.Context(), w.client)
		if err != nil || r.Sent != 3 || r.Users != 3 || r.Days != 6 {
			t.Fatalf("SendNow: got %+v, %v; want 3 of 3 users, 6 days", r, err)
		}
		if r, err := s.SendNow(t.Context(), w.client); err != nil || r.Sent != 0 {
			t.Errorf("SendNow again the same day: got %+v, %v; want none sent", r, err)
		}
		none := w.client
		none.LegacySunset = nil
		if _, err := s.SendNow(t.Context(), none); err == nil {
			t.Errorf("SendNow without a sunset: want an error")
		}
	})
}
