package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The scenarios Run knows.
const (
	// ClientCredentials posts grant_type=client_credentials to the token
	// endpoint with HTTP Basic client authentication.
	ClientCredentials = "client_credentials"
	// Password posts the resource-owner password grant; the password is
	// sent as given (for authgate's legacy grant, with the security token
	// already appended).
	Password = "password"
	// Refresh gives each worker a refresh token of its own (through the
	// password grant, or the authorization-code flow when Flow is "code")
	// and then exchanges the worker's current refresh token again and
	// again, keeping the rotated one each time.
	Refresh = "refresh"
	// Introspect gets one access token by client credentials and then
	// introspects it.
	Introspect = "introspect"
	// AuthorizationCode runs the whole browser flow per iteration:
	// authorize with PKCE and state, sign in on the login form, allow on
	// the consent form, catch the redirect to the client and exchange the
	// code.
	AuthorizationCode = "authorization_code"
	// JWKS gets the JSON Web Key Set.
	JWKS = "jwks"
	// Discovery gets the OpenID Provider configuration document.
	Discovery = "discovery"
	// Device runs the device authorization grant (RFC 8628) per
	// iteration: the device authorization request, the person's sign-in,
	// code entry and approval on the verification pages, and the device's
	// token request.
	Device = "device"
)

// Scenarios lists every scenario, in the order help text shows them.
var Scenarios = []string{ClientCredentials, Password, Refresh, Introspect, AuthorizationCode, JWKS, Discovery, Device}

// How the refresh scenario gets its first refresh tokens.
const (
	FlowPassword = "password"
	FlowCode     = "code"
)

// Defaults applied by Run to zero fields.
const (
	DefaultTimeout = 10 * time.Second
)

// Config says what to load and how hard. Endpoints not given explicitly
// are read from the discovery document at DiscoveryURL, which defaults to
// Issuer + "/.well-known/openid-configuration".
type Config struct {
	Scenario string

	Issuer        string
	DiscoveryURL  string
	TokenURL      string
	AuthorizeURL  string
	IntrospectURL string
	JWKSURL       string
	// DeviceAuthorizeURL is the RFC 8628 device authorization endpoint.
	DeviceAuthorizeURL string

	ClientID     string
	ClientSecret string // empty for a public client: client_id goes in the form instead
	Username     string
	Password     string
	Scope        string
	RedirectURI  string

	// Flow is how the refresh scenario gets its refresh tokens:
	// FlowPassword (the default) or FlowCode.
	Flow string
	// ReuseSession keeps each authorization_code worker's cookies between
	// iterations, so a signed-in user skips the login (and a remembered
	// consent skips the consent page).
	ReuseSession bool

	Concurrency int           // workers; 0 means 1
	Duration    time.Duration // how long to measure after the warm-up, when Requests is 0
	Requests    int           // how many requests to count; 0 means run for Duration
	Warmup      time.Duration // load applied but not counted, before measuring
	Timeout     time.Duration // per HTTP request; 0 means DefaultTimeout

	// Proxy chooses the proxy of each request, as http.Transport.Proxy
	// does; nil means none. The package reads no environment: the caller
	// decides (the bench command passes HTTP_PROXY and its kin).
	Proxy func(*http.Request) (*url.URL, error)

	// Progress receives a live progress line every second, rewritten in
	// place with \r; nil means none.
	Progress io.Writer
}

