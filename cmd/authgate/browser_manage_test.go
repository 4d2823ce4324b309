package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// clientCredentials asks for a token with the client's id and secret and
// returns the status.
func clientCredentials(t *testing.T, in *instance, id, secret string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, in.issuer+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	return resp.StatusCode
}

// confirm clicks the button with id and then the confirmation page's
// submit button, and waits for the page after it.
func confirm(id string, after chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Click(chromedp.ID(id)),
		chromedp.WaitVisible(chromedp.ID("confirm")),
		chromedp.Click(chromedp.ID("confirm-submit")),
		after,
	)
}

// TestBrowserAdminManagesUsersAndClients: in real Chromium an administrator
// edits and disables a user, replaces a client's secret (shown once, the
// old one refused from then on), deletes the client and the user, and
// finds each change in the audit log filtered by action and actor.
func TestBrowserAdminManagesUsersAndClients(t *testing.T) {
	in := startServer(t, testdb.URL(t, "sqlite"), nil)
	ctx := newBrowser(t)
	const pw = "admin passphrase 1"
	in.createUser("root", pw, true)
	in.createUser("dana", "dana passphrase 1", false)
	oldSecret := in.createClient(models.Client{ID: "batch", Name: "Batch job", GrantTypes: []string{"client_credentials"}, Scopes: []string{}})
	if got := clientCredentials(t, in, "batch", oldSecret); got != http.StatusOK {
		t.Fatalf("client credentials before: got %d, want 200", got)
	}

	err := chromedp.Do(ctx,
		chromedp.Navigate(in.admin+"/admin/users/dana"),
		signIn("root", pw),
		chromedp.WaitVisible(chromedp.ID("user-form")),
		chromedp.SetValue(chromedp.ID("name"), "Dana Doe"),
		chromedp.Click(chromedp.ID("user-save")),
		chromedp.WaitVisible(chromedp.ID("notice")),
		confirm("disable-toggle", chromedp.WaitVisible(chromedp.ID("notice"))),
	)
	if err != nil {
		t.Fatalf("edit and disable dana: %v", err)
	}
	if got := text(t, ctx, "#user-status"); !strings.Contains(got, "disabled") {
		t.Errorf("dana's status: got %q, want disabled", got)
	}
	if u, err := in.accounts.GetUser(context.Background(), "dana"); err != nil || u.Name != "Dana Doe" || !u.Disabled {
		t.Fatalf("dana after the console: %+v %v", u, err)
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(in.admin+"/admin/clients/batch"),
		chromedp.WaitVisible(chromedp.ID("rotate-secret")),
		confirm("rotate-secret", chromedp.WaitVisible(chromedp.ID("client-secret"))),
	)
	if err != nil {
		t.Fatalf("rotate the secret: %v", err)
	}
	newSecret := strings.TrimSpace(text(t, ctx, "#client-secret"))
	if len(newSecret) != 43 || newSecret == oldSecret {
		t.Fatalf("shown secret %q, want a new 43-character secret", newSecret)
	}
	if got := clientCredentials(t, in, "batch", oldSecret); got != http.StatusUnauthorized {
		t.Errorf("old secret after rotation: got %d, want 401", got)
	}
	if got := clientCredentials(t, in, "batch", newSecret); got != http.StatusOK {
		t.Errorf("new secret: got %d, want 200", got)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(in.admin+"/admin/clients/batch"), chromedp.WaitVisible(chromedp.ID("client-form"))); err != nil {
		t.Fatal(err)
	}
	page, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page, newSecret) {
		t.Error("the client's page shows the secret again")
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(in.admin+"/admin/clients/batch"),
		chromedp.WaitVisible(chromedp.ID("delete-client")),
		confirm("delete-client", chromedp.WaitVisible(chromedp.ID("clients"))),
		chromedp.Navigate(in.admin+"/admin/users/dana"),
		chromedp.WaitVisible(chromedp.ID("delete-user")),
		confirm("delete-user", chromedp.WaitVisible(chromedp.ID("users"))),
	)
	if err != nil {
		t.Fatalf("delete the client and the user: %v", err)
	}
	if got := clientCredentials(t, in, "batch", newSecret); got != http.StatusUnauthorized {
		t.Errorf("deleted client: got %d, want 401", got)
	}
	if _, err := in.accounts.GetUser(context.Background(), "dana"); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("dana after deletion: got %v, want ErrNotFound", err)
	}

	for _, action := range []string{"client.secret.rotate", "client.delete", "user.delete", "user.update"} {
		err = chromedp.Do(ctx,
			chromedp.Navigate(in.admin+"/admin/audit"),
			chromedp.WaitVisible(chromedp.ID("audit-filters")),
			chromedp.SetValue(chromedp.ID("f-actor"), "user:root"),
			chromedp.SetValue(chromedp.ID("f-action"), action),
		)
		if err != nil {
			t.Fatalf("audit log: %v", err)
		}
		// The unfiltered table goes first, so that the wait below sees
		// only the filtered page's rows.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('audit').remove() === undefined`)); err != nil {
			t.Fatal(err)
		}
		err = chromedp.Do(ctx,
			chromedp.Click(chromedp.ID("audit-filter-submit")),
			chromedp.WaitVisible(chromedp.CSS(`#audit tbody tr`)),
		)
		if err != nil {
			t.Fatalf("audit log filtered by %s: %v", action, err)
		}
		rows := text(t, ctx, "#audit tbody")
		if !strings.Contains(rows, action) || !strings.Contains(rows, "user:root") {
			t.Errorf("audit log for %s: got %q", action, rows)
		}
		if strings.Contains(rows, "user.create") {
			t.Errorf("audit log for %s shows other actions: %q", action, rows)
		}
	}
}
