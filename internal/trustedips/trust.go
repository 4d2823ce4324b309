package trustedips

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/clientip"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/models"
)

// Audit actions written by Add and Remove.
const (
	ActionAdd    = "trusted_range.add"
	ActionRemove = "trusted_range.remove"
)

// DefaultCacheTTL is how long Contains reuses the list it last read.
const DefaultCacheTTL = 2 * time.Second

// maxCIDRLen bounds the input: the longest canonical range,
// "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", is 43 bytes, and the
// column holds 64.
const maxCIDRLen = 64

// maxDescriptionLen matches the column size.
const maxDescriptionLen = 200

// The errors of Ranges. Invalid input is an *apperr.Error for its field
// (apperr.Field), with a message fit to show the administrator next to
// that field.
var (
	// ErrDuplicate is returned by Add for a range that is already stored.
	ErrDuplicate = apperr.New(apperr.Conflict, "trusted range already exists")
	// ErrNotFound is returned by Remove for a range that is not stored.
	ErrNotFound = apperr.New(apperr.NotFound, "trusted range not found")
)

// Ranges stores the trusted ranges and answers whether an address is inside
// one. It is safe for concurrent use.
//
// Contains caches the list for the cache TTL (DefaultCacheTTL unless
// WithCacheTTL says otherwise). Changes made through the same *Ranges are
// visible to it at once; changes made through another *Ranges, in
// particular by another replica sharing the database, are seen within the
// TTL.
type Ranges struct {
	store Store
	ttl   time.Duration
	now   func() time.Time

	// loading admits one database read at a time; the others wait for it
	// and then use what it cached.
	loading chan struct{}

	mu       sync.Mutex
	cached   []netip.Prefix
	loadedAt time.Time
	fresh    bool
	// gen counts changes made through this *Ranges, so that a read that
	// raced with a change does not cache what it read.
	gen uint64
}

// Option configures a *Ranges.
type Option func(*Ranges)

// WithCacheTTL sets how long Contains reuses the list it last read; zero or
// less reads the database on every call.
func WithCacheTTL(d time.Duration) Option {
	return func(r *Ranges) { r.ttl = d }
}

// WithClock sets the clock that stamps new ranges and ages the cache;
// the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(r *Ranges) { r.now = now }
}

// Store is the storage the ranges live in; *storage.Store is one.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
	ListTrustedRanges(ctx context.Context) ([]models.TrustedRange, error)
	TrustedCIDRs(ctx context.Context) ([]string, error)
	AddTrustedRange(ctx context.Context, r *models.TrustedRange) error
	RemoveTrustedRange(ctx context.Context, cidr string) error
	Audit(ctx context.Context, actor, action, target, detail string) error
}

// New returns the trusted ranges stored in store.
func New(store Store, opts ...Option) *Ranges {
	r := &Ranges{store: store, ttl: DefaultCacheTTL, now: time.Now, loading: make(chan struct{}, 1)}
	for _, o := range opts {
		o(r)
	}
	return r
}

// List returns every stored range, ordered by CIDR.
func (r *Ranges) List(ctx context.Context) ([]models.TrustedRange, error) {
	out, err := r.store.ListTrustedRanges(ctx)
	if err != nil {
		return nil, fmt.Errorf("list trusted ranges: %w", err)
	}
	return out, nil
}

// Add stores the range cidr (IPv4 or IPv6; a bare address is a single-host
// range) in its canonical masked form, such as 10.0.0.0/8 for 10.1.2.3/8,
// and records the change in the audit log in the same transaction. It
// returns an apperr field error for malformed input and ErrDuplicate when the
// canonical range is already stored.
func (r *Ranges) Add(ctx context.Context, actor, cidr, description string) (models.TrustedRange, error) {
	p, err := parse(cidr)
	if err != nil {
		return models.TrustedRange{}, err
	}
	description = strings.TrimSpace(description)
	if !utf8.ValidString(description) {
		return models.TrustedRange{}, apperr.Field("description", "is not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(description); n > maxDescriptionLen {
		return models.TrustedRange{}, apperr.Field("description", fmt.Sprintf("is %d characters long; at most %d are allowed", n, maxDescriptionLen))
	}
	tr := models.TrustedRange{
		CIDR:        p.String(),
		Description: description,
		// Microseconds are all PostgreSQL keeps; truncating here makes the
		// returned value equal what List reads back.
		CreatedAt: r.now().UTC().Truncate(time.Microsecond),
	}
	err = r.store.InTx(ctx, func(ctx context.Context) error {
		if err := r.store.AddTrustedRange(ctx, &tr); err != nil {
			if errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("%w: %s", ErrDuplicate, tr.CIDR)
			}
			return fmt.Errorf("add trusted range %s: %w", tr.CIDR, err)
		}
		return r.store.Audit(ctx, actor, ActionAdd, tr.CIDR, fmt.Sprintf("description=%q", tr.Description))
	})
	if err != nil {
		return models.TrustedRange{}, err
	}
	r.invalidate()
	return tr, nil
}

