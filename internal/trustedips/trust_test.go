package trustedips

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/storage"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // canonical form, or "" for an apperr field error
	}{
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"},
		{in: "  192.168.7.0/24\n", want: "192.168.7.0/24"},
		{in: "203.0.113.9", want: "203.0.113.9/32"},
		{in: "2001:DB8::1/32", want: "2001:db8::/32"},
		{in: "2001:0db8:0000::0001", want: "2001:db8::1/128"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "::ffff:10.1.2.3", want: "10.1.2.3/32"},
		{in: "::1", want: "::1/128"},
		{in: ""},
		{in: "   "},
		{in: "10.0.0.0/33"},
		{in: "10.0.0.0/-1"},
		{in: "10.0.0/8"},
		{in: "010.0.0.1"},
		{in: "10.0.0.0/8/8"},
		{in: "10.0.0.0/8,"},
		{in: "example.com"},
		{in: "0.0.0.0/0"},
		{in: "::/0"},
		{in: "::ffff:0:0/96"},
		{in: "fe80::1%eth0"},
		{in: "fe80::%eth0/64"},
		{in: strings.Repeat("1", 65)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := parse(tt.in)
			if tt.want == "" {
				var fe *apperr.Error
				if !errors.As(err, &fe) || fe.Field != "cidr" || fe.Message == "" {
					t.Fatalf("parse(%q) = %s, %v, want an apperr field error for cidr", tt.in, p, err)
				}
				if apperr.CodeOf(err) != apperr.Invalid {
					t.Errorf("CodeOf(%v) = %q, want invalid", err, apperr.CodeOf(err))
				}
				return
			}
			if err != nil || p.String() != tt.want {
				t.Fatalf("parse(%q) = %s, %v, want %s", tt.in, p, err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"10.1.2.3/8", "2001:db8::1/32", "::ffff:10.0.0.0/104", "1.2.3.4", "::", "fe80::1%x", "0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parse(s)
		if err != nil {
			var fe *apperr.Error
			if !errors.As(err, &fe) || fe.Field != "cidr" {
				t.Fatalf("parse(%q) error %v is not an apperr field error for cidr", s, err)
			}
			return
		}
		c := p.String()
		if !p.IsValid() || p != p.Masked() || p.Bits() == 0 || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("parse(%q) = %s, not a canonical non-empty range", s, c)
		}
		if len(c) > maxCIDRLen {
			t.Fatalf("parse(%q) = %s, longer than the column", s, c)
		}
		again, err := parse(c)
		if err != nil || again != p || again.String() != c {
			t.Fatalf("parse(%q) = %s, but parse(%q) = %s, %v", s, c, c, again, err)
		}
		if !p.Contains(p.Addr()) {
			t.Fatalf("parse(%q) = %s does not contain its own address", s, c)
		}
	})
}

