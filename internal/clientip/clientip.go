package clientip

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Header names the one forwarding header the trusted proxies write.
type Header string

const (
	// AnyHeader, the zero value, believes whichever of X-Forwarded-For and
	// Forwarded a trusted peer sent, but neither when it sent both: a proxy
	// writes one of them, so the other came from the client.
	AnyHeader Header = ""
	// XForwardedFor believes X-Forwarded-For only.
	XForwardedFor Header = "x-forwarded-for"
	// Forwarded believes the RFC 7239 Forwarded header only.
	Forwarded Header = "forwarded"
)

// ParseHeader reads a header setting: "x-forwarded-for", "forwarded" (in
// any case) or "" for AnyHeader.
func ParseHeader(s string) (Header, error) {
	switch h := Header(strings.ToLower(strings.TrimSpace(s))); h {
	case AnyHeader, XForwardedFor, Forwarded:
		return h, nil
	default:
		return "", fmt.Errorf("%q is not x-forwarded-for or forwarded", s)
	}
}

// Resolver finds the client address of a request. Its zero value, like a
// Resolver built with no trusted proxies, always answers with the socket peer.
// A Resolver is safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
	header  Header
}

// New returns a Resolver that believes the forwarding header named by
// header (see Header) when a peer inside trustedProxies sent it. Invalid
// prefixes are ignored; IPv4-mapped IPv6 prefixes (::ffff:10.0.0.0/104) are
// taken as the IPv4 ranges they map. An unknown header believes none.
func New(trustedProxies []netip.Prefix, header Header) *Resolver {
	r := &Resolver{header: header}
	for _, p := range trustedProxies {
		if !p.IsValid() {
			continue
		}
		r.trusted = append(r.trusted, canonical(p))
	}
	return r
}

// IsProxy reports whether addr is one of the trusted proxies. A request
// whose resolved client address is a proxy came through it with no usable
// forwarding header (or from the proxy itself): it must not be trusted as
// if the proxy were the client.
func (r *Resolver) IsProxy(addr netip.Addr) bool { return r.isTrusted(addr.Unmap()) }

func (r *Resolver) isTrusted(addr netip.Addr) bool {
	if r == nil {
		return false
	}
	for _, p := range r.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ClientAddr returns the address of the client that sent req.
//
// It is the socket peer (req.RemoteAddr) unless the peer is a trusted proxy.
// Then the forwarding header the Resolver believes is walked from the right:
// X-Forwarded-For (every header line, comma-separated) or the for= values of
// the RFC 7239 Forwarded header. With AnyHeader, a request carrying both
// resolves to the peer itself, which IsProxy reports, so that a header the
// client added cannot stand in for the one the proxy wrote. Hops that are
// themselves trusted proxies are skipped and the first untrusted address is
// returned. A malformed, "unknown" or
// obfuscated hop ends the walk, and the last trusted hop is returned, so the
// answer is always an address that a trusted party vouched for. Headers from
// an untrusted peer are ignored. IPv4-mapped IPv6 addresses are unmapped.
//
// The result is invalid only when req.RemoteAddr is not an IP address (for
// example on a Unix socket) and the peer therefore cannot be trusted either.
func (r *Resolver) ClientAddr(req *http.Request) netip.Addr {
	peer := parsePeer(req.RemoteAddr)
	if !peer.IsValid() || !r.isTrusted(peer) {
		return peer
	}
	hops, ok := r.forwardedFor(req.Header)
	if !ok {
		return peer
	}
	last := peer
	for i := len(hops) - 1; i >= 0; i-- {
		addr := hops[i]
		if !addr.IsValid() {
			break
		}
		if !r.isTrusted(addr) {
			return addr
		}
		last = addr
	}
	return last
}

// parsePeer parses req.RemoteAddr, which is normally IP:port.
func parsePeer(remote string) netip.Addr {
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		addr = ap.Addr()
	} else if a, err := netip.ParseAddr(remote); err == nil {
		addr = a
	} else {
		return netip.Addr{}
	}
	// A zone names a local interface; it says nothing about trust.
	return addr.WithZone("").Unmap()
}

// forwardedFor returns the hops a trusted peer reported in the header r
// believes, nearest last, with an invalid Addr standing for each hop that
// could not be parsed; ok is false when that header is absent, or, with
// AnyHeader, when both are present.
func (r *Resolver) forwardedFor(h http.Header) (hops []netip.Addr, ok bool) {
	xff, fwd := nonBlank(h.Values("X-Forwarded-For")), nonBlank(h.Values("Forwarded"))
	switch r.header {
	case XForwardedFor:
		fwd = nil
	case Forwarded:
		xff = nil
	case AnyHeader:
		if len(xff) > 0 && len(fwd) > 0 {
			return nil, false
		}
	default:
		return nil, false
	}
	if len(xff) > 0 {
		for _, line := range xff {
			for item := range strings.SplitSeq(line, ",") {
				// Empty list elements carry no hop (RFC 7230 section 7).
				if item = strings.TrimSpace(item); item != "" {
					hops = append(hops, parseXFFHop(item))
				}
			}
		}
		return hops, true
	}
	if len(fwd) > 0 {
		for _, line := range fwd {
			hops = append(hops, parseForwarded(line)...)
		}
		return hops, true
	}
	return nil, false
}