// Validate reports what is missing or wrong in c for its scenario, every
// problem on a line of its own. It does not contact the server.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Scenario == "" {
		return fmt.Errorf("no scenario; valid scenarios: %s", strings.Join(Scenarios, ", "))
	}
	if !slices.Contains(Scenarios, c.Scenario) {
		return fmt.Errorf("unknown scenario %q; valid scenarios: %s", c.Scenario, strings.Join(Scenarios, ", "))
	}
	if c.Concurrency < 0 {
		bad("concurrency must be at least 1, got %d", c.Concurrency)
	}
	if c.Requests < 0 {
		bad("request count must not be negative, got %d", c.Requests)
	}
	if c.Duration < 0 {
		bad("duration must not be negative, got %s", c.Duration)
	}
	if c.Requests == 0 && c.Duration == 0 {
		bad("give a duration or a request count")
	}
	if c.Warmup < 0 {
		bad("warm-up must not be negative, got %s", c.Warmup)
	}
	if c.Timeout < 0 {
		bad("timeout must not be negative, got %s", c.Timeout)
	}
	for _, u := range []struct{ name, value string }{
		{"issuer", c.Issuer}, {"discovery URL", c.DiscoveryURL}, {"token URL", c.TokenURL},
		{"authorization URL", c.AuthorizeURL}, {"introspection URL", c.IntrospectURL}, {"JWKS URL", c.JWKSURL},
		{"device authorization URL", c.DeviceAuthorizeURL},
	} {
		if u.value == "" {
			continue
		}
		if p, err := url.Parse(u.value); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad("%s %q is not an absolute http or https URL", u.name, u.value)
		}
	}
	if c.Flow != "" && c.Flow != FlowPassword && c.Flow != FlowCode {
		bad("unknown flow %q; valid flows: %s, %s", c.Flow, FlowPassword, FlowCode)
	}
	if c.Flow != "" && c.Scenario != Refresh {
		bad("a flow applies to the %s scenario only", Refresh)
	}
	if c.ReuseSession && c.Scenario != AuthorizationCode && c.Scenario != Device {
		bad("reusing the session applies to the %s and %s scenarios only", AuthorizationCode, Device)
	}

	ep := c.neededEndpoints()
	if c.Issuer == "" && c.DiscoveryURL == "" {
		if c.Scenario == Discovery {
			bad("scenario %s needs the issuer or the discovery URL", c.Scenario)
		}
		for _, e := range ep {
			if *e.explicit(&c) == "" {
				bad("scenario %s needs the %s: give the issuer (for discovery) or the %s", c.Scenario, e.name, e.name)
			}
		}
	}
	need := func(what, value string) {
		if value == "" {
			bad("scenario %s needs a %s", c.Scenario, what)
		}
	}
	switch c.Scenario {
	case ClientCredentials, Introspect:
		need("client ID", c.ClientID)
		need("client secret", c.ClientSecret)
	case Password:
		need("client ID", c.ClientID)
		need("username", c.Username)
		need("password", c.Password)
	case Refresh:
		need("client ID", c.ClientID)
		need("username", c.Username)
		need("password", c.Password)
		if c.Flow == FlowCode {
			need("redirect URI", c.RedirectURI)
		}
	case AuthorizationCode:
		need("client ID", c.ClientID)
		need("username", c.Username)
		need("password", c.Password)
		need("redirect URI", c.RedirectURI)
	case Device:
		need("client ID", c.ClientID)
		need("username", c.Username)
		need("password", c.Password)
	}
	if c.RedirectURI != "" {
		if p, err := url.Parse(c.RedirectURI); err != nil || p.Scheme == "" {
			bad("redirect URI %q is not an absolute URI", c.RedirectURI)
		}
	}
	return errors.Join(errs...)
}

// endpointField names one endpoint and where Config holds it.
type endpointField struct {
	name     string
	doc      string // the discovery document's member
	explicit func(*Config) *string
}

var (
	tokenEndpoint      = endpointField{"token endpoint", "token_endpoint", func(c *Config) *string { return &c.TokenURL }}
	authorizeEndpoint  = endpointField{"authorization endpoint", "authorization_endpoint", func(c *Config) *string { return &c.AuthorizeURL }}
	introspectEndpoint = endpointField{"introspection endpoint", "introspection_endpoint", func(c *Config) *string { return &c.IntrospectURL }}
	jwksEndpoint       = endpointField{"JWKS URI", "jwks_uri", func(c *Config) *string { return &c.JWKSURL }}
)

// neededEndpoints lists the endpoints c's scenario talks to, besides the
// discovery document.
func (c Config) neededEndpoints() []endpointField {
	switch c.Scenario {
	case ClientCredentials, Password:
		return []endpointField{tokenEndpoint}
	case Refresh:
		if c.Flow == FlowCode {
			return []endpointField{tokenEndpoint, authorizeEndpoint}
		}
		return []endpointField{tokenEndpoint}
	case Introspect:
		return []endpointField{tokenEndpoint, introspectEndpoint}
	case AuthorizationCode:
		return []endpointField{tokenEndpoint, authorizeEndpoint}
	case JWKS:
		return []endpointField{jwksEndpoint}
	case Device:
		return []endpointField{tokenEndpoint, deviceAuthorizeEndpoint}
	}
	return nil
}

// Run resolves the endpoints, prepares every worker (getting the tokens
// a scenario starts from), applies the warm-up load, and then measures
// until Duration has passed or Requests have been counted. When ctx ends
// during the measurement, Run returns what it measured so far with
// Interrupted set; an error means nothing could be measured.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 1
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	t := newTarget(cfg)
	defer t.transport.CloseIdleConnections()
	if err := t.resolve(ctx); err != nil {
		return Result{}, err
	}
	endpoint, workers, err := t.workers(ctx)
	if err != nil {
		return Result{}, err
	}
	res := measure(ctx, cfg, workers)
	res.Scenario = cfg.Scenario
	res.Endpoint = endpoint
	return res, nil
}

// worker performs iterations of a scenario. One worker is only ever used
// by one goroutine.
type worker interface {
	// do performs one timed iteration.
	do(ctx context.Context) outcome
}

// preparer is a worker that may need untimed work before an iteration,
// such as getting a new refresh token after a failure broke its chain.
type preparer interface {
	prepare(ctx context.Context) outcome
}

// outcome is how one iteration ended: zero is success; otherwise exactly
// one of status, transport and protocol is set.
type outcome struct {
	status     int    // an HTTP status the scenario did not expect
	oauthError string // the OAuth error code that came with status
	transport  string // the kind of a transport error
	protocol   string // what was wrong with an otherwise successful response
}

func (o outcome) ok() bool { return o.status == 0 && o.transport == "" && o.protocol == "" }

