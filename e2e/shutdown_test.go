package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/password"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
)

// TestShutdownUnderLoad sends SIGTERM while password-grant requests are
// in flight and a client is stuck sending its body. Requests the server
// had accepted must complete with 200, new connections must be refused
// as soon as shutdown begins, and the process must exit with status 0
// within AUTHGATE_SHUTDOWN_GRACE although the stuck client never finishes.
func TestShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t, "postgres")
	const grace = 5 * time.Second
	s := baseSettings(t, dbURL)
	s["AUTHGATE_SHUTDOWN_GRACE"] = grace.String()
	// One argon2id hash at a time, so that requests queue and each spends
	// a few hundred milliseconds in flight.
	s["AUTHGATE_ARGON2_CONCURRENCY"] = "1"
	// A load of password grants from one address: the per-source rate
	// limit (tested on its own) would refuse most of it on a fast machine.
	s["AUTHGATE_RATE_LIMIT_PER_MINUTE"] = "0"
	p := start(t, "authgate", s)
	seed := newSeeder(t, dbURL)
	const pw = "correct horse battery staple"
	// carol's password is hashed at the default cost (64 MiB), which
	// every verification pays whatever the server's settings.
	hasher, err := password.NewHasher(password.Params{Time: 1, Memory: 64 << 10, Threads: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.New(storage.New(seed.db), seed.keys, hasher, accounts.Options{}).CreateUser(context.Background(), "e2e",
		accounts.NewUser{Username: "carol", Email: "carol@example.com", Name: "Carol", Password: pw}); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.ranges.Add(context.Background(), "e2e", "127.0.0.0/8", "loopback"); err != nil {
		t.Fatal(err) // the password alone is enough from a trusted range
	}
	id, sec := seed.client(t, "Data Loader", []string{"password"}, []string{"offline_access"})
	if r, err := (api{c: httpClient(10 * time.Second), clientID: id, clientSecret: sec}).password(context.Background(), p, "carol", pw); err != nil || r.status != http.StatusOK {
		t.Fatalf("password grant before the test: %v %v", r, err)
	}

	type result struct {
		conn     time.Time // when the TCP connection was established
		end      time.Time
		status   int
		err      error
		hasToken bool
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	for range 6 {
		wg.Go(func() {
			// A new connection for every request: each one tests the listener.
			a := api{c: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}, clientID: id, clientSecret: sec}
			for {
				select {
				case <-stop:
					return
				default:
				}
				var res result
				ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
					ConnectDone: func(_, _ string, err error) {
						if err == nil {
							res.conn = time.Now()
						}
					},
				})
				r, err := a.password(ctx, p, "carol", pw)
				res.end, res.status, res.err, res.hasToken = time.Now(), r.status, err, r.str("access_token") != ""
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
				if err != nil && refused(err) {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopLoad)

	// A client that sends its headers and part of its body, then nothing:
	// its request is in flight until the server's read timeout (15s),
	// longer than the grace period.
	stuck, err := net.DialTimeout("tcp", p.public, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	fmt.Fprintf(stuck, "POST /oauth2/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=pass", p.public)

	time.Sleep(time.Second)
	signalled := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	t.Run("new connections are refused once shutdown begins", func(t *testing.T) {
		time.Sleep(300 * time.Millisecond)
		for _, addr := range []string{p.public, p.admin} {
			conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err == nil {
				conn.Close()
				t.Errorf("connect to %s 300ms after SIGTERM: accepted, want refused", addr)
			} else if !refused(err) {
				t.Errorf("connect to %s 300ms after SIGTERM: %v, want connection refused", addr, err)
			}
		}
		if p.exited() {
			t.Error("the process had already exited: the stuck client should have held it in its grace period")
		}
	})

	t.Run("the process exits 0 within the grace period", func(t *testing.T) {
		select {
		case <-p.done:
		case <-time.After(grace + 5*time.Second):
			t.Fatalf("still running %v after SIGTERM", grace+5*time.Second)
		}
		took := time.Since(signalled)
		if code := p.state.ExitCode(); code != 0 {
			t.Errorf("exit status: got %d (%v), want 0", code, p.state)
		}
		// The grace period, plus a little for closing the database and
		// the process's own exit.
		if limit := grace + 1500*time.Millisecond; took > limit {
			t.Errorf("exited %v after SIGTERM, want within %v", took.Round(time.Millisecond), limit)
		}
		t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
	})
	stopLoad()

	t.Run("requests accepted before SIGTERM complete with 200", func(t *testing.T) {
		var inFlight, before int
		for _, r := range results {
			// A connection the kernel completed just before the signal
			// may still wait in the listen queue when the listener
			// closes, and is reset: the server never accepted it. On a
			// busy machine that wait can reach milliseconds, so only a
			// connection 100ms older than the signal surely was accepted.
			if r.conn.IsZero() || !r.conn.Before(signalled.Add(-100*time.Millisecond)) {
				continue
			}
			before++
			if r.err != nil || r.status != http.StatusOK || !r.hasToken {
				t.Errorf("request connected %v before SIGTERM: got %d %v, want 200 with a token",
					signalled.Sub(r.conn).Round(time.Millisecond), r.status, r.err)
			}
			if r.end.After(signalled) {
				inFlight++
			}
		}
		t.Logf("%d requests connected 100ms or more before SIGTERM, %d of them still in flight when it came", before, inFlight)
		if inFlight == 0 {
			t.Error("no request was in flight at SIGTERM: the test proved nothing")
		}
	})

	t.Run("requests after SIGTERM are refused, not dropped", func(t *testing.T) {
		var refusedN int
		for _, r := range results {
			if r.conn.IsZero() && r.err != nil {
				if !refused(r.err) {
					t.Errorf("request after SIGTERM: %v, want connection refused", r.err)
				}
				refusedN++
			}
		}
		if refusedN == 0 {
			t.Error("no request was refused after SIGTERM")
		}
	})
}
