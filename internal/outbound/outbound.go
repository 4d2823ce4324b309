package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrForbiddenAddress is returned when a request would connect to an
// address that is not public (loopback, private, link-local, ...) and
// Options.AllowPrivate is off.
var ErrForbiddenAddress = errors.New("outbound: the address is not public")

// Options tune a Client. Zero values take the defaults noted.
type Options struct {
	// AllowPrivate lets requests reach loopback, private and link-local
	// addresses (tests, and installations whose clients live on a private
	// network).
	AllowPrivate bool
	// Timeout bounds a whole request, reading the answer included;
	// default 10 seconds.
	Timeout time.Duration
}

// NewClient returns an http.Client for client-registered URIs. The
// address check runs on the address actually dialled, after name
// resolution, so a name that resolves to a private address (or changes to
// one between two lookups) is refused too.
func NewClient(o Options) *http.Client {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	dialer := &net.Dialer{Timeout: o.Timeout, Control: func(network, address string, _ syscall.RawConn) error {
		if o.AllowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
		}
		if !Public(ap.Addr()) {
			return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
		}
		return nil
	}}
	transport := &http.Transport{
		Proxy:                  nil, // a proxy would dial for us, past the check
		DialContext:            dialer.DialContext,
		TLSHandshakeTimeout:    o.Timeout,
		ResponseHeaderTimeout:  o.Timeout,
		MaxIdleConns:           16,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// nonPublic lists ranges that are not public beyond what netip's
// predicates cover.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach IPv4 private ranges
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"), // 6to4 likewise
}

// Public reports whether addr is a public unicast address.
func Public(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() ||
		addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// Drain reads and discards at most max bytes of body and closes it, so
// that the connection can be reused without a client-chosen answer
// holding the reader.
func Drain(body io.ReadCloser, max int64) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, max))
	_ = body.Close()
}

// Post sends body to url with contentType and returns the response status.
// The response body is read up to 64 KiB and discarded.
func Post(ctx context.Context, c *http.Client, url, contentType string, body io.Reader) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "authgate")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	Drain(resp.Body, 64<<10)
	return resp.StatusCode, nil
}
