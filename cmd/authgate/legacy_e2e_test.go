package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/models"
)

var tokenInMail = regexp.MustCompile(`Your new security token:\s+([A-Za-z0-9]{24})\s`)

// deliveredToken waits for the newest security-token email to addr in
// the server's outbox folder and returns the token and the subject.
func (in *instance) deliveredToken(t *testing.T, addr string, after int) (token, subject string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		msgs := in.mailsTo(t, addr)
		if len(msgs) > after {
			m := msgs[len(msgs)-1]
			body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
			if err != nil {
				t.Fatal(err)
			}
			match := tokenInMail.FindSubmatch(body)
			if match == nil {
				t.Fatalf("no token in mail body:\n%s", body)
			}
			return string(match[1]), m.Header.Get("Subject")
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail %d to %s after 15s", after+1, addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mailsTo returns the delivered messages to addr, oldest first.
func (in *instance) mailsTo(t *testing.T, addr string) []*mail.Message {
	t.Helper()
	entries, err := os.ReadDir(in.outbox)
	if err != nil {
		t.Fatal(err)
	}
	type dated struct {
		name string
		mod  time.Time
	}
	var files []dated
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		files = append(files, dated{e.Name(), info.ModTime()})
	}
	sort.Slice(files, func(i, j int) bool {
		if files[i].mod.Equal(files[j].mod) {
			return files[i].name < files[j].name
		}
		return files[i].mod.Before(files[j].mod)
	})
	var out []*mail.Message
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(in.outbox, f.name))
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("parse %s: %v", f.name, err)
		}
		if to, err := mail.ParseAddress(m.Header.Get("To")); err == nil && to.Address == addr {
			out = append(out, m)
		}
	}
	return out
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address src (127.0.0.0/8 is all loopback on Linux).
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

type grantResult struct {
	status int
	body   map[string]any
	header http.Header
}

func passwordGrant(t *testing.T, c *http.Client, in *instance, clientID, secret, username, pw string, header http.Header) grantResult {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {pw}}
	req, _ := http.NewRequest(http.MethodPost, in.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "DataLoader/1.0")
	for k, v := range header {
		req.Header[k] = v
	}
	req.SetBasicAuth(clientID, secret)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw := readBody(t, resp)
	var body map[string]any
	if err := json.Unmarshal([]byte(raw), &body); err != nil {
		t.Fatalf("token response %q: %v", raw, err)
	}
	return grantResult{status: resp.StatusCode, body: body, header: resp.Header}
}

// lastResult returns the newest login-history result for username.
func lastResult(t *testing.T, in *instance, username string) models.LoginEvent {
	t.Helper()
	events, _, err := in.accounts.ListLogins(context.Background(), accounts.LoginFilter{Username: username, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 {
		t.Fatalf("no login history for %s", username)
	}
	return events[0]
}

func TestLegacyGrantEndToEnd(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			testLegacyGrant(t, testdb.URL(t, kind))
		})
	}
}

