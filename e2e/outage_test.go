package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// clientTimeout bounds every request of the outage tests: an answer that
// takes longer counts as a hang.
const clientTimeout = 8 * time.Second

// TestDatabaseOutage stops PostgreSQL (pg_ctl stop -m fast) under a
// steady load of client_credentials requests and starts it again.
// authgate must answer 200 or a JSON 503 throughout, report the outage on
// /health/ready, recover by itself, and lose no token it acknowledged.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	pg := startPGServer(t)
	s := baseSettings(t, pg.url())
	s["AUTHGATE_REQUEST_TIMEOUT"] = "3s"
	p := start(t, "authgate", s)
	seed := newSeeder(t, pg.url())
	id, sec := seed.client(t, "Service", []string{"client_credentials"}, nil)
	probe := api{c: httpClient(clientTimeout), clientID: id, clientSecret: sec}
	before := probe.mustToken(t, p)

	load := startTokenLoad(t, p, id, sec)
	time.Sleep(time.Second)
	if err := pg.stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()

	t.Run("readiness reports the outage", func(t *testing.T) {
		if err := waitStatus(p.url("/health/ready"), http.StatusServiceUnavailable, 5*time.Second); err != nil {
			t.Error(err)
		}
	})
	t.Run("introspection and revocation answer 503 temporarily_unavailable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		defer cancel()
		for name, call := range map[string]func(context.Context, *process, string) (reply, error){
			"introspect": probe.introspect, "revoke": probe.revoke,
		} {
			r, err := call(ctx, p, before)
			if err != nil || r.status != http.StatusServiceUnavailable || r.str("error") != "temporarily_unavailable" {
				t.Errorf("%s during the outage: got %v %v, want 503 temporarily_unavailable", name, r, err)
			}
		}
	})

	time.Sleep(2 * time.Second)
	up := time.Now()
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	recovered := waitRecovered(t, p, probe, up)
	time.Sleep(time.Second)
	outcomes := load.finish()

	tokens := checkOutcomes(t, p, outcomes, recovered, 0)
	for _, o := range outcomes {
		if o.status == http.StatusOK && o.start.After(down) && o.end.Before(up) {
			t.Errorf("a token was issued while PostgreSQL was stopped (%s to %s)", o.start.Format("15:04:05.000"), o.end.Format("15:04:05.000"))
		}
	}
	checkActive(t, p, probe, append(tokens, before))
}

// TestDatabaseUnresponsive freezes PostgreSQL (SIGSTOP, as in a network
// partition: connections stay open, nothing answers) under load. Every
// request must end within the request timeout with a JSON 503 instead of
// hanging, and authgate must recover once the database answers again.
func TestDatabaseUnresponsive(t *testing.T) {
	t.Parallel()
	pg := startPGServer(t)
	const requestTimeout = 2 * time.Second
	s := baseSettings(t, pg.url())
	s["AUTHGATE_REQUEST_TIMEOUT"] = requestTimeout.String()
	p := start(t, "authgate", s)
	seed := newSeeder(t, pg.url())
	id, sec := seed.client(t, "Service", []string{"client_credentials"}, nil)
	probe := api{c: httpClient(clientTimeout), clientID: id, clientSecret: sec}

	load := startTokenLoad(t, p, id, sec)
	time.Sleep(time.Second)
	if err := pg.freeze(); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			if err := pg.thaw(); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(thaw) // before the cluster is stopped

	t.Run("readiness reports the outage", func(t *testing.T) {
		if err := waitStatus(p.url("/health/ready"), http.StatusServiceUnavailable, 5*time.Second); err != nil {
			t.Error(err)
		}
	})
	time.Sleep(3 * time.Second)
	up := time.Now()
	thaw()
	recovered := waitRecovered(t, p, probe, up)
	time.Sleep(time.Second)
	outcomes := load.finish()

	// The handler gives up at the request timeout; allow a little for
	// writing the answer on a loaded machine.
	tokens := checkOutcomes(t, p, outcomes, recovered, requestTimeout+1500*time.Millisecond)
	checkActive(t, p, probe, tokens)
}

// outcome is one token request made by the load.
type outcome struct {
	start, end time.Time
	status     int
	code       string // the OAuth error code, if any
	token      string
	raw        string
	err        error
}

// load records the outcomes of requests that workers make until finish is
// called.
type load[T any] struct {
	mu       sync.Mutex
	outcomes []T
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

// newLoad returns a load that finishes when the test ends, at the latest.
func newLoad[T any](t *testing.T) *load[T] {
	l := &load[T]{stop: make(chan struct{})}
	t.Cleanup(func() { l.finish() })
	return l
}

// worker runs fn in a goroutine of its own until finish is called.
func (l *load[T]) worker(fn func()) {
	l.wg.Go(func() {
		for !l.stopped() {
			fn()
		}
	})
}

func (l *load[T]) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *load[T]) record(o T) {
	l.mu.Lock()
	l.outcomes = append(l.outcomes, o)
	l.mu.Unlock()
}

