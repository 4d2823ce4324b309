package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// jsforceDir installs jsforce, the Salesforce client library, with npm ci
// from testdata/jsforce's lock file into the user's cache (once per lock
// file; later runs reuse it) and returns the folder. Without node and npm,
// or when the install fails, the test skips and says why, unless
// AUTHGATE_REQUIRE_JSFORCE=1 (.ci/run sets it), when it fails.
func jsforceDir(t *testing.T) string {
	t.Helper()
	fail := func(msg string) {
		if os.Getenv("AUTHGATE_REQUIRE_JSFORCE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + "\n(AUTHGATE_REQUIRE_JSFORCE=1 makes this fail)")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			fail(tool + " is not installed; the jsforce test needs node and npm (Debian: apt-get install nodejs npm)")
		}
	}
	pkg, err := os.ReadFile(filepath.Join("testdata", "jsforce", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join("testdata", "jsforce", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(append(pkg, lock...))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "authgate-test", "jsforce-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jsforce", "package.json")); err == nil {
		return dir
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "jsforce-install-")
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if tmp, err = os.MkdirTemp(filepath.Dir(dir), "jsforce-install-"); err != nil {
			t.Fatal(err)
		}
	}
	defer os.RemoveAll(tmp)
	for name, data := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		fail(fmt.Sprintf("npm ci of jsforce failed: %v\n%s", err, out))
	}
	// Another test process may have finished first: either copy will do.
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "node_modules", "jsforce", "package.json")); serr != nil {
			t.Fatalf("move the jsforce install into place: %v", err)
		}
	}
	return dir
}

// jsforceLogin is the script the test runs: jsforce's
// Connection.login(username, password + token) with a client id and
// secret (the OAuth 2.0 username-password flow; without them jsforce uses
// Salesforce's SOAP login, which authgate does not speak), then
// Connection.identity(), which reads the identity URL the login returned.
const jsforceLogin = `
const jsforce = require('jsforce');
(async () => {
  const conn = new jsforce.Connection({
    loginUrl: process.env.LOGIN_URL,
    oauth2: { clientId: process.env.CLIENT_ID, clientSecret: process.env.CLIENT_SECRET },
  });
  try {
    const info = await conn.login(process.env.SF_USERNAME, process.env.SF_PASSWORD);
    const identity = await conn.identity();
    console.log(JSON.stringify({ ok: true, info, instanceUrl: conn.instanceUrl, accessToken: conn.accessToken, identity }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, name: e.name, message: e.message }));
  }
})();
`

type jsforceResult struct {
	OK   bool `json:"ok"`
	Info struct {
		ID             string `json:"id"`
		OrganizationID string `json:"organizationId"`
		URL            string `json:"url"`
	} `json:"info"`
	InstanceURL string         `json:"instanceUrl"`
	AccessToken string         `json:"accessToken"`
	Identity    map[string]any `json:"identity"`
	Name        string         `json:"name"`
	Message     string         `json:"message"`
}

func runJSforce(t *testing.T, dir string, env map[string]string) jsforceResult {
	t.Helper()
	script := filepath.Join(dir, "login.js")
	if err := os.WriteFile(script, []byte(jsforceLogin), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var res jsforceResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("jsforce output: %v\n%s", err, out)
	}
	return res
}

