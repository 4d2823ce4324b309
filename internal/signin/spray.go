package signin

import (
	"sync"
	"time"
)

// Defaults for a Config's spray throttle: a source (an address, or an IPv6
// /64) that fails 30 times within 15 minutes, across any usernames, is
// refused for a minute, then 2, 4, ... up to an hour while it goes on.
const (
	DefaultSprayThreshold = 30
	DefaultSprayWindow    = 15 * time.Minute
	DefaultSprayBackoff   = time.Minute
	maxSprayBackoff       = time.Hour
	// maxTracked bounds the sources and episodes kept in memory.
	maxTracked = 100_000
)

// sprayGuard throttles sources that fail across many usernames, which the
// per-user lockout cannot see: one failure for each of many users locks
// none of them. It is kept in memory per process (like the per-source rate
// limits); with N replicas a source gets at most N times the threshold
// before each one throttles it.
type sprayGuard struct {
	threshold int
	window    time.Duration
	backoff   time.Duration

	mu      sync.Mutex
	sources map[string]*sprayState
}

type sprayState struct {
	windowStart  time.Time
	failures     int
	blockedUntil time.Time
	// reported is set once the block's first refusal has been reported.
	reported bool
	// strikes counts blocks in a row; the next block lasts backoff×2^strikes.
	strikes int
}

func newSprayGuard(threshold int, window, backoff time.Duration) *sprayGuard {
	return &sprayGuard{threshold: threshold, window: window, backoff: backoff, sources: map[string]*sprayState{}}
}

// blocked reports whether source is throttled at now, and whether this is
// the first refusal since the block began (for aggregated history).
func (g *sprayGuard) blocked(source string, now time.Time) (blocked, first bool) {
	if source == "" {
		return false, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st, ok := g.sources[source]
	if !ok || !now.Before(st.blockedUntil) {
		return false, false
	}
	first = !st.reported
	st.reported = true
	return true, first
}

// failed counts a failure of source at now and reports whether it started
// a block.
func (g *sprayGuard) failed(source string, now time.Time) bool {
	if source == "" {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st, ok := g.sources[source]
	if !ok {
		if len(g.sources) >= maxTracked {
			g.evict(now)
		}
		st = &sprayState{windowStart: now}
		g.sources[source] = st
	}
	if now.Sub(st.windowStart) > g.window {
		if now.Sub(st.blockedUntil) > g.window {
			st.strikes = 0 // a quiet window forgives
		}
		st.windowStart, st.failures = now, 0
	}
	st.failures++
	if st.failures < g.threshold {
		return false
	}
	d := g.backoff << min(st.strikes, 10)
	st.blockedUntil = now.Add(min(d, maxSprayBackoff))
	st.reported = false
	st.strikes++
	st.windowStart, st.failures = now, 0
	return true
}

// evict forgets sources with nothing to remember, then half of the rest.
func (g *sprayGuard) evict(now time.Time) {
	for k, st := range g.sources {
		if !now.Before(st.blockedUntil) && now.Sub(st.windowStart) > g.window {
			delete(g.sources, k)
		}
	}
	for k := range g.sources {
		if len(g.sources) < maxTracked/2 {
			break
		}
		delete(g.sources, k)
	}
}

// episodes remembers which refusals were already written to the login
// history, so that a flood of refused requests (a locked user, a throttled
// source) writes one row per episode instead of one per request.
type episodes struct {
	mu   sync.Mutex
	seen map[string]time.Time // key -> until
}

// first reports whether key has no episode running at now, and starts one
// lasting d.
func (e *episodes) first(key string, now time.Time, d time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.seen == nil {
		e.seen = map[string]time.Time{}
	}
	if until, ok := e.seen[key]; ok && now.Before(until) {
		return false
	}
	if len(e.seen) >= maxTracked {
		for k, until := range e.seen {
			if !now.Before(until) || len(e.seen) >= maxTracked/2 {
				delete(e.seen, k)
			}
		}
	}
	e.seen[key] = now.Add(d)
	return true
}
