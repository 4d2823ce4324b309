// Package metrics exposes authgate's Prometheus metrics: requests, latency,
// grants, legacy use, lockouts, the mail queue and the database pool.
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authgate/authgate/server/web"
)

// MailStats reports the outbox: messages queued and messages failed.
type MailStats func(ctx context.Context) (queued, failed int64, err error)

// Metrics holds authgate's collectors in a registry of its own.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	tokens       *prometheus.CounterVec
	legacyGrants *prometheus.CounterVec
	lockouts     *prometheus.CounterVec
	throttled    *prometheus.CounterVec
	mfa          *prometheus.CounterVec

	// routeSeries caches the request counter and latency observer of each
	// (route, method, status): looking them up in the vectors hashes the
	// label values on every request. The labels are bounded (patterns,
	// known methods, status codes), and so is the cache.
	routeSeries sync.Map // routeKey -> routeSeriesValue
}

type routeKey struct {
	route, method string
	status        int
}

type routeSeriesValue struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

func (m *Metrics) seriesFor(route, method string, status int) routeSeriesValue {
	if statusLabel(status) == labelOther {
		status = 0
	}
	k := routeKey{route, method, status}
	if v, ok := m.routeSeries.Load(k); ok {
		return v.(routeSeriesValue)
	}
	v := routeSeriesValue{
		requests: m.requests.WithLabelValues(route, methodLabel(method), statusLabel(status)),
		latency:  m.latency.WithLabelValues(route),
	}
	m.routeSeries.Store(k, v)
	return v
}

// New registers the collectors, with the database pool's statistics when
// db is not nil.
func New(db *sql.DB) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authgate_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_token_requests_total", Help: "Token endpoint requests by grant type and result (ok or the OAuth error code).",
		}, []string{"grant_type", "result"}),
		legacyGrants: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_legacy_grants_total", Help: "Legacy password grant attempts by client and login-history result.",
		}, []string{"client_id", "result"}),
		lockouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_lockouts_total", Help: "Users locked after repeated failures, by channel.",
		}, []string{"channel"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_throttled_requests_total", Help: "Requests refused by a per-source rate limit, by endpoint; spray_* counts sources throttled for failing across usernames.",
		}, []string{"endpoint"}),
		mfa: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authgate_mfa_attempts_total", Help: "Second-factor checks by factor (totp, recovery_code, passkey) and result (success or failure).",
		}, []string{"factor", "result"}),
	}
	reg.MustRegister(m.mfa)
	reg.MustRegister(m.requests, m.latency, m.tokens, m.legacyGrants, m.lockouts, m.throttled,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		reg.MustRegister(collectors.NewDBStatsCollector(db, "authgate"))
	}
	return m
}

// WatchMail adds the outbox gauges, read from stats at each scrape. Call
// it once, when the mail sender exists.
func (m *Metrics) WatchMail(stats MailStats) {
	if m == nil || stats == nil {
		return
	}
	m.reg.MustRegister(&mailCollector{stats: stats,
		queued: prometheus.NewDesc("authgate_mail_queued", "Messages waiting in the outbox.", nil, nil),
		failed: prometheus.NewDesc("authgate_mail_failed", "Messages that exhausted their delivery attempts.", nil, nil),
	})
}

// Handler serves the metrics in the Prometheus text format. A collector
// that fails (the mail queue while the database is down) is left out and
// the rest is still served: an outage is when the others matter.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Token counts one token endpoint answer. grantType may be anything a
// client sent: only known grant types become a label of their own. result
// is "ok" or an OAuth error code, which the server chooses.
func (m *Metrics) Token(grantType, result string) {
	if m == nil {
		return
	}
	m.tokens.WithLabelValues(grantTypeLabel(grantType), result).Inc()
}

// Legacy counts one legacy grant attempt of an authenticated client (so
// clientID names a registered client, never a value a caller invented).
// Its lockouts are counted by Lockout, like every channel's.
func (m *Metrics) Legacy(clientID, result string) {
	if m != nil {
		m.legacyGrants.WithLabelValues(clientID, result).Inc()
	}
}

