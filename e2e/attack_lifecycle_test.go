package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
)

// TestAttackCredentialLifecycle plays someone holding tokens obtained with
// a user's old credentials (issue 9, items 7, 8 and 14): a security-token
// reset, a password change and turning the legacy grant off for the client
// each take what the ended credential obtained with it, at once and for
// good, while what other credentials obtained stays.
func TestAttackCredentialLifecycle(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := baseSettings(t, testdb.URL(t, kind))
			p := start(t, "server", s)
			outbox := s["AUTHGATE_MAIL_OUTBOX"]
			ctx := context.Background()

			var loader, web createdClient
			for _, c := range []struct {
				into *createdClient
				args []string
			}{
				{&loader, []string{"--name", "Loader", "--grant-types", "password,refresh_token,client_credentials", "--scopes", "openid,offline_access"}},
				{&web, []string{"--name", "Web", "--first-party", "--grant-types", "authorization_code,refresh_token",
					"--redirect-uris", "http://127.0.0.1:5555/callback", "--scopes", "openid,offline_access"}},
			} {
				out := cli(t, s, "", append([]string{"clients", "create", "--json"}, c.args...)...)
				if err := json.Unmarshal([]byte(out), c.into); err != nil {
					t.Fatalf("clients create: %v\n%s", err, out)
				}
			}
			// 127.0.0.2 is a trusted range: the password alone admits there.
			cli(t, s, "", "trusted-ips", "add", "127.0.0.2/32", "--description", "office")

			seen := map[string]bool{}
			newUser := func(t *testing.T, name, pw string) string {
				t.Helper()
				cli(t, s, pw+"\n", "users", "create", "--username", name, "--email", name+"@example.com", "--password-stdin")
				return mailedToken(t, outbox, name+"@example.com", seen)
			}
			type grant struct{ access, refresh, idToken string }
			passwordGrant := func(t *testing.T, from, user, secret string) grant {
				t.Helper()
				r, err := post(ctx, clientFrom(from), p.url("/oauth2/token"), url.Values{
					"grant_type": {"password"}, "username": {user}, "password": {secret}, "scope": {"openid offline_access"},
				}, loader.ClientID, loader.ClientSecret)
				if err != nil || r.status != http.StatusOK || r.str("refresh_token") == "" {
					t.Fatalf("password grant for %s from %s: %v %s", user, from, err, r)
				}
				return grant{r.str("access_token"), r.str("refresh_token"), r.str("id_token")}
			}
			active := func(t *testing.T, c createdClient, tok string) bool {
				t.Helper()
				r, err := post(ctx, httpClient(10*time.Second), p.url("/oauth2/introspect"), url.Values{"token": {tok}}, c.ClientID, c.ClientSecret)
				if err != nil || r.status != http.StatusOK {
					t.Fatalf("introspect: %v %s", err, r)
				}
				a, _ := r.body["active"].(bool)
				return a
			}
			refresh := func(t *testing.T, c createdClient, tok string) reply {
				t.Helper()
				r, err := post(ctx, httpClient(10*time.Second), p.url("/oauth2/token"), url.Values{
					"grant_type": {"refresh_token"}, "refresh_token": {tok},
				}, c.ClientID, c.ClientSecret)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			wantEnded := func(t *testing.T, what string, c createdClient, g grant) {
				t.Helper()
				if active(t, c, g.access) {
					t.Errorf("%s: its access token is still active", what)
				}
				if r := refresh(t, c, g.refresh); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
					t.Errorf("%s: refresh got %s, want 400 invalid_grant", what, r)
				}
			}
			wantStands := func(t *testing.T, what string, c createdClient, g grant) grant {
				t.Helper()
				if !active(t, c, g.access) {
					t.Errorf("%s: its access token was revoked", what)
				}
				r := refresh(t, c, g.refresh)
				if r.status != http.StatusOK {
					t.Errorf("%s: refresh got %s, want 200", what, r)
				}
				return grant{r.str("access_token"), r.str("refresh_token"), r.str("id_token")}
			}

			t.Run("security token reset", func(t *testing.T) {
				const pw = "alice passphrase 1"
				token := newUser(t, "alice", pw)
				withToken := passwordGrant(t, "127.0.0.1", "alice", pw+token)
				trusted := passwordGrant(t, "127.0.0.2", "alice", pw)
				// Refreshing first: the ended credential must also take the
				// tokens a refresh issued.
				withToken = wantStands(t, "token grant before the reset", loader, withToken)

				cli(t, s, "", "users", "reset-token", "alice")
				fresh := mailedToken(t, outbox, "alice@example.com", seen)

				wantEnded(t, "grant admitted by the old token", loader, withToken)
				wantStands(t, "grant admitted by the trusted range", loader, trusted)
				wantStands(t, "grant admitted by the new token", loader, passwordGrant(t, "127.0.0.1", "alice", pw+fresh))
			})

			t.Run("password change", func(t *testing.T) {
				const pw, newPW = "bob passphrase 1", "bob passphrase 2"
				token := newUser(t, "bob", pw)
				withToken := passwordGrant(t, "127.0.0.1", "bob", pw+token)
				trusted := passwordGrant(t, "127.0.0.2", "bob", pw)
				b := browser(t)
				signIn(t, b, p, "bob", pw)
				code := codeFlow(t, b, p, web)

				cli(t, s, newPW+"\n", "users", "set-password", "bob", "--password-stdin")

				wantEnded(t, "token grant", loader, withToken)
				wantEnded(t, "trusted-range grant", loader, trusted)
				// The code flow's grant was not obtained with the password
				// grant; it stays (the browser sessions end: the storage
				// tests cover that).
				wantStands(t, "code-flow grant", web, code)
				passwordGrant(t, "127.0.0.2", "bob", newPW)
			})

			// Before the client is switched off below: the server caches
			// clients for two seconds, and a sunset just cleared may
			// still be seen.
			t.Run("auth_time kept on refresh", func(t *testing.T) {
				const pw = "dave passphrase 1"
				token := newUser(t, "dave", pw)
				before := time.Now().Unix()
				g := passwordGrant(t, "127.0.0.1", "dave", pw+token)
				time.Sleep(1100 * time.Millisecond) // auth_time has whole seconds
				for i := range 2 {
					r := refresh(t, loader, g.refresh)
					if r.status != http.StatusOK || r.str("id_token") == "" {
						t.Fatalf("refresh %d: %s", i+1, r)
					}
					at, _ := idTokenClaim(t, r.str("id_token"), "auth_time").(float64)
					if int64(at) < before || int64(at) > before+1 {
						t.Errorf("refresh %d: auth_time %d, want the password grant's time (%d)", i+1, int64(at), before)
					}
					g.refresh = r.str("refresh_token")
				}
			})
			t.Run("legacy grant turned off", func(t *testing.T) {
				const pw = "carol passphrase 1"
				token := newUser(t, "carol", pw)
				g := passwordGrant(t, "127.0.0.1", "carol", pw+token)
				cc, err := post(ctx, httpClient(10*time.Second), p.url("/oauth2/token"), url.Values{"grant_type": {"client_credentials"}}, loader.ClientID, loader.ClientSecret)
				if err != nil || cc.status != http.StatusOK {
					t.Fatalf("client credentials: %v %s", err, cc)
				}

				cli(t, s, "", "clients", "legacy", "disable", loader.ClientID)
				wantEnded(t, "password grant after disable", loader, g)
				if !active(t, loader, cc.str("access_token")) {
					t.Error("the client's client-credentials token was revoked with its password grants")
				}
				// Turning it back on does not bring the old grant back.
				cli(t, s, "", "clients", "legacy", "enable", loader.ClientID)
				wantEnded(t, "password grant after disable and enable", loader, g)

				// A sunset in the past ends the grants too. The server caches
				// clients for two seconds: the CLI's enable reaches it within
				// that.
				var r reply
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
					if r, err = post(ctx, clientFrom("127.0.0.1"), p.url("/oauth2/token"), url.Values{
						"grant_type": {"password"}, "username": {"carol"}, "password": {pw + token}, "scope": {"offline_access"},
					}, loader.ClientID, loader.ClientSecret); err == nil && r.status == http.StatusOK {
						break
					}
				}
				if r.status != http.StatusOK {
					t.Fatalf("password grant after enable: %v %s", err, r)
				}
				g = grant{r.str("access_token"), r.str("refresh_token"), ""}
				cli(t, s, "", "clients", "legacy", "sunset", loader.ClientID, time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly), "--past")
				wantEnded(t, "password grant after the sunset", loader, g)
				cli(t, s, "", "clients", "legacy", "sunset", loader.ClientID, "none")
				wantEnded(t, "password grant after the sunset was cleared", loader, g)
			})

		})
	}
}

