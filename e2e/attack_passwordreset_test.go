package e2e

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/internal/testutil"
	"github.com/authgate/authgate/models"
)

var (
	csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	resetLink = regexp.MustCompile(`(https?://\S+/password/reset\?token=\S+)`)
)

// browserFrom is a client with cookies whose connections come from src.
func browserFrom(t *testing.T, src string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := clientFrom(src)
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// formCSRF GETs page and returns its form's CSRF token.
func formCSRF(t *testing.T, c *http.Client, page string) string {
	t.Helper()
	resp, err := c.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	m := csrfField.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET %s: %d, no CSRF token:\n%s", page, resp.StatusCode, body)
	}
	return m[1]
}

// postForm posts form with the CSRF token of page and returns the
// status and body.
func postForm(t *testing.T, c *http.Client, page, action string, form url.Values) (int, string) {
	t.Helper()
	form.Set("csrf_token", formCSRF(t, c, page))
	resp, err := c.PostForm(action, form)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp)
}

// resetMails returns the bodies of the password-reset emails to addr.
func resetMails(mb *testutil.Mailbox, addr string) []string {
	var out []string
	for _, m := range mb.To(addr, "password reset") {
		out = append(out, m.Body)
	}
	return out
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestAttackPasswordReset plays someone who abuses the forgotten-password
// form: probing which accounts exist (by the answer and by its time),
// flooding one account's mailbox from two addresses at once, replaying a
// used link, and using their own link on someone else's account.
func TestAttackPasswordReset(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dbURL := testdb.URL(t, kind)
			mb := testutil.StartMailbox(t)
			s := baseSettings(t, dbURL)
			s["AUTHGATE_SMTP_HOST"] = mb.Host
			s["AUTHGATE_SMTP_PORT"] = strconv.Itoa(mb.Port)
			s["AUTHGATE_SMTP_TLS"] = "none"
			s["AUTHGATE_RATE_LIMIT_PER_MINUTE"] = "0"
			s["AUTHGATE_LINK_REQUESTS_PER_HOUR"] = "0"
			s["AUTHGATE_LINK_EMAILS_PER_HOUR"] = "3"
			p := start(t, "server", s)
			seed := newSeeder(t, dbURL)
			vic := seed.user(t, "vic", "victim passphrase 1")
			mallory := seed.user(t, "mallory", "mallory passphrase")
			forgot := p.url("/password/forgot")
			c := browserFrom(t, "127.0.0.1")

			// Enumeration: the same page, at the same cost, for an account
			// that exists and one that does not.
			strip := func(body string) string { return csrfField.ReplaceAllString(body, "") }
			var known, unknown []time.Duration
			var knownBody, unknownBody string
			for i := range 30 {
				for _, login := range []string{"mallory", "nobody" + strconv.Itoa(i)} {
					form := url.Values{"login": {login}, "csrf_token": {formCSRF(t, c, forgot)}}
					begin := time.Now()
					resp, err := c.PostForm(forgot, form)
					if err != nil {
						t.Fatal(err)
					}
					body := readAll(t, resp)
					took := time.Since(begin)
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("POST /password/forgot %s: %d\n%s", login, resp.StatusCode, body)
					}
					if login == "mallory" {
						known, knownBody = append(known, took), strip(body)
					} else {
						unknown, unknownBody = append(unknown, took), strip(body)
					}
				}
			}
			if knownBody != unknownBody {
				t.Errorf("the answers differ for an existing and an unknown account:\n%s\n---\n%s", knownBody, unknownBody)
			}
			mk, mu := median(known), median(unknown)
			if ratio := float64(mk) / float64(mu); ratio > 2 || ratio < 0.5 {
				t.Errorf("median time for an existing account %v, for an unknown one %v: ratio %.2f, want within 2", mk, mu, ratio)
			}
			t.Logf("median answer: existing %v, unknown %v", mk, mu)

			// A burst against vic from two addresses: every request gets
			// the same answer, and vic gets at most the hourly limit.
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					src := []string{"127.0.0.1", "127.0.0.2"}[i%2]
					bc := browserFrom(t, src)
					status, body := postForm(t, bc, forgot, forgot, url.Values{"login": {"vic@example.com"}})
					if status != http.StatusOK || !strings.Contains(body, "Check your email") {
						t.Errorf("burst request from %s: %d\n%s", src, status, body)
					}
				})
			}
			wg.Wait()
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			if _, err := mb.Wait(ctx, vic.Email, "password reset", 3); err != nil {
				t.Fatalf("vic's reset emails: %v (got %d)", err, len(resetMails(mb, vic.Email)))
			}
			time.Sleep(time.Second) // anything beyond the limit would arrive now
			mails := resetMails(mb, vic.Email)
			if len(mails) != 3 {
				t.Fatalf("vic got %d reset emails from a burst of 16, want the limit of 3", len(mails))
			}

			// Mallory uses her own link, naming vic in the form: only her
			// password changes.
			mm := resetMails(mb, mallory.Email)
			if len(mm) == 0 {
				t.Fatal("mallory got no reset email")
			}
			mlink := resetLink.FindString(mm[0])
			status, body := postForm(t, c, mlink, p.url("/password/reset"), url.Values{
				"token": {tokenOf(t, mlink)}, "username": {"vic"}, "user_id": {vic.ID},
				"new_password": {"mallory's new one"}, "confirm_password": {"mallory's new one"},
			})
			if status != http.StatusOK || !strings.Contains(body, "Your password was changed") {
				t.Fatalf("mallory's reset: %d\n%s", status, body)
			}
			var after models.User
			if err := seed.db.Where("id = ?", vic.ID).Take(&after).Error; err != nil {
				t.Fatal(err)
			}
			if after.PasswordHash != vic.PasswordHash {
				t.Fatal("mallory's link changed vic's password")
			}

			// Before the reset, a tool signed in with vic's password and
			// token: its tokens end with the reset.
			loaderID, loaderSecret := seed.client(t, "Loader", []string{"password", "refresh_token"}, []string{"offline_access"})
			first, err := mb.Wait(ctx, vic.Email, "security token confirmation", 1)
			if err != nil {
				t.Fatal(err)
			}
			loader := api{c: httpClient(10 * time.Second), clientID: loaderID, clientSecret: loaderSecret}
			before, err := loader.password(ctx, p, "vic", "victim passphrase 1"+tokenInMail.FindStringSubmatch(first[0].Body + " ")[1])
			if err != nil || before.status != http.StatusOK {
				t.Fatalf("password grant before the reset: %v %v", before, err)
			}
			if !loader.active(t, p, before.str("access_token")) {
				t.Fatal("the tool's access token is not active before the reset")
			}

			// vic follows a link: the password changes, a new security
			// token is emailed, the link works once.
			link := resetLink.FindString(mails[0])
			status, body = postForm(t, c, link, p.url("/password/reset"), url.Values{
				"token": {tokenOf(t, link)}, "new_password": {"victim passphrase 2"}, "confirm_password": {"victim passphrase 2"},
			})
			if status != http.StatusOK || !strings.Contains(body, "Your password was changed") {
				t.Fatalf("vic's reset: %d\n%s", status, body)
			}
			if _, err := mb.Wait(ctx, vic.Email, "security token confirmation", 2); err != nil {
				t.Fatalf("no new security token after the reset: %v", err)
			}
			if loader.active(t, p, before.str("access_token")) {
				t.Error("the tool's access token is still active after the reset")
			}
			if r, err := loader.refresh(ctx, p, before.str("refresh_token")); err != nil || r.status != http.StatusBadRequest {
				t.Errorf("the tool's refresh after the reset: %v %v, want 400 invalid_grant", r, err)
			}
			// Replayed, the used link and the others sent before the
			// change show a page that says so.
			for _, l := range []string{link, resetLink.FindString(mails[1])} {
				resp, err := c.Get(l)
				if err != nil {
					t.Fatal(err)
				}
				page := readAll(t, resp)
				if resp.StatusCode != http.StatusGone || !strings.Contains(page, "already used") || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
					t.Errorf("GET of a used link: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
				}
			}
			// The form of a page loaded before the link was used.
			form := url.Values{"token": {tokenOf(t, link)}, "new_password": {"attacker's one"}, "confirm_password": {"attacker's one"}}
			form.Set("csrf_token", formCSRF(t, c, forgot))
			resp, err := c.PostForm(p.url("/password/reset"), form)
			if err != nil {
				t.Fatal(err)
			}
			if page := readAll(t, resp); resp.StatusCode != http.StatusGone || !strings.Contains(page, "already used") {
				t.Errorf("replayed POST of a used link: %d\n%s", resp.StatusCode, page)
			}
			// An expired link.
			eve := seed.user(t, "eve", "eve's passphrase 1")
			postForm(t, c, forgot, forgot, url.Values{"login": {"eve"}})
			if _, err := mb.Wait(ctx, eve.Email, "password reset", 1); err != nil {
				t.Fatal(err)
			}
			if err := seed.db.Model(&models.EmailToken{}).Where("user_id = ?", eve.ID).
				Update("expires_at", time.Now().Add(-time.Minute)).Error; err != nil {
				t.Fatal(err)
			}
			resp, err = c.Get(resetLink.FindString(resetMails(mb, eve.Email)[0]))
			if err != nil {
				t.Fatal(err)
			}
			if page := readAll(t, resp); resp.StatusCode != http.StatusGone || !strings.Contains(page, "expired") {
				t.Errorf("GET of an expired link: %d\n%s", resp.StatusCode, page)
			}
		})
	}
}

// TestAttackPasswordResetPerSource: one address gets its hourly number of
// forgotten-password requests, whatever accounts they name; another
// address is not held by it.
func TestAttackPasswordResetPerSource(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t, "sqlite")
	s := baseSettings(t, dbURL)
	s["AUTHGATE_RATE_LIMIT_PER_MINUTE"] = "0"
	s["AUTHGATE_LINK_REQUESTS_PER_HOUR"] = "4"
	p := start(t, "server", s)
	forgot := p.url("/password/forgot")
	c := browserFrom(t, "127.0.0.1")
	for i := range 6 {
		status, body := postForm(t, c, forgot, forgot, url.Values{"login": {"nobody" + strconv.Itoa(i)}})
		want := http.StatusOK
		if i >= 4 {
			want = http.StatusTooManyRequests
		}
		if status != want {
			t.Fatalf("request %d from 127.0.0.1: %d, want %d\n%s", i+1, status, want, body)
		}
	}
	if status, body := postForm(t, browserFrom(t, "127.0.0.2"), forgot, forgot, url.Values{"login": {"someone"}}); status != http.StatusOK {
		t.Fatalf("a request from 127.0.0.2: %d, want 200\n%s", status, body)
	}
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}