// Lockout counts one lockout: a user locked after repeated failures on
// channel (the sign-in channel's name, "login_page" or "password_grant",
// chosen by the server, never by a request). The sign-in core calls it,
// through its OnLockout hook, for every lock an attempt starts.
func (m *Metrics) Lockout(channel string) {
	if m != nil {
		m.lockouts.WithLabelValues(channel).Inc()
	}
}

// Throttled counts one request refused by a per-source rate limit on
// endpoint ("login", "password_grant", "security_token_reset"), or one
// source the sign-in core throttled for failing across usernames
// ("spray_" and the channel): chosen by the server, never by a request.
func (m *Metrics) Throttled(endpoint string) {
	if m != nil {
		m.throttled.WithLabelValues(endpoint).Inc()
	}
}

// mfaFactors are the factor label's values; any other is "other".
var mfaFactors = []string{"totp", "recovery_code", "passkey"}

// MFA counts one second-factor check: factor is the login history's
// factor, result its result ("Success" counts as success, anything else
// as failure), so that no request can add a series.
func (m *Metrics) MFA(factor, result string) {
	if m == nil {
		return
	}
	if !slices.Contains(mfaFactors, factor) {
		factor = "other"
	}
	outcome := "failure"
	if result == "Success" {
		outcome = "success"
	}
	m.mfa.WithLabelValues(factor, outcome).Inc()
}

// Labels that come from a request take their value from a fixed list, so
// that no client can add a series: every series lives as long as the
// process, and an invented value per request would grow memory and the
// /metrics page without bound.
const (
	labelNone  = "none"  // the request carried no value
	labelOther = "other" // a value outside the known list
)

// knownMethods are the HTTP methods of RFC 9110 and PATCH; any other method
// is labelled "other".
var knownMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace,
}

// knownGrantTypes are the grant types of the OAuth 2.0 RFCs, whether or not
// authgate implements them (an unsupported one is still worth telling
// apart); any other is labelled "other".
var knownGrantTypes = []string{
	"authorization_code",
	"refresh_token",
	"client_credentials",
	"password",
	"urn:ietf:params:oauth:grant-type:device_code",
	"urn:ietf:params:oauth:grant-type:jwt-bearer",
	"urn:ietf:params:oauth:grant-type:saml2-bearer",
	"urn:ietf:params:oauth:grant-type:token-exchange",
}

// methodLabel returns method if it is a known HTTP method, else "other".
func methodLabel(method string) string {
	return oneOf(method, knownMethods)
}

// grantTypeLabel returns grantType if it is a known grant type, "none"
// when it is empty, else "other".
func grantTypeLabel(grantType string) string {
	if grantType == "" {
		return labelNone
	}
	return oneOf(grantType, knownGrantTypes)
}

// statusLabel returns the status code as text, or "other" outside the
// range of HTTP status codes.
func statusLabel(code int) string {
	if code < 100 || code > 599 {
		return labelOther
	}
	return strconv.Itoa(code)
}

func oneOf(v string, known []string) string {
	if slices.Contains(known, v) {
		return v
	}
	return labelOther
}

// Middleware counts requests and their latency by route. It must wrap the
// ServeMux directly: the mux records the matched pattern on the request it
// is given, and the route label is read from there, so that unbounded
// paths never become labels. Methods outside the known list are counted
// as "other".
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// The request log's recorder, when it is outside, already
		// records the status.
		rec, ok := w.(*web.Recorder)
		if !ok {
			rec = web.NewRecorder(w)
		}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		// The cache is keyed by the method as sent only when it is a
		// known one, so that invented methods cannot grow it.
		series := m.seriesFor(route, methodLabel(r.Method), rec.Status())
		series.requests.Inc()
		series.latency.Observe(time.Since(start).Seconds())
	})
}

type mailCollector struct {
	stats          MailStats
	queued, failed *prometheus.Desc
}

func (c *mailCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.queued; ch <- c.failed }

func (c *mailCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	queued, failed, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.queued, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(queued))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(failed))
}