func auditEntries(t *testing.T, db *gorm.DB, action string) []models.AuditEntry {
	t.Helper()
	entries, err := storage.New(db).ListAudit(context.Background(), storage.AuditFilter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func cidrs(t *testing.T, r *Ranges) []string {
	t.Helper()
	list, err := r.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, tr := range list {
		out = append(out, tr.CIDR)
	}
	return out
}

func TestAddListRemove(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		r := New(storage.New(db))
		v4, err := r.Add(ctx, "alice", "192.168.10.77/24", "  office LAN ")
		if err != nil {
			t.Fatal(err)
		}
		if v4.CIDR != "192.168.10.0/24" || v4.Description != "office LAN" || v4.CreatedAt.IsZero() {
			t.Errorf("Add returned %+v, want CIDR 192.168.10.0/24, description %q and a creation time", v4, "office LAN")
		}
		if _, err := r.Add(ctx, "alice", "2001:DB8:AA::/48", ""); err != nil {
			t.Fatal(err)
		}

		list, err := r.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].CIDR != "192.168.10.0/24" || list[1].CIDR != "2001:db8:aa::/48" {
			t.Fatalf("List = %+v, want 192.168.10.0/24 and 2001:db8:aa::/48", list)
		}
		if !list[0].CreatedAt.Equal(v4.CreatedAt) || list[0].Description != v4.Description {
			t.Errorf("List()[0] = %+v, want %+v", list[0], v4)
		}

		if err := r.Remove(ctx, "bob", "192.168.10.0/24"); err != nil {
			t.Fatal(err)
		}
		if got := cidrs(t, r); len(got) != 1 || got[0] != "2001:db8:aa::/48" {
			t.Errorf("after Remove, List = %v, want [2001:db8:aa::/48]", got)
		}

		adds := auditEntries(t, db, ActionAdd)
		if len(adds) != 2 || adds[1].Actor != "alice" || adds[1].Target != "192.168.10.0/24" || !strings.Contains(adds[1].Detail, "office LAN") {
			t.Errorf("add audit entries = %+v, want two by alice, the oldest for 192.168.10.0/24 with its description", adds)
		}
		removes := auditEntries(t, db, ActionRemove)
		if len(removes) != 1 || removes[0].Actor != "bob" || removes[0].Target != "192.168.10.0/24" {
			t.Errorf("remove audit entries = %+v, want one by bob for 192.168.10.0/24", removes)
		}
	})
}

func TestAddRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		cidr, desc  string
		field       string // want an apperr field error for this field
		isDuplicate bool
	}{
		{name: "malformed", cidr: "10.0.0.300/24", field: "cidr"},
		{name: "empty", cidr: "", field: "cidr"},
		{name: "everything", cidr: "0.0.0.0/0", field: "cidr"},
		{name: "description too long", cidr: "10.9.0.0/16", desc: strings.Repeat("é", 201), field: "description"},
		{name: "description not UTF-8", cidr: "10.9.0.0/16", desc: "\xff", field: "description"},
		{name: "exact duplicate", cidr: "10.0.0.0/8", isDuplicate: true},
		{name: "duplicate after masking", cidr: "10.200.1.1/8", isDuplicate: true},
		{name: "duplicate written mapped", cidr: "::ffff:10.0.0.0/104", isDuplicate: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *gorm.DB) {
				ctx := context.Background()
				r := New(storage.New(db))
				if _, err := r.Add(ctx, "alice", "10.0.0.0/8", "existing"); err != nil {
					t.Fatal(err)
				}
				_, err := r.Add(ctx, "alice", tt.cidr, tt.desc)
				if tt.isDuplicate {
					if !errors.Is(err, ErrDuplicate) {
						t.Fatalf("Add(%q) error = %v, want ErrDuplicate", tt.cidr, err)
					}
				} else {
					var fe *apperr.Error
					if !errors.As(err, &fe) || fe.Field != tt.field {
						t.Fatalf("Add(%q, %q) error = %v, want an apperr field error for %s", tt.cidr, tt.desc, err, tt.field)
					}
				}
				if got := cidrs(t, r); len(got) != 1 {
					t.Errorf("List = %v, want only 10.0.0.0/8", got)
				}
				if got := auditEntries(t, db, ActionAdd); len(got) != 1 {
					t.Errorf("%d add audit entries, want 1", len(got))
				}
			})
		})
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cidr    string
		want    apperr.Code // "", not found or invalid
		removed string      // the row that must be gone
	}{
		{name: "canonical", cidr: "2001:db8::/32", removed: "2001:db8::/32"},
		{name: "non-canonical", cidr: " 2001:DB8:0::1/32 ", removed: "2001:db8::/32"},
		{name: "bare address", cidr: "198.51.100.7", removed: "198.51.100.7/32"},
		{name: "mapped form", cidr: "::ffff:198.51.100.7", removed: "198.51.100.7/32"},
		{name: "verbatim unparseable row", cidr: "legacy-junk", removed: "legacy-junk"},
		{name: "absent", cidr: "10.0.0.0/8", want: apperr.NotFound},
		{name: "narrower than stored", cidr: "2001:db8::/48", want: apperr.NotFound},
		{name: "malformed", cidr: "2001:db8::/129", want: apperr.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *gorm.DB) {
				ctx := context.Background()
				r := New(storage.New(db))
				for _, c := range []string{"2001:db8::/32", "198.51.100.7"} {
					if _, err := r.Add(ctx, "alice", c, ""); err != nil {
						t.Fatal(err)
					}
				}
				// A row written by hand, outside Add.
				if err := db.Create(&models.TrustedRange{CIDR: "legacy-junk"}).Error; err != nil {
					t.Fatal(err)
				}
				before := len(cidrs(t, r))
				err := r.Remove(ctx, "bob", tt.cidr)
				if tt.want != "" {
					if apperr.CodeOf(err) != tt.want {
						t.Fatalf("Remove(%q) error = %v, want %v", tt.cidr, err, tt.want)
					}
					if got := len(cidrs(t, r)); got != before {
						t.Errorf("after failed Remove, %d ranges, want %d", got, before)
					}
					if got := auditEntries(t, db, ActionRemove); len(got) != 0 {
						t.Errorf("failed Remove wrote audit entries %+v", got)
					}
					return
				}
				if err != nil {
					t.Fatalf("Remove(%q) error = %v", tt.cidr, err)
				}
				for _, c := range cidrs(t, r) {
					if c == tt.removed {
						t.Errorf("Remove(%q) left %s in place", tt.cidr, c)
					}
				}
				if got := auditEntries(t, db, ActionRemove); len(got) != 1 || got[0].Target != tt.removed || got[0].Actor != "bob" {
					t.Errorf("remove audit entries = %+v, want one by bob for %s", got, tt.removed)
				}
			})
		})
	}
}

