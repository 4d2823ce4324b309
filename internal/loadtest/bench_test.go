package loadtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func ms2d(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func seq(n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(n-i) * time.Millisecond // descending: summarize must sort
	}
	return out
}

func TestBenchSummarize(t *testing.T) {
	cases := []struct {
		name    string
		samples []time.Duration
		want    Latency
	}{
		{"none", nil, Latency{}},
		{"one", ms2d(7), Latency{P50: 7 * time.Millisecond, P90: 7 * time.Millisecond, P99: 7 * time.Millisecond, Max: 7 * time.Millisecond, Mean: 7 * time.Millisecond, Samples: 1}},
		{"two", ms2d(10, 2), Latency{P50: 2 * time.Millisecond, P90: 10 * time.Millisecond, P99: 10 * time.Millisecond, Max: 10 * time.Millisecond, Mean: 6 * time.Millisecond, Samples: 2}},
		{"ten", seq(10), Latency{P50: 5 * time.Millisecond, P90: 9 * time.Millisecond, P99: 10 * time.Millisecond, Max: 10 * time.Millisecond, Mean: 5500 * time.Microsecond, Samples: 10}},
		{"hundred", seq(100), Latency{P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond, Mean: 50500 * time.Microsecond, Samples: 100}},
		{"thousand", seq(1000), Latency{P50: 500 * time.Millisecond, P90: 900 * time.Millisecond, P99: 990 * time.Millisecond, Max: 1000 * time.Millisecond, Mean: 500500 * time.Microsecond, Samples: 1000}},
		{"101: ranks round up", seq(101), Latency{P50: 51 * time.Millisecond, P90: 91 * time.Millisecond, P99: 100 * time.Millisecond, Max: 101 * time.Millisecond, Mean: 51 * time.Millisecond, Samples: 101}},
		{"outlier only in max and p99 of few", ms2d(1, 1, 1, 1, 1, 1, 1, 1, 1, 500), Latency{P50: time.Millisecond, P90: time.Millisecond, P99: 500 * time.Millisecond, Max: 500 * time.Millisecond, Mean: 50900 * time.Microsecond, Samples: 10}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := summarize(tc.samples); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// script is a test server whose token endpoint answers request i with
// responses[i % len(responses)].
type scripted struct {
	status int
	header http.Header
	body   string
}

func scriptServer(t *testing.T, responses []scripted) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Authorization") == "" {
			t.Errorf("POST without client authentication")
		}
		i := n.Add(1) - 1
		s := responses[int(i)%len(responses)]
		for k, v := range s.header {
			w.Header()[k] = v
		}
		w.WriteHeader(s.status)
		fmt.Fprint(w, s.body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func checkTotals(t *testing.T, res Result) {
	t.Helper()
	if got := res.Successes + res.Errors.Total(); got != res.Requests {
		t.Errorf("successes %d + errors %d = %d, want requests %d", res.Successes, res.Errors.Total(), got, res.Requests)
	}
	l := res.Latency
	if !(l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency not ordered: %+v", l)
	}
}

func TestBenchErrorCounting(t *testing.T) {
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	srv, served := scriptServer(t, []scripted{
		{200, jsonHeader, `{"access_token":"at","token_type":"bearer"}`},
		{401, jsonHeader, `{"error":"invalid_client","error_description":"bad secret"}`},
		{400, jsonHeader, `{"error":"invalid_grant"}`},
		{503, http.Header{"Content-Type": {"text/html"}}, `<h1>down</h1>`},
		{200, jsonHeader, `{"token_type":"bearer"}`},
		{401, http.Header{"WWW-Authenticate": {`Bearer realm="x", error="invalid_token"`}}, ``},
		{500, jsonHeader, `{"error":{"code":42}}`},
	})
	res, err := Run(context.Background(), Config{
		Scenario: ClientCredentials, TokenURL: srv.URL + "/token", ClientID: "c", ClientSecret: "s",
		Concurrency: 3, Requests: 70,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	if res.Requests != 70 || res.Successes != 10 {
		t.Errorf("requests %d successes %d, want 70 and 10", res.Requests, res.Successes)
	}
	if got := served.Load(); got != 70 {
		t.Errorf("server saw %d requests, want 70", got)
	}
	wantStatus := map[int]int64{401: 20, 400: 10, 503: 10, 500: 10}
	if fmt.Sprint(res.Errors.ByStatus) != fmt.Sprint(wantStatus) {
		t.Errorf("by status: got %v, want %v", res.Errors.ByStatus, wantStatus)
	}
	wantOAuth := map[string]int64{"invalid_client": 10, "invalid_grant": 10, "invalid_token": 10}
	if fmt.Sprint(res.Errors.ByOAuthError) != fmt.Sprint(wantOAuth) {
		t.Errorf("by OAuth error: got %v, want %v", res.Errors.ByOAuthError, wantOAuth)
	}
	wantProto := map[string]int64{"token response without access_token": 10}
	if fmt.Sprint(res.Errors.Protocol) != fmt.Sprint(wantProto) {
		t.Errorf("protocol: got %v, want %v", res.Errors.Protocol, wantProto)
	}
	if len(res.Errors.Transport) != 0 {
		t.Errorf("transport: got %v, want none", res.Errors.Transport)
	}
	if res.Latency.Samples != 70 {
		t.Errorf("latency samples: got %d, want 70", res.Latency.Samples)
	}
}

func TestBenchDocumentErrors(t *testing.T) {
	srv, _ := scriptServer(t, []scripted{
		{200, nil, `{"keys":[]}` + "\n"},
		{200, nil, `<html>maintenance</html>`},
		{404, nil, `{"error":"not_found"}`},
	})
	res, err := Run(context.Background(), Config{Scenario: JWKS, JWKSURL: srv.URL, Requests: 30, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	if res.Successes != 10 || res.Errors.Protocol["response is not a JSON object"] != 10 || res.Errors.ByStatus[404] != 10 || res.Errors.ByOAuthError["not_found"] != 10 {
		t.Errorf("got %d successes, errors %+v; want 10 of each", res.Successes, res.Errors)
	}
}

func TestBenchBasicAuthIsFormEncoded(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "a b" || r.PostForm.Has("client_id") {
			t.Errorf("form: got %v", r.PostForm)
		}
		fmt.Fprint(w, `{"access_token":"x"}`)
	}))
	defer srv.Close()
	_, err := Run(context.Background(), Config{Scenario: ClientCredentials, TokenURL: srv.URL, ClientID: "my client", ClientSecret: "p@ss:w+rd", Scope: "a b", Requests: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("my+client:p%40ss%3Aw%2Brd"))
	if got != want {
		t.Errorf("Authorization: got %q, want %q", got, want)
	}
}

func TestBenchTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		res, err := Run(context.Background(), Config{Scenario: ClientCredentials, TokenURL: "http://" + addr + "/token", ClientID: "c", ClientSecret: "s", Requests: 5})
		if err != nil {
			t.Fatal(err)
		}
		checkTotals(t, res)
		if res.Errors.Transport["connection refused"] != 5 || res.Requests != 5 {
			t.Errorf("got %d requests, transport %v; want 5 connection refused", res.Requests, res.Errors.Transport)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		res, err := Run(context.Background(), Config{Scenario: JWKS, JWKSURL: srv.URL, Requests: 2, Concurrency: 2, Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		checkTotals(t, res)
		if res.Errors.Transport["timeout"] != 2 {
			t.Errorf("transport: got %v, want 2 timeouts", res.Errors.Transport)
		}
		if res.Latency.Max < 50*time.Millisecond {
			t.Errorf("max latency %s, want at least the 50ms timeout", res.Latency.Max)
		}
	})
}

func TestBenchWarmupIsNotCounted(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		time.Sleep(2 * time.Millisecond)
		fmt.Fprint(w, `{"keys":[]}`)
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{Scenario: JWKS, JWKSURL: srv.URL, Requests: 20, Concurrency: 2, Warmup: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	if res.Requests != 20 || res.Successes != 20 {
		t.Errorf("got %d requests, %d successes; want 20 and 20", res.Requests, res.Successes)
	}
	// 200ms of warm-up at 2ms a request from 2 workers is far more than 20.
	if got := served.Load(); got < 40 {
		t.Errorf("server saw %d requests, want the 20 counted plus at least 20 warm-up ones", got)
	}
	if res.Duration >= 200*time.Millisecond {
		t.Errorf("duration %s includes the 200ms warm-up", res.Duration)
	}
}

func TestBenchDurationAndProgress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Millisecond)
		fmt.Fprint(w, `{"issuer":"x"}`)
	}))
	defer srv.Close()
	var progress bytes.Buffer
	res, err := Run(context.Background(), Config{Scenario: Discovery, DiscoveryURL: srv.URL, Duration: 1200 * time.Millisecond, Concurrency: 2, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	checkTotals(t, res)
	if res.Duration < 1200*time.Millisecond || res.Duration > 2*time.Second {
		t.Errorf("duration: got %s, want about 1.2s", res.Duration)
	}
	if res.Requests == 0 || res.Successes != res.Requests {
		t.Errorf("got %d requests, %d successes", res.Requests, res.Successes)
	}
	line := progress.String()
	if !strings.HasPrefix(line, "\r") || !strings.Contains(line, "requests") || !strings.Contains(line, "/s") || !strings.HasSuffix(line, "\n") {
		t.Errorf("progress: got %q, want a \\r-rewritten line with the requests and the rate, ended by a newline", line)
	}
}

func TestBenchCancelStopsTheRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, Config{Scenario: JWKS, JWKSURL: srv.URL, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 5*time.Second || !res.Interrupted {
		t.Errorf("after cancel: took %s, interrupted %v; want a prompt, interrupted result", time.Since(start), res.Interrupted)
	}
	checkTotals(t, res)
	if res.Errors.Total() != 0 {
		t.Errorf("cancelled requests counted as errors: %+v", res.Errors)
	}
}

// fakeProvider is a minimal OAuth server: discovery, a login form behind
// a cookie session, a consent form, PKCE-checked codes, and refresh
// tokens that rotate and may be used once.
type fakeProvider struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	codes  map[string]string // code -> challenge
	tokens map[string]bool   // refresh tokens still valid
	n      int
	logins atomic.Int64
	// badState makes the server answer with another state.
	badState bool
	// onRefresh, if set, runs (under mu) before a refresh token is checked.
	onRefresh func()
}

func newFakeProvider(t *testing.T) *fakeProvider {
	p := &fakeProvider{t: t, codes: map[string]string{}, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{
			"issuer": p.srv.URL, "token_endpoint": p.srv.URL + "/token", "authorization_endpoint": p.srv.URL + "/authorize",
			"jwks_uri": p.srv.URL + "/jwks", "introspection_endpoint": p.srv.URL + "/introspect",
		})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("redirect_uri") != "http://client.test/cb" {
			http.Error(w, "bad request", 400)
			return
		}
		if c, err := r.Cookie("sid"); err != nil || c.Value != "alice" {
			http.Redirect(w, r, "login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		// Consent: a form with a deny button first, then allow.
		fmt.Fprintf(w, `<html><form action='/consent' method=POST><input name=next type=hidden value="%s">
			<button type=submit name=decision value=deny>Deny</button><button name=decision value=Allow>Allow</button></form>`,
			strings.ReplaceAll(r.URL.RequestURI(), "&", "&amp;"))
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "csrf", Value: "k", Path: "/"})
		fmt.Fprintf(w, `<form method="post"><input value="k" type="hidden" name="xsrf"><input name="next" type="hidden" value="%s">
			<input name="login" type="email"><input type="password" name="secret"><input type=submit value="Sign in"></form>`,
			strings.ReplaceAll(r.URL.Query().Get("next"), "&", "&amp;"))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("csrf")
		if err != nil || c.Value != r.PostFormValue("xsrf") || r.PostFormValue("login") != "alice" || r.PostFormValue("secret") != "pw" {
			w.WriteHeader(401)
			fmt.Fprint(w, "<p>wrong</p>")
			return
		}
		p.logins.Add(1)
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "alice", Path: "/"})
		http.Redirect(w, r, r.PostFormValue("next"), http.StatusSeeOther)
	})
	mux.HandleFunc("POST /consent", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("decision") != "Allow" {
			http.Error(w, "denied", http.StatusForbidden)
			return
		}
		next, _ := url.Parse(r.PostFormValue("next"))
		q := next.Query()
		p.mu.Lock()
		p.n++
		code := fmt.Sprintf("code-%d", p.n)
		p.codes[code] = q.Get("code_challenge")
		p.mu.Unlock()
		state := q.Get("state")
		if p.badState {
			state = "other"
		}
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {state}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "app" || secret != "s3cret" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		switch r.PostFormValue("grant_type") {
		case "authorization_code":
			challenge, ok := p.codes[r.PostFormValue("code")]
			delete(p.codes, r.PostFormValue("code"))
			sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
			if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge || r.PostFormValue("redirect_uri") != "http://client.test/cb" {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
		case "password":
			if r.PostFormValue("username") != "alice" || r.PostFormValue("password") != "pw" {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
		case "refresh_token":
			if p.onRefresh != nil {
				p.onRefresh()
			}
			rt := r.PostFormValue("refresh_token")
			if !p.tokens[rt] {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant","error_description":"reused or unknown"}`)
				return
			}
			delete(p.tokens, rt)
		default:
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":"unsupported_grant_type"}`)
			return
		}
		p.n++
		rt := fmt.Sprintf("rt-%d", p.n)
		p.tokens[rt] = true
		json.NewEncoder(w).Encode(map[string]string{"access_token": fmt.Sprintf("at-%d", p.n), "refresh_token": rt})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeProvider) config(scenario string) Config {
	return Config{
		Scenario: scenario, Issuer: p.srv.URL, ClientID: "app", ClientSecret: "s3cret",
		Username: "alice", Password: "pw", RedirectURI: "http://client.test/cb", Scope: "openid",
		Concurrency: 3, Requests: 30,
	}
}

func TestBenchAuthorizationCodeFlow(t *testing.T) {
	cases := []struct {
		name       string
		reuse      bool
		wantLogins int64
	}{
		{"fresh login each time", false, 30},
		{"session reused", true, 3}, // one login per worker
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newFakeProvider(t)
			cfg := p.config(AuthorizationCode)
			cfg.ReuseSession = tc.reuse
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkTotals(t, res)
			if res.Successes != 30 {
				t.Fatalf("successes: got %d, want 30; errors %+v", res.Successes, res.Errors)
			}
			if got := p.logins.Load(); got != tc.wantLogins {
				t.Errorf("logins: got %d, want %d", got, tc.wantLogins)
			}
			if res.Endpoint != p.srv.URL+"/authorize" {
				t.Errorf("endpoint: got %q, want the discovered authorization endpoint", res.Endpoint)
			}
		})
	}
	t.Run("state mismatch", func(t *testing.T) {
		p := newFakeProvider(t)
		p.badState = true
		cfg := p.config(AuthorizationCode)
		cfg.Requests = 4
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkTotals(t, res)
		if got := res.Errors.Protocol["state in the redirect does not match"]; got != 4 {
			t.Errorf("state mismatches: got %d, want 4; errors %+v", got, res.Errors)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		p := newFakeProvider(t)
		cfg := p.config(AuthorizationCode)
		cfg.Password = "nope"
		cfg.Requests = 4
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkTotals(t, res)
		if got := res.Errors.ByStatus[401]; got != 4 {
			t.Errorf("401s: got %d, want 4; errors %+v", got, res.Errors)
		}
	})
}

func TestBenchRefreshHonoursRotation(t *testing.T) {
	for _, flow := range []string{FlowPassword, FlowCode} {
		t.Run(flow, func(t *testing.T) {
			p := newFakeProvider(t)
			cfg := p.config(Refresh)
			cfg.Flow = flow
			cfg.Requests = 60
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkTotals(t, res)
			if res.Successes != 60 {
				t.Errorf("successes: got %d, want 60 (a reused refresh token fails); errors %+v", res.Successes, res.Errors)
			}
		})
	}
	t.Run("a failure gets a new chain", func(t *testing.T) {
		p := newFakeProvider(t)
		cfg := p.config(Refresh)
		cfg.Concurrency = 1
		cfg.Requests = 6
		// Revoke every refresh token once, after the worker got its own.
		var once sync.Once
		p.onRefresh = func() { once.Do(func() { clear(p.tokens) }) }
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkTotals(t, res)
		if res.Successes != 5 || res.Errors.ByOAuthError["invalid_grant"] != 1 {
			t.Errorf("got %d successes, errors %+v; want 5 and one invalid_grant", res.Successes, res.Errors)
		}
	})
}

func TestBenchParseForms(t *testing.T) {
	page := `<!doctype html><body>
	<form id=search action="/search"><input name=q></form>
	<form action="/login?x=1&amp;y=2" method='post'>
	  <input type="hidden" value="a&amp;b&#43;c" name="csrf_token">
	  <input name="return_to" type=hidden value='/oauth2/authorize?client_id=c&amp;state=s'>
	  <input id=u name="username" autocomplete=username>
	  <input name=password type=PASSWORD>
	  <input type=checkbox name=remember checked>
	  <input type=checkbox name=spam>
	  <input type=hidden name=off disabled value=1>
	  <button>Sign in</button>
	</form>`
	forms := parseForms([]byte(page))
	if len(forms) != 2 {
		t.Fatalf("got %d forms, want 2", len(forms))
	}
	f, ok := loginForm(forms)
	if !ok {
		t.Fatal("no login form found")
	}
	if f.action != "/login?x=1&y=2" || f.method != "post" || f.user != "username" || f.password != "password" {
		t.Errorf("login form: got %+v", f)
	}
	want := url.Values{"csrf_token": {"a&b+c"}, "return_to": {"/oauth2/authorize?client_id=c&state=s"}, "remember": {"on"}}
	if got := f.values(); got.Encode() != want.Encode() {
		t.Errorf("fields: got %v, want %v", got, want)
	}
	base, _ := url.Parse("http://idp.test/login?return_to=z")
	req, err := f.request(context.Background(), base, f.values())
	if err != nil || req.Method != "POST" || req.URL.String() != "http://idp.test/login?x=1&y=2" {
		t.Errorf("submission: got %v %v (%v)", req.Method, req.URL, err)
	}

	consent := `<form method="post" action="/oauth2/authorize"><input type="hidden" name="csrf_token" value="t">
	<button type="submit" name="consent" value="allow" id="allow">Allow</button>
	<button type="submit" name="consent" value="deny" class="secondary">Deny</button></form>`
	cf, submit, ok := consentForm(parseForms([]byte(consent)))
	if !ok || submit != (field{"consent", "allow"}) || cf.action != "/oauth2/authorize" {
		t.Errorf("consent form: got %+v, submit %+v, found %v", cf, submit, ok)
	}
	if _, ok := loginForm(parseForms([]byte(consent))); ok {
		t.Error("a consent form taken for a login form")
	}
}

func TestBenchValidate(t *testing.T) {
	good := Config{Scenario: ClientCredentials, Issuer: "http://idp.test", ClientID: "c", ClientSecret: "s", Duration: time.Second}
	cases := []struct {
		name   string
		change func(c *Config)
		want   string // in the error; "" for none
	}{
		{"good", func(c *Config) {}, ""},
		{"unknown scenario", func(c *Config) { c.Scenario = "implicit" }, `unknown scenario "implicit"; valid scenarios: client_credentials, password, refresh, introspect, authorization_code, jwks, discovery`},
		{"no scenario", func(c *Config) { c.Scenario = "" }, "valid scenarios: client_credentials"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "needs a client secret"},
		{"no issuer, no endpoint", func(c *Config) { c.Issuer = "" }, "needs the token endpoint"},
		{"no issuer, explicit endpoint", func(c *Config) { c.Issuer = ""; c.TokenURL = "http://idp.test/token" }, ""},
		{"relative URL", func(c *Config) { c.TokenURL = "/token" }, "not an absolute http or https URL"},
		{"neither duration nor requests", func(c *Config) { c.Duration = 0 }, "give a duration or a request count"},
		{"negative concurrency", func(c *Config) { c.Concurrency = -1 }, "concurrency"},
		{"password without user", func(c *Config) { c.Scenario = Password }, "needs a username"},
		{"code without redirect", func(c *Config) {
			c.Scenario = AuthorizationCode
			c.Username, c.Password = "u", "p"
		}, "needs a redirect URI"},
		{"flow outside refresh", func(c *Config) { c.Flow = FlowCode }, "refresh scenario only"},
		{"unknown flow", func(c *Config) {
			c.Scenario = Refresh
			c.Username, c.Password, c.Flow = "u", "p", "implicit"
		}, `unknown flow "implicit"`},
		{"discovery without issuer", func(c *Config) { c.Scenario = Discovery; c.Issuer = "" }, "needs the issuer or the discovery URL"},
		{"device without user", func(c *Config) { c.Scenario = Device }, "needs a username"},
		{"device without issuer", func(c *Config) {
			c.Scenario, c.Issuer, c.TokenURL = Device, "", "http://idp.test/token"
			c.Username, c.Password = "u", "p"
		}, "needs the device authorization endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestBenchResultJSONAndText(t *testing.T) {
	res := Result{
		Scenario: ClientCredentials, Endpoint: "http://idp.test/token", Concurrency: 2,
		Duration: 2 * time.Second, Requests: 10, Successes: 7,
		Latency: Latency{P50: 1500 * time.Microsecond, P90: 2 * time.Millisecond, P99: 3 * time.Millisecond, Max: 4 * time.Millisecond, Mean: 2 * time.Millisecond, Samples: 10},
		Errors: Errors{
			ByStatus: map[int]int64{401: 2}, ByOAuthError: map[string]int64{"invalid_client": 2},
			Transport: map[string]int64{"timeout": 1},
		},
	}
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"scenario":"client_credentials","endpoint":"http://idp.test/token","concurrency":2,"warmup_seconds":0,"duration_seconds":2,` +
		`"requests":10,"successes":7,"failures":3,"requests_per_second":5,` +
		`"latency_ms":{"p50":1.5,"p90":2,"p99":3,"max":4,"mean":2,"samples":10},` +
		`"errors":{"by_status":{"401":2},"by_oauth_error":{"invalid_client":2},"transport":{"timeout":1},"protocol":{}},"interrupted":false}`
	if string(raw) != want {
		t.Errorf("JSON:\ngot  %s\nwant %s", raw, want)
	}
	var text bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"throughput  5.0 requests/s", "p50 1.50ms", "p99 3.00ms", "HTTP 401", "OAuth error invalid_client", "transport: timeout"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, text.String())
		}
	}
}
