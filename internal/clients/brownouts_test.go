package clients

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/testdb"
	"github.com/authgate/authgate/models"
)

func TestCheckWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)
	sunset := now.AddDate(0, 0, 30)
	h := func(n int) time.Time { return now.Add(time.Duration(n) * time.Hour) }
	existing := []models.ClientBrownout{
		{ID: 7, StartsAt: h(48), EndsAt: h(50)},
		{ID: 3, StartsAt: h(-10), EndsAt: h(-8)}, // over: no bearing on the future
	}
	for _, tc := range []struct {
		name       string
		start, end time.Time
		sunset     *time.Time
		code       apperr.Code // "" when accepted
		field, msg string
	}{
		{name: "a day before", start: h(24), end: h(26), sunset: &sunset},
		{name: "starting now", start: now, end: h(1), sunset: &sunset},
		{name: "touching another's start", start: h(46), end: h(48), sunset: &sunset},
		{name: "touching another's end", start: h(50), end: h(52), sunset: &sunset},
		{name: "ending a moment before the sunset", start: sunset.Add(-time.Hour), end: sunset.Add(-time.Second), sunset: &sunset},

		{name: "in the past", start: h(-2), end: h(1), sunset: &sunset, code: apperr.Invalid, field: "start", msg: "has passed"},
		{name: "end before start", start: h(5), end: h(4), sunset: &sunset, code: apperr.Invalid, field: "end", msg: "after the start"},
		{name: "empty", start: h(5), end: h(5), sunset: &sunset, code: apperr.Invalid, field: "end", msg: "after the start"},
		{name: "no sunset", start: h(5), end: h(6), code: apperr.Conflict, field: "sunset", msg: "no legacy sunset"},
		{name: "ending at the sunset", start: sunset.Add(-time.Hour), end: sunset, sunset: &sunset, code: apperr.Invalid, field: "end", msg: "before the sunset"},
		{name: "across the sunset", start: sunset.Add(-time.Hour), end: sunset.Add(time.Hour), sunset: &sunset, code: apperr.Invalid, field: "end", msg: "before the sunset"},
		{name: "after the sunset", start: sunset.Add(time.Hour), end: sunset.Add(2 * time.Hour), sunset: &sunset, code: apperr.Invalid, field: "end", msg: "before the sunset"},
		{name: "overlapping the start of another", start: h(47), end: h(49), sunset: &sunset, code: apperr.Conflict, field: "start", msg: "overlaps brownout 7"},
		{name: "inside another", start: h(48).Add(time.Minute), end: h(49), sunset: &sunset, code: apperr.Conflict, field: "start", msg: "overlaps brownout 7"},
		{name: "around another", start: h(47), end: h(51), sunset: &sunset, code: apperr.Conflict, field: "start", msg: "overlaps brownout 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkWindow(tc.start, tc.end, now, tc.sunset, existing)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("checkWindow: got %v, want nil", err)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Code != tc.code || e.Field != tc.field || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("checkWindow: got %v, want %s on %s containing %q", err, tc.code, tc.field, tc.msg)
			}
		})
	}
}