func TestContains(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		r := New(storage.New(db))
		for _, c := range []string{"10.0.0.0/8", "198.51.100.7", "2001:db8::/32"} {
			if _, err := r.Add(ctx, "alice", c, ""); err != nil {
				t.Fatal(err)
			}
		}
		// A row that does not parse must trust nothing, not break the rest.
		if err := db.Create(&models.TrustedRange{CIDR: "legacy-junk"}).Error; err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			addr netip.Addr
			want bool
		}{
			{netip.MustParseAddr("10.255.1.2"), true},
			{netip.MustParseAddr("11.0.0.1"), false},
			{netip.MustParseAddr("198.51.100.7"), true},
			{netip.MustParseAddr("198.51.100.8"), false},
			{netip.MustParseAddr("::ffff:10.1.1.1"), true},
			{netip.MustParseAddr("::ffff:11.1.1.1"), false},
			{netip.MustParseAddr("2001:db8:1::5"), true},
			{netip.MustParseAddr("2001:db8:1::5%eth0"), true},
			{netip.MustParseAddr("2001:db9::1"), false},
			{netip.MustParseAddr("::a00:1"), false}, // 10.0.0.1 IPv4-compatible, not mapped
			{netip.Addr{}, false},
		}
		for _, tt := range tests {
			got, err := r.Contains(ctx, tt.addr)
			if err != nil || got != tt.want {
				t.Errorf("Contains(%s) = %v, %v, want %v", tt.addr, got, err, tt.want)
			}
		}
	})
}

