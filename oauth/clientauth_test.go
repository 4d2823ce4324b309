package oauth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
)

func keySetJSON(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1"}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The fetcher reads a key set once per cache lifetime, fetches it again
// early at most once per MinRefresh, and gives up on a slow or huge
// answer within its bounds.
func TestJWKSFetcher(t *testing.T) {
	t.Parallel()
	set := keySetJSON(t)
	var fetches atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_, _ = w.Write([]byte(set))
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte(set))
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[` + strings.Repeat(" ", 1<<20) + `]}`))
	})
	mux.HandleFunc("/private", func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, `{"keys":[{"kty":"oct","k":%q}]}`, base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef")))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	clock := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewJWKSFetcher(JWKSOptions{AllowPrivate: true, Timeout: 300 * time.Millisecond, MaxBytes: 16 << 10, CacheTTL: time.Minute, MinRefresh: 10 * time.Second})
	f.now = func() time.Time { return clock }
	ctx := t.Context()
	got, err := f.Resolve(ctx, srv.URL+"/jwks", false)
	if err != nil || len(got.Keys) != 1 || got.Keys[0].Use != "sig" {
		t.Fatalf("Resolve: got %+v, %v, want one signing key", got, err)
	}
	for _, force := range []bool{false, true, false} {
		if _, err := f.Resolve(ctx, srv.URL+"/jwks", force); err != nil {
			t.Fatal(err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("within MinRefresh: %d fetches, want 1 (forced refreshes wait)", n)
	}
	clock = clock.Add(11 * time.Second)
	_, _ = f.Resolve(ctx, srv.URL+"/jwks", true)
	_, _ = f.Resolve(ctx, srv.URL+"/jwks", false)
	if n := fetches.Load(); n != 2 {
		t.Errorf("a forced refresh after MinRefresh: %d fetches, want 2", n)
	}
	clock = clock.Add(2 * time.Minute)
	_, _ = f.Resolve(ctx, srv.URL+"/jwks", false)
	if n := fetches.Load(); n != 3 {
		t.Errorf("after the cache lifetime: %d fetches, want 3", n)
	}

	start := time.Now()
	if _, err := f.Resolve(ctx, srv.URL+"/slow", false); err == nil {
		t.Error("a slow jwks_uri: got a key set, want an error")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a slow jwks_uri took %s, want about the 300 ms timeout", d)
	}
	if _, err := f.Resolve(ctx, srv.URL+"/huge", false); err == nil || !strings.Contains(fmt.Sprint(err), "client") {
		t.Errorf("a huge jwks_uri: got %v, want invalid_client", err)
	}
	if _, err := f.Resolve(ctx, srv.URL+"/private", false); err == nil {
		t.Error("a key set with a secret key: got it, want an error")
	}

	strict := NewJWKSFetcher(JWKSOptions{})
	if _, err := strict.Resolve(ctx, srv.URL+"/jwks", false); err == nil {
		t.Error("loopback without AllowPrivate: got a key set, want an error")
	}
	if n := fetches.Load(); n != 3 {
		t.Errorf("loopback without AllowPrivate was fetched (%d fetches)", n)
	}
}

func TestCheckAssertionTimes(t *testing.T) {
	t.Parallel()
	now := time.Unix(2_000_000_000, 0)
	enc := func(claims string) string {
		return "e30." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".c2ln"
	}
	for _, tc := range []struct {
		name, assertion string
		ok              bool
	}{
		{"valid", enc(fmt.Sprintf(`{"exp":%d,"iat":%d}`, now.Unix()+60, now.Unix())), true},
		{"no iat", enc(fmt.Sprintf(`{"exp":%d}`, now.Unix()+60)), true},
		{"no exp", enc(`{"iat":2000000000}`), false},
		{"expired", enc(fmt.Sprintf(`{"exp":%d}`, now.Unix()-1)), false},
		{"exp too far", enc(fmt.Sprintf(`{"exp":%d}`, now.Add(2*time.Hour).Unix())), false},
		{"iat ahead", enc(fmt.Sprintf(`{"exp":%d,"iat":%d}`, now.Unix()+60, now.Unix()+600)), false},
		{"iat too old", enc(fmt.Sprintf(`{"exp":%d,"iat":%d}`, now.Unix()+60, now.Add(-2*time.Hour).Unix())), false},
		{"exp a string", enc(`{"exp":"soon"}`), false},
		{"not a JWT", "abc", false},
	} {
		if err := checkAssertionTimes(tc.assertion, now); (err == nil) != tc.ok {
			t.Errorf("%s: got %v, want ok=%t", tc.name, err, tc.ok)
		}
	}
}