// Remove deletes the stored range that cidr denotes, written in any form
// that normalises to it (10.1.2.3/8 removes 10.0.0.0/8), and records the
// change in the audit log in the same transaction. It returns ErrNotFound
// when no such range is stored and an apperr field error when cidr is malformed and
// matches no stored row verbatim.
func (r *Ranges) Remove(ctx context.Context, actor, cidr string) error {
	target := strings.TrimSpace(cidr)
	p, parseErr := parse(cidr)
	if parseErr == nil {
		target = p.String()
	}
	err := r.store.InTx(ctx, func(ctx context.Context) error {
		err := r.store.RemoveTrustedRange(ctx, target)
		if errors.Is(err, storage.ErrNotFound) {
			if parseErr != nil {
				return parseErr
			}
			return fmt.Errorf("%w: %s", ErrNotFound, target)
		}
		if err != nil {
			return fmt.Errorf("remove trusted range %s: %w", target, err)
		}
		return r.store.Audit(ctx, actor, ActionRemove, target, "")
	})
	if err != nil {
		return err
	}
	r.invalidate()
	return nil
}

// Contains reports whether addr lies in a stored range. An IPv4-mapped IPv6
// address is matched as the IPv4 address it maps. On error the answer is
// false: callers must treat the address as untrusted.
func (r *Ranges) Contains(ctx context.Context, addr netip.Addr) (bool, error) {
	if !addr.IsValid() {
		return false, nil
	}
	addr = addr.WithZone("").Unmap()
	prefixes, err := r.prefixes(ctx)
	if err != nil {
		return false, err
	}
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true, nil
		}
	}
	return false, nil
}

// prefixes returns the stored ranges, from the cache while it is fresh.
func (r *Ranges) prefixes(ctx context.Context) ([]netip.Prefix, error) {
	if r.ttl <= 0 {
		return r.load(ctx)
	}
	if p, ok := r.fromCache(); ok {
		return p, nil
	}
	select {
	case r.loading <- struct{}{}:
		defer func() { <-r.loading }()
	case <-ctx.Done():
		return nil, fmt.Errorf("read trusted ranges: %w", ctx.Err())
	}
	// Another caller may have filled the cache while this one waited.
	if p, ok := r.fromCache(); ok {
		return p, nil
	}
	r.mu.Lock()
	gen, started := r.gen, r.now()
	r.mu.Unlock()
	prefixes, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.gen == gen {
		// The list is as old as the moment the read began.
		r.cached, r.loadedAt, r.fresh = prefixes, started, true
	}
	r.mu.Unlock()
	return prefixes, nil
}

// load reads and parses the stored ranges.
func (r *Ranges) load(ctx context.Context) ([]netip.Prefix, error) {
	cidrs, err := r.store.TrustedCIDRs(ctx)
	if err != nil {
		return nil, fmt.Errorf("read trusted ranges: %w", err)
	}
	prefixes := make([]netip.Prefix, 0, len(cidrs))
	for _, c := range cidrs {
		// A row that does not parse (written by hand, say) trusts nothing.
		if p, err := parse(c); err == nil {
			prefixes = append(prefixes, p)
		}
	}
	return prefixes, nil
}

func (r *Ranges) fromCache() ([]netip.Prefix, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.fresh {
		return nil, false
	}
	if age := r.now().Sub(r.loadedAt); age < 0 || age >= r.ttl {
		return nil, false
	}
	return r.cached, true
}

// invalidate drops the cache after a change so that the next Contains sees it.
func (r *Ranges) invalidate() {
	r.mu.Lock()
	r.gen++
	r.fresh = false
	r.cached = nil
	r.mu.Unlock()
}

// parse reads one range as an administrator types it and returns its
// canonical form (clientip.ParsePrefix, authgate's one range parser) with
// the rules of trusted ranges on top: a length bound for the column, and
// no range of length zero, which would accept the password alone from
// anywhere.
func parse(cidr string) (netip.Prefix, error) {
	s := strings.TrimSpace(cidr)
	switch {
	case s == "":
		return netip.Prefix{}, apperr.Field("cidr", "is required: enter a range such as 10.0.0.0/8 or 2001:db8::/32, or a single address")
	case len(s) > maxCIDRLen:
		return netip.Prefix{}, apperr.Field("cidr", "is too long to be a CIDR range such as 10.0.0.0/8 or 2001:db8::/32")
	}
	p, err := clientip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, apperr.Field("cidr", err.Error())
	}
	if p.Bits() == 0 {
		return netip.Prefix{}, apperr.Field("cidr", fmt.Sprintf("%s covers every address; trusted ranges must be narrower", p))
	}
	return p, nil
}