// fakeClock is a settable clock for the cache.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func contains(t *testing.T, r *Ranges, addr string) bool {
	t.Helper()
	ok, err := r.Contains(context.Background(), netip.MustParseAddr(addr))
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestCache(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		clock := &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
		const ttl = 2 * time.Second
		admin := New(storage.New(db), WithCacheTTL(ttl))
		admin.now = clock.Now
		replica := New(storage.New(db), WithCacheTTL(ttl))
		replica.now = clock.Now

		if contains(t, admin, "10.1.1.1") || contains(t, replica, "10.1.1.1") {
			t.Fatal("Contains = true on an empty table")
		}
		if _, err := admin.Add(ctx, "alice", "10.0.0.0/8", ""); err != nil {
			t.Fatal(err)
		}
		if !contains(t, admin, "10.1.1.1") {
			t.Error("after Add, Contains through the same Ranges = false, want true at once")
		}
		clock.Advance(ttl - time.Millisecond)
		if contains(t, replica, "10.1.1.1") {
			t.Error("another Ranges saw the Add before its cache expired; the cache is not used")
		}
		clock.Advance(time.Millisecond)
		if !contains(t, replica, "10.1.1.1") {
			t.Error("another Ranges still misses the Add after the cache TTL")
		}

		if err := admin.Remove(ctx, "alice", "10.0.0.0/8"); err != nil {
			t.Fatal(err)
		}
		if contains(t, admin, "10.1.1.1") {
			t.Error("after Remove, Contains through the same Ranges = true, want false at once")
		}
		clock.Advance(ttl)
		if contains(t, replica, "10.1.1.1") {
			t.Error("another Ranges still trusts a removed range after the cache TTL")
		}
	})
}

func TestNoCache(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		admin := New(storage.New(db))
		replica := New(storage.New(db), WithCacheTTL(0))
		if contains(t, replica, "10.1.1.1") {
			t.Fatal("Contains = true on an empty table")
		}
		if _, err := admin.Add(context.Background(), "alice", "10.0.0.0/8", ""); err != nil {
			t.Fatal(err)
		}
		if !contains(t, replica, "10.1.1.1") {
			t.Error("with caching off, Contains missed a change made elsewhere")
		}
	})
}

func TestContainsError(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		r := New(storage.New(db))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ok, err := r.Contains(ctx, netip.MustParseAddr("10.1.1.1"))
		if err == nil || ok {
			t.Errorf("Contains with a cancelled context = %v, %v, want false and an error", ok, err)
		}
		// The failure must not have been cached.
		if _, err := r.Add(context.Background(), "alice", "10.0.0.0/8", ""); err != nil {
			t.Fatal(err)
		}
		if !contains(t, r, "10.1.1.1") {
			t.Error("Contains = false after Add")
		}
	})
}

// TestAuditInSameTransaction proves that a change whose audit entry cannot
// be written does not happen.
func TestAuditInSameTransaction(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		r := New(storage.New(db))
		if _, err := r.Add(ctx, "alice", "10.0.0.0/8", ""); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrator().DropTable(&models.AuditEntry{}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Add(ctx, "alice", "172.16.0.0/12", ""); err == nil {
			t.Error("Add succeeded without an audit table")
		}
		if err := r.Remove(ctx, "alice", "10.0.0.0/8"); err == nil {
			t.Error("Remove succeeded without an audit table")
		}
		if got := cidrs(t, r); len(got) != 1 || got[0] != "10.0.0.0/8" {
			t.Errorf("List = %v, want [10.0.0.0/8]: the failed changes must roll back", got)
		}
	})
}

func TestConcurrentContains(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		r := New(storage.New(db), WithCacheTTL(time.Hour))
		added := make(chan struct{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-added:
						// An Add that has returned must be visible to every caller.
						if ok, err := r.Contains(ctx, netip.MustParseAddr("10.1.1.1")); err != nil || !ok {
							t.Errorf("Contains after Add = %v, %v, want true", ok, err)
						}
						return
					default:
						if _, err := r.Contains(ctx, netip.MustParseAddr("10.1.1.1")); err != nil {
							t.Error(err)
							return
						}
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		if _, err := r.Add(ctx, "alice", "10.0.0.0/8", ""); err != nil {
			t.Fatal(err)
		}
		close(added)
		wg.Wait()
	})
}
