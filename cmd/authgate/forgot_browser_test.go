package main

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/internal/testutil"
	"github.com/authgate/authgate/models"
)

var (
	resetLinkInMail = regexp.MustCompile(`(http://\S+/password/reset\?token=\S+)`)
	tokenInBody     = regexp.MustCompile(`Your new security token:\s+([A-Za-z0-9]{24})\s`)
)

// TestBrowserForgottenPassword follows a forgotten password end to end,
// as a person does: "Forgot your password?" on the login page, the form,
// the email (over real SMTP), the link, a new password; then the new
// security token's email, the old password and token refused, the new
// ones accepted, and the used link showing a page that says so. On both
// databases, in real Chromium.
func TestBrowserForgottenPassword(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			mb := testutil.StartMailbox(t)
			in := startServer(t, testdb.URL(t, kind), map[string]string{
				"AUTHGATE_SMTP_HOST": mb.Host, "AUTHGATE_SMTP_PORT": strconv.Itoa(mb.Port), "AUTHGATE_SMTP_TLS": "none",
				"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0",
			})
			ctx := newBrowser(t)
			wait, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const oldPW, newPW = "the old passphrase", "a brand new passphrase"
			u := in.createUser("alice", oldPW, false)
			mails, err := mb.Wait(wait, u.Email, "security token confirmation", 1)
			if err != nil {
				t.Fatalf("the new user's token email: %v", err)
			}
			oldToken := tokenInBody.FindStringSubmatch(mails[0].Body)[1]
			if _, err := mb.Wait(wait, u.Email, "verify your email", 1); err != nil {
				t.Errorf("no verification email on creation with SMTP configured: %v", err)
			}
			secret := in.createClient(models.Client{ID: "loader", Name: "Data Loader", GrantTypes: []string{"password"}, Scopes: []string{"profile"}})

			err = chromedp.Do(ctx,
				chromedp.Navigate(in.issuer+"/login"),
				chromedp.WaitVisible(chromedp.ID("forgot-password")),
				chromedp.Click(chromedp.ID("forgot-password")),
				chromedp.WaitVisible(chromedp.ID("login")),
				chromedp.SendKeys(chromedp.ID("login"), "alice@example.com"),
				chromedp.Click(chromedp.ID("send-link")),
				chromedp.WaitVisible(chromedp.ID("forgot-sent")),
			)
			if err != nil {
				t.Fatalf("ask for a reset link: %v", err)
			}
			resets, err := mb.Wait(wait, u.Email, "password reset", 1)
			if err != nil {
				t.Fatalf("the reset email: %v", err)
			}
			link := resetLinkInMail.FindString(resets[0].Body)
			if link == "" {
				t.Fatalf("no reset link in:\n%s", resets[0].Body)
			}
			err = chromedp.Do(ctx,
				chromedp.Navigate(link),
				chromedp.WaitVisible(chromedp.ID("new-password")),
				chromedp.SendKeys(chromedp.ID("new-password"), newPW),
				chromedp.SendKeys(chromedp.ID("confirm-password"), newPW),
				chromedp.Click(chromedp.ID("reset-submit")),
				chromedp.WaitVisible(chromedp.ID("reset-done")),
			)
			if err != nil {
				t.Fatalf("set the new password: %v", err)
			}
			mails, err = mb.Wait(wait, u.Email, "security token confirmation", 2)
			if err != nil {
				t.Fatalf("no new security token after the reset: %v", err)
			}
			newToken := tokenInBody.FindStringSubmatch(mails[1].Body)[1]
			if newToken == oldToken {
				t.Fatal("the reset kept the security token")
			}
			if got := passwordGrant(t, http.DefaultClient, in, "loader", secret, "alice", oldPW+oldToken, nil); got.status != http.StatusBadRequest {
				t.Errorf("old password and token after the reset: got %d, want 400", got.status)
			}
			if got := passwordGrant(t, http.DefaultClient, in, "loader", secret, "alice", newPW+newToken, nil); got.status != http.StatusOK {
				t.Errorf("new password and token: got %d %v, want 200", got.status, got.body)
			}

			// Sign in with the new password; the reset verified the address.
			err = chromedp.Do(ctx,
				chromedp.Click(chromedp.ID("sign-in-again")),
				signIn("alice", newPW),
				chromedp.WaitVisible(chromedp.ID("username")),
			)
			if err != nil {
				t.Fatalf("sign in with the new password: %v", err)
			}
			if s := text(t, ctx, "#email-status"); !strings.Contains(s, "yes") {
				t.Errorf("email verified after a reset by link: %q, want yes", s)
			}

			// Change the address: nothing changes until the new one confirms.
			err = chromedp.Do(ctx,
				chromedp.Click(chromedp.ID("change-email")),
				chromedp.WaitVisible(chromedp.ID("new-email")),
				chromedp.SendKeys(chromedp.ID("new-email"), "alice@new.example.org"),
				chromedp.SendKeys(chromedp.ID("current-password"), newPW),
				chromedp.Click(chromedp.ID("change-email-submit")),
				chromedp.WaitVisible(chromedp.ID("notice")),
			)
			if err != nil {
				t.Fatalf("change email: %v", err)
			}
			if s := text(t, ctx, "#email"); s != u.Email {
				t.Errorf("address before confirmation: %q, want %q", s, u.Email)
			}
			if _, err := mb.Wait(wait, u.Email, "about to change", 1); err != nil {
				t.Errorf("the old address was not told of the change: %v", err)
			}
			confirm, err := mb.Wait(wait, "alice@new.example.org", "confirm your new email", 1)
			if err != nil {
				t.Fatalf("the confirmation email: %v", err)
			}
			confirmLink := regexp.MustCompile(`(http://\S+/email/confirm\?token=\S+)`).FindString(confirm[0].Body)
			err = chromedp.Do(ctx,
				chromedp.Navigate(confirmLink),
				chromedp.WaitVisible(chromedp.ID("confirm-email")),
				chromedp.Click(chromedp.ID("confirm-email")),
				chromedp.WaitVisible(chromedp.ID("email-confirmed")),
				chromedp.Navigate(in.issuer+"/account"),
				chromedp.WaitVisible(chromedp.ID("email")),
			)
			if err != nil {
				t.Fatalf("confirm the new address: %v", err)
			}
			if s := text(t, ctx, "#email"); s != "alice@new.example.org" {
				t.Errorf("address after confirmation: %q", s)
			}
			if _, err := mb.Wait(wait, u.Email, "was changed", 1); err != nil {
				t.Errorf("the old address was not told the change landed: %v", err)
			}

			// The link again: a page in words, not a form.
			if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
				t.Fatal(err)
			}
			if h1 := text(t, ctx, "h1"); !strings.Contains(h1, "already used") {
				t.Errorf("the used link's page: %q, want it to say it was already used", h1)
			}
		})
	}
}