// nonBlank drops header lines that hold only whitespace.
func nonBlank(lines []string) []string {
	out := lines[:0:0]
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// parseXFFHop parses one X-Forwarded-For entry: an IP address, tolerating
// the IP:port, [IPv6] and [IPv6]:port forms some proxies write.
func parseXFFHop(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return clean(a)
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return clean(ap.Addr())
	}
	if inner, ok := strings.CutPrefix(s, "["); ok {
		if inner, ok := strings.CutSuffix(inner, "]"); ok {
			if a, err := netip.ParseAddr(inner); err == nil && a.Is6() {
				return clean(a)
			}
		}
	}
	return netip.Addr{}
}

// clean unmaps a and rejects addresses carrying a zone, which no proxy has
// reason to send.
func clean(a netip.Addr) netip.Addr {
	if a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

// parseForwarded returns the for= node of each element of one Forwarded
// header line (RFC 7239 section 4), in order, with an invalid Addr for each
// element that has no usable for= value. Empty elements are ignored, as
// RFC 7230 asks of lists. Where the line stops making sense in a way that
// could hide a separator (an unterminated or stray quote) a final invalid
// Addr is appended and parsing stops: nothing further can be believed.
func parseForwarded(line string) []netip.Addr {
	var hops []netip.Addr
	var el forwardedElement
	i := 0
	for {
		i = skipSpace(line, i)
		start := i
		for i < len(line) && isTchar(line[i]) {
			i++
		}
		if name := line[start:i]; name != "" {
			el.pairs++
			i = skipSpace(line, i)
			if i < len(line) && line[i] == '=' {
				value, next, ok := parseValue(line, skipSpace(line, i+1))
				if !ok {
					return append(hops, netip.Addr{})
				}
				i = next
				if strings.EqualFold(name, "for") {
					el.node = value
					el.fors++
				}
			} else {
				el.bad = true
			}
		}
		// Anything else before the next separator spoils the element.
		for i < len(line) && line[i] != ';' && line[i] != ',' {
			switch line[i] {
			case ' ', '\t':
			case '"':
				return append(hops, netip.Addr{})
			default:
				el.bad = true
			}
			i++
		}
		if i >= len(line) {
			return el.appendTo(hops)
		}
		if line[i] == ',' {
			hops = el.appendTo(hops)
			el = forwardedElement{}
		}
		i++
	}
}

// forwardedElement gathers one comma-separated element of a Forwarded line.
type forwardedElement struct {
	pairs int
	fors  int
	node  string
	bad   bool
}

// appendTo appends the element's hop to hops: its for= node, or an invalid
// Addr when the element is malformed, has no for= or has more than one.
func (e forwardedElement) appendTo(hops []netip.Addr) []netip.Addr {
	switch {
	case e.pairs == 0 && !e.bad:
		return hops
	case e.bad || e.fors != 1:
		return append(hops, netip.Addr{})
	default:
		return append(hops, parseNode(e.node))
	}
}

// parseValue reads a token or a quoted-string starting at line[i]. It
// returns the unquoted value and the index after it; ok is false for an
// unterminated quoted-string.
func parseValue(line string, i int) (value string, next int, ok bool) {
	if i < len(line) && line[i] == '"' {
		var b strings.Builder
		for i++; i < len(line); i++ {
			switch c := line[i]; c {
			case '"':
				return b.String(), i + 1, true
			case '\\':
				if i+1 >= len(line) {
					return "", len(line), false
				}
				i++
				b.WriteByte(line[i])
			default:
				b.WriteByte(c)
			}
		}
		return "", len(line), false
	}
	start := i
	for i < len(line) && isTchar(line[i]) {
		i++
	}
	return line[start:i], i, true
}

// parseNode parses an RFC 7239 node: IPv4, "[" IPv6 "]", either with an
// optional ":" port. "unknown" and obfuscated identifiers ("_hidden") are
// not addresses and yield an invalid Addr.
func parseNode(node string) netip.Addr {
	host, port := node, ""
	if strings.HasPrefix(node, "[") {
		end := strings.IndexByte(node, ']')
		if end < 0 {
			return netip.Addr{}
		}
		host, port = node[1:end], node[end+1:]
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || !validPort(port) {
			return netip.Addr{}
		}
		return clean(a)
	}
	if i := strings.IndexByte(node, ':'); i >= 0 {
		host, port = node[:i], node[i:]
	}
	a, err := netip.ParseAddr(host)
	if err != nil || !a.Is4() || !validPort(port) {
		return netip.Addr{}
	}
	return a
}

// validPort accepts "", ":" followed by digits, or ":" followed by an
// obfuscated port ("_" and letters, digits, ".", "_", "-").
func validPort(p string) bool {
	if p == "" {
		return true
	}
	p, ok := strings.CutPrefix(p, ":")
	if !ok || p == "" {
		return false
	}
	if p[0] == '_' {
		for i := 1; i < len(p); i++ {
			c := p[i]
			if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
				return false
			}
		}
		return len(p) > 1
	}
	if len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// isTchar reports whether c may appear in an RFC 7230 token.
func isTchar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

type contextKey struct{}

// Middleware stores the client address of each request in its context,
// where FromContext finds it.
func (r *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		addr := r.ClientAddr(req)
		next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), contextKey{}, addr)))
	})
}

// FromContext returns the client address stored by Middleware. ok is false
// when the middleware did not run or found no address.
func FromContext(ctx context.Context) (netip.Addr, bool) {
	addr, ok := ctx.Value(contextKey{}).(netip.Addr)
	return addr, ok && addr.IsValid()
}
