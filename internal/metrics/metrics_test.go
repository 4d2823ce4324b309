package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/authgate/authgate/internal/testdb"
)

// sample is one line of the Prometheus text format: a series and its value.
type sample struct {
	labels map[string]string
	value  float64
}

// scrape reads the metrics page at url and returns the samples of the
// metric name, keyed by their label set as written on the page.
func scrape(t *testing.T, url, name string) map[string]sample {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: status %d, want 200\n%s", url, resp.StatusCode, body)
	}
	out := map[string]sample{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		// The value is the last field (no timestamps here); label values
		// may hold spaces ("POST /oauth2/token").
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		series, value := line[:i], line[i+1:]
		metric, labels, _ := strings.Cut(series, "{")
		if metric != name {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out[labels] = sample{labels: parseLabels(t, strings.TrimSuffix(labels, "}")), value: v}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// parseLabels parses `a="x",b="y"`; the tests' label values hold no quotes
// or commas once bounded, and an unbounded one fails the test anyway.
func parseLabels(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if s == "" {
		return out
	}
	for pair := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			t.Fatalf("label pair %q in %q", pair, s)
		}
		uq, err := strconv.Unquote(v)
		if err != nil {
			t.Fatalf("label value %s in %q: %v", v, s, err)
		}
		out[k] = uq
	}
	return out
}

// labelValues returns the sorted distinct values of label over samples.
func labelValues(samples map[string]sample, label string) []string {
	var out []string
	for _, s := range samples {
		if v, ok := s.labels[label]; ok && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

func total(samples map[string]sample, match func(map[string]string) bool) float64 {
	var n float64
	for _, s := range samples {
		if match(s.labels) {
			n += s.value
		}
	}
	return n
}

// newServer serves a token route counted the way server/oauth.go counts it
// (the raw grant_type of the form), wrapped by the middleware, on a real
// loopback listener; the metrics page is served on a second one, as the
// admin listener does.
func newServer(t *testing.T, m *Metrics) (public, metricsURL string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		m.Token(r.PostFormValue("grant_type"), "unsupported_grant_type")
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
	})
	mux.HandleFunc("GET /health/alive", func(w http.ResponseWriter, r *http.Request) {})
	pub := httptest.NewServer(m.Middleware(mux))
	t.Cleanup(pub.Close)
	adm := httptest.NewServer(m.Handler())
	t.Cleanup(adm.Close)
	return pub.URL, adm.URL
}

// attack sends n requests with invented methods and n token requests with
// invented grant types, each value new.
func attack(t *testing.T, public string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		req, err := http.NewRequest(fmt.Sprintf("INVENTED%d", i), public+"/oauth2/token", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()

		form := url.Values{"grant_type": {fmt.Sprintf("urn:example:invented:%d", i)}}
		resp, err = http.PostForm(public+"/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("POST /oauth2/token: status %d, want 400", resp.StatusCode)
		}
	}
}

// TestInventedValuesAddNoSeries acts as the attacker of issue 9 item 3:
// requests with invented HTTP methods and grant types must not add a
// series each (every series lives as long as the process).
func TestInventedValuesAddNoSeries(t *testing.T) {
	m := New(nil)
	public, admin := newServer(t, m)

	attack(t, public, 0, 10)
	requestsBefore := scrape(t, admin, "authgate_http_requests_total")
	tokensBefore := scrape(t, admin, "authgate_token_requests_total")

	attack(t, public, 10, 490)
	requests := scrape(t, admin, "authgate_http_requests_total")
	tokens := scrape(t, admin, "authgate_token_requests_total")

	if len(requests) != len(requestsBefore) || len(tokens) != len(tokensBefore) {
		t.Errorf("series after 10 invented values: %d requests, %d tokens; after 500: %d, %d; want no growth",
			len(requestsBefore), len(tokensBefore), len(requests), len(tokens))
	}
	if got, want := labelValues(requests, "method"), []string{"POST", "other"}; !slices.Equal(got, want) {
		t.Errorf("method labels %q, want %q", got, want)
	}
	if got, want := labelValues(tokens, "grant_type"), []string{"other"}; !slices.Equal(got, want) {
		t.Errorf("grant_type labels %q, want %q", got, want)
	}
	// Every request is still counted, under "other".
	if got := total(requests, func(l map[string]string) bool { return l["method"] == "other" }); got != 500 {
		t.Errorf("requests with an invented method counted %v times, want 500", got)
	}
	if got := total(tokens, func(l map[string]string) bool { return l["grant_type"] == "other" }); got != 500 {
		t.Errorf("token requests with an invented grant type counted %v times, want 500", got)
	}
}

