package e2e

import (
	"bytes"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

var noticeMilestone = regexp.MustCompile(`\(Notice (\d+) days before the end\.\)`)

// notices returns, per milestone, how many sunset notices addr received
// for client.
func (mb *mailbox) notices(t *testing.T, addr, client string) map[int]int {
	t.Helper()
	out := map[int]int{}
	for _, raw := range mb.to(addr) {
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("parse mail: %v", err)
		}
		if !strings.Contains(m.Header.Get("Subject"), client+" stops accepting passwords") {
			continue
		}
		body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
		if err != nil {
			t.Fatalf("decode mail body: %v", err)
		}
		match := noticeMilestone.FindSubmatch(body)
		if match == nil {
			t.Fatalf("a notice without its milestone:\n%s", body)
		}
		d, _ := strconv.Atoi(string(match[1]))
		out[d]++
	}
	return out
}

// TestSunsetNoticesOnceAcrossReplicas: three replicas on one database,
// their janitors running every 300 ms, deliver through a real SMTP server
// one sunset notice per recent user of the client and milestone, however
// often each of them comes round; users who did not use the client's legacy
// grant in the last 90 days get none.
func TestSunsetNoticesOnceAcrossReplicas(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			dbURL := testdb.URL(t, kind)
			mb := startMailbox(t, 10*time.Millisecond)
			rs := startReplicas(t, 3, dbURL, settings{
				"AUTHGATE_SMTP_HOST":             mb.host,
				"AUTHGATE_SMTP_PORT":             strconv.Itoa(mb.port),
				"AUTHGATE_SMTP_TLS":              "none",
				"AUTHGATE_JANITOR_INTERVAL":      "300ms",
				"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0",
				"AUTHGATE_LEGACY_MIGRATION_URL":  "https://intranet.example.com/oauth",
			})
			seed := newSeeder(t, dbURL)
			ctx := t.Context()
			if _, err := seed.ranges.Add(ctx, "e2e", "127.0.0.2/32", "office"); err != nil {
				t.Fatal(err)
			}
			loaderID, loaderSecret := seed.client(t, "Data Loader", []string{"password", "refresh_token"}, []string{"offline_access"})
			loader := api{c: clientFrom("127.0.0.2"), clientID: loaderID, clientSecret: loaderSecret}
			const pw = "loader passphrase 1"
			users := []string{"ana", "ben", "cai"}
			for i, name := range append(users, "dov", "eve") {
				seed.user(t, name, pw)
				if i < len(users) { // ana, ben and cai use the grant, each through another replica
					r, err := loader.password(ctx, rs[i], name, pw)
					if err != nil || r.status != http.StatusOK {
						t.Fatalf("password grant of %s: %v %s", name, err, r)
					}
				}
			}
			// eve used it, but 100 days ago.
			var eve models.User
			if err := seed.db.Where("username = ?", "eve").Take(&eve).Error; err != nil {
				t.Fatal(err)
			}
			old := models.LoginEvent{Time: time.Now().UTC().AddDate(0, 0, -100), UserID: eve.ID, Username: "eve", ClientID: loaderID,
				SourceIP: "127.0.0.2", Method: "password_grant", Result: "Success"}
			if err := seed.db.Create(&old).Error; err != nil {
				t.Fatal(err)
			}

			// settle waits until every user has n notices at the milestone,
			// then until the outbox is empty and every replica's janitor
			// has come round several more times, and checks that nobody got
			// a second one.
			settle := func(days int) {
				t.Helper()
				deadline := time.Now().Add(45 * time.Second)
				for _, name := range users {
					for mb.notices(t, name+"@example.com", "Data Loader")[days] < 1 {
						if time.Now().After(deadline) {
							t.Fatalf("%s never got the %d-day notice", name, days)
						}
						time.Sleep(50 * time.Millisecond)
					}
				}
				for {
					var queued int64
					if err := seed.db.Model(&models.MailMessage{}).Count(&queued).Error; err != nil {
						t.Fatal(err)
					}
					if queued == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%d messages still queued", queued)
					}
					time.Sleep(50 * time.Millisecond)
				}
				// Every janitor comes round at least five more times.
				time.Sleep(5 * 300 * time.Millisecond)
				for _, name := range users {
					if got := mb.notices(t, name+"@example.com", "Data Loader"); got[days] != 1 {
						t.Errorf("%s: notices by milestone %v, want exactly one %d-day notice", name, got, days)
					}
				}
			}

			// Six days ahead: the 7-day notice is due (the 30-day one is
			// passed over).
			sunset := time.Now().UTC().Add(6 * 24 * time.Hour)
			if _, err := seed.clients.SetSunset(ctx, "e2e", loaderID, &sunset); err != nil {
				t.Fatal(err)
			}
			settle(7)

			// The sunset moves to 20 hours ahead: the 1-day notice.
			sunset = time.Now().UTC().Add(20 * time.Hour)
			if _, err := seed.clients.SetSunset(ctx, "e2e", loaderID, &sunset); err != nil {
				t.Fatal(err)
			}
			settle(1)

			for _, name := range users {
				got := mb.notices(t, name+"@example.com", "Data Loader")
				if len(got) != 2 || got[30] != 0 {
					t.Errorf("%s: notices by milestone %v, want one 7-day and one 1-day notice", name, got)
				}
			}
			for _, name := range []string{"dov", "eve"} {
				if got := mb.notices(t, name+"@example.com", "Data Loader"); len(got) != 0 {
					t.Errorf("%s (no use of the grant in 90 days): notices %v, want none", name, got)
				}
			}
			var rows int64
			if err := seed.db.Model(&models.LegacyNotice{}).Where("client_id = ?", loaderID).Count(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if rows != 6 {
				t.Errorf("notice rows: %d, want 6 (three users, two milestones)", rows)
			}
		})
	}
}
