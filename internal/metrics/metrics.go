// Package metrics exposes authgate's Prometheus metrics: requests, latency,
// grants, legacy use, lockouts, the mail queue and the database pool.
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
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
	lockouts     prometheus.Counter
}

// New registers the collectors. db and mail may be nil.
func New(db *sql.DB, mail MailStats) *Metrics {
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
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "authgate_lockouts_total", Help: "Users locked after repeated failures.",
		}),
	}
	reg.MustRegister(m.requests, m.latency, m.tokens, m.legacyGrants, m.lockouts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		reg.MustRegister(collectors.NewDBStatsCollector(db, "authgate"))
	}
	if mail != nil {
		reg.MustRegister(&mailCollector{stats: mail,
			queued: prometheus.NewDesc("authgate_mail_queued", "Messages waiting in the outbox.", nil, nil),
			failed: prometheus.NewDesc("authgate_mail_failed", "Messages that exhausted their delivery attempts.", nil, nil),
		})
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Token counts one token endpoint answer.
func (m *Metrics) Token(grantType, result string) {
	if m == nil {
		return
	}
	m.tokens.WithLabelValues(label(grantType), result).Inc()
}

// Legacy counts one legacy grant attempt; lockedNow counts a lockout.
func (m *Metrics) Legacy(clientID, result string, lockedNow bool) {
	if m == nil {
		return
	}
	m.legacyGrants.WithLabelValues(clientID, result).Inc()
	if lockedNow {
		m.lockouts.Inc()
	}
}

// Lockout counts a lockout outside the legacy grant (the login page).
func (m *Metrics) Lockout() {
	if m != nil {
		m.lockouts.Inc()
	}
}

func label(s string) string {
	if s == "" {
		return "none"
	}
	if len(s) > 40 {
		return "other"
	}
	return s
}

// Middleware counts requests and their latency by route. It must wrap the
// ServeMux directly: the mux records the matched pattern on the request it
// is given, and the route label is read from there, so that unbounded
// paths never become labels.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := web.NewRecorder(w)
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.Status())).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
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