func TestKnownValuesKeepTheirLabels(t *testing.T) {
	m := New(nil)
	public, admin := newServer(t, m)
	for _, gt := range []string{"", "password", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"} {
		resp, err := http.PostForm(public+"/oauth2/token", url.Values{"grant_type": {gt}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodDelete} {
		req, _ := http.NewRequest(method, public+"/health/alive", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(public + "/no/such/" + strings.Repeat("x", 100))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	tokens := scrape(t, admin, "authgate_token_requests_total")
	if got, want := labelValues(tokens, "grant_type"),
		[]string{"none", "password", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"}; !slices.Equal(got, want) {
		t.Errorf("grant_type labels %q, want %q", got, want)
	}
	if got, want := labelValues(tokens, "result"), []string{"unsupported_grant_type"}; !slices.Equal(got, want) {
		t.Errorf("result labels %q, want %q", got, want)
	}
	requests := scrape(t, admin, "authgate_http_requests_total")
	for _, want := range []struct {
		labels map[string]string
		count  float64
	}{
		{map[string]string{"route": "POST /oauth2/token", "method": "POST", "status": "400"}, 4},
		{map[string]string{"route": "GET /health/alive", "method": "GET", "status": "200"}, 1},
		{map[string]string{"route": "GET /health/alive", "method": "HEAD", "status": "200"}, 1},
		// The mux answers a wrong method or path itself, without a pattern.
		{map[string]string{"route": "unmatched", "method": "DELETE", "status": "405"}, 1},
		{map[string]string{"route": "unmatched", "method": "GET", "status": "404"}, 1},
	} {
		if got := total(requests, func(l map[string]string) bool { return maps(l, want.labels) }); got != want.count {
			t.Errorf("series %v counted %v times, want %v", want.labels, got, want.count)
		}
	}
	if len(requests) != 5 {
		t.Errorf("%d request series, want 5:\n%v", len(requests), requests)
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestLabelFunctions(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"GET", "GET"}, {"PATCH", "PATCH"}, {"get", "other"}, {"PROPFIND", "other"}, {"", "other"},
	} {
		if got := methodLabel(c.in); got != c.want {
			t.Errorf("methodLabel(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"", "none"}, {"authorization_code", "authorization_code"}, {"client_credentials", "client_credentials"},
		{"Password", "other"}, {"password ", "other"}, {strings.Repeat("a", 10), "other"},
		{"urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:token-exchange"},
	} {
		if got := grantTypeLabel(c.in); got != c.want {
			t.Errorf("grantTypeLabel(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, c := range []struct {
		in   int
		want string
	}{{200, "200"}, {599, "599"}, {100, "100"}, {99, "other"}, {600, "other"}, {-1, "other"}} {
		if got := statusLabel(c.in); got != c.want {
			t.Errorf("statusLabel(%d) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLockoutsThrottlesAndLegacyGrants(t *testing.T) {
	m := New(nil)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	m.Legacy("erp", "success")
	m.Legacy("erp", "invalid_password")
	m.Legacy("erp", "invalid_password")
	m.Lockout("password_grant")
	m.Lockout("login_page")
	m.Lockout("login_page")

	lockouts := scrape(t, srv.URL, "authgate_lockouts_total")
	for channel, want := range map[string]float64{"password_grant": 1, "login_page": 2} {
		if got := total(lockouts, func(l map[string]string) bool { return l["channel"] == channel }); got != want {
			t.Errorf("lockouts on channel %s = %v, want %v", channel, got, want)
		}
	}
	if len(lockouts) != 2 {
		t.Errorf("lockout series %v, want two", lockouts)
	}
	m.Throttled("login")
	m.Throttled("login")
	m.Throttled("password_grant")
	throttled := scrape(t, srv.URL, "authgate_throttled_requests_total")
	for endpoint, want := range map[string]float64{"login": 2, "password_grant": 1} {
		if got := total(throttled, func(l map[string]string) bool { return l["endpoint"] == endpoint }); got != want {
			t.Errorf("throttled requests on %s = %v, want %v", endpoint, got, want)
		}
	}
	legacy := scrape(t, srv.URL, "authgate_legacy_grants_total")
	for result, want := range map[string]float64{"success": 1, "invalid_password": 2} {
		if got := total(legacy, func(l map[string]string) bool { return l["client_id"] == "erp" && l["result"] == result }); got != want {
			t.Errorf("legacy grants of erp with result %s = %v, want %v", result, got, want)
		}
	}
}

// TestNilMetrics: a server built without metrics calls the same methods.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.Token("password", "ok")
	m.Legacy("erp", "success")
	m.Lockout("login_page")
	m.Throttled("login")
	m.WatchMail(nil)
	next := http.NotFoundHandler()
	if got := m.Middleware(next); fmt.Sprint(got) != fmt.Sprint(next) {
		t.Errorf("nil Metrics' Middleware wrapped the handler")
	}
}

func TestMailQueueAndDatabasePool(t *testing.T) {
	db, err := testdb.Open(t, "sqlite").DB()
	if err != nil {
		t.Fatal(err)
	}
	var statsErr error
	m := New(db)
	m.WatchMail(func(ctx context.Context) (int64, int64, error) { return 3, 1, statsErr })
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	for name, want := range map[string]float64{"authgate_mail_queued": 3, "authgate_mail_failed": 1} {
		if got := total(scrape(t, srv.URL, name), func(map[string]string) bool { return true }); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := scrape(t, srv.URL, "go_sql_max_open_connections"); len(got) != 1 || got[`db_name="authgate"}`].labels["db_name"] != "authgate" {
		t.Errorf("database pool series %v, want one with db_name authgate", got)
	}

	// With the outbox unreadable (the database down), the page still
	// serves everything else: that is when the other metrics matter.
	statsErr = errors.New("database is down")
	if got := scrape(t, srv.URL, "authgate_mail_queued"); len(got) != 0 {
		t.Errorf("mail queue reported %v while its stats fail", got)
	}
	if got := scrape(t, srv.URL, "go_sql_max_open_connections"); len(got) != 1 {
		t.Errorf("database pool series %v while the mail stats fail, want still served", got)
	}
}
