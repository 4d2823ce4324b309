package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/authgate/authgate/config"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/ratelimit"
)

// limits are the per-source rate limits of the endpoints anyone can call
// with a credential. Each endpoint has its own bucket per source, so a
// tool hammering the password grant does not lock its owner out of the
// login page.
type limits struct {
	login         *ratelimit.Limiter
	passwordGrant *ratelimit.Limiter
	tokenReset    *ratelimit.Limiter
	logout        *ratelimit.Limiter
	// deviceAuthorize bounds device authorization requests (a public
	// client needs no secret to start one); deviceCode the forms of
	// /device, where user codes are typed.
	deviceAuthorize *ratelimit.Limiter
	deviceCode      *ratelimit.Limiter
	// forgot bounds the forgotten-password form's requests per hour,
	// whatever account they name.
	forgot *ratelimit.Limiter
}

func newLimits(rule config.RateLimit, links config.Links) limits {
	r := ratelimit.Rule{PerMinute: rule.PerMinute, Burst: rule.Burst}
	return limits{
		login:         ratelimit.New(r, 0, nil),
		passwordGrant: ratelimit.New(r, 0, nil),
		tokenReset:    ratelimit.New(r, 0, nil),
		logout:        ratelimit.New(r, 0, nil),

		deviceAuthorize: ratelimit.New(r, 0, nil),
		deviceCode:      ratelimit.New(r, 0, nil),
		forgot:          ratelimit.New(ratelimit.Rule{PerHour: links.RequestsPerHour, Burst: links.RequestsPerHour}, 0, nil),
	}
}

// throttle lets a request through l, or answers it with refuse.
func (s *Server) throttle(l *ratelimit.Limiter, endpoint string, refuse func(http.ResponseWriter, *http.Request, time.Duration)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.admit(w, r, l, endpoint, refuse) {
				next.ServeHTTP(w, r)
			}
		})
	}
}

// admit takes r from its source's bucket in l and reports whether it may
// go on; when it may not, the refusal has been written. Throttling is
// logged once per episode and source, not once per refused request, so a
// flood does not become a flood of log lines.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, l *ratelimit.Limiter, endpoint string, refuse func(http.ResponseWriter, *http.Request, time.Duration)) bool {
	addr, _ := clientip.FromContext(r.Context())
	d := l.Allow(addr)
	if d.OK {
		return true
	}
	s.Metrics.Throttled(endpoint)
	if d.Started {
		s.Logger.WarnContext(r.Context(), "rate limit reached; refusing requests from this source",
			"endpoint", endpoint, "source", ratelimit.Source(addr).String(), "retry_after_s", int(d.RetryAfter.Seconds()))
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfter.Seconds())))
	refuse(w, r, d.RetryAfter)
	return false
}

// refuseJSON is the refusal on OAuth endpoints: 429 with an RFC 6749 style
// body.
func refuseJSON(w http.ResponseWriter, _ *http.Request, retry time.Duration) {
	writeJSONError(w, http.StatusTooManyRequests, "temporarily_unavailable",
		fmt.Sprintf("Too many requests from this address; retry after %d seconds.", int(retry.Seconds())))
}

// refusePage is the refusal where a person is looking.
func (s *Server) refusePage(w http.ResponseWriter, r *http.Request, retry time.Duration) {
	s.pages.Render(w, r, http.StatusTooManyRequests, "error", s.page(w, r, "Too many attempts",
		fmt.Sprintf("There were too many attempts from your network. Wait %d seconds, then try again.", int(retry.Seconds())), false))
}
