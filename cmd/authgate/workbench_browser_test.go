package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// TestBrowserWorkbench: an administrator in real Chromium schedules a
// brownout on the client page, reads the workbench (users, the suggested
// way off), carries out the suggested action, downloads the dry run as CSV,
// and sees the sunset and the brownout marked on the dashboard's chart.
//
// Like the other browser tests it runs on SQLite; the workbench's queries
// run on both databases in internal/workbench, server/adminapi and
// server/console.
func TestBrowserWorkbench(t *testing.T) {
	for _, kind := range []string{"sqlite"} {
		t.Run(kind, func(t *testing.T) {
			in := startServer(t, testdb.URL(t, kind), map[string]string{"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0"})
			ctx := newBrowser(t)
			const pw = "admin passphrase 1"
			in.createUser("root", pw, true)
			secret := in.createClient(models.Client{ID: "loader", Name: "Data Loader", GrantTypes: []string{"password"}, Scopes: []string{"profile"}})
			for i, name := range []string{"alice", "bob"} {
				in.createUser(name, name+" passphrase 1", false)
				token, _ := in.deliveredToken(t, name+"@example.com", 0)
				if got := passwordGrant(t, http.DefaultClient, in, "loader", secret, name, name+" passphrase 1"+token, nil); got.status != http.StatusOK {
					t.Fatalf("password grant %d of %s: %d %v", i, name, got.status, got.body)
				}
			}
			sunset := time.Now().UTC().AddDate(0, 0, 21)
			start := time.Now().UTC().AddDate(0, 0, 3).Truncate(time.Hour)

			err := chromedp.Do(ctx,
				chromedp.Navigate(in.admin+"/admin/clients/loader"),
				signIn("root", pw),
				chromedp.WaitVisible(chromedp.ID("sunset-form")),
				chromedp.SetValue(chromedp.ID("sunset"), sunset.Format(time.DateOnly)),
				chromedp.Click(chromedp.ID("sunset-submit")),
				chromedp.WaitVisible(chromedp.ID("brownout-form")),
				chromedp.SetValue(chromedp.ID("brownout-start"), start.Format("2006-01-02T15:04")),
				chromedp.SetValue(chromedp.ID("brownout-end"), start.Add(2*time.Hour).Format("2006-01-02T15:04")),
				chromedp.Click(chromedp.ID("brownout-submit")),
				chromedp.WaitVisible(chromedp.ID("brownouts")),
			)
			if err != nil {
				t.Fatalf("schedule a brownout: %v", err)
			}
			if state := text(t, ctx, "#brownouts .brownout-state"); state != "scheduled" {
				t.Errorf("brownout state: %q, want scheduled", state)
			}

			err = chromedp.Do(ctx,
				chromedp.Click(chromedp.ID("nav-workbench")),
				chromedp.WaitVisible(chromedp.ID("client-loader")),
			)
			if err != nil {
				t.Fatalf("open the workbench: %v", err)
			}
			// DataLoader sends nothing but a password: app passwords.
			if s := text(t, ctx, "#suggestion-loader"); !strings.Contains(s, "app_passwords") || !strings.Contains(s, "can only send a username and password") {
				t.Errorf("suggestion: %q, want app passwords for a tool that only sends a password", s)
			}
			if users := text(t, ctx, "#client-loader .workbench-users"); !strings.Contains(users, "alice") || !strings.Contains(users, "bob") || !strings.Contains(users, "DataLoader/1.0") {
				t.Errorf("users table: %q", users)
			}
			disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("action-loader-require_app_passwords").disabled`))
			if err != nil || disabled {
				t.Errorf("require app passwords: disabled %v, %v; want an enabled button", disabled, err)
			}

			// The dry run's CSV, downloaded by the browser.
			dir := t.TempDir()
			progress := chromedp.Events(ctx, browser.DownloadProgress)
			err = chromedp.Do(ctx,
				chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
					_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
						Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &[]bool{true}[0],
					})
					return err
				}),
				chromedp.Click(chromedp.ID("dry-run-csv")),
			)
			if err != nil {
				t.Fatalf("download the CSV: %v", err)
			}
			var csv []byte
			for ev, err := range progress {
				if err != nil {
					t.Fatalf("download the CSV: %v", err)
				}
				if ev.State == browser.DownloadProgressStateCanceled {
					t.Fatalf("the CSV download was cancelled")
				}
				if ev.State == browser.DownloadProgressStateCompleted {
					if csv, err = os.ReadFile(filepath.Join(dir, ev.GUID)); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
			if !strings.HasPrefix(string(csv), "client_id,client_name,user_id,username,") || strings.Count(string(csv), "\nloader,Data Loader,") != 2 {
				t.Errorf("dry run CSV:\n%s", csv)
			}

			err = chromedp.Do(ctx,
				chromedp.Click(chromedp.ID("action-loader-send_notices")),
				chromedp.WaitVisible(chromedp.ID("notice")),
			)
			if err != nil {
				t.Fatalf("send notices: %v", err)
			}
			if n := text(t, ctx, "#notice"); !strings.Contains(n, "to 2 of its 2 recent users") {
				t.Errorf("notice after sending: %q", n)
			}

			err = chromedp.Do(ctx,
				chromedp.Click(chromedp.ID("nav-dashboard")),
				chromedp.WaitVisible(chromedp.ID("logins-chart")),
			)
			if err != nil {
				t.Fatalf("dashboard: %v", err)
			}
			markers, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#chart-markers .marker-sunset, #chart-markers .marker-brownout").length`))
			if err != nil || markers != 2 {
				t.Errorf("chart markers: %d, %v; want the sunset and the brownout", markers, err)
			}
		})
	}
}