// String describes a failure for setup errors.
func (o outcome) String() string {
	switch {
	case o.status != 0 && o.oauthError != "":
		return fmt.Sprintf("HTTP %d, OAuth error %s", o.status, o.oauthError)
	case o.status != 0:
		return fmt.Sprintf("HTTP %d", o.status)
	case o.transport != "":
		return "transport error: " + o.transport
	case o.protocol != "":
		return o.protocol
	}
	return "ok"
}

// workerStats is one worker's counts; only its worker writes it, so it
// needs no lock.
type workerStats struct {
	latencies []time.Duration
	requests  int64
	successes int64
	errors    Errors
}

func (s *workerStats) add(o outcome, latency time.Duration, timed bool) {
	s.requests++
	if timed {
		s.latencies = append(s.latencies, latency)
	}
	if o.ok() {
		s.successes++
		return
	}
	s.errors.add(o)
}

// live holds the counters the progress line reads while workers run.
type live struct {
	requests atomic.Int64
	failures atomic.Int64
	reserved atomic.Int64 // request slots taken, when counting to Requests
}

// retryPause is how long a worker waits after it could not prepare an
// iteration, so a broken server is not hammered in a tight loop.
const retryPause = 100 * time.Millisecond

// measure runs workers: they apply load during the warm-up without
// counting it, then count until cfg.Duration has passed or cfg.Requests
// were counted. A request is counted when it starts after the warm-up;
// requests in flight when the duration ends are finished and counted.
func measure(ctx context.Context, cfg Config, workers []worker) Result {
	start := time.Now()
	measureStart := start.Add(cfg.Warmup)
	measureEnd := measureStart.Add(cfg.Duration)
	limit := int64(cfg.Requests)
	capacity := 1 << 14
	if limit > 0 {
		capacity = int(limit)/len(workers) + 1
	}

	var lv live
	stopProgress := startProgress(cfg, start, &lv)

	stats := make([]*workerStats, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		st := &workerStats{latencies: make([]time.Duration, 0, capacity), errors: newErrors()}
		stats[i] = st
		wg.Go(func() {
			for ctx.Err() == nil {
				now := time.Now()
				counted := !now.Before(measureStart)
				if counted {
					if limit > 0 {
						if lv.reserved.Add(1) > limit {
							return
						}
					} else if !now.Before(measureEnd) {
						return
					}
				}
				if p, ok := w.(preparer); ok {
					if o := p.prepare(ctx); !o.ok() {
						if ctx.Err() != nil {
							return
						}
						if counted {
							st.add(o, 0, false)
							lv.requests.Add(1)
							lv.failures.Add(1)
						}
						sleep(ctx, retryPause)
						continue
					}
				}
				t0 := time.Now()
				o := w.do(ctx)
				latency := time.Since(t0)
				if !o.ok() && ctx.Err() != nil {
					return // the caller gave up; not the server's failure
				}
				if counted {
					st.add(o, latency, true)
					lv.requests.Add(1)
					if !o.ok() {
						lv.failures.Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	end := time.Now()
	stopProgress()

	res := Result{Concurrency: len(workers), Warmup: cfg.Warmup, Errors: newErrors(), Interrupted: ctx.Err() != nil}
	res.Duration = max(end.Sub(measureStart), 0)
	n := 0
	for _, st := range stats {
		n += len(st.latencies)
	}
	all := make([]time.Duration, 0, n)
	for _, st := range stats {
		res.Requests += st.requests
		res.Successes += st.successes
		res.Errors.merge(st.errors)
		all = append(all, st.latencies...)
	}
	res.Latency = summarize(all)
	return res
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// progressInterval is how often the progress line is rewritten.
const progressInterval = time.Second

// startProgress rewrites a progress line on cfg.Progress every second
// until the returned function is called, which ends the line.
func startProgress(cfg Config, start time.Time, lv *live) (stop func()) {
	w := cfg.Progress
	if w == nil {
		return func() {}
	}
	measureStart := start.Add(cfg.Warmup)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		var lastReqs int64
		lastTime := measureStart
		printed := false
		for {
			select {
			case <-done:
				if printed {
					fmt.Fprintln(w)
				}
				return
			case now := <-tick.C:
				var line string
				elapsed := now.Sub(measureStart)
				switch {
				case elapsed < 0:
					line = fmt.Sprintf("warm-up %s/%s", now.Sub(start).Round(time.Second), cfg.Warmup)
				case elapsed < progressInterval/2:
					continue // too soon after the warm-up for a rate
				default:
					reqs := lv.requests.Load()
					rate := float64(reqs-lastReqs) / now.Sub(lastTime).Seconds()
					lastReqs, lastTime = reqs, now
					if cfg.Requests > 0 {
						line = fmt.Sprintf("%s  %d/%d requests  %.0f/s  %d errors", elapsed.Round(time.Second), reqs, cfg.Requests, rate, lv.failures.Load())
					} else {
						line = fmt.Sprintf("%s/%s  %d requests  %.0f/s  %d errors", elapsed.Round(time.Second), cfg.Duration, reqs, rate, lv.failures.Load())
					}
				}
				// Pad so a shorter line hides the end of the longer one before.
				fmt.Fprintf(w, "\r%-64s", line)
				printed = true
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
