package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/clients"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// startReplicas launches n servers on one database at the same instant
// and waits until all are ready. They share the secret and the issuer
// (the first replica's address), as replicas behind one load balancer do.
func startReplicas(t *testing.T, n int, dbURL string, extra settings) []*process {
	t.Helper()
	all := make([]settings, n)
	for i := range all {
		all[i] = baseSettings(t, dbURL)
		for k, v := range extra {
			all[i][k] = v
		}
		all[i]["AUTHGATE_LISTEN"] = freeAddr(t)
	}
	for i := range all {
		all[i]["AUTHGATE_ISSUER"] = "http://" + all[0]["AUTHGATE_LISTEN"]
	}
	ps := make([]*process, n)
	for i := range ps {
		ps[i] = launch(t, fmt.Sprintf("replica %d", i+1), all[i])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { errs[i] = p.waitReady(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return ps
}

// TestReplicas runs three replicas on one PostgreSQL schema and checks
// that no state another replica needs lives in a process.
func TestReplicas(t *testing.T) {
	t.Parallel()
	dbURL := testdb.URL(t, "postgres") // a fresh, empty schema
	mb := startMailbox(t, 30*time.Millisecond)
	const threshold = 4
	rs := startReplicas(t, 3, dbURL, settings{
		"AUTHGATE_SMTP_HOST":         mb.host,
		"AUTHGATE_SMTP_PORT":         strconv.Itoa(mb.port),
		"AUTHGATE_SMTP_TLS":          "none",
		"AUTHGATE_LOCKOUT_THRESHOLD": strconv.Itoa(threshold),
	})
	seed := newSeeder(t, dbURL)
	ctx := context.Background()
	c := httpClient(10 * time.Second)

	t.Run("three replicas started together migrate an empty schema and share one signing key per algorithm", func(t *testing.T) {
		var keys int64
		if err := seed.db.Model(&models.SigningKey{}).Count(&keys).Error; err != nil {
			t.Fatal(err)
		}
		if keys != 3 {
			t.Errorf("signing keys in the database: got %d, want 3 (RS256, ES256, EdDSA)", keys)
		}
		var first []string
		for i, p := range rs {
			kids := jwksKeyIDs(t, c, p)
			if len(kids) != 3 {
				t.Errorf("%s publishes %d keys, want 3: %v", p.name, len(kids), kids)
			}
			if i == 0 {
				first = kids
			} else if strings.Join(kids, ",") != strings.Join(first, ",") {
				t.Errorf("%s publishes %v, %s publishes %v", p.name, kids, rs[0].name, first)
			}
		}
	})

	ccID, ccSecret := seed.client(t, "Service", []string{"client_credentials"}, nil)
	cc := api{c: c, clientID: ccID, clientSecret: ccSecret}
	jwtClient, jwtSecret, err := seed.clients.Create(ctx, "e2e", clients.NewClient{
		Name: "JWT service", GrantTypes: []string{"client_credentials"}, AccessTokenFormat: "jwt",
	})
	if err != nil {
		t.Fatal(err)
	}
	jc := api{c: c, clientID: jwtClient.ID, clientSecret: jwtSecret}
	loaderID, loaderSecret := seed.client(t, "Data Loader", []string{"password", "refresh_token"}, []string{"offline_access"})
	loader := api{c: c, clientID: loaderID, clientSecret: loaderSecret}

	const pw = "correct horse battery staple"
	alice, bob := seed.user(t, "alice", pw), seed.user(t, "bob", pw)
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var aliceToken, bobToken string
	for _, u := range []struct {
		addr  string
		token *string
	}{{alice.Email, &aliceToken}, {bob.Email, &bobToken}} {
		msgs, err := mb.waitFor(waitCtx, u.addr, 1)
		if err != nil {
			t.Fatalf("security-token email to %s not delivered: %v", u.addr, err)
		}
		*u.token = securityToken(t, msgs[0])
	}

	t.Run("a token issued by one replica introspects active on the others", func(t *testing.T) {
		for _, a := range []api{cc, jc} {
			for i, issuer := range rs {
				tok := a.mustToken(t, issuer)
				for j, other := range rs {
					if j != i && !a.active(t, other, tok) {
						t.Errorf("token of client %s issued by %s: inactive on %s", a.clientID, issuer.name, other.name)
					}
				}
			}
		}
	})

	t.Run("a revocation on one replica is seen at once by all", func(t *testing.T) {
		for i := range rs {
			issuer, revoker, other := rs[i], rs[(i+1)%3], rs[(i+2)%3]
			tok := cc.mustToken(t, issuer)
			for _, p := range rs {
				if !cc.active(t, p, tok) {
					t.Fatalf("fresh token inactive on %s", p.name)
				}
			}
			r, err := cc.revoke(ctx, revoker, tok)
			if err != nil || r.status != http.StatusOK {
				t.Fatalf("revoke on %s: %v %v", revoker.name, r, err)
			}
			for _, p := range []*process{other, issuer, revoker} {
				if cc.active(t, p, tok) {
					t.Errorf("token revoked on %s: still active on %s", revoker.name, p.name)
				}
			}
		}
	})

	t.Run("the same refresh token sent to two replicas at once succeeds once", func(t *testing.T) {
		for round := range 6 {
			issuer := rs[round%3]
			r, err := loader.password(ctx, issuer, "alice", pw+aliceToken)
			if err != nil || r.status != http.StatusOK || r.str("refresh_token") == "" {
				t.Fatalf("password grant on %s: %v %v", issuer.name, r, err)
			}
			rt := r.str("refresh_token")
			pair := []*process{rs[round%3], rs[(round+1)%3]}
			results := make([]reply, 2)
			errs := make([]error, 2)
			var ready, wg sync.WaitGroup
			ready.Add(2)
			gate := make(chan struct{})
			for k, p := range pair {
				wg.Go(func() {
					ready.Done()
					<-gate
					results[k], errs[k] = loader.refresh(ctx, p, rt)
				})
			}
			ready.Wait()
			close(gate)
			wg.Wait()
			ok := 0
			for k, r := range results {
				if errs[k] != nil {
					t.Fatalf("round %d: refresh on %s: %v", round, pair[k].name, errs[k])
				}
				switch {
				case r.status == http.StatusOK:
					ok++
				case r.status >= 500:
					t.Errorf("round %d: refresh on %s: got %s, want 200 or a 4xx refusal", round, pair[k].name, r)
				}
			}
			if ok != 1 {
				t.Errorf("round %d: %d of 2 concurrent refreshes succeeded, want exactly 1 (%s: %s; %s: %s)",
					round, ok, pair[0].name, results[0], pair[1].name, results[1])
			}
		}
	})

	t.Run("legacy lockout counts failures on every replica", func(t *testing.T) {
		// threshold failures spread round-robin over three replicas: no
		// replica alone sees enough of them to lock.
		for i := range threshold {
			p := rs[i%3]
			r, err := loader.password(ctx, p, "bob", "wrong password"+bobToken)
			if err != nil || r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
				t.Fatalf("failure %d on %s: got %v %v, want 400 invalid_grant", i+1, p.name, r, err)
			}
		}
		for _, p := range rs {
			r, err := loader.password(ctx, p, "bob", pw+bobToken)
			if err != nil || r.status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
				t.Errorf("right password on %s after %d failures: got %v %v, want 400 invalid_grant", p.name, threshold, r, err)
			}
		}
		events, _, err := seed.users.ListLogins(ctx, accounts.LoginFilter{Username: "bob", Limit: 20})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range events {
			got = append([]string{e.Result}, got...) // oldest first
		}
		var want []string
		for range threshold {
			want = append(want, accounts.ResultInvalidPassword)
		}
		for range rs {
			want = append(want, accounts.ResultLockout)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("bob's login history, oldest first:\n got %q\nwant %q", got, want)
		}
	})

	t.Run("a browser session started on one replica is valid on the others", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		b := &http.Client{Jar: jar, Timeout: 10 * time.Second} // cookies for 127.0.0.1 go to every port
		resp, err := b.Get(rs[0].url("/login"))
		if err != nil {
			t.Fatal(err)
		}
		form := hiddenFields(readAll(t, resp))
		form.Set("username", "alice")
		form.Set("password", pw)
		resp, err = b.PostForm(rs[1].url("/login"), form) // CSRF token from replica 1, checked by replica 2
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/account" {
			t.Fatalf("login on %s: got %d at %s, want 200 at /account:\n%.500s", rs[1].name, resp.StatusCode, resp.Request.URL, body)
		}
		resp, err = b.Get(rs[2].url("/account"))
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/account" || !strings.Contains(body, "alice") {
			t.Errorf("account page on %s with the session from %s: got %d at %s", rs[2].name, rs[1].name, resp.StatusCode, resp.Request.URL)
		}
	})

	t.Run("client and trusted-range changes reach every replica within the 2s cache window", func(t *testing.T) {
		// Every replica has the client and the ranges cached by now.
		for _, p := range rs {
			cc.mustToken(t, p)
		}
		from3 := api{c: clientFrom("127.0.0.3"), clientID: loaderID, clientSecret: loaderSecret}
		if r, err := from3.password(ctx, rs[0], "alice", pw); err != nil || r.status != http.StatusBadRequest {
			t.Fatalf("password without token from an untrusted address: got %v %v, want 400", r, err)
		}
		newSecret, err := seed.clients.RotateSecret(ctx, "e2e", ccID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := seed.ranges.Add(ctx, "e2e", "127.0.0.3/32", "office"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond)
		rotated := api{c: c, clientID: ccID, clientSecret: newSecret}
		for _, p := range rs {
			if r, err := cc.clientCredentials(ctx, p); err != nil || r.status != http.StatusUnauthorized {
				t.Errorf("old secret on %s 2.5s after rotation: got %v %v, want 401", p.name, r, err)
			}
			rotated.mustToken(t, p)
			if r, err := from3.password(ctx, p, "alice", pw); err != nil || r.status != http.StatusOK {
				t.Errorf("password alone from 127.0.0.3 on %s 2.5s after the range was trusted: got %v %v, want 200", p.name, r, err)
			}
		}
		cc = rotated
	})

	t.Run("each security-token email is delivered exactly once", func(t *testing.T) {
		want := map[string]int{alice.Email: 1, bob.Email: 1}
		for i := range 8 {
			u := seed.user(t, fmt.Sprintf("user%d", i), pw)
			want[u.Email] = 1
		}
		for range 2 {
			if err := seed.users.ResetToken(ctx, "e2e", "alice", false); err != nil {
				t.Fatal(err)
			}
			want[alice.Email]++
		}
		waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		total := 0
		for addr, n := range want {
			if _, err := mb.waitFor(waitCtx, addr, n); err != nil {
				t.Fatalf("%d emails to %s not delivered in time: got %d", n, addr, len(mb.to(addr)))
			}
			total += n
		}
		// Give every replica many more polls in which a duplicate could go out.
		time.Sleep(time.Second)
		for addr, n := range want {
			if got := len(mb.to(addr)); got != n {
				t.Errorf("emails to %s: got %d, want %d", addr, got, n)
			}
		}
		if got := mb.total(); got != total {
			t.Errorf("emails in all: got %d, want %d", got, total)
		}
		var by []string
		for _, p := range rs {
			by = append(by, fmt.Sprintf("%s %d", p.name, strings.Count(p.log.String(), `"mail delivered"`)))
		}
		t.Logf("deliveries by replica: %s", strings.Join(by, ", "))
		var left int64
		if err := seed.db.Model(&models.MailMessage{}).Count(&left).Error; err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("outbox rows left after delivery: got %d, want 0", left)
		}
	})
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address src (all of 127.0.0.0/8 is loopback on Linux).
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// jwksKeyIDs returns the key ids p publishes.
func jwksKeyIDs(t *testing.T, c *http.Client, p *process) []string {
	t.Helper()
	resp, err := c.Get(p.url("/.well-known/jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(readAll(t, resp)), &set); err != nil {
		t.Fatalf("JWKS of %s: %v", p.name, err)
	}
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.Kid)
	}
	return ids
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields returns a page's hidden form fields.
func hiddenFields(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(body, -1) {
		v.Add(m[1], html.UnescapeString(m[2]))
	}
	return v
}
