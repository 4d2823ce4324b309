// Package ratelimit bounds the work one network source can ask of a
// process on endpoints that take requests from anyone: the login page, the
// password grant, security-token resets. Each source (an IPv4 address, or
// an IPv6 /64, which one host usually holds whole) gets a token bucket; the
// number of sources remembered is bounded, so a flood from many addresses
// costs bounded memory.
//
// Limits are per process: with N replicas behind a load balancer a source
// gets up to N times the rate. That is the point of the limit (no single
// source can keep a process's password hashing busy), and it needs no
// shared state on the request path.
package ratelimit

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rule is how many requests a source may make: PerMinute on average, and
// Burst at once. PerMinute 0 means no limit.
type Rule struct {
	PerMinute int
	Burst     int
	// PerHour, when set, is the average rate instead of PerMinute, for
	// limits counted in hours (the forgotten-password form).
	PerHour int
}

// limit is the rule's rate in tokens a second; 0 for no limit.
func (r Rule) limit() rate.Limit {
	if r.PerHour > 0 {
		return rate.Limit(float64(r.PerHour) / 3600)
	}
	return rate.Limit(float64(r.PerMinute) / 60)
}

// DefaultMaxSources bounds how many sources a Limiter remembers.
const DefaultMaxSources = 100_000

// Limiter applies one Rule to every source. It is safe for concurrent use.
type Limiter struct {
	rule       Rule
	maxSources int
	now        func() time.Time

	mu      sync.Mutex
	buckets map[netip.Prefix]*bucket
}

// bucket is one source's tokens and whether its last request was refused.
type bucket struct {
	*rate.Limiter
	throttled bool
}

// Decision is the answer to one request.
type Decision struct {
	// OK is true when the request may go on.
	OK bool
	// RetryAfter is, for a refused request, how long until the next one
	// would pass (at least a second).
	RetryAfter time.Duration
	// Started is true for the first refusal after an allowed request: a
	// caller that reports throttling once per episode (a log line, a
	// history row) rather than once per refused request reports it then.
	Started bool
}

// New returns a Limiter for rule that remembers at most maxSources sources
// (DefaultMaxSources when maxSources is 0). now is the clock (time.Now when
// nil).
func New(rule Rule, maxSources int, now func() time.Time) *Limiter {
	if maxSources <= 0 {
		maxSources = DefaultMaxSources
	}
	if rule.Burst < 1 {
		rule.Burst = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{rule: rule, maxSources: maxSources, now: now, buckets: map[netip.Prefix]*bucket{}}
}

// Source is the key a request from addr is counted under: the address
// itself for IPv4, its /64 for IPv6.
func Source(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		// An invalid address: every such request shares one bucket.
		return netip.Prefix{}
	}
	return p
}

// Allow takes one request from addr's source.
func (l *Limiter) Allow(addr netip.Addr) Decision {
	if l == nil || l.rule.limit() <= 0 {
		return Decision{OK: true}
	}
	key := Source(addr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, found := l.buckets[key]
	if !found {
		if len(l.buckets) >= l.maxSources {
			l.evict(now)
		}
		b = &bucket{Limiter: rate.NewLimiter(l.rule.limit(), l.rule.Burst)}
		l.buckets[key] = b
	}
	if b.AllowN(now, 1) {
		b.throttled = false
		return Decision{OK: true}
	}
	missing := 1 - b.TokensAt(now)
	wait := time.Duration(math.Ceil(missing / float64(b.Limit()) * float64(time.Second)))
	started := !b.throttled
	b.throttled = true
	return Decision{RetryAfter: max(wait, time.Second), Started: started}
}

// evict makes room: first it forgets sources whose bucket has refilled (a
// full bucket is the same as a new one, so nothing is lost); if that is not
// enough, it forgets half of the rest, which at worst lets those sources
// start again with a full burst.
func (l *Limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.maxSources {
		return
	}
	n := len(l.buckets) / 2
	for k := range l.buckets {
		if n == 0 {
			break
		}
		delete(l.buckets, k)
		n--
	}
}

// Len reports how many sources are remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
