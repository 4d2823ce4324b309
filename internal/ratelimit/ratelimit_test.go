package ratelimit

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestBurstThenRate(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Rule{PerMinute: 6, Burst: 3}, 0, c.Now)
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 3 {
		if d := l.Allow(a); !d.OK {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	d := l.Allow(a)
	if d.OK || !d.Started {
		t.Fatalf("the first request past the burst: got %+v, want refused and Started", d)
	}
	if d.RetryAfter < 9*time.Second || d.RetryAfter > 10*time.Second {
		t.Errorf("retry after %s, want about 10s (6 a minute)", d.RetryAfter)
	}
	if d := l.Allow(a); d.OK || d.Started {
		t.Errorf("the second refusal: got %+v, want refused, not Started", d)
	}
	c.Add(10 * time.Second)
	if !l.Allow(a).OK {
		t.Error("refused after the refill interval")
	}
	if l.Allow(a).OK {
		t.Error("a second request passed right after the refill")
	}
}

func TestSourcesAreSeparate(t *testing.T) {
	l := New(Rule{PerMinute: 1, Burst: 1}, 0, nil)
	if !l.Allow(netip.MustParseAddr("127.0.0.1")).OK {
		t.Fatal("first request refused")
	}
	if l.Allow(netip.MustParseAddr("127.0.0.1")).OK {
		t.Fatal("second request from the same address passed")
	}
	if !l.Allow(netip.MustParseAddr("127.0.0.2")).OK {
		t.Error("another address was refused: one source's excess spilled over")
	}
	// One IPv6 host holds its whole /64: hopping inside it gains nothing.
	if !l.Allow(netip.MustParseAddr("2001:db8:1:2::1")).OK {
		t.Fatal("first IPv6 request refused")
	}
	if l.Allow(netip.MustParseAddr("2001:db8:1:2:ffff::9")).OK {
		t.Error("an address in the same /64 got a bucket of its own")
	}
	if !l.Allow(netip.MustParseAddr("2001:db8:1:3::1")).OK {
		t.Error("another /64 was refused")
	}
	// IPv4-mapped IPv6 is the IPv4 address.
	if l.Allow(netip.MustParseAddr("::ffff:127.0.0.1")).OK {
		t.Error("the IPv4-mapped form of a limited address got a bucket of its own")
	}
}

func TestZeroRuleIsUnlimited(t *testing.T) {
	l := New(Rule{}, 0, nil)
	for range 1000 {
		if !l.Allow(netip.MustParseAddr("192.0.2.1")).OK {
			t.Fatal("a zero rule refused a request")
		}
	}
	if l.Len() != 0 {
		t.Errorf("a zero rule remembered %d sources", l.Len())
	}
}

// TestParallelBurst plays an attacker firing many requests at once from one
// source: exactly the burst passes, however the requests interleave.
func TestParallelBurst(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Rule{PerMinute: 1, Burst: 10}, 0, c.Now)
	var passed atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			if l.Allow(netip.MustParseAddr("198.51.100.7")).OK {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	if got := passed.Load(); got != 10 {
		t.Errorf("%d of 200 parallel requests passed, want exactly the burst of 10", got)
	}
}

// TestMemoryBounded plays a flood from many addresses: the limiter never
// remembers more than its bound, and a source still being limited is not
// the first to go.
func TestMemoryBounded(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	const bound = 1000
	l := New(Rule{PerMinute: 60, Burst: 2}, bound, c.Now)
	for i := range 20 * bound {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.Allow(a)
		if n := l.Len(); n > bound {
			t.Fatalf("after %d sources the limiter remembers %d, bound %d", i+1, n, bound)
		}
	}
	// Sources whose buckets refilled are dropped first and lose nothing.
	c.Add(time.Minute)
	victim := netip.MustParseAddr("192.0.2.99")
	l.Allow(victim)
	l.Allow(victim)
	if l.Allow(victim).OK {
		t.Fatal("the burst of 2 was exceeded")
	}
	for i := range bound - 1 {
		l.Allow(netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)}))
	}
	if l.Allow(victim).OK {
		t.Error("a limited source was forgotten while refilled ones could have gone")
	}
}

func BenchmarkAllow(b *testing.B) {
	l := New(Rule{PerMinute: 1 << 30, Burst: 1 << 30}, 0, nil)
	a := netip.MustParseAddr("192.0.2.1")
	for b.Loop() {
		l.Allow(a)
	}
}