func testLegacyGrant(t *testing.T, dbURL string) {
	in := startServer(t, dbURL, map[string]string{"AUTHGATE_LOCKOUT_THRESHOLD": "3"})
	ctx := context.Background()
	const pw = "Tr0ub4dor&3-horse"
	alice := in.createUser("alice", pw, false)
	token, subject := in.deliveredToken(t, alice.Email, 0)
	if subject != "Acme security token confirmation" {
		t.Errorf("subject: got %q, want %q", subject, "Acme security token confirmation")
	}
	in.createUser("bob", pw, false)
	bobToken, _ := in.deliveredToken(t, "bob@example.com", 0)

	loader := in.createClient(models.Client{ID: "loader", Name: "Data Loader", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"offline_access", "profile"}})
	oauthOnly := in.createClient(models.Client{ID: "oauth-only", Name: "Modern", GrantTypes: []string{"client_credentials"}, Scopes: []string{"profile"}})
	past := time.Now().Add(-time.Hour)
	retired := in.createClient(models.Client{ID: "retired", Name: "Old Connector", GrantTypes: []string{"password"}, LegacySunset: &past})
	future := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	sunsetting := in.createClient(models.Client{ID: "sunsetting", Name: "Mail Connector", GrantTypes: []string{"password"}, LegacySunset: &future})

	db, err := storage.Open(ctx, dbURL, storage.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer storage.Close(db)
	if _, err := trustedips.New(storage.New(db)).Add(ctx, "test", "127.0.0.2/32", "office"); err != nil {
		t.Fatal(err)
	}

	untrusted, trusted := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	cases := []struct {
		name       string
		c          *http.Client
		clientID   string
		secret     string
		username   string
		password   string
		header     http.Header
		wantStatus int
		wantError  string
		wantResult string
	}{
		{"trusted, password only", trusted, "loader", loader, "alice", pw, nil, 200, "", "Success"},
		{"trusted, password and token", trusted, "loader", loader, "alice", pw + token, nil, 200, "", "Success"},
		{"untrusted, password and token", untrusted, "loader", loader, "alice", pw + token, nil, 200, "", "Success"},
		{"untrusted, password only", untrusted, "loader", loader, "alice", pw, nil, 400, "invalid_grant", "Failed: API security token required"},
		{"untrusted, wrong token", untrusted, "loader", loader, "alice", pw + strings.ToLower(token), nil, 400, "invalid_grant", "Failed: Invalid security token"},
		{"untrusted, token with a space", untrusted, "loader", loader, "alice", pw + " " + token, nil, 400, "invalid_grant", "Invalid password"},
		{"untrusted, wrong password", untrusted, "loader", loader, "alice", "wrong-password" + token, nil, 400, "invalid_grant", "Invalid password"},
		{"trusted, wrong password", trusted, "loader", loader, "alice", "wrong-password", nil, 400, "invalid_grant", "Invalid password"},
		{"unknown user", untrusted, "loader", loader, "nobody", pw + token, nil, 400, "invalid_grant", "Unknown user"},
		{"another user's token", untrusted, "loader", loader, "alice", pw + bobToken, nil, 400, "invalid_grant", "Failed: Invalid security token"},
		{"client without the legacy grant", trusted, "oauth-only", oauthOnly, "alice", pw + token, nil, 400, "unauthorized_client", "Failed: Legacy grant disabled for client"},
		{"client past its sunset", trusted, "retired", retired, "alice", pw + token, nil, 400, "unauthorized_client", "Failed: Legacy grant past sunset"},
		{"forged X-Forwarded-For from an untrusted peer", untrusted, "loader", loader, "alice", pw,
			http.Header{"X-Forwarded-For": {"127.0.0.2"}, "Forwarded": {"for=127.0.0.2"}}, 400, "invalid_grant", "Failed: API security token required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Each case starts unlocked; lockout has its own test below.
			if err := in.accounts.Unlock(ctx, "test", "alice"); err != nil {
				t.Fatal(err)
			}
			got := passwordGrant(t, tc.c, in, tc.clientID, tc.secret, tc.username, tc.password, tc.header)
			if got.status != tc.wantStatus {
				t.Fatalf("status: got %d, want %d (%v)", got.status, tc.wantStatus, got.body)
			}
			if tc.wantError != "" {
				if got.body["error"] != tc.wantError {
					t.Errorf("error: got %v, want %s", got.body["error"], tc.wantError)
				}
				if tc.wantError == "invalid_grant" && got.body["error_description"] != "authentication failure" {
					t.Errorf("description: got %q, want the generic %q", got.body["error_description"], "authentication failure")
				}
			} else if got.body["access_token"] == nil {
				t.Errorf("no access token: %v", got.body)
			}
			ev := lastResult(t, in, tc.username)
			if ev.Result != tc.wantResult {
				t.Errorf("login history: got %q, want %q", ev.Result, tc.wantResult)
			}
			if ev.Method != "password_grant" || ev.ClientID != tc.clientID || ev.UserAgent != "DataLoader/1.0" {
				t.Errorf("login history row: got %+v", ev)
			}
		})
	}
	if err := in.accounts.Unlock(ctx, "test", "alice"); err != nil {
		t.Fatal(err)
	}

	t.Run("success returns a refresh token that works", func(t *testing.T) {
		got := passwordGrant(t, untrusted, in, "loader", loader, "alice", pw+token, nil)
		rt, _ := got.body["refresh_token"].(string)
		if rt == "" {
			t.Fatalf("want a refresh token: %v", got.body)
		}
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		req, _ := http.NewRequest(http.MethodPost, in.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("loader", loader)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		mustStatus(t, resp, 200, readBody(t, resp))
	})

	t.Run("sunset announced in headers", func(t *testing.T) {
		got := passwordGrant(t, untrusted, in, "sunsetting", sunsetting, "alice", pw+token, nil)
		if got.status != 200 {
			t.Fatalf("got %d %v", got.status, got.body)
		}
		if got.header.Get("Sunset") != future.UTC().Format(http.TimeFormat) || !strings.HasPrefix(got.header.Get("Deprecation"), "@") {
			t.Errorf("headers: Sunset %q Deprecation %q", got.header.Get("Sunset"), got.header.Get("Deprecation"))
		}
	})

	t.Run("lockout after repeated failures, separate from the login page", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			passwordGrant(t, untrusted, in, "loader", loader, "bob", "wrong"+bobToken, nil)
		}
		got := passwordGrant(t, untrusted, in, "loader", loader, "bob", pw+bobToken, nil)
		if got.status != 400 || got.body["error_description"] != "authentication failure" {
			t.Fatalf("locked user: got %d %v", got.status, got.body)
		}
		if ev := lastResult(t, in, "bob"); ev.Result != "Password lockout" {
			t.Fatalf("login history: got %q, want Password lockout", ev.Result)
		}
		// The login page still works for bob.
		b := in.browser()
		resp, err := b.Get(in.issuer + "/login")
		if err != nil {
			t.Fatal(err)
		}
		form := hiddenFields(t, readBody(t, resp))
		form.Set("username", "bob")
		form.Set("password", pw)
		resp, err = b.PostForm(in.issuer+"/login", form)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.Request.URL.Path != "/account" && resp.StatusCode != http.StatusNotFound && resp.StatusCode != 200 {
			t.Fatalf("login page for a legacy-locked user: got %d at %s", resp.StatusCode, resp.Request.URL)
		}
		if ev := lastResult(t, in, "bob"); ev.Result != "Success" || ev.Method != "login_page" {
			t.Fatalf("login page history: got %+v", ev)
		}
		if err := in.accounts.Unlock(ctx, "test", "bob"); err != nil {
			t.Fatal(err)
		}
		if got := passwordGrant(t, untrusted, in, "loader", loader, "bob", pw+bobToken, nil); got.status != 200 {
			t.Fatalf("after unlock: got %d %v", got.status, got.body)
		}
	})

	t.Run("reset invalidates the old token; the mailed one works", func(t *testing.T) {
		before := len(in.mailsTo(t, alice.Email))
		if err := in.accounts.ResetToken(ctx, "alice", "alice", true); err != nil {
			t.Fatal(err)
		}
		newToken, _ := in.deliveredToken(t, alice.Email, before)
		if newToken == token {
			t.Fatal("reset returned the same token")
		}
		if got := passwordGrant(t, untrusted, in, "loader", loader, "alice", pw+token, nil); got.status != 400 {
			t.Fatalf("old token after reset: got %d", got.status)
		}
		if got := passwordGrant(t, untrusted, in, "loader", loader, "alice", pw+newToken, nil); got.status != 200 {
			t.Fatalf("new token: got %d %v", got.status, got.body)
		}
		token = newToken
	})

	t.Run("a password change regenerates and mails the token", func(t *testing.T) {
		before := len(in.mailsTo(t, alice.Email))
		const newPW = "a-brand-new-passphrase"
		if err := in.accounts.SetPassword(ctx, "admin", "alice", newPW); err != nil {
			t.Fatal(err)
		}
		newToken, _ := in.deliveredToken(t, alice.Email, before)
		if got := passwordGrant(t, untrusted, in, "loader", loader, "alice", newPW+token, nil); got.status != 400 {
			t.Fatalf("old token after password change: got %d", got.status)
		}
		if got := passwordGrant(t, untrusted, in, "loader", loader, "alice", newPW+newToken, nil); got.status != 200 {
			t.Fatalf("new password and token: got %d %v", got.status, got.body)
		}
		token = newToken
	})

	t.Run("no password or token stored or logged in plain text", func(t *testing.T) {
		secrets := []string{pw, token, bobToken, loader, "a-brand-new-passphrase"}
		for _, table := range []string{"oauth_requests", "login_events", "users", "audit_entries", "mail_messages", "security_token_histories", "clients"} {
			var rows []map[string]any
			if err := db.Table(table).Find(&rows).Error; err != nil {
				t.Fatalf("read %s: %v", table, err)
			}
			raw, _ := json.Marshal(rows)
			for _, s := range secrets {
				if bytes.Contains(raw, []byte(s)) {
					t.Errorf("table %s holds a secret in plain text", table)
				}
			}
		}
		log := in.stderr.String()
		for _, s := range secrets {
			if strings.Contains(log, s) {
				t.Errorf("server log holds a secret in plain text")
			}
		}
	})
}
