package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
)

// These tests act as an attacker who wants a token carrying the admin
// scope without the administrator knowing (issue 9, item 1): a process on
// the administrator's machine listening on a loopback port of its own, and
// a user who is not an administrator asking for the admin scope through
// every grant that involves a user.

const consoleClientID = "authgate-admin-console"

// cli runs "authgate ARGS..." against the database and secret of s, with
// stdin, and returns its standard output.
func cli(t *testing.T, s settings, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHGATE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range s {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("authgate %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// createdClient is what "clients create --json" prints.
type createdClient struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so that every Location the server answers can be inspected.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// signIn signs username in through the login page, as a person would.
func signIn(t *testing.T, c *http.Client, p *process, username, pw string) {
	t.Helper()
	resp, err := c.Get(p.url("/login"))
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	form := hiddenFields(body)
	if form.Get("csrf_token") == "" {
		t.Fatalf("no CSRF field on the login page:\n%s", body)
	}
	form.Set("username", username)
	form.Set("password", pw)
	form.Set("return_to", "/account")
	resp, err = c.PostForm(p.url("/login"), form)
	if err != nil {
		t.Fatal(err)
	}
	_ = readAll(t, resp)
	if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Fatalf("sign in as %s: got %d, want a redirect", username, resp.StatusCode)
	}
}

// pkcePair returns a code verifier and its S256 challenge.
func pkcePair() (verifier, challenge string) {
	verifier = "attacker-chosen-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func TestAttackAdminScope(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := baseSettings(t, testdb.URL(t, kind))
			p := start(t, "server", s)
			const adminPW, userPW = "admin passphrase 1", "user passphrase 1"
			cli(t, s, adminPW+"\n", "users", "create", "--username", "root", "--email", "root@example.com", "--password-stdin", "--admin")
			cli(t, s, userPW+"\n", "users", "create", "--username", "mallory", "--email", "mallory@example.com", "--password-stdin")

			t.Run("console code to a loopback port of the attacker's", func(t *testing.T) {
				// The attacker's listener: any code that reaches it is a
				// token without the administrator's knowledge.
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				var stolen atomic.Int32
				srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Query().Get("code") != "" {
						stolen.Add(1)
					}
				})}
				go func() { _ = srv.Serve(ln) }()
				t.Cleanup(func() { _ = srv.Close() })

				admin := browser(t)
				signIn(t, admin, p, "root", adminPW)
				_, challenge := pkcePair()
				for _, prompt := range []string{"none", ""} {
					q := url.Values{
						"client_id":             {consoleClientID},
						"redirect_uri":          {"http://" + ln.Addr().String() + "/admin/callback"},
						"response_type":         {"code"},
						"scope":                 {"openid authgate:admin"},
						"state":                 {"attacker-state-12345"},
						"code_challenge":        {challenge},
						"code_challenge_method": {"S256"},
					}
					if prompt != "" {
						q.Set("prompt", prompt)
					}
					resp, err := admin.Get(p.url("/oauth2/authorize?" + q.Encode()))
					if err != nil {
						t.Fatal(err)
					}
					_ = readAll(t, resp)
					loc := resp.Header.Get("Location")
					if strings.HasPrefix(loc, "http://"+ln.Addr().String()) {
						t.Errorf("prompt=%q: the admin's browser was sent to the attacker's port: %s", prompt, loc)
					}
					if u, err := url.Parse(loc); err == nil && u.Query().Get("code") != "" {
						t.Errorf("prompt=%q: a code was issued for a redirect URI the console does not own: %s", prompt, loc)
					}
				}
				if n := stolen.Load(); n != 0 {
					t.Errorf("the attacker's listener received %d codes", n)
				}
			})

			t.Run("console code redeemed without the console's secret", func(t *testing.T) {
				admin := browser(t)
				signIn(t, admin, p, "root", adminPW)
				verifier, challenge := pkcePair()
				q := url.Values{
					"client_id":             {consoleClientID},
					"redirect_uri":          {"http://" + p.admin + "/admin/callback"},
					"response_type":         {"code"},
					"scope":                 {"openid authgate:admin"},
					"state":                 {"attacker-state-12345"},
					"code_challenge":        {challenge},
					"code_challenge_method": {"S256"},
				}
				resp, err := admin.Get(p.url("/oauth2/authorize?" + q.Encode()))
				if err != nil {
					t.Fatal(err)
				}
				_ = readAll(t, resp)
				u, err := url.Parse(resp.Header.Get("Location"))
				if err != nil || u.Query().Get("code") == "" {
					t.Fatalf("the console's own sign-in got no code: %d %s", resp.StatusCode, resp.Header.Get("Location"))
				}
				// Whoever holds the code (it went through the browser) must
				// not be able to redeem it as a public client.
				// client_id in the form and no Authorization header: how a
				// public client authenticates.
				resp, err = httpClient(10*time.Second).PostForm(p.url("/oauth2/token"), url.Values{
					"grant_type": {"authorization_code"}, "code": {u.Query().Get("code")},
					"redirect_uri": {q.Get("redirect_uri")}, "code_verifier": {verifier}, "client_id": {consoleClientID},
				})
				if err != nil {
					t.Fatal(err)
				}
				body := readAll(t, resp)
				var answer struct {
					Error       string `json:"error"`
					AccessToken string `json:"access_token"`
				}
				_ = json.Unmarshal([]byte(body), &answer)
				if resp.StatusCode != http.StatusUnauthorized || answer.Error != "invalid_client" || answer.AccessToken != "" {
					t.Errorf("console code redeemed without a secret: got %d %s, want 401 invalid_client", resp.StatusCode, body)
				}
			})

			t.Run("non-admin asks for the admin scope", func(t *testing.T) {
				var app createdClient
				out := cli(t, s, "", "clients", "create", "--name", "Tool", "--first-party", "--json",
					"--grant-types", "authorization_code,password,refresh_token",
					"--redirect-uris", "http://127.0.0.1:5555/callback",
					"--scopes", "openid,offline_access,authgate:admin")
				if err := json.Unmarshal([]byte(out), &app); err != nil {
					t.Fatalf("clients create --json: %v\n%s", err, out)
				}
				mallory := browser(t)
				signIn(t, mallory, p, "mallory", userPW)
				verifier, challenge := pkcePair()
				q := url.Values{
					"client_id": {app.ClientID}, "redirect_uri": {"http://127.0.0.1:5555/callback"},
					"response_type": {"code"}, "scope": {"openid authgate:admin"}, "state": {"state-0123456789"},
					"code_challenge": {challenge}, "code_challenge_method": {"S256"},
				}
				resp, err := mallory.Get(p.url("/oauth2/authorize?" + q.Encode()))
				if err != nil {
					t.Fatal(err)
				}
				_ = readAll(t, resp)
				u, _ := url.Parse(resp.Header.Get("Location"))
				if code := u.Query().Get("code"); code != "" {
					r, err := post(context.Background(), httpClient(10*time.Second), p.url("/oauth2/token"), url.Values{
						"grant_type": {"authorization_code"}, "code": {code},
						"redirect_uri": {q.Get("redirect_uri")}, "code_verifier": {verifier},
					}, app.ClientID, app.ClientSecret)
					if err != nil {
						t.Fatal(err)
					}
					if slices.Contains(strings.Fields(r.str("scope")), "authgate:admin") {
						t.Errorf("a non-admin got the admin scope through the code flow: %s", r)
					}
				}

				// The legacy grant never grants the admin scope, to anyone:
				// root comes from loopback, which is not a trusted range, so
				// a valid password alone is not even enough — the refusal
				// must be about the scope, before any credential is checked.
				for _, who := range []struct{ user, pw string }{{"mallory", userPW}, {"root", adminPW}} {
					r, err := post(context.Background(), httpClient(10*time.Second), p.url("/oauth2/token"), url.Values{
						"grant_type": {"password"}, "username": {who.user}, "password": {who.pw},
						"scope": {"authgate:admin"},
					}, app.ClientID, app.ClientSecret)
					if err != nil {
						t.Fatal(err)
					}
					if r.status != http.StatusBadRequest || r.str("error") != "invalid_scope" {
						t.Errorf("legacy grant with the admin scope for %s: got %s, want 400 invalid_scope", who.user, r)
					}
				}
			})
		})
	}
}