// finish stops the workers and returns what they saw.
func (l *load[T]) finish() []T {
	l.once.Do(func() {
		close(l.stop)
		l.wg.Wait()
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.outcomes
}

// startTokenLoad is a steady stream of client_credentials requests from
// four goroutines.
func startTokenLoad(t *testing.T, p *process, id, sec string) *load[outcome] {
	l := newLoad[outcome](t)
	for range 4 {
		a := api{c: httpClient(clientTimeout), clientID: id, clientSecret: sec}
		l.worker(func() {
			o := outcome{start: time.Now()}
			r, err := a.clientCredentials(context.Background(), p)
			o.end, o.status, o.code, o.token, o.raw, o.err = time.Now(), r.status, r.str("error"), r.str("access_token"), r.raw, err
			l.record(o)
			time.Sleep(10 * time.Millisecond)
		})
	}
	return l
}

// waitRecovered waits at most 15s after the database came back for a
// token and a ready /health/ready, and returns when both were seen.
func waitRecovered(t *testing.T, p *process, probe api, up time.Time) time.Time {
	t.Helper()
	deadline := up.Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		r, err := probe.clientCredentials(ctx, p)
		cancel()
		if err == nil && r.status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no token 15s after the database came back; last answer %v %v", r, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := waitStatus(p.url("/health/ready"), http.StatusOK, time.Until(deadline)); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	t.Logf("recovered %v after the database came back", now.Sub(up).Round(10*time.Millisecond))
	return now
}

// checkOutcomes checks that the server stayed up and that every request
// got 200 with a token or 503 temporarily_unavailable, none slower than
// slowest (when not zero); that the outage was seen, and that tokens were
// issued again after recovered. It returns the tokens issued.
func checkOutcomes(t *testing.T, p *process, outcomes []outcome, recovered time.Time, slowest time.Duration) []string {
	t.Helper()
	if p.exited() {
		t.Fatalf("authgate exited: %v", p.state)
	}
	var tokens []string
	var unavailable, okAfter, bad int
	var longest time.Duration
	report := func(format string, args ...any) {
		if bad++; bad <= 5 {
			t.Errorf(format, args...)
		}
	}
	for _, o := range outcomes {
		took := o.end.Sub(o.start)
		longest = max(longest, took)
		at := o.start.Format("15:04:05.000")
		switch {
		case o.err != nil:
			report("request at %s: %v (a transport error, or a hang past the %v client timeout)", at, o.err, clientTimeout)
		case o.status == http.StatusOK && o.token != "":
			tokens = append(tokens, o.token)
			if o.start.After(recovered) {
				okAfter++
			}
		case o.status == http.StatusServiceUnavailable && o.code == "temporarily_unavailable":
			unavailable++
		default:
			report("request at %s: got %d %s, want 200 or 503 temporarily_unavailable", at, o.status, strings.TrimSpace(o.raw))
		}
		if slowest > 0 && took > slowest {
			report("request at %s took %v, longer than %v", at, took.Round(time.Millisecond), slowest)
		}
	}
	if bad > 5 {
		t.Errorf("... %d bad answers in all", bad)
	}
	t.Logf("%d requests: %d tokens, %d answered 503; slowest %v", len(outcomes), len(tokens), unavailable, longest.Round(time.Millisecond))
	if unavailable == 0 {
		t.Error("no request was answered 503: the outage was not observed")
	}
	if okAfter == 0 {
		t.Error("the load got no token after recovery")
	}
	if strings.Contains(p.log.String(), "panic") {
		t.Error("the server log mentions a panic")
	}
	return tokens
}

// checkActive introspects every token and fails for each that is not
// active: a token acknowledged with 200 must not be lost.
func checkActive(t *testing.T, p *process, probe api, tokens []string) {
	t.Helper()
	lost := make(chan string, len(tokens))
	work := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for tok := range work {
				ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
				r, err := probe.introspect(ctx, p, tok)
				cancel()
				if err != nil || r.status != http.StatusOK || r.body["active"] != true {
					lost <- fmt.Sprintf("%v %v", r, err)
				}
			}
		})
	}
	for _, tok := range tokens {
		work <- tok
	}
	close(work)
	wg.Wait()
	close(lost)
	n := 0
	for l := range lost {
		if n++; n <= 5 {
			t.Errorf("acknowledged token not active: %s", l)
		}
	}
	if n > 0 {
		t.Errorf("%d of %d acknowledged tokens lost", n, len(tokens))
	}
}

// waitStatus polls url until it answers want, for at most d.
func waitStatus(url string, want int, d time.Duration) error {
	// Readiness gives the database 2s to answer: wait longer than that.
	c := httpClient(5 * time.Second)
	deadline := time.Now().Add(d)
	last := "no answer"
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s: got %s after %v, want %d", url, last, d, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
