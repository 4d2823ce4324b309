package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// failoverRequestTimeout is the replicas' request timeout in the failover
// test: no answer may take much longer.
const failoverRequestTimeout = 3 * time.Second

// TestFailover runs two authgate replicas on a primary with a synchronous
// streaming-replication standby, reached through one multi-host URL with
// target_session_attrs=read-write. Under load (client credentials, then
// introspection of each new token on the other replica, and users created
// through the admin API, each of whom gets an email through the outbox) it
// stops the primary hard, promotes the standby, and checks that requests
// fail fast with a JSON 503 during the switch, that both replicas serve
// again within seconds without a restart, that every token acknowledged
// before the failover is still active, that each outbox message is sent
// once, and that no replica panicked.
//
// It needs the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup)
// under /usr/lib/postgresql/*/bin; without them it skips, unless
// AUTHGATE_REQUIRE_FAILOVER=1 or AUTHGATE_REQUIRE_POSTGRES=1.
func TestFailover(t *testing.T) {
	t.Parallel()
	if found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_basebackup"); len(found) == 0 && os.Getenv("AUTHGATE_REQUIRE_FAILOVER") == "1" {
		t.Fatal("AUTHGATE_REQUIRE_FAILOVER=1 but there is no pg_basebackup under /usr/lib/postgresql/*/bin")
	}
	began := time.Now()
	primary, standby := startReplicatedPair(t)
	t.Logf("primary on %d, synchronous standby on %d, ready in %v", primary.port, standby.port, time.Since(began).Round(time.Millisecond))
	dbURL := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2&target_session_attrs=read-write",
		primary.port, standby.port)

	mb := startMailbox(t, 0)
	rs := startReplicas(t, 2, dbURL, settings{
		"AUTHGATE_SMTP_HOST":             mb.host,
		"AUTHGATE_SMTP_PORT":             strconv.Itoa(mb.port),
		"AUTHGATE_SMTP_TLS":              "none",
		"AUTHGATE_REQUEST_TIMEOUT":       failoverRequestTimeout.String(),
		"AUTHGATE_RATE_LIMIT_PER_MINUTE": "0",
	})
	seed := newSeeder(t, dbURL)
	id, sec := seed.client(t, "Service", []string{"client_credentials"}, nil)
	adminID, adminSec := seed.client(t, "Provisioning", []string{"client_credentials"}, []string{"authgate:admin"})
	probe := api{c: httpClient(clientTimeout), clientID: id, clientSecret: sec}
	admin := api{c: httpClient(clientTimeout), clientID: adminID, clientSecret: adminSec}
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	r, err := post(ctx, admin.c, rs[0].url("/oauth2/token"), map[string][]string{"grant_type": {"client_credentials"}, "scope": {"authgate:admin"}}, adminID, adminSec)
	cancel()
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("admin token: got %v %v, want 200", r, err)
	}
	adminToken := r.str("access_token")

	load := startFailoverLoad(t, rs, probe, adminToken)
	time.Sleep(2 * time.Second)
	if err := primary.run("pg_ctl", "-D", primary.data(), "-m", "immediate", "-w", "-t", "20", "stop"); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	// The switch: the primary is gone, the standby is still read-only.
	time.Sleep(2 * time.Second)
	if err := standby.run("pg_ctl", "-D", standby.data(), "-w", "-t", "30", "promote"); err != nil {
		t.Fatal(err)
	}
	promoted := time.Now()
	t.Logf("primary stopped at +%v, standby promoted %v later", down.Sub(began).Round(time.Millisecond), promoted.Sub(down).Round(time.Millisecond))

	var recovered time.Time
	for _, p := range rs {
		at := waitRecovered(t, p, probe, promoted)
		if at.After(recovered) {
			recovered = at
		}
		if took := at.Sub(promoted); took > 10*time.Second {
			t.Errorf("%s served again %v after the promotion, want within 10s", p.name, took)
		}
	}
	time.Sleep(2 * time.Second)
	outcomes := load.finish()

	t.Run("every request got 200 or a fast JSON 503", func(t *testing.T) {
		checkFailoverOutcomes(t, outcomes, down, recovered)
	})
	t.Run("no replica panicked or exited", func(t *testing.T) {
		for _, p := range rs {
			if p.exited() {
				t.Errorf("%s exited: %v", p.name, p.state)
			}
			if strings.Contains(p.log.String(), "panic") {
				t.Errorf("%s's log mentions a panic", p.name)
			}
		}
	})
	t.Run("every acknowledged token is active on both replicas", func(t *testing.T) {
		var tokens []string
		for _, o := range outcomes {
			if o.kind == "token" && o.status == http.StatusOK {
				tokens = append(tokens, o.token)
			}
		}
		if len(tokens) == 0 {
			t.Fatal("no token was acknowledged")
		}
		for _, p := range rs {
			checkActive(t, p, probe, tokens)
		}
	})
	t.Run("each outbox message is sent once", func(t *testing.T) {
		checkMailOnce(t, seed, mb, outcomes)
	})
	t.Logf("the whole test took %v", time.Since(began).Round(time.Millisecond))
}