// codeFlow gets tokens for the browser's signed-in user through c, a
// first-party client with the redirect URI http://127.0.0.1:5555/callback.
func codeFlow(t *testing.T, b *http.Client, p *process, c createdClient) (g struct{ access, refresh, idToken string }) {
	t.Helper()
	r, err := post(context.Background(), httpClient(10*time.Second), p.url("/oauth2/token"), authorizeCode(t, b, p, c), c.ClientID, c.ClientSecret)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("code exchange: %v %s", err, r)
	}
	g.access, g.refresh, g.idToken = r.str("access_token"), r.str("refresh_token"), r.str("id_token")
	return g
}

// authorizeCode gets an authorization code for the browser's signed-in
// user through c (as codeFlow) and returns the form that redeems it.
func authorizeCode(t *testing.T, b *http.Client, p *process, c createdClient) url.Values {
	t.Helper()
	verifier, challenge := pkcePair()
	q := url.Values{
		"client_id": {c.ClientID}, "redirect_uri": {"http://127.0.0.1:5555/callback"}, "response_type": {"code"},
		"scope": {"openid offline_access"}, "state": {"state-0123456789"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	resp, err := b.Get(p.url("/oauth2/authorize?" + q.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	_ = readAll(t, resp)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {q.Get("redirect_uri")}, "code_verifier": {verifier},
	}
}

// mailedToken waits for a security-token email to addr in the outbox
// folder whose token is not in seen, and returns that token.
func mailedToken(t *testing.T, outbox, addr string, seen map[string]bool) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(outbox, "*"))
		for _, f := range files {
			body, err := os.ReadFile(f)
			if err != nil || !strings.Contains(string(body), addr) {
				continue
			}
			m := tokenInMail.FindSubmatch(body)
			if m != nil && !seen[string(m[1])] {
				seen[string(m[1])] = true
				return string(m[1])
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no new security token mailed to %s in %s", addr, outbox)
	return ""
}

// idTokenClaim returns one claim of an ID token (its signature is the
// relying party's business; go-oidc checks it in other tests).
func idTokenClaim(t *testing.T, idToken, name string) any {
	t.Helper()
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", idToken)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims[name]
}
