package clientip

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParsePrefix is authgate's one parser of an address range as a person
// writes it (in the configuration, the CLI, the API or the console): a
// CIDR range such as 10.0.0.0/8 or 2001:db8::/32, or a bare address, taken
// as a single host. Surrounding spaces are ignored. The result is
// canonical, the form every comparison in authgate assumes: host bits are
// masked off, an IPv4-mapped IPv6 range is the IPv4 range it covers, and a
// zone is refused rather than silently dropped.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "%") {
		return netip.Prefix{}, fmt.Errorf("%q names a network interface zone; write the address without %%zone", s)
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR range such as 10.0.0.0/8 or 2001:db8::/32", s)
		}
		return canonical(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR range", s)
	}
	return canonical(netip.PrefixFrom(a, a.BitLen())), nil
}

// ParsePrefixes parses a comma-separated list of ranges with ParsePrefix;
// empty items are skipped.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		p, err := ParsePrefix(item)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// canonical masks p and turns an IPv4-mapped IPv6 prefix
// (::ffff:10.0.0.0/104) into the IPv4 prefix it covers (10.0.0.0/8), so
// that it matches the unmapped addresses authgate compares.
func canonical(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}