// startReplicatedPair starts a primary and a standby that streams from it
// through a replication slot, and waits until the primary reports the
// standby synchronous: from then on a commit returns only once the standby
// has the WAL, so that promoting it loses nothing acknowledged.
func startReplicatedPair(t *testing.T) (primary, standby *pgServer) {
	t.Helper()
	primary = startPGServer(t, "wal_level=replica", "max_wal_senders=4", "max_replication_slots=4",
		"synchronous_standby_names='*'", "synchronous_commit=on")
	standby = newPGServer(t, "standby")
	if err := standby.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres",
		"-D", standby.data(), "-R", "-X", "stream", "-C", "-S", "authgate_standby", "-c", "fast", "--no-sync"); err != nil {
		t.Fatal(err)
	}
	if err := standby.start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := storage.Open(ctx, primary.url(), storage.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer storage.Close(db)
	for {
		var state string
		err := db.WithContext(ctx).Raw("SELECT coalesce(max(sync_state), '') FROM pg_stat_replication").Scan(&state).Error
		if err == nil && state == "sync" {
			return primary, standby
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the standby did not become synchronous: state %q, %v", state, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// failoverOutcome is one request made by the failover load.
type failoverOutcome struct {
	kind       string // "token", "introspect" or "user"
	replica    string
	start, end time.Time
	status     int
	code       string
	token      string // the access token, for kind "token"
	email      string // the new user's address, for kind "user"
	active     bool   // the introspection's answer
	raw        string
	err        error
}

// startFailoverLoad runs, on each replica, two workers issuing tokens and
// introspecting each new token on the other replica, and one worker
// creating users through the admin API (each creation queues an email).
func startFailoverLoad(t *testing.T, rs []*process, probe api, adminToken string) *load[failoverOutcome] {
	l := newLoad[failoverOutcome](t)
	for i, p := range rs {
		other := rs[(i+1)%len(rs)]
		for range 2 {
			a := api{c: httpClient(clientTimeout), clientID: probe.clientID, clientSecret: probe.clientSecret}
			l.worker(func() {
				o := failoverOutcome{kind: "token", replica: p.name, start: time.Now()}
				r, err := a.clientCredentials(context.Background(), p)
				o.end, o.status, o.code, o.token, o.raw, o.err = time.Now(), r.status, r.str("error"), r.str("access_token"), r.raw, err
				l.record(o)
				if o.status == http.StatusOK {
					o := failoverOutcome{kind: "introspect", replica: other.name, start: time.Now(), token: o.token}
					r, err := a.introspect(context.Background(), other, o.token)
					o.end, o.status, o.code, o.raw, o.err = time.Now(), r.status, r.str("error"), r.raw, err
					o.active, _ = r.body["active"].(bool)
					l.record(o)
				}
				time.Sleep(10 * time.Millisecond)
			})
		}
		c := httpClient(clientTimeout)
		n := 0
		l.worker(func() {
			name := fmt.Sprintf("u%d-%d", i, n)
			n++
			o := failoverOutcome{kind: "user", replica: p.name, start: time.Now(), email: name + "@example.com"}
			r, err := adminCall(c, p, adminToken, http.MethodPost, "/admin/api/users", map[string]any{
				"username": name, "email": o.email, "name": "User " + name, "password": "correct horse battery staple",
			})
			o.end, o.status, o.code, o.raw, o.err = time.Now(), r.status, r.str("error"), r.raw, err
			l.record(o)
			time.Sleep(50 * time.Millisecond)
		})
	}
	return l
}

// adminCall sends a JSON request to p's admin API with a bearer token.
func adminCall(c *http.Client, p *process, token, method, path string, body any) (reply, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return reply{}, err
	}
	req, err := http.NewRequest(method, "http://"+p.admin+path, bytes.NewReader(raw))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r, err
}

// checkFailoverOutcomes requires every request to end in success or a
// JSON 503 temporarily_unavailable within the request timeout (and a
// little for a loaded machine), the switch to have been seen as 503s, and
// success on every kind of request after recovery.
func checkFailoverOutcomes(t *testing.T, outcomes []failoverOutcome, down, recovered time.Time) {
	t.Helper()
	slowest := failoverRequestTimeout + 1500*time.Millisecond
	type tally struct{ ok, unavailable, okAfter int }
	counts := map[string]*tally{"token": {}, "introspect": {}, "user": {}}
	var longest, longestSwitch time.Duration
	bad := 0
	report := func(format string, args ...any) {
		if bad++; bad <= 8 {
			t.Errorf(format, args...)
		}
	}
	want := map[string]int{"token": http.StatusOK, "introspect": http.StatusOK, "user": http.StatusCreated}
	for _, o := range outcomes {
		took := o.end.Sub(o.start)
		longest = max(longest, took)
		if o.end.After(down) && o.start.Before(recovered) {
			longestSwitch = max(longestSwitch, took)
		}
		at := o.start.Format("15:04:05.000")
		c := counts[o.kind]
		switch {
		case o.err != nil:
			report("%s on %s at %s: %v (a transport error, or a hang past the %v client timeout)", o.kind, o.replica, at, o.err, clientTimeout)
		case o.status == want[o.kind]:
			c.ok++
			if o.start.After(recovered) {
				c.okAfter++
			}
			if o.kind == "introspect" && !o.active {
				report("introspection on %s at %s of a token just issued by the other replica: inactive", o.replica, at)
			}
		case o.status == http.StatusServiceUnavailable && o.code == "temporarily_unavailable":
			c.unavailable++
		default:
			report("%s on %s at %s: got %d %s, want %d or a JSON 503 temporarily_unavailable", o.kind, o.replica, at, o.status, strings.TrimSpace(o.raw), want[o.kind])
		}
		if took > slowest {
			report("%s on %s at %s took %v, longer than %v", o.kind, o.replica, at, took.Round(time.Millisecond), slowest)
		}
	}
	if bad > 8 {
		t.Errorf("... %d bad answers in all", bad)
	}
	for _, kind := range []string{"token", "introspect", "user"} {
		c := counts[kind]
		t.Logf("%s: %d succeeded (%d after recovery), %d answered 503", kind, c.ok, c.okAfter, c.unavailable)
		if c.okAfter == 0 {
			t.Errorf("no %s request succeeded after recovery", kind)
		}
	}
	t.Logf("%d requests; slowest %v, slowest during the switch %v", len(outcomes), longest.Round(time.Millisecond), longestSwitch.Round(time.Millisecond))
	if counts["token"].unavailable == 0 {
		t.Error("no token request was answered 503: the switch was not observed")
	}
}

// checkMailOnce waits for the outbox to drain and requires that no message
// (recipient and subject) was sent twice and that every user whose
// creation was acknowledged got as many messages as the others (creating
// a user may send more than one). A message whose claim was committed but
// not acknowledged as the primary died stays claimed (and unsent) until
// the claim lapses: such rows count as sent, and are reported.
func checkMailOnce(t *testing.T, seed *seeder, mb *mailbox, outcomes []failoverOutcome) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var left []models.MailMessage
	for {
		left = nil
		err := seed.db.Find(&left).Error
		claimed := 0
		for _, m := range left {
			if m.ClaimedUntil != nil && m.ClaimedUntil.After(time.Now()) {
				claimed++
			}
		}
		if err == nil && claimed == len(left) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still holds %d messages (%d claimed) 20s after recovery (last error %v)", len(left), claimed, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A message is its recipient and subject: creating a user queues one
	// or more (the security token, say), each once.
	type message struct{ to, subject string }
	count := map[message]int{}
	for _, m := range left {
		count[message{strings.ToLower(m.To), m.Subject}]++
		t.Logf("message %d to %s is claimed until %v, unsent: its claim was committed as the primary died", m.ID, m.To, m.ClaimedUntil)
	}
	mb.mu.Lock()
	delivered := append([]delivery(nil), mb.msgs...)
	mb.mu.Unlock()
	for _, d := range delivered {
		parsed, err := mail.ReadMessage(bytes.NewReader(d.data))
		if err != nil {
			t.Fatalf("parse delivered mail: %v", err)
		}
		for _, rcpt := range d.to {
			count[message{strings.ToLower(rcpt), parsed.Header.Get("Subject")}]++
		}
	}
	perUser := map[string]int{} // messages sent or still queued, by address
	for m, n := range count {
		if n > 1 {
			t.Errorf("%q to %s sent or queued %d times, want once", m.subject, m.to, n)
		}
		perUser[m.to]++
	}
	// Every acknowledged creation must have produced as many messages as
	// the others: none lost.
	want, acknowledged := 0, 0
	for _, o := range outcomes {
		if o.kind == "user" && o.status == http.StatusCreated {
			acknowledged++
			want = max(want, countFor(perUser, o.email))
		}
	}
	for _, o := range outcomes {
		if o.kind == "user" && o.status == http.StatusCreated {
			if got := countFor(perUser, o.email); got != want || got == 0 {
				t.Errorf("user %s, acknowledged, got %d messages, the others %d", o.email, got, want)
			}
		}
	}
	t.Logf("%d users acknowledged, %d messages each; %d delivered in all, %d left claimed", acknowledged, want, len(delivered), len(left))
}

// countFor returns the messages counted for addr, whose key may be the
// display form "Name <addr>".
func countFor(perUser map[string]int, addr string) int {
	n := 0
	for to, c := range perUser {
		if to == strings.ToLower(addr) || strings.Contains(to, "<"+strings.ToLower(addr)+">") {
			n += c
		}
	}
	return n
}
