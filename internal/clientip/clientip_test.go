package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

var testProxies = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("fd00::/8"),
	netip.MustParsePrefix("::ffff:192.168.0.0/112"), // 192.168.0.0/16, written mapped
}

func TestClientAddr(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xff    []string
		fwd    []string
		want   string
	}{
		{name: "untrusted peer, no headers", remote: "203.0.113.7:4000", want: "203.0.113.7"},
		{name: "untrusted peer, forged XFF ignored", remote: "203.0.113.7:4000", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "untrusted peer, forged Forwarded ignored", remote: "203.0.113.7:4000", fwd: []string{"for=198.51.100.1"}, want: "203.0.113.7"},
		{name: "trusted peer, no headers", remote: "10.1.2.3:4000", want: "10.1.2.3"},
		{name: "trusted peer, one hop", remote: "10.1.2.3:4000", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "rightmost untrusted wins over spoofed left", remote: "10.1.2.3:4000", xff: []string{"6.6.6.6, 198.51.100.1"}, want: "198.51.100.1"},
		{name: "trusted hops skipped", remote: "10.1.2.3:4000", xff: []string{"6.6.6.6, 198.51.100.1, 10.9.9.9, 10.0.0.1"}, want: "198.51.100.1"},
		{name: "several header lines", remote: "10.1.2.3:4000", xff: []string{"6.6.6.6, 198.51.100.1", "10.9.9.9"}, want: "198.51.100.1"},
		{name: "all hops trusted returns leftmost", remote: "10.1.2.3:4000", xff: []string{"10.3.3.3, 10.2.2.2"}, want: "10.3.3.3"},
		{name: "malformed hop stops walk at last trusted", remote: "10.1.2.3:4000", xff: []string{"198.51.100.1, garbage, 10.2.2.2"}, want: "10.2.2.2"},
		{name: "malformed rightmost hop returns peer", remote: "10.1.2.3:4000", xff: []string{"198.51.100.1, 999.1.1.1"}, want: "10.1.2.3"},
		{name: "unknown in XFF stops walk", remote: "10.1.2.3:4000", xff: []string{"198.51.100.1, unknown"}, want: "10.1.2.3"},
		{name: "empty XFF elements ignored", remote: "10.1.2.3:4000", xff: []string{"198.51.100.1, ,"}, want: "198.51.100.1"},
		{name: "blank XFF falls back to Forwarded", remote: "10.1.2.3:4000", xff: []string{"  "}, fwd: []string{"for=198.51.100.1"}, want: "198.51.100.1"},
		{name: "XFF with port", remote: "10.1.2.3:4000", xff: []string{"198.51.100.1:5555"}, want: "198.51.100.1"},
		{name: "XFF IPv6", remote: "10.1.2.3:4000", xff: []string{"2001:db8::1"}, want: "2001:db8::1"},
		{name: "XFF bracketed IPv6 with port", remote: "10.1.2.3:4000", xff: []string{"[2001:db8::1]:443"}, want: "2001:db8::1"},
		{name: "XFF bracketed IPv6", remote: "10.1.2.3:4000", xff: []string{"[2001:db8::1]"}, want: "2001:db8::1"},
		{name: "XFF IPv4-mapped is unmapped", remote: "10.1.2.3:4000", xff: []string{"::ffff:198.51.100.1"}, want: "198.51.100.1"},
		{name: "XFF mapped trusted hop skipped", remote: "10.1.2.3:4000", xff: []string{"198.51.100.1, ::ffff:10.4.4.4"}, want: "198.51.100.1"},
		{name: "XFF zone rejected", remote: "10.1.2.3:4000", xff: []string{"fe80::1%eth0"}, want: "10.1.2.3"},
		{name: "both headers: neither believed, the proxy itself", remote: "10.1.2.3:4000", xff: []string{"198.51.100.1"}, fwd: []string{"for=198.51.100.2"}, want: "10.1.2.3"},
		{name: "mapped peer is unmapped and trusted", remote: "[::ffff:10.1.2.3]:4000", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "mapped untrusted peer is unmapped", remote: "[::ffff:203.0.113.7]:4000", want: "203.0.113.7"},
		{name: "IPv6 trusted peer", remote: "[fd00::1]:4000", xff: []string{"2001:db8::5"}, want: "2001:db8::5"},
		{name: "peer trusted via mapped prefix", remote: "192.168.1.1:4000", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "peer without port", remote: "10.1.2.3", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "unparseable peer", remote: "@", xff: []string{"198.51.100.1"}, want: "invalid IP"},

		{name: "Forwarded simple", remote: "10.1.2.3:4000", fwd: []string{"for=198.51.100.1"}, want: "198.51.100.1"},
		{name: "Forwarded case-insensitive name", remote: "10.1.2.3:4000", fwd: []string{"For=198.51.100.1"}, want: "198.51.100.1"},
		{name: "Forwarded with other pairs", remote: "10.1.2.3:4000", fwd: []string{"for=198.51.100.1;proto=https;by=10.0.0.1"}, want: "198.51.100.1"},
		{name: "Forwarded quoted IPv4 with port", remote: "10.1.2.3:4000", fwd: []string{`for="198.51.100.1:8080"`}, want: "198.51.100.1"},
		{name: "Forwarded quoted IPv6", remote: "10.1.2.3:4000", fwd: []string{`for="[2001:db8:cafe::17]:4711"`}, want: "2001:db8:cafe::17"},
		{name: "Forwarded IPv6 no port", remote: "10.1.2.3:4000", fwd: []string{`for="[2001:db8::17]"`}, want: "2001:db8::17"},
		{name: "Forwarded mapped IPv6 is unmapped", remote: "10.1.2.3:4000", fwd: []string{`for="[::ffff:198.51.100.1]"`}, want: "198.51.100.1"},
		{name: "Forwarded obfuscated port", remote: "10.1.2.3:4000", fwd: []string{`for="198.51.100.1:_abc"`}, want: "198.51.100.1"},
		{name: "Forwarded list from the right", remote: "10.1.2.3:4000", fwd: []string{"for=6.6.6.6, for=198.51.100.1, for=10.2.2.2"}, want: "198.51.100.1"},
		{name: "Forwarded several lines", remote: "10.1.2.3:4000", fwd: []string{"for=6.6.6.6, for=198.51.100.1", "for=10.2.2.2"}, want: "198.51.100.1"},
		{name: "Forwarded unknown stops walk", remote: "10.1.2.3:4000", fwd: []string{"for=6.6.6.6, for=unknown, for=10.2.2.2"}, want: "10.2.2.2"},
		{name: "Forwarded obfuscated node stops walk", remote: "10.1.2.3:4000", fwd: []string{"for=6.6.6.6, for=_hidden"}, want: "10.1.2.3"},
		{name: "Forwarded unbracketed IPv6 is malformed", remote: "10.1.2.3:4000", fwd: []string{`for="2001:db8::1"`}, want: "10.1.2.3"},
		{name: "Forwarded bracketed IPv4 is malformed", remote: "10.1.2.3:4000", fwd: []string{`for="[198.51.100.1]"`}, want: "10.1.2.3"},
		{name: "Forwarded unquoted port is malformed", remote: "10.1.2.3:4000", fwd: []string{"for=198.51.100.1:80"}, want: "10.1.2.3"},
		{name: "Forwarded bad port is malformed", remote: "10.1.2.3:4000", fwd: []string{`for="198.51.100.1:99999"`}, want: "10.1.2.3"},
		{name: "Forwarded element without for stops walk", remote: "10.1.2.3:4000", fwd: []string{"for=6.6.6.6, by=10.0.0.1"}, want: "10.1.2.3"},
		{name: "Forwarded duplicate for is malformed", remote: "10.1.2.3:4000", fwd: []string{"for=6.6.6.6;for=198.51.100.1"}, want: "10.1.2.3"},
		{name: "Forwarded empty elements ignored", remote: "10.1.2.3:4000", fwd: []string{"for=198.51.100.1, ,"}, want: "198.51.100.1"},
		{name: "Forwarded garbage element resyncs at comma", remote: "10.1.2.3:4000", fwd: []string{"for=6.6.6.6 junk, for=198.51.100.1"}, want: "198.51.100.1"},
		{name: "Forwarded comma inside quotes", remote: "10.1.2.3:4000", fwd: []string{`for=198.51.100.1;ext="a, for=6.6.6.6"`}, want: "198.51.100.1"},
		{name: "Forwarded escaped quote", remote: "10.1.2.3:4000", fwd: []string{`for=198.51.100.1;ext="a\", for=6.6.6.6"`}, want: "198.51.100.1"},
		{name: "Forwarded unterminated quote stops walk", remote: "10.1.2.3:4000", fwd: []string{`for=6.6.6.6;ext="x, for=198.51.100.1`}, want: "10.1.2.3"},
		{name: "Forwarded stray quote stops walk", remote: "10.1.2.3:4000", fwd: []string{`for=6.6.6.6 "x", for=198.51.100.1`}, want: "10.1.2.3"},
		{name: "Forwarded later line survives bad earlier line", remote: "10.1.2.3:4000", fwd: []string{`for="6.6.6.6`, "for=198.51.100.1"}, want: "198.51.100.1"},
	}
	r := New(testProxies, AnyHeader)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tt.fwd {
				req.Header.Add("Forwarded", v)
			}
			if got := r.ClientAddr(req); got.String() != tt.want {
				t.Errorf("ClientAddr = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestHeaderSetting: with a header named, only that header is believed,
// whatever the client adds of the other (issue 9, item 10).
func TestHeaderSetting(t *testing.T) {
	tests := []struct {
		name     string
		header   Header
		xff, fwd string
		want     string
	}{
		{"forwarded: client's XFF ignored", Forwarded, "10.20.0.5", "for=198.51.100.1", "198.51.100.1"},
		{"forwarded: XFF alone ignored", Forwarded, "198.51.100.1", "", "10.1.2.3"},
		{"forwarded: Forwarded alone", Forwarded, "", "for=198.51.100.1", "198.51.100.1"},
		{"x-forwarded-for: client's Forwarded ignored", XForwardedFor, "198.51.100.1", "for=10.20.0.5", "198.51.100.1"},
		{"x-forwarded-for: Forwarded alone ignored", XForwardedFor, "", "for=198.51.100.1", "10.1.2.3"},
		{"x-forwarded-for: XFF alone", XForwardedFor, "198.51.100.1", "", "198.51.100.1"},
		{"any: XFF alone", AnyHeader, "198.51.100.1", "", "198.51.100.1"},
		{"any: Forwarded alone", AnyHeader, "", "for=198.51.100.1", "198.51.100.1"},
		{"any: both, the proxy itself", AnyHeader, "10.20.0.5", "for=198.51.100.1", "10.1.2.3"},
		{"unknown setting believes nothing", Header("via"), "198.51.100.1", "", "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.RemoteAddr = "10.1.2.3:4000"
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			if tt.fwd != "" {
				req.Header.Set("Forwarded", tt.fwd)
			}
			if got := New(testProxies, tt.header).ClientAddr(req); got.String() != tt.want {
				t.Errorf("ClientAddr = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	for in, want := range map[string]Header{"": AnyHeader, "X-Forwarded-For": XForwardedFor, " forwarded ": Forwarded} {
		if got, err := ParseHeader(in); err != nil || got != want {
			t.Errorf("ParseHeader(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"x-real-ip", "both", "forwarded,x-forwarded-for"} {
		if got, err := ParseHeader(in); err == nil {
			t.Errorf("ParseHeader(%q) = %q, want an error", in, got)
		}
	}
}

func TestNoTrustedProxies(t *testing.T) {
	for name, r := range map[string]*Resolver{"empty": New(nil, AnyHeader), "nil": nil, "zero": {}} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = "10.1.2.3:4000"
		req.Header.Set("X-Forwarded-For", "198.51.100.1")
		if got, want := r.ClientAddr(req), netip.MustParseAddr("10.1.2.3"); got != want {
			t.Errorf("%s resolver: ClientAddr = %s, want %s", name, got, want)
		}
	}
}

func TestMiddleware(t *testing.T) {
	r := New(testProxies, AnyHeader)
	var got netip.Addr
	var ok bool
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got, ok = FromContext(req.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.1.2.3:4000"
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if want := netip.MustParseAddr("198.51.100.1"); !ok || got != want {
		t.Errorf("FromContext = %s, %v, want %s, true", got, ok, want)
	}

	if got, ok := FromContext(req.Context()); ok {
		t.Errorf("FromContext without middleware = %s, true, want false", got)
	}

	req.RemoteAddr = "@"
	h.ServeHTTP(httptest.NewRecorder(), req)
	if ok {
		t.Errorf("FromContext for unparseable peer = %s, true, want false", got)
	}
}

// addrRun matches every stretch of text that could hold an address.
var addrRun = regexp.MustCompile(`[0-9A-Fa-f.:]+`)

// headerAddrs collects, independently of the parser under test, every
// address that appears anywhere in values, unmapped.
func headerAddrs(values ...string) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, v := range values {
		for _, run := range addrRun.FindAllString(v, -1) {
			if a, err := netip.ParseAddr(run); err == nil {
				out[a.Unmap()] = true
			}
			if ap, err := netip.ParseAddrPort(run); err == nil {
				out[ap.Addr().Unmap()] = true
			}
		}
	}
	return out
}

func FuzzClientAddr(f *testing.F) {
	f.Add("10.1.2.3:4000", "6.6.6.6, 198.51.100.1, 10.0.0.1", "")
	f.Add("10.1.2.3:4000", "", `for="[2001:db8:cafe::17]:4711";proto=https, for=10.2.2.2`)
	f.Add("10.1.2.3:4000", "::ffff:198.51.100.1", "")
	f.Add("[fd00::1]:80", "[2001:db8::1]:443", "for=unknown")
	f.Add("203.0.113.7:4000", "198.51.100.1", "for=198.51.100.2")
	f.Add("10.1.2.3:4000", "", `for=1.2.3.4;ext="a\", for=6.6.6.6"`)
	f.Add("[::ffff:10.1.2.3]:1", "10.9.9.9,,garbage", `for="_x`)
	r := New(testProxies, AnyHeader)
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		req := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		if xff != "" {
			req.Header["X-Forwarded-For"] = []string{xff}
		}
		if fwd != "" {
			req.Header["Forwarded"] = []string{fwd}
		}
		got := r.ClientAddr(req)
		peer := parsePeer(remote)
		if got == peer {
			return
		}
		if !peer.IsValid() || !r.isTrusted(peer) {
			t.Fatalf("peer %s is not a trusted proxy, but ClientAddr = %s", peer, got)
		}
		if !got.IsValid() {
			t.Fatalf("trusted peer %s, but ClientAddr is invalid", peer)
		}
		if got.Is4In6() || got.Zone() != "" {
			t.Fatalf("ClientAddr = %s, want an unmapped address without zone", got)
		}
		if xff != "" && fwd != "" && strings.TrimSpace(xff) != "" && strings.TrimSpace(fwd) != "" {
			t.Fatalf("both headers sent, but ClientAddr = %s, not the peer %s", got, peer)
		}
		if !headerAddrs(xff, fwd)[got] {
			t.Fatalf("ClientAddr = %s, which appears in neither header (XFF %q, Forwarded %q)", got, xff, fwd)
		}
	})
}

func FuzzParseForwarded(f *testing.F) {
	f.Add(`for="[2001:db8:cafe::17]:4711";proto=https, for=192.0.2.43`)
	f.Add(`for=192.0.2.60;proto=http;by=203.0.113.43`)
	f.Add(`for=unknown, for="_hidden", for="\"`)
	f.Fuzz(func(t *testing.T, line string) {
		known := headerAddrs(line)
		for _, a := range parseForwarded(line) {
			if a.IsValid() && !known[a] {
				t.Fatalf("parseForwarded(%q) invented %s", line, a)
			}
		}
	})
}