// TestJSforceLogin logs in with jsforce, unchanged, as tools written for
// Salesforce do: the login URL is authgate's issuer, the password is the
// user's password followed by the security token. The client has
// Salesforce-compatible responses turned on; jsforce reads id and
// instance_url, then fetches the identity URL with the access token. The
// same login against a client without the setting fails, as jsforce
// needs id.
func TestJSforceLogin(t *testing.T) {
	t.Parallel()
	dir := jsforceDir(t)
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			in := startServer(t, testdb.URL(t, kind), map[string]string{"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0"})
			const pw = "jsforce passphrase"
			u := in.createUser("sfuser", pw, false)
			token, _ := in.deliveredToken(t, u.Email, 0)
			sf := models.Client{ID: "sf-loader", Name: "Data Loader", GrantTypes: []string{"password", "refresh_token"},
				Scopes: []string{"openid", "offline_access"}, SalesforceCompat: true, InstanceURL: "https://api.example.com"}
			sfSecret := in.createClient(sf)
			plain := models.Client{ID: "plain-loader", Name: "Plain", GrantTypes: []string{"password"}}
			plainSecret := in.createClient(plain)

			res := runJSforce(t, dir, map[string]string{
				"LOGIN_URL": in.issuer, "CLIENT_ID": sf.ID, "CLIENT_SECRET": sfSecret,
				"SF_USERNAME": "sfuser", "SF_PASSWORD": pw + token,
			})
			if !res.OK {
				t.Fatalf("jsforce login failed: %s: %s", res.Name, res.Message)
			}
			if res.Info.ID != u.ID || res.InstanceURL != "https://api.example.com" || res.AccessToken == "" {
				t.Errorf("jsforce login: user %q instance %q token set %t; want %q, https://api.example.com, true",
					res.Info.ID, res.InstanceURL, res.AccessToken != "", u.ID)
			}
			if !strings.HasPrefix(res.Info.URL, in.issuer+"/id/") || res.Info.OrganizationID == "" {
				t.Errorf("identity URL %q, organization %q", res.Info.URL, res.Info.OrganizationID)
			}
			if res.Identity["user_id"] != u.ID || res.Identity["username"] != "sfuser" || res.Identity["email"] != u.Email ||
				res.Identity["organization_id"] != res.Info.OrganizationID {
				t.Errorf("identity: %v", res.Identity)
			}

			// The wrong token, and a client without the setting.
			if res := runJSforce(t, dir, map[string]string{
				"LOGIN_URL": in.issuer, "CLIENT_ID": sf.ID, "CLIENT_SECRET": sfSecret,
				"SF_USERNAME": "sfuser", "SF_PASSWORD": pw + strings.Repeat("x", 24),
			}); res.OK || res.Name != "invalid_grant" {
				t.Errorf("jsforce login with a wrong token: ok=%t %s: %s, want invalid_grant", res.OK, res.Name, res.Message)
			}
			if res := runJSforce(t, dir, map[string]string{
				"LOGIN_URL": in.issuer, "CLIENT_ID": plain.ID, "CLIENT_SECRET": plainSecret,
				"SF_USERNAME": "sfuser", "SF_PASSWORD": pw + token,
			}); res.OK {
				t.Error("jsforce logged in through a client without Salesforce-compatible responses, want a failure (no id)")
			}
			checkSalesforceResponse(t, in, sf.ID, sfSecret, plain.ID, plainSecret, pw+token, res.AccessToken)
		})
	}
}

// checkSalesforceResponse checks the fields themselves: issued_at in
// milliseconds as a string, the signature as documented, nothing extra
// for another client, and the identity URL only for its own user's token.
func checkSalesforceResponse(t *testing.T, in *instance, id, secret, plainID, plainSecret, password, otherToken string) {
	t.Helper()
	grant := func(id, secret string, basic bool) map[string]any {
		t.Helper()
		form := url.Values{"grant_type": {"password"}, "username": {"sfuser"}, "password": {password}}
		if !basic {
			form.Set("client_id", id)
			form.Set("client_secret", secret)
		}
		req, _ := http.NewRequest(http.MethodPost, in.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("password grant: %d %v %v", resp.StatusCode, body, err)
		}
		return body
	}
	before := time.Now().UnixMilli()
	for _, basic := range []bool{false, true} {
		body := grant(id, secret, basic)
		issued, _ := body["issued_at"].(string)
		ms, err := strconv.ParseInt(issued, 10, 64)
		if err != nil || ms < before-1000 || ms > time.Now().UnixMilli()+1000 {
			t.Errorf("issued_at %v: want milliseconds since the epoch, as a string", body["issued_at"])
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(body["id"].(string) + issued))
		if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); body["signature"] != want {
			t.Errorf("signature %v, want base64 HMAC-SHA256(client secret, id + issued_at) = %s", body["signature"], want)
		}
	}
	plain := grant(plainID, plainSecret, true)
	for _, k := range []string{"id", "instance_url", "issued_at", "signature"} {
		if _, ok := plain[k]; ok {
			t.Errorf("a client without the setting got %s in its response", k)
		}
	}
	// The identity URL answers its own user's token only.
	body := grant(id, secret, true)
	idURL := body["id"].(string)
	get := func(u, token string) int {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(idURL, body["access_token"].(string)); got != http.StatusOK {
		t.Errorf("identity URL with its token: %d, want 200", got)
	}
	if got := get(idURL, ""); got != http.StatusUnauthorized {
		t.Errorf("identity URL without a token: %d, want 401", got)
	}
	other := in.createUser("someone", "someone's passphrase", false)
	if got := get(strings.Replace(idURL, filepath.Base(idURL), other.ID, 1), body["access_token"].(string)); got != http.StatusForbidden {
		t.Errorf("another user's identity URL: %d, want 403", got)
	}
	if got := get(idURL, "not-a-token"); got != http.StatusUnauthorized {
		t.Errorf("identity URL with a bad token: %d, want 401", got)
	}
	_ = otherToken
}
