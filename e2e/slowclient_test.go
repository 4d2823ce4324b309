package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/testdb"
)

// TestSlowAndOversizedRequests checks that slow or hostile clients cannot
// exhaust the server: connections that trickle their headers are cut by
// the header timeout while other clients are served, and oversized bodies
// and headers are refused with a 4xx.
func TestSlowAndOversizedRequests(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t, "sqlite") // nothing here is about the database
	p := start(t, "authgate", baseSettings(t, dbURL))
	seed := newSeeder(t, dbURL)
	id, sec := seed.client(t, "Service", []string{"client_credentials"}, nil)
	svc := api{c: httpClient(5 * time.Second), clientID: id, clientSecret: sec}

	t.Run("connections that trickle their headers are cut by the header timeout", func(t *testing.T) {
		const (
			headerTimeout = 5 * time.Second // ReadHeaderTimeout in cmd/authgate/serve.go
			conns         = 40
		)
		type cut struct {
			addr string
			took time.Duration
			err  error
		}
		cuts := make(chan cut, conns+5)
		var wg sync.WaitGroup
		for i := range conns + 5 {
			addr := p.public
			if i >= conns {
				addr = p.admin
			}
			wg.Go(func() { took, err := slowloris(addr, 12*time.Second); cuts <- cut{addr, took, err} })
		}
		// Meanwhile other clients are served promptly.
		done := make(chan struct{})
		var served, failed int
		var slowest time.Duration
		var sw sync.WaitGroup
		sw.Go(func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(100 * time.Millisecond):
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				begin := time.Now()
				r, err := svc.clientCredentials(ctx, p)
				cancel()
				slowest = max(slowest, time.Since(begin))
				if err != nil || r.status != http.StatusOK {
					failed++
					t.Errorf("token request during the slow clients: %v %v", r, err)
				} else {
					served++
				}
			}
		})
		wg.Wait()
		close(done)
		sw.Wait()
		close(cuts)
		for c := range cuts {
			switch {
			case c.err != nil:
				t.Errorf("slow client on %s: %v", c.addr, c.err)
			case c.took < headerTimeout-time.Second || c.took > headerTimeout+3*time.Second:
				t.Errorf("slow client on %s cut after %v, want about %v", c.addr, c.took.Round(time.Millisecond), headerTimeout)
			}
		}
		if served == 0 {
			t.Error("no request was served while the slow clients were connected")
		}
		t.Logf("%d slow connections cut; %d token requests served meanwhile, slowest %v", conns+5, served, slowest.Round(time.Millisecond))
	})

	big := strings.Repeat("a", 100<<10) // beyond the 64 KiB default body limit
	t.Run("an oversized body gets a 4xx", func(t *testing.T) {
		var got []string
		for _, path := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke", "/login"} {
			for _, chunked := range []bool{false, true} {
				body := io.Reader(strings.NewReader("grant_type=client_credentials&token=x&pad=" + big))
				if chunked {
					body = io.MultiReader(body) // no length known: Transfer-Encoding: chunked
				}
				req, _ := http.NewRequest(http.MethodPost, p.url(path), body)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(id, sec)
				resp, err := httpClient(5 * time.Second).Do(req)
				if err != nil {
					t.Errorf("POST %s with a 100 KiB body (chunked %v): %v", path, chunked, err)
					continue
				}
				resp.Body.Close()
				got = append(got, fmt.Sprintf("%s (chunked %v) %d", path, chunked, resp.StatusCode))
				if resp.StatusCode < 400 || resp.StatusCode > 499 {
					t.Errorf("POST %s with a 100 KiB body (chunked %v): got %d, want 4xx", path, chunked, resp.StatusCode)
				}
			}
		}
		t.Logf("answers: %s", strings.Join(got, ", "))
		if r, err := svc.clientCredentials(context.Background(), p); err != nil || r.status != http.StatusOK {
			t.Errorf("a normal token request afterwards: %v %v", r, err)
		}
	})

	t.Run("headers over 32 KiB get 431", func(t *testing.T) {
		for _, tc := range []struct {
			size int
			want int
		}{
			{16 << 10, http.StatusOK},
			// net/http reads MaxHeaderBytes (32 KiB) plus 4 KiB of slack.
			{48 << 10, http.StatusRequestHeaderFieldsTooLarge},
			{256 << 10, http.StatusRequestHeaderFieldsTooLarge},
		} {
			req, _ := http.NewRequest(http.MethodGet, p.url("/health/alive"), nil)
			req.Header.Set("X-Padding", strings.Repeat("h", tc.size))
			resp, err := httpClient(5 * time.Second).Do(req)
			if err != nil {
				t.Errorf("a %d KiB header: %v", tc.size>>10, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("a %d KiB header: got %d, want %d", tc.size>>10, resp.StatusCode, tc.want)
			}
		}
	})

	if p.exited() {
		t.Fatalf("authgate exited: %v", p.state)
	}
	if strings.Contains(p.log.String(), "panic") {
		t.Error("the server log mentions a panic")
	}
}

// slowloris connects to addr and sends a request's headers one byte every
// 200ms, never finishing them. It returns how long the server took to
// close the connection, or an error if it did not within limit.
func slowloris(addr string, limit time.Duration) (time.Duration, error) {
	begin := time.Now()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(begin.Add(limit)); err != nil {
		return 0, err
	}
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, conn) // returns when the server closes
		closed <- time.Since(begin)
	}()
	head := fmt.Sprintf("POST /oauth2/token HTTP/1.1\r\nHost: %s\r\nUser-Agent: slowloris\r\nX-Slow: %s", addr, strings.Repeat("z", 1000))
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case took := <-closed:
			if took >= limit {
				return took, fmt.Errorf("connection still open after %v", limit)
			}
			return took, nil
		case <-tick.C:
			if i < len(head) {
				// A write error means the server hung up; the reader
				// reports when.
				_, _ = conn.Write([]byte{head[i]})
			}
		}
	}
}
