package clientip

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParsePrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"192.0.2.7", "192.0.2.7/32"},
		{"  192.0.2.0/24\n", "192.0.2.0/24"},
		{"2001:db8::1/32", "2001:db8::/32"},
		{"2001:DB8:0000::0001", "2001:db8::1/128"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
		{"::ffff:10.1.0.0/104", "10.0.0.0/8"},
		{"::ffff:0:0/96", "0.0.0.0/0"},
		{"::/0", "::/0"},
	} {
		got, err := ParsePrefix(tc.in)
		if err != nil || got.String() != tc.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", " ", "10.0.0.0/33", "10.0.0.0/-1", "example.com", "10.0.0/8", "010.0.0.1", "10.0.0.0/8/8",
		"10.0.0.0/8,", "fe80::1%eth0", "fe80::%eth0/64", "1.2.3.4:80",
	} {
		if p, err := ParsePrefix(bad); err == nil {
			t.Errorf("ParsePrefix(%q) = %v, want an error", bad, p)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes(" 10.0.0.0/8, ,2001:db8::1 ,::ffff:172.16.0.0/108,")
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128"), netip.MustParsePrefix("172.16.0.0/12"),
	}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ParsePrefixes = %v, %v; want %v", got, err, want)
	}
	if got, err := ParsePrefixes(""); err != nil || len(got) != 0 {
		t.Errorf("ParsePrefixes(\"\") = %v, %v; want none", got, err)
	}
	_, err = ParsePrefixes("10.0.0.0/8,nonsense")
	if err == nil || !strings.Contains(err.Error(), `"nonsense"`) {
		t.Errorf("ParsePrefixes with a bad item = %v, want an error naming it", err)
	}
}

// TestResolverAcceptsWhatTheParserGives: a range written as an IPv4-mapped
// IPv6 range trusts the IPv4 proxies in it, whether it came through the
// parser or was built by hand.
func TestResolverAcceptsWhatTheParserGives(t *testing.T) {
	parsed, err := ParsePrefixes("::ffff:10.0.0.0/104")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Resolver{New(parsed, AnyHeader), New([]netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}, AnyHeader)} {
		if !r.IsProxy(netip.MustParseAddr("10.9.8.7")) || !r.IsProxy(netip.MustParseAddr("::ffff:10.9.8.7")) {
			t.Errorf("resolver %v does not trust 10.9.8.7", r.trusted)
		}
		if r.IsProxy(netip.MustParseAddr("11.0.0.1")) {
			t.Errorf("resolver %v trusts 11.0.0.1", r.trusted)
		}
	}
}

func FuzzParsePrefixes(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8, 2001:db8::/32", "::1,127.0.0.1", "::ffff:10.0.0.0/104", "fe80::1%x", " , "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		ps, err := ParsePrefixes(list)
		if err != nil {
			return
		}
		for _, p := range ps {
			if !p.IsValid() || p.Masked() != p || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("ParsePrefixes(%q) gave %v, not a canonical prefix", list, p)
			}
			again, err := ParsePrefix(p.String())
			if err != nil || again != p {
				t.Fatalf("ParsePrefixes(%q) gave %v, but ParsePrefix(%q) = %v, %v", list, p, p.String(), again, err)
			}
		}
	})
}
