package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
)

// TestAttackIntrospection plays a client (or anyone holding any access
// token) reading another client's tokens through introspection (issue 9,
// item 6): only the token's own client, a client named in its audience and
// a resource server an administrator registered may see it.
func TestAttackIntrospection(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := baseSettings(t, testdb.URL(t, kind))
			p := start(t, "server", s)
			create := func(name string, extra ...string) createdClient {
				t.Helper()
				args := append([]string{"clients", "create", "--name", name, "--json", "--grant-types", "client_credentials"}, extra...)
				var c createdClient
				if out := cli(t, s, "", args...); json.Unmarshal([]byte(out), &c) != nil || c.ClientID == "" {
					t.Fatalf("clients create %s: %s", name, out)
				}
				return c
			}
			rs := create("Resource server", "--scopes", "authgate:introspect")
			api := create("API")
			owner := create("Owner", "--audience", api.ClientID)
			other := create("Other")

			ctx := context.Background()
			hc := httpClient(10 * time.Second)
			token := func(c createdClient, form url.Values) string {
				t.Helper()
				form.Set("grant_type", "client_credentials")
				r, err := post(ctx, hc, p.url("/oauth2/token"), form, c.ClientID, c.ClientSecret)
				if err != nil || r.str("access_token") == "" {
					t.Fatalf("token for %s: %v %s", c.ClientID, err, r)
				}
				return r.str("access_token")
			}
			plain := token(owner, url.Values{})
			forAPI := token(owner, url.Values{"audience": {api.ClientID}})
			otherToken := token(other, url.Values{})

			introspect := func(c createdClient, tok string) reply {
				t.Helper()
				r, err := post(ctx, hc, p.url("/oauth2/introspect"), url.Values{"token": {tok}}, c.ClientID, c.ClientSecret)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			for _, tc := range []struct {
				name   string
				caller createdClient
				token  string
				active bool
			}{
				{"its own client", owner, plain, true},
				{"a resource server", rs, plain, true},
				{"the audience it names", api, forAPI, true},
				{"another client", other, plain, false},
				{"a client not in its audience", other, forAPI, false},
				{"an audience it does not name", api, plain, false},
			} {
				r := introspect(tc.caller, tc.token)
				if r.status != http.StatusOK {
					t.Errorf("%s: got %s, want 200", tc.name, r)
					continue
				}
				active, _ := r.body["active"].(bool)
				if active != tc.active {
					t.Errorf("%s: active = %t, want %t (%s)", tc.name, active, tc.active, r)
				}
				if !tc.active && (r.str("sub") != "" || r.str("client_id") != "" || r.str("scope") != "") {
					t.Errorf("%s: an inactive answer tells details: %s", tc.name, r)
				}
			}

			// Any access token as the credential, in a header or a
			// parameter: refused outright.
			for _, req := range []func() *http.Request{
				func() *http.Request {
					r, _ := http.NewRequest(http.MethodPost, p.url("/oauth2/introspect"), strings.NewReader(url.Values{"token": {plain}}.Encode()))
					r.Header.Set("Authorization", "Bearer "+otherToken)
					return r
				},
				func() *http.Request {
					r, _ := http.NewRequest(http.MethodPost, p.url("/oauth2/introspect"), strings.NewReader(url.Values{"token": {plain}, "access_token": {otherToken}}.Encode()))
					return r
				},
				func() *http.Request {
					r, _ := http.NewRequest(http.MethodPost, p.url("/oauth2/introspect?access_token="+url.QueryEscape(otherToken)), strings.NewReader(url.Values{"token": {plain}}.Encode()))
					r.SetBasicAuth(other.ClientID, other.ClientSecret)
					return r
				},
			} {
				r := req()
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := hc.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				body := readAll(t, resp)
				if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, `"active":true`) {
					t.Errorf("introspection with a token as the credential (%s %s): got %d %s, want 401", r.Header.Get("Authorization"), r.URL.RawQuery, resp.StatusCode, body)
				}
			}
		})
	}
}
