package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testdb"
)

// TestAttackForwardedHeaders plays a client behind a trusted proxy that
// adds a forwarding header of its own, claiming a trusted range, next to
// the one the proxy writes (issue 9, item 10). The test itself is the
// proxy: the server trusts 127.0.0.1 as one, and 10.20.0.0/16 is a trusted
// range, where the password alone is enough for the password grant. The
// client's header must never stand in for the proxy's: only the header the
// forwarded_header setting names is believed, and with no setting a request
// carrying both is the proxy's own, which is never a trusted range.
func TestAttackForwardedHeaders(t *testing.T) {
	t.Parallel()
	const (
		trustedAddr = "10.20.0.5"   // inside the trusted range
		realAddr    = "203.0.113.9" // where the client really is
	)
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dbURL := testdb.URL(t, kind)
			for _, tc := range []struct {
				setting string
				// proxy is the header the proxy writes; client the one the
				// client adds.
				proxy, client func(addr string) (string, string)
			}{
				{"", forwardedHop, xffHop},
				{"", xffHop, forwardedHop},
				{"forwarded", forwardedHop, xffHop},
				{"x-forwarded-for", xffHop, forwardedHop},
			} {
				proxyHeader, _ := tc.proxy("")
				name := "setting " + tc.setting + ", proxy writes " + proxyHeader
				if tc.setting == "" {
					name = "no setting, proxy writes " + proxyHeader
				}
				t.Run(name, func(t *testing.T) {
					s := baseSettings(t, dbURL)
					s["AUTHGATE_TRUSTED_PROXIES"] = "127.0.0.1/32"
					s["AUTHGATE_FORWARDED_HEADER"] = tc.setting
					p := start(t, "server", s)
					user := "alice" + strings.NewReplacer("-", "", " ", "").Replace(tc.setting) + strings.ToLower(proxyHeader[:1])
					const pw = "correct horse battery"
					cli(t, s, pw+"\n", "users", "create", "--username", user, "--email", user+"@example.com", "--password-stdin")
					var loader createdClient
					out := cli(t, s, "", "clients", "create", "--json", "--name", "Loader "+user, "--grant-types", "password")
					if err := json.Unmarshal([]byte(out), &loader); err != nil {
						t.Fatalf("clients create: %v\n%s", err, out)
					}
					if !strings.Contains(cli(t, s, "", "trusted-ips", "list"), "10.20.0.0/16") {
						cli(t, s, "", "trusted-ips", "add", "10.20.0.0/16", "--description", "office")
					}

					grant := func(headers ...[2]string) reply {
						t.Helper()
						form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}
						req, _ := http.NewRequest(http.MethodPost, p.url("/oauth2/token"), strings.NewReader(form.Encode()))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						req.SetBasicAuth(url.QueryEscape(loader.ClientID), url.QueryEscape(loader.ClientSecret))
						for _, h := range headers {
							req.Header.Add(h[0], h[1])
						}
						resp, err := clientFrom("127.0.0.1").Do(req)
						if err != nil {
							t.Fatal(err)
						}
						r := reply{status: resp.StatusCode, raw: readAll(t, resp)}
						_ = json.Unmarshal([]byte(r.raw), &r.body)
						return r
					}
					hop := func(f func(string) (string, string), addr string) [2]string {
						k, v := f(addr)
						return [2]string{k, v}
					}

					// The range works through the proxy: the test can fail.
					if r := grant(hop(tc.proxy, trustedAddr)); r.status != http.StatusOK {
						t.Fatalf("password alone from the trusted range through the proxy: got %s, want 200", r)
					}
					// The client's own header, next to the proxy's, claims
					// the trusted range; either order of the lines.
					for _, order := range [][][2]string{
						{hop(tc.client, trustedAddr), hop(tc.proxy, realAddr)},
						{hop(tc.proxy, realAddr), hop(tc.client, trustedAddr)},
					} {
						if r := grant(order...); r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
							t.Errorf("password alone with a forged %s header claiming %s next to the proxy's %s: got %s, want 400 invalid_grant",
								order[0][0]+"/"+order[1][0], trustedAddr, proxyHeader, r)
						}
					}
				})
			}
		})
	}
}

// forwardedHop and xffHop return the header a hop at addr is reported in.
func forwardedHop(addr string) (string, string) { return "Forwarded", "for=" + addr }
func xffHop(addr string) (string, string)       { return "X-Forwarded-For", addr }