func TestParseBrownoutTime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"2030-03-02T09:00:00Z", time.Date(2030, 3, 2, 9, 0, 0, 0, time.UTC)},
		{"2030-03-02T11:00:00+02:00", time.Date(2030, 3, 2, 9, 0, 0, 0, time.UTC)},
		{"2030-03-02 09:00", time.Date(2030, 3, 2, 9, 0, 0, 0, time.UTC)},
		{"2030-03-02T09:00", time.Date(2030, 3, 2, 9, 0, 0, 0, time.UTC)},
		{"2030-03-02", time.Time{}},
		{"tomorrow", time.Time{}},
		{"", time.Time{}},
	} {
		got, err := ParseBrownoutTime("start", tc.in)
		if tc.want.IsZero() {
			if e, ok := apperr.As(err); !ok || e.Field != "start" {
				t.Errorf("ParseBrownoutTime(%q): got %v, %v; want a start field error", tc.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseBrownoutTime(%q): got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestBrownouts(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		ctx := t.Context()
		c, _ := f.mustCreate(t, NewClient{Name: "Loader", GrantTypes: []string{GrantPassword}})
		h := func(n int) time.Time { return testNow.Add(time.Duration(n) * time.Hour) }

		if _, err := f.svc.AddBrownout(ctx, "admin", c.ID, h(1), h(2)); !errors.Is(err, ErrNoSunset) {
			t.Fatalf("AddBrownout without a sunset: got %v, want ErrNoSunset", err)
		}
		sunset := h(24 * 30)
		if _, err := f.svc.SetSunset(ctx, "admin", c.ID, &sunset); err != nil {
			t.Fatal(err)
		}
		b, err := f.svc.AddBrownout(ctx, "admin", c.ID, h(24), h(26))
		if err != nil {
			t.Fatal(err)
		}
		if b.ID == 0 || b.ClientID != c.ID || !b.StartsAt.Equal(h(24).Truncate(time.Microsecond)) || b.CreatedBy != "admin" {
			t.Errorf("AddBrownout: got %+v", b)
		}
		if _, err := f.svc.AddBrownout(ctx, "admin", c.ID, h(25), h(27)); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("an overlapping window: got %v, want a conflict", err)
		}
		if _, err := f.svc.AddBrownout(ctx, "admin", "nope", h(1), h(2)); !errors.Is(err, ErrNotFound) {
			t.Errorf("AddBrownout(unknown client): got %v, want ErrNotFound", err)
		}

		// The sunset cannot move onto a brownout, nor go away under one.
		early := h(25)
		if _, err := f.svc.SetSunset(ctx, "admin", c.ID, &early); !errors.Is(err, ErrBrownoutsBlockSunset) {
			t.Errorf("a sunset inside a brownout: got %v, want ErrBrownoutsBlockSunset", err)
		}
		if _, err := f.svc.SetSunset(ctx, "admin", c.ID, nil); !errors.Is(err, ErrBrownoutsBlockSunset) {
			t.Errorf("clearing the sunset under a brownout: got %v, want ErrBrownoutsBlockSunset", err)
		}
		later := h(24 * 60)
		if _, err := f.svc.SetSunset(ctx, "admin", c.ID, &later); err != nil {
			t.Errorf("moving the sunset later: %v", err)
		}

		list, err := f.svc.Brownouts(ctx, c.ID)
		if err != nil || len(list) != 1 || list[0].ID != b.ID {
			t.Fatalf("Brownouts: got %+v, %v; want the one", list, err)
		}
		if err := f.svc.RemoveBrownout(ctx, "admin", "other", b.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("RemoveBrownout through an unknown client: got %v, want ErrNotFound", err)
		}
		other, _ := f.mustCreate(t, NewClient{Name: "Other", GrantTypes: []string{GrantPassword}})
		if err := f.svc.RemoveBrownout(ctx, "admin", other.ID, b.ID); !errors.Is(err, ErrBrownoutNotFound) {
			t.Errorf("RemoveBrownout through another client: got %v, want ErrBrownoutNotFound", err)
		}
		if err := f.svc.RemoveBrownout(ctx, "admin", c.ID, b.ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := f.svc.Brownouts(ctx, c.ID); len(list) != 0 {
			t.Errorf("Brownouts after remove: got %+v", list)
		}
		if _, err := f.svc.SetSunset(ctx, "admin", c.ID, nil); err != nil {
			t.Errorf("clearing the sunset without brownouts: %v", err)
		}
		acts := strings.Join(auditActions(t, db, c.ID), " ")
		for _, want := range []string{ActionBrownoutAdd, ActionBrownoutRemove} {
			if !strings.Contains(acts, want) {
				t.Errorf("audit of %s: got %s, want %s among them", c.ID, acts, want)
			}
		}
	})
}

// Admins adding windows at the same moment never end up with two that
// overlap: the check runs under the client's row lock.
func TestBrownoutsConcurrentAddsDoNotOverlap(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		ctx := t.Context()
		c, _ := f.mustCreate(t, NewClient{Name: "Loader", GrantTypes: []string{GrantPassword}})
		sunset := testNow.AddDate(0, 1, 0)
		if _, err := f.svc.SetSunset(ctx, "admin", c.ID, &sunset); err != nil {
			t.Fatal(err)
		}
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := testNow.Add(48*time.Hour + time.Duration(i)*time.Minute)
				_, errs[i] = f.svc.AddBrownout(ctx, "admin", c.ID, start, start.Add(time.Hour))
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case apperr.CodeOf(err) == apperr.Conflict:
			default:
				t.Errorf("AddBrownout: %v", err)
			}
		}
		list, _ := f.svc.Brownouts(ctx, c.ID)
		if ok != 1 || len(list) != 1 {
			t.Errorf("overlapping windows added at once: %d accepted, %d stored; want 1 and 1", ok, len(list))
		}
	})
}

func TestSetMigrationURL(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		f := setup(t, db)
		ctx := t.Context()
		c, _ := f.mustCreate(t, NewClient{Name: "Loader", GrantTypes: []string{GrantPassword}})
		for _, bad := range []string{"wiki/leave", "ftp://x.example.com/", "https://u:p@x.example.com/", "javascript:alert(1)", "https://x.example.com/" + strings.Repeat("a", 2100), "https://x.example.com/a b"} {
			if _, err := f.svc.SetMigrationURL(ctx, "admin", c.ID, bad); apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("SetMigrationURL(%.40q): got %v, want invalid", bad, err)
			}
		}
		const u = "https://wiki.example.com/leave-the-password-grant"
		got, err := f.svc.SetMigrationURL(ctx, "admin", c.ID, u)
		if err != nil || got.LegacyMigrationURL != u {
			t.Fatalf("SetMigrationURL: got %+v, %v", got, err)
		}
		if g, _ := f.svc.Get(ctx, c.ID); g.LegacyMigrationURL != u {
			t.Errorf("stored migration URL: got %q, want %q", g.LegacyMigrationURL, u)
		}
		if got, err := f.svc.SetMigrationURL(ctx, "admin", c.ID, ""); err != nil || got.LegacyMigrationURL != "" {
			t.Errorf("clearing: got %+v, %v", got, err)
		}
	})
}
