package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
)

// The device authorization grant (RFC 8628) against its attackers: a
// device that polls too fast or replays its code, a client that borrows
// another's code, a caller phishing for approvals, a user locked out
// between approval and issue, and someone guessing user codes at /device.

const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

// deviceApp is a client as the CLI creates it, with the device grant.
func deviceApp(t *testing.T, s settings, name string, public bool) createdClient {
	t.Helper()
	args := []string{"clients", "create", "--json", "--name", name, "--grant-types", deviceGrant + ",refresh_token", "--scopes", "openid,profile,offline_access"}
	if public {
		args = append(args, "--public")
	}
	var c createdClient
	out := cli(t, s, "", args...)
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("clients create: %v\n%s", err, out)
	}
	return c
}

// startDevice asks for a device code as c, from src.
func startDevice(t *testing.T, p *process, src string, c createdClient, scope string) reply {
	t.Helper()
	r, err := post(t.Context(), clientFrom(src), p.url("/oauth2/device/authorize"), url.Values{"scope": {scope}}, c.ClientID, c.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mustStartDevice returns a fresh device code and user code for c.
func mustStartDevice(t *testing.T, p *process, c createdClient) (deviceCode, userCode string) {
	t.Helper()
	r := startDevice(t, p, "127.0.0.1", c, "openid offline_access")
	if r.status != http.StatusOK || r.str("device_code") == "" || r.str("user_code") == "" {
		t.Fatalf("device authorization: got %s", r)
	}
	return r.str("device_code"), r.str("user_code")
}

// pollDevice is one token request of the device as c.
func pollDevice(t *testing.T, p *process, c createdClient, deviceCode string) reply {
	t.Helper()
	r, err := post(t.Context(), httpClient(20*time.Second), p.url("/oauth2/token"), url.Values{"grant_type": {deviceGrant}, "device_code": {deviceCode}}, c.ClientID, c.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantOAuthError(t *testing.T, what string, r reply, code string) {
	t.Helper()
	if r.status != http.StatusBadRequest || r.str("error") != code {
		t.Fatalf("%s: got %s, want 400 %s", what, r, code)
	}
}

// devicePage posts form to /device in b's session, with the CSRF token of
// a fresh /device page, and returns the answer's status and body.
func devicePage(t *testing.T, b *http.Client, p *process, form url.Values) (int, string) {
	t.Helper()
	resp, err := b.Get(p.url("/device"))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /device: got %d, want 200 (signed in)", resp.StatusCode)
	}
	form.Set("csrf_token", hiddenFields(body).Get("csrf_token"))
	resp, err = b.PostForm(p.url("/device"), form)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp)
}

// decideDevice enters userCode at /device and then presses action
// (approve or deny) on the confirmation page; it returns the last page.
func decideDevice(t *testing.T, b *http.Client, p *process, userCode, action string) (int, string) {
	t.Helper()
	status, body := devicePage(t, b, p, url.Values{"user_code": {userCode}, "action": {"continue"}})
	if status != http.StatusOK || !strings.Contains(body, `id="approve"`) {
		t.Fatalf("enter %s: got %d, want the confirmation page:\n%s", userCode, status, body)
	}
	form := hiddenFields(body)
	form.Set("action", action)
	resp, err := b.PostForm(p.url("/device"), form)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp)
}

func TestAttackDeviceFlow(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := baseSettings(t, testdb.URL(t, kind))
			s["AUTHGATE_RATE_LIMIT_PER_MINUTE"] = "0"
			s["AUTHGATE_DEVICE_POLL_INTERVAL"] = "1s"
			p := start(t, "server", s)
			const pw = "device passphrase 1"
			for _, name := range []string{"alice", "bob", "carol"} {
				cli(t, s, pw+"\n", "users", "create", "--username", name, "--email", name+"@example.com", "--password-stdin")
			}
			appA := deviceApp(t, s, "CLI A", true)
			appB := deviceApp(t, s, "CLI B", false)
			var plain createdClient
			out := cli(t, s, "", "clients", "create", "--json", "--name", "Batch", "--grant-types", "client_credentials", "--scopes", "openid")
			if err := json.Unmarshal([]byte(out), &plain); err != nil {
				t.Fatalf("clients create: %v\n%s", err, out)
			}
			alice := browser(t)
			signIn(t, alice, p, "alice", pw)

			t.Run("a client without the grant is refused", func(t *testing.T) {
				wantOAuthError(t, "device authorization", startDevice(t, p, "127.0.0.1", plain, "openid"), "unauthorized_client")
				deviceCode, _ := mustStartDevice(t, p, appA)
				wantOAuthError(t, "token request", pollDevice(t, p, plain, deviceCode), "unauthorized_client")
				// The admin scope never goes out through a code read out loud.
				wantOAuthError(t, "admin scope", startDevice(t, p, "127.0.0.1", appA, "authgate:admin"), "invalid_scope")
			})

			t.Run("unknown device code", func(t *testing.T) {
				wantOAuthError(t, "invented code", pollDevice(t, p, appA, "invented-device-code-0123456789"), "invalid_grant")
			})

			t.Run("slow_down when polling too fast", func(t *testing.T) {
				deviceCode, _ := mustStartDevice(t, p, appA)
				wantOAuthError(t, "first poll", pollDevice(t, p, appA, deviceCode), "authorization_pending")
				wantOAuthError(t, "second poll at once", pollDevice(t, p, appA, deviceCode), "slow_down")
				// The interval is now 1+5 seconds (then 11): a poll 1.5
				// seconds later, which the first interval allowed, is
				// still too soon.
				time.Sleep(1500 * time.Millisecond)
				wantOAuthError(t, "poll after the first interval", pollDevice(t, p, appA, deviceCode), "slow_down")
			})

			t.Run("denied", func(t *testing.T) {
				deviceCode, userCode := mustStartDevice(t, p, appA)
				status, body := decideDevice(t, alice, p, userCode, "deny")
				if status != http.StatusOK || !strings.Contains(body, "Request denied") {
					t.Fatalf("deny: got %d:\n%s", status, body)
				}
				wantOAuthError(t, "poll after the denial", pollDevice(t, p, appA, deviceCode), "access_denied")
				time.Sleep(1100 * time.Millisecond)
				wantOAuthError(t, "poll again", pollDevice(t, p, appA, deviceCode), "access_denied")
				// A denied code cannot be approved afterwards.
				status, body = devicePage(t, alice, p, url.Values{"user_code": {userCode}, "action": {"approve"}})
				if status != http.StatusConflict {
					t.Fatalf("approve after deny: got %d, want 409:\n%s", status, body)
				}
			})

			t.Run("parallel and replayed redemption", func(t *testing.T) {
				deviceCode, userCode := mustStartDevice(t, p, appA)
				if status, body := decideDevice(t, alice, p, userCode, "approve"); status != http.StatusOK || !strings.Contains(body, "Device connected") {
					t.Fatalf("approve: got %d:\n%s", status, body)
				}
				const parallel = 16
				var mu sync.Mutex
				got := map[string]int{}
				var wg sync.WaitGroup
				begin := make(chan struct{})
				for range parallel {
					wg.Go(func() {
						<-begin
						r, err := post(t.Context(), httpClient(20*time.Second), p.url("/oauth2/token"), url.Values{"grant_type": {deviceGrant}, "device_code": {deviceCode}}, appA.ClientID, "")
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						defer mu.Unlock()
						switch {
						case r.status == http.StatusOK && r.str("access_token") != "" && r.str("id_token") != "" && r.str("refresh_token") != "":
							got["tokens"]++
						case r.status == http.StatusBadRequest && r.str("error") == "invalid_grant":
							got["invalid_grant"]++
						default:
							got[r.String()]++
						}
					})
				}
				close(begin)
				wg.Wait()
				if got["tokens"] != 1 || got["invalid_grant"] != parallel-1 {
					t.Fatalf("%d parallel redemptions: %v, want tokens once and invalid_grant %d times", parallel, got, parallel-1)
				}
				wantOAuthError(t, "replay", pollDevice(t, p, appA, deviceCode), "invalid_grant")
			})

			t.Run("a code approved for client A is not redeemable by client B", func(t *testing.T) {
				deviceCode, userCode := mustStartDevice(t, p, appA)
				if status, _ := decideDevice(t, alice, p, userCode, "approve"); status != http.StatusOK {
					t.Fatalf("approve: got %d", status)
				}
				wantOAuthError(t, "client B", pollDevice(t, p, appB, deviceCode), "invalid_grant")
				if r := pollDevice(t, p, appA, deviceCode); r.status != http.StatusOK || r.str("access_token") == "" {
					t.Fatalf("client A after B's try: got %s, want tokens", r)
				}
			})

			t.Run("locked-out user", func(t *testing.T) {
				bob := browser(t)
				signIn(t, bob, p, "bob", pw)
				carol := browser(t)
				signIn(t, carol, p, "carol", pw)
				// Carol approves; then her login is locked from this
				// address before the device collects its tokens.
				carolCode, carolUser := mustStartDevice(t, p, appA)
				if status, _ := decideDevice(t, carol, p, carolUser, "approve"); status != http.StatusOK {
					t.Fatalf("carol approves: got %d", status)
				}
				// Bob has a request waiting when his login is locked.
				bobCode, bobUser := mustStartDevice(t, p, appA)
				guesser := browser(t)
				resp, err := guesser.Get(p.url("/login"))
				if err != nil {
					t.Fatal(err)
				}
				csrf := hiddenFields(readAll(t, resp)).Get("csrf_token")
				for _, name := range []string{"bob", "carol"} {
					for range 5 {
						resp, err := guesser.PostForm(p.url("/login"), url.Values{"csrf_token": {csrf}, "username": {name}, "password": {"wrong guess"}})
						if err != nil {
							t.Fatal(err)
						}
						if body := readAll(t, resp); resp.StatusCode != http.StatusUnauthorized {
							t.Fatalf("wrong password for %s: got %d, want 401:\n%s", name, resp.StatusCode, body)
						}
					}
				}
				status, body := decideDevice(t, bob, p, bobUser, "approve")
				if status != http.StatusForbidden || !strings.Contains(body, "Approval refused") {
					t.Fatalf("a locked-out user approves: got %d, want 403:\n%s", status, body)
				}
				wantOAuthError(t, "bob's device", pollDevice(t, p, appA, bobCode), "authorization_pending")
				wantOAuthError(t, "carol's device after her lockout", pollDevice(t, p, appA, carolCode), "access_denied")
				time.Sleep(1100 * time.Millisecond)
				wantOAuthError(t, "carol's device again", pollDevice(t, p, appA, carolCode), "access_denied")
				out := cli(t, s, "", "login-history", "--user", "carol", "--method", "device", "--json")
				if !strings.Contains(out, "Password lockout") {
					t.Errorf("carol's device history does not show the refusal:\n%s", out)
				}
			})

			t.Run("disabled user", func(t *testing.T) {
				erin := browser(t)
				cli(t, s, pw+"\n", "users", "create", "--username", "erin", "--email", "erin@example.com", "--password-stdin")
				signIn(t, erin, p, "erin", pw)
				approved, approvedUser := mustStartDevice(t, p, appA)
				if status, _ := decideDevice(t, erin, p, approvedUser, "approve"); status != http.StatusOK {
					t.Fatalf("approve: got %d", status)
				}
				waiting, waitingUser := mustStartDevice(t, p, appA)
				cli(t, s, "", "users", "update", "erin", "--disabled", "true")
				wantOAuthError(t, "approved before the user was disabled", pollDevice(t, p, appA, approved), "access_denied")
				// Her session ended with the disabling: /device sends her to
				// sign in, where she is refused.
				resp, err := erin.Get(p.url("/device?user_code=" + url.QueryEscape(waitingUser)))
				if err != nil {
					t.Fatal(err)
				}
				_ = readAll(t, resp)
				if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?") {
					t.Fatalf("/device in a disabled user's session: got %d to %q, want a redirect to sign in", resp.StatusCode, loc)
				}
				wantOAuthError(t, "the request waiting when she was disabled", pollDevice(t, p, appA, waiting), "authorization_pending")
				out := cli(t, s, "", "login-history", "--user", "erin", "--method", "device", "--json")
				if !strings.Contains(out, "Failed: User disabled") {
					t.Errorf("erin's device history does not show the refusal:\n%s", out)
				}
			})

			t.Run("deleted user", func(t *testing.T) {
				dave := browser(t)
				cli(t, s, pw+"\n", "users", "create", "--username", "dave", "--email", "dave@example.com", "--password-stdin")
				signIn(t, dave, p, "dave", pw)
				deviceCode, userCode := mustStartDevice(t, p, appA)
				if status, _ := decideDevice(t, dave, p, userCode, "approve"); status != http.StatusOK {
					t.Fatalf("approve: got %d", status)
				}
				cli(t, s, "", "users", "delete", "dave")
				wantOAuthError(t, "poll after the user was deleted", pollDevice(t, p, appA, deviceCode), "invalid_grant")
			})
		})
	}
}

