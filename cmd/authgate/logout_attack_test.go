package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

// TestBackchannelRefusesPrivateAddresses plays a client that registers a
// back-channel URI inside the server's own network (here, loopback): with
// the default configuration authgate never connects to it, and the
// delivery records why.
func TestBackchannelRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	in := startServer(t, testdb.URL(t, "sqlite"), nil)
	ctx := context.Background()
	var hits atomic.Int64
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer inside.Close()
	in.createUser("alice", "correct horse battery", false)
	secret := in.createClient(models.Client{
		ID: "webapp", Name: "Web App", RedirectURIs: []string{callback}, FirstParty: true,
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"}, Scopes: []string{"openid"},
		BackchannelLogoutURI: inside.URL + "/internal-admin",
	})
	provider, err := oidc.NewProvider(ctx, in.issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: "webapp", ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID}}
	b := in.browser()
	rawID, _ := codeSignIn(t, in, b, conf, provider.Verifier(&oidc.Config{ClientID: "webapp"}), "alice", true)
	resp, body := get(t, noRedirect(b), in.issuer+"/oauth2/logout?"+url.Values{"id_token_hint": {rawID}}.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="signed-out"`) {
		t.Fatalf("logout: got %d: %.300s", resp.StatusCode, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var d models.LogoutDelivery
		err := in.app.Store.Conn(ctx).Take(&d).Error
		if err == nil && d.Attempts > 0 {
			if !strings.Contains(d.LastError, "not public") {
				t.Fatalf("the failed delivery records %q, want the address refusal", d.LastError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt recorded within 20s (%v, %+v)", err, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the internal address was called %d times", n)
	}
}

// TestLogoutEndpointRateLimit bursts the end_session_endpoint from one
// address in parallel: past the per-source burst it answers 429 with a
// page, while another address (127.0.0.2) is still served.
func TestLogoutEndpointRateLimit(t *testing.T) {
	t.Parallel()
	in := startServer(t, testdb.URL(t, "sqlite"), map[string]string{
		"AUTHGATE_RATE_LIMIT_PER_MINUTE": "60", "AUTHGATE_RATE_LIMIT_BURST": "10",
	})
	const n = 40
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := clientFrom("127.0.0.1").Get(in.issuer + "/oauth2/logout?id_token_hint=x.y.z")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusBadRequest:
				ok.Add(1)
			case http.StatusTooManyRequests:
				limited.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() > 12 || limited.Load() < n-12 {
		t.Fatalf("%d answered, %d limited of %d; want at most the burst (10, plus refill) answered", ok.Load(), limited.Load(), n)
	}
	// Another source has its own bucket.
	resp, err := clientFrom("127.0.0.2").Get(in.issuer + "/oauth2/logout?id_token_hint=x.y.z")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("from 127.0.0.2: got %d, want 400 (its own bucket)", resp.StatusCode)
	}
}
