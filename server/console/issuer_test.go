package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"gorm.io/gorm"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/keyring"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/internal/trustedips"
	"github.com/authgate/authgate/legacy"
	"github.com/authgate/authgate/oauth"
	"github.com/authgate/authgate/server"
)

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRealIssuer signs in to the console through authgate's own public
// server (login page, fosite, ID token, userinfo), with the token
// transport calling the public handler in-process as serve does, then
// turns a client's legacy grant off from the console and sees the password
// grant refused with unauthorized_client.
func TestRealIssuer(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		keyring, err := keyring.New([]byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		pw, err := password.NewHasher(password.Params{Time: 1, Memory: 8192, Threads: 1}, 2)
		if err != nil {
			t.Fatal(err)
		}
		pub := httptest.NewServer(nil)
		defer pub.Close()
		adm := httptest.NewServer(nil)
		defer adm.Close()
		cfg := config.Default()
		cfg.Issuer, cfg.AdminURL = pub.URL, adm.URL

		accts := accounts.New(storage.New(db), keyring, pw, accounts.Options{})
		keys := oauth.NewKeyManager(storage.New(db), keyring, oauth.KeyOptions{Retention: cfg.TokenRetention()})
		if err := keys.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		hasher := &oauth.SecretHasher{Keys: keyring, Argon2: pw}
		ranges := trustedips.New(storage.New(db))
		tokens := oauth.NewStore(storage.New(db), keyring, nil)
		provider := oauth.NewProvider(oauth.Settings{
			Issuer: cfg.Issuer, AccessTokenLifespan: time.Hour, RefreshTokenLifespan: time.Hour,
			AuthorizeCodeLifespan: time.Minute, IDTokenLifespan: time.Hour,
		}, tokens, keys, keyring, hasher, func(fc *fosite.Config, st *oauth.Store, strategy *oauth.TokenStrategy) fosite.TokenEndpointHandler {
			return legacy.New(fc, st, strategy, accts, ranges, false, nil)
		})
		public, err := server.New(server.Deps{
			Config: cfg, Store: storage.New(db), Keys: keyring, Provider: provider, Users: accts, ClientIP: clientip.New(nil, clientip.AnyHeader),
			Ready: func(context.Context) error { return nil },
		})
		if err != nil {
			t.Fatal(err)
		}
		pub.Config.Handler = public
		inProcess := 0
		clientSvc := clients.New(storage.New(db), hasher, clients.Options{Changed: tokens.ForgetClient})
		h, err := New(Deps{
			Config: cfg, Store: storage.New(db), Keys: keyring, Accounts: accts, Clients: clientSvc, Trust: ranges,
			TokenTransport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				inProcess++
				rec := httptest.NewRecorder()
				public.ServeHTTP(rec, r)
				return rec.Result(), nil
			}),
		})
		if err != nil {
			t.Fatal(err)
		}
		adm.Config.Handler = h
		if err := EnsureClient(ctx, storage.New(db), keyring, cfg.AdminURL); err != nil {
			t.Fatal(err)
		}
		for _, u := range []accounts.NewUser{
			{Username: "root", Email: "root@example.com", Password: "correct horse", Admin: true},
			{Username: "alice", Email: "alice@example.com", Password: "correct horse"},
		} {
			if _, err := accts.CreateUser(ctx, "test", u); err != nil {
				t.Fatal(err)
			}
		}
		aliceToken := lastToken(t, db, keyring)

		hidden := regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
		unescape := strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#61;", "=", "&#34;", `"`, "&#39;", "'")
		// signIn opens the console in a fresh browser and signs in on the
		// public login page; it returns the browser and the page it lands on.
		signIn := func(username string) (*http.Client, *http.Response, string) {
			t.Helper()
			jar, _ := cookiejar.New(nil)
			b := &http.Client{Jar: jar}
			resp, err := b.Get(adm.URL + "/admin/clients")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.HasPrefix(resp.Request.URL.String(), pub.URL+"/login") {
				t.Fatalf("opening the console landed on %s, want the login page:\n%s", resp.Request.URL, body)
			}
			form := url.Values{}
			for _, m := range hidden.FindAllStringSubmatch(string(body), -1) {
				form.Set(m[1], unescape.Replace(m[2]))
			}
			form.Set("username", username)
			form.Set("password", "correct horse")
			resp, err = b.PostForm(pub.URL+"/login", form)
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			return b, resp, string(body)
		}

		_, resp, body := signIn("alice")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Only administrators can use the console") {
			t.Fatalf("alice: got %d at %s, want 403:\n%s", resp.StatusCode, resp.Request.URL, body)
		}

		cl, clientSecret, err := clientSvc.Create(ctx, "test", clients.NewClient{Name: "Data Loader", GrantTypes: []string{clients.GrantPassword}, Scopes: []string{"profile"}})
		if err != nil {
			t.Fatal(err)
		}
		passwordGrant := func() (int, string) {
			t.Helper()
			form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"correct horse" + aliceToken}}
			req, _ := http.NewRequest(http.MethodPost, pub.URL+"/oauth2/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(cl.ID, clientSecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Error string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			return resp.StatusCode, out.Error
		}
		if status, code := passwordGrant(); status != http.StatusOK {
			t.Fatalf("password grant with legacy on: got %d %s, want 200", status, code)
		}

		b, resp, body := signIn("root")
		if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != adm.URL+"/admin/clients" {
			t.Fatalf("root: got %d at %s, want the clients page:\n%s", resp.StatusCode, resp.Request.URL, body)
		}
		if inProcess == 0 {
			t.Fatal("the console did not use its token transport")
		}
		toggle := regexp.MustCompile(`action="/admin/clients/` + cl.ID + `/legacy/confirm"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)"`)
		m := toggle.FindStringSubmatch(body)
		if m == nil || !strings.Contains(body, `id="legacy-toggle-`+cl.ID+`"`) {
			t.Fatalf("no legacy toggle for %s:\n%s", cl.ID, body)
		}
		resp, err = b.PostForm(adm.URL+"/admin/clients/"+cl.ID+"/legacy/confirm", url.Values{"csrf_token": {m[1]}, "enabled": {"false"}})
		if err != nil {
			t.Fatal(err)
		}
		confirm, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		form := url.Values{}
		for _, f := range hidden.FindAllStringSubmatch(string(confirm), -1) {
			form.Set(f[1], unescape.Replace(f[2]))
		}
		if !strings.Contains(string(confirm), `id="confirm-submit"`) || form.Get("enabled") != "false" {
			t.Fatalf("confirmation page:\n%s", confirm)
		}
		resp, err = b.PostForm(adm.URL+"/admin/clients/"+cl.ID+"/legacy", form)
		if err != nil {
			t.Fatal(err)
		}
		done, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(done), `id="notice"`) {
			t.Fatalf("after confirming: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, done)
		}
		if status, code := passwordGrant(); status != http.StatusBadRequest || code != "unauthorized_client" {
			t.Fatalf("password grant with legacy off: got %d %q, want 400 unauthorized_client", status, code)
		}
	})
}