// A device code past its lifespan: the device is told expired_token, and
// the page does not take its user code.
func TestAttackDeviceExpired(t *testing.T) {
	t.Parallel()
	s := baseSettings(t, testdb.URL(t, "sqlite"))
	s["AUTHGATE_RATE_LIMIT_PER_MINUTE"] = "0"
	s["AUTHGATE_DEVICE_CODE_LIFESPAN"] = "1s"
	p := start(t, "server", s)
	const pw = "device passphrase 1"
	cli(t, s, pw+"\n", "users", "create", "--username", "alice", "--email", "alice@example.com", "--password-stdin")
	app := deviceApp(t, s, "CLI", true)
	alice := browser(t)
	signIn(t, alice, p, "alice", pw)
	deviceCode, userCode := mustStartDevice(t, p, app)
	time.Sleep(1200 * time.Millisecond)
	wantOAuthError(t, "poll after expiry", pollDevice(t, p, app, deviceCode), "expired_token")
	status, body := devicePage(t, alice, p, url.Values{"user_code": {userCode}, "action": {"continue"}})
	if status != http.StatusBadRequest || !strings.Contains(body, "does not match a waiting request") {
		t.Fatalf("expired code at /device: got %d, want 400 with a readable message:\n%s", status, body)
	}
}

// Guessing user codes: the per-source limit lets a burst through and
// refuses the rest (127.0.0.2 unaffected), and each session is cut off
// after its wrong codes, even when it then has the right one.
func TestAttackDeviceUserCodeGuessing(t *testing.T) {
	t.Parallel()
	const pw = "device passphrase 1"
	t.Run("per source", func(t *testing.T) {
		t.Parallel()
		s := baseSettings(t, testdb.URL(t, "sqlite")) // the limit is per process
		s["AUTHGATE_RATE_LIMIT_PER_MINUTE"] = "1"
		s["AUTHGATE_RATE_LIMIT_BURST"] = "3"
		s["AUTHGATE_DEVICE_MAX_CODE_ATTEMPTS"] = "100"
		p := start(t, "server", s)
		cli(t, s, pw+"\n", "users", "create", "--username", "mallory", "--email", "mallory@example.com", "--password-stdin")
		attacker := browser(t)
		signIn(t, attacker, p, "mallory", pw)
		resp, err := attacker.Get(p.url("/device"))
		if err != nil {
			t.Fatal(err)
		}
		csrf := hiddenFields(readAll(t, resp)).Get("csrf_token")
		const parallel = 24
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for range parallel {
			wg.Go(func() {
				resp, err := attacker.PostForm(p.url("/device"), url.Values{"csrf_token": {csrf}, "user_code": {"BCDF-GHJK"}, "action": {"continue"}})
				if err != nil {
					t.Error(err)
					return
				}
				_ = readAll(t, resp)
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if statuses[http.StatusBadRequest] != 3 || statuses[http.StatusTooManyRequests] != parallel-3 {
			t.Fatalf("%d parallel guesses: statuses %v, want 3 wrong-code pages and %d refusals", parallel, statuses, parallel-3)
		}
		other := &http.Client{Jar: attacker.Jar, Timeout: 10 * time.Second, Transport: clientFrom("127.0.0.2").Transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err = other.PostForm(p.url("/device"), url.Values{"csrf_token": {csrf}, "user_code": {"BCDF-GHJK"}, "action": {"continue"}})
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a guess from 127.0.0.2: got %d, want 400 (not limited):\n%s", resp.StatusCode, body)
		}
	})
	t.Run("per session", func(t *testing.T) {
		t.Parallel()
		s := baseSettings(t, testdb.URL(t, "sqlite"))
		s["AUTHGATE_RATE_LIMIT_PER_MINUTE"] = "0"
		s["AUTHGATE_DEVICE_MAX_CODE_ATTEMPTS"] = "3"
		p := start(t, "server", s)
		cli(t, s, pw+"\n", "users", "create", "--username", "mallory", "--email", "mallory@example.com", "--password-stdin")
		app := deviceApp(t, s, "CLI", true)
		_, userCode := mustStartDevice(t, p, app)
		attacker := browser(t)
		signIn(t, attacker, p, "mallory", pw)
		for i, guess := range []string{"BCDF-GHJK", "bcdfghjk", "ZZZZ ZZZZ"} {
			if status, _ := devicePage(t, attacker, p, url.Values{"user_code": {guess}, "action": {"continue"}}); status != http.StatusBadRequest {
				t.Fatalf("wrong guess %d: got %d, want 400", i+1, status)
			}
		}
		if status, body := devicePage(t, attacker, p, url.Values{"user_code": {userCode}, "action": {"continue"}}); status != http.StatusTooManyRequests {
			t.Fatalf("the right code after 3 wrong ones: got %d, want 429:\n%s", status, body)
		}
		// Another session enters the code, in any spelling.
		fresh := browser(t)
		signIn(t, fresh, p, "mallory", pw)
		typed := strings.ToLower(strings.ReplaceAll(userCode, "-", " "))
		if status, body := devicePage(t, fresh, p, url.Values{"user_code": {typed}, "action": {"continue"}}); status != http.StatusOK || !strings.Contains(body, `id="approve"`) {
			t.Fatalf("the code as %q in a fresh session: got %d:\n%s", typed, status, body)
		}
	})
}
