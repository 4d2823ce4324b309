package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// TestAttackMetricsSeriesStayBounded acts as the anonymous attacker of
// issue 9 item 3 against a running server: requests with invented HTTP
// methods and invented grant types must not add a metric series each (a
// series lives as long as the process: 2,000 such requests once grew the
// heap by 250 MiB). It reads /metrics on the admin listener and counts.
func TestAttackMetricsSeriesStayBounded(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			in := startServer(t, testdb.URL(t, kind), nil)
			send := func(from, n int) {
				t.Helper()
				for i := from; i < from+n; i++ {
					req, err := http.NewRequest(fmt.Sprintf("INVENTED%d", i), in.issuer+"/oauth2/token", nil)
					if err != nil {
						t.Fatal(err)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode/100 != 4 {
						t.Fatalf("%s /oauth2/token: status %d, want 4xx", req.Method, resp.StatusCode)
					}
					resp, err = http.PostForm(in.issuer+"/oauth2/token", url.Values{
						"grant_type": {fmt.Sprintf("urn:example:invented:%d", i)},
						"client_id":  {"nobody"},
					})
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode/100 != 4 {
						t.Fatalf("token request with an invented grant type: status %d, want 4xx", resp.StatusCode)
					}
				}
			}
			series := func() (requests, tokens int, page string) {
				t.Helper()
				resp, err := http.Get(in.admin + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET /metrics: status %d", resp.StatusCode)
				}
				var b strings.Builder
				sc := bufio.NewScanner(resp.Body)
				sc.Buffer(make([]byte, 64<<10), 1<<20)
				for sc.Scan() {
					line := sc.Text()
					switch {
					case strings.HasPrefix(line, "authgate_http_requests_total{"):
						requests++
					case strings.HasPrefix(line, "authgate_token_requests_total{"):
						tokens++
					default:
						continue
					}
					b.WriteString(line + "\n")
				}
				if err := sc.Err(); err != nil {
					t.Fatal(err)
				}
				return requests, tokens, b.String()
			}

			send(0, 10)
			requests0, tokens0, _ := series()
			send(10, 490)
			requests, tokens, page := series()
			if requests != requests0 || tokens != tokens0 || requests == 0 || tokens == 0 {
				t.Errorf("request series %d after 10 invented values, %d after 500; token series %d, %d; want the same, and some",
					requests0, requests, tokens0, tokens)
			}
			if strings.Contains(page, "INVENTED") || strings.Contains(page, "invented") {
				t.Errorf("an invented value became a label:\n%s", page)
			}
			for _, want := range []string{`method="other"`, `grant_type="other"`} {
				if !strings.Contains(page, want) {
					t.Errorf("no series with %s:\n%s", want, page)
				}
			}
		})
	}
}

// TestLockoutsReachTheMetric: a lockout on the login page and one on the
// legacy grant, each started by repeated wrong passwords against a running
// server, are counted on /metrics under their channel (the login page's
// were never counted).
func TestLockoutsReachTheMetric(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			in := startServer(t, testdb.URL(t, kind), map[string]string{"AUTHGATE_LOCKOUT_THRESHOLD": "3"})
			in.createUser("alice", "correct horse battery", false)
			secret := in.createClient(models.Client{ID: "loader", Name: "Loader", GrantTypes: []string{"password"}, Scopes: []string{"profile"}})

			lockouts := func() map[string]float64 {
				t.Helper()
				out := map[string]float64{}
				resp, err := http.Get(in.admin + "/metrics")
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				sc := bufio.NewScanner(resp.Body)
				sc.Buffer(make([]byte, 64<<10), 1<<20)
				for sc.Scan() {
					var channel string
					var n float64
					if _, err := fmt.Sscanf(sc.Text(), "authgate_lockouts_total{channel=%q} %g", &channel, &n); err == nil {
						out[channel] = n
					}
				}
				return out
			}
			if got := lockouts(); len(got) != 0 {
				t.Fatalf("lockouts before any attempt: %v", got)
			}

			b := in.browser()
			for range 3 {
				resp, err := b.Get(in.issuer + "/login")
				if err != nil {
					t.Fatal(err)
				}
				form := hiddenFields(t, readBody(t, resp))
				form.Set("username", "alice")
				form.Set("password", "wrong")
				resp, err = noFollow(b).PostForm(in.issuer+"/login", form)
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, resp)
			}
			if got := lockouts(); got["login_page"] != 1 || len(got) != 1 {
				t.Errorf("after 3 wrong passwords on the login page: lockouts %v, want login_page 1", got)
			}

			for range 3 {
				if r := passwordGrant(t, http.DefaultClient, in, "loader", secret, "alice", "wrong", nil); r.status != http.StatusBadRequest {
					t.Fatalf("password grant with a wrong password: status %d, want 400", r.status)
				}
			}
			if got := lockouts(); got["login_page"] != 1 || got["password_grant"] != 1 || len(got) != 2 {
				t.Errorf("after 3 wrong passwords on the password grant too: lockouts %v, want login_page 1, password_grant 1", got)
			}
		})
	}
}

// TestThrottlesReachTheMetric: requests refused by the per-source rate
// limits of the login page and the password grant are counted on /metrics,
// one for each refusal, under their endpoint.
func TestThrottlesReachTheMetric(t *testing.T) {
	t.Parallel()
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			in := startServer(t, testdb.URL(t, kind), map[string]string{
				"AUTHGATE_RATE_LIMIT_PER_MINUTE": "1", "AUTHGATE_RATE_LIMIT_BURST": "2",
			})
			in.createUser("alice", "correct horse battery", false)
			secret := in.createClient(models.Client{ID: "loader", Name: "Loader", GrantTypes: []string{"password"}, Scopes: []string{"profile"}})

			refused := map[string]int{}
			b := in.browser()
			for range 5 {
				resp, err := noFollow(b).PostForm(in.issuer+"/login", url.Values{"username": {"alice"}, "password": {"wrong"}})
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, resp)
				if resp.StatusCode == http.StatusTooManyRequests {
					refused["login"]++
				}
				if r := passwordGrant(t, http.DefaultClient, in, "loader", secret, "alice", "wrong", nil); r.status == http.StatusTooManyRequests {
					refused["password_grant"]++
				}
			}
			if refused["login"] == 0 || refused["password_grant"] == 0 {
				t.Fatalf("refusals %v: the rate limit (burst 2) refused nothing of 5", refused)
			}

			resp, err := http.Get(in.admin + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			counted := map[string]int{}
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				var endpoint string
				var n int
				if _, err := fmt.Sscanf(sc.Text(), "authgate_throttled_requests_total{endpoint=%q} %d", &endpoint, &n); err == nil {
					counted[endpoint] = n
				}
			}
			resp.Body.Close()
			if counted["login"] != refused["login"] || counted["password_grant"] != refused["password_grant"] || len(counted) != 2 {
				t.Errorf("throttled requests on /metrics %v, want the refusals %v", counted, refused)
			}
		})
	}
}
