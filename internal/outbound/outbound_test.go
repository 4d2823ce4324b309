package outbound

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2001:4860:4860::8888": true,
		"127.0.0.1": false, "127.9.9.9": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false,
		"192.168.1.1": false, "169.254.169.254": false, "fe80::1": false, "fc00::1": false,
		"0.0.0.0": false, "::": false, "100.64.0.1": false, "::ffff:127.0.0.1": false,
		"::ffff:10.0.0.1": false, "224.0.0.1": false, "64:ff9b::a00:1": false, "2002:7f00:1::": false,
	} {
		if got := Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %t, want %t", addr, got, want)
		}
	}
}

// TestRefusesLoopback plays a client that registers a URI on the server's
// own machine: the request is refused before it connects, unless allowed.
func TestRefusesLoopback(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	// By name too: localhost resolves to a loopback address.
	for _, u := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		_, err := Post(t.Context(), NewClient(Options{}), u, "text/plain", strings.NewReader("x"))
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("Post(%s): got %v, want ErrForbiddenAddress", u, err)
		}
	}
	if hits != 0 {
		t.Fatalf("the loopback server was reached %d times", hits)
	}
	status, err := Post(t.Context(), NewClient(Options{AllowPrivate: true}), srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil || status != http.StatusOK || hits != 1 {
		t.Fatalf("allowed: got %d, %v, %d hits; want 200, nil, 1", status, err, hits)
	}
}

// TestNoRedirects plays a client whose endpoint redirects to an internal
// address: the redirect is not followed.
func TestNoRedirects(t *testing.T) {
	followed := false
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed = true }))
	defer inner.Close()
	outer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL, http.StatusTemporaryRedirect)
	}))
	defer outer.Close()
	status, err := Post(t.Context(), NewClient(Options{AllowPrivate: true}), outer.URL, "text/plain", strings.NewReader("x"))
	if err != nil || status != http.StatusTemporaryRedirect || followed {
		t.Fatalf("got %d, %v, followed=%t; want 307, nil, false", status, err, followed)
	}
}
