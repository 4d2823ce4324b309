package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// TestAttackTokenResets plays someone holding a user's browser session
// (or a script behind it) who fires parallel security-token resets from
// the account page (issue 9, item 13): within the minute one reset goes
// through, one email is queued and one history row written, and every
// other request is refused with a page that says when to try again. An
// administrator is not held to the minute, but nobody gets a user more
// than ten new tokens in 24 hours: the CLI says so too.
func TestAttackTokenResets(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dbURL := testdb.URL(t, kind)
			s := baseSettings(t, dbURL)
			p := start(t, "server", s)
			outbox := s["AUTHGATE_MAIL_OUTBOX"]
			const pw = "victim passphrase 1"
			const email = "vic@example.com"
			cli(t, s, pw+"\n", "users", "create", "--username", "vic", "--email", email, "--password-stdin")
			seed := newSeeder(t, dbURL)
			var vic models.User
			if err := seed.db.Where("username = ?", "vic").Take(&vic).Error; err != nil {
				t.Fatal(err)
			}
			history := func() int64 {
				t.Helper()
				var n int64
				if err := seed.db.Model(&models.SecurityTokenHistory{}).Where("user_id = ?", vic.ID).Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			// mails waits until nothing to vic is queued, then counts what
			// reached the outbox folder.
			mails := func() int {
				t.Helper()
				deadline := time.Now().Add(15 * time.Second)
				for {
					var queued int64
					if err := seed.db.Model(&models.MailMessage{}).Where(&models.MailMessage{To: email}).Count(&queued).Error; err != nil {
						t.Fatal(err)
					}
					if queued == 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%d mails to %s still queued after 15s", queued, email)
					}
					time.Sleep(50 * time.Millisecond)
				}
				files, _ := filepath.Glob(filepath.Join(outbox, "*"))
				n := 0
				for _, f := range files {
					if body, err := os.ReadFile(f); err == nil && strings.Contains(string(body), email) {
						n++
					}
				}
				return n
			}
			if h, m := history(), mails(); h != 1 || m != 1 {
				t.Fatalf("after creation: %d history rows, %d mails, want 1 and 1", h, m)
			}

			b := browser(t)
			signIn(t, b, p, "vic", pw)
			resp, err := b.Get(p.url("/account/security-token"))
			if err != nil {
				t.Fatal(err)
			}
			form := hiddenFields(readAll(t, resp))
			if form.Get("csrf_token") == "" {
				t.Fatal("no CSRF token on the reset form")
			}
			const parallel = 20
			var mu sync.Mutex
			statuses := map[int]int{}
			var wg sync.WaitGroup
			for range parallel {
				wg.Go(func() {
					resp, err := b.PostForm(p.url("/account/security-token"), form)
					if err != nil {
						t.Error(err)
						return
					}
					body := readAll(t, resp)
					mu.Lock()
					defer mu.Unlock()
					statuses[resp.StatusCode]++
					if resp.StatusCode == http.StatusTooManyRequests && !strings.Contains(body, "can be reset again after") {
						t.Errorf("refused reset: the page does not say when to try again:\n%s", body)
					}
				})
			}
			wg.Wait()
			if statuses[http.StatusSeeOther] != 1 || statuses[http.StatusTooManyRequests] != parallel-1 {
				t.Errorf("%d parallel resets: statuses %v, want one 303 and %d times 429", parallel, statuses, parallel-1)
			}
			if h, m := history(), mails(); h != 2 || m != 2 {
				t.Errorf("after %d parallel resets: %d history rows, %d mails, want 2 and 2 (creation and one reset)", parallel, h, m)
			}

			// An administrator may reset at once, up to ten new tokens a day.
			for range 9 {
				cli(t, s, "", "users", "reset-token", "vic")
			}
			out, err := cliFails(t, s, "users", "reset-token", "vic")
			if err == nil || !strings.Contains(out, "10 new security tokens were issued in the last 24 hours") || !strings.Contains(out, "can be reset again after") {
				t.Errorf("the 11th token of the day by the CLI: got %v\n%s\nwant a failure that says why and when", err, out)
			}
			if h := history(); h != 11 {
				t.Errorf("history rows = %d, want 11", h)
			}

			// One actor format in the audit log (issue 9, item 15): the
			// user's own changes on /account are "user:vic" like an
			// administrator's are "user:NAME", the CLI's "cli:LOGIN".
			resp, err = b.Get(p.url("/account/password"))
			if err != nil {
				t.Fatal(err)
			}
			pwForm := hiddenFields(readAll(t, resp))
			pwForm.Set("current_password", pw)
			pwForm.Set("new_password", "victim passphrase 2")
			pwForm.Set("confirm_password", "victim passphrase 2")
			if resp, err = b.PostForm(p.url("/account/password"), pwForm); err != nil {
				t.Fatal(err)
			} else if body := readAll(t, resp); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("password change on /account: got %d\n%s", resp.StatusCode, body)
			}
			var entries []models.AuditEntry
			if err := seed.db.Order("id").Find(&entries).Error; err != nil {
				t.Fatal(err)
			}
			byVic := map[string]int{}
			for _, e := range entries {
				if !actorFormat.MatchString(e.Actor) {
					t.Errorf("audit entry %s %s by %q: want the actor as user:NAME, client:ID or cli:LOGIN", e.Action, e.Target, e.Actor)
				}
				if e.Actor == "user:vic" {
					byVic[e.Action]++
				}
			}
			if byVic["user.token.reset"] != 1 || byVic["user.password.change"] != 1 {
				t.Errorf("audit entries by user:vic: %v, want one user.token.reset and one user.password.change", byVic)
			}
		})
	}
}

// actorFormat is the one form of an audit entry's actor.
var actorFormat = regexp.MustCompile(`^(user|client|cli):[^\s:]+$`)

// cliFails runs "authgate ARGS..." like cli, but returns its combined
// output and error instead of failing the test.
func cliFails(t *testing.T, s settings, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHGATE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range s {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
