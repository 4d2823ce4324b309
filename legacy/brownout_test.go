package legacy

import (
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/authgate/authgate/internal/signin"
	"github.com/authgate/authgate/models"
	"github.com/authgate/authgate/oauth"
)

func TestAllowedDuringBrownout(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	sunset := now.AddDate(0, 0, 10)
	c := oauth.NewClient(models.Client{ID: "loader", GrantTypes: []string{GrantType}, LegacySunset: &sunset})
	c.Brownouts = []oauth.Brownout{{Start: now.Add(-time.Hour), End: now.Add(time.Hour)}}
	for _, tc := range []struct {
		name    string
		at      time.Time
		issuing bool
		ok      bool
		result  string
	}{
		{"a new grant in the window", now, true, false, signin.ResultBrownout},
		{"a new grant at the window's start", now.Add(-time.Hour), true, false, signin.ResultBrownout},
		{"a new grant at the window's end", now.Add(time.Hour), true, true, ""},
		{"a new grant before the window", now.Add(-2 * time.Hour), true, true, ""},
		// A grant issued before keeps working: a brownout warns, it does not end.
		{"an existing grant in the window", now, false, true, ""},
		{"a new grant at the sunset", sunset, true, false, signin.ResultSunset},
		{"an existing grant at the sunset", sunset, false, false, signin.ResultSunset},
	} {
		ok, result := allowed(c, false, tc.at, tc.issuing)
		if ok != tc.ok || result != tc.result {
			t.Errorf("%s: allowed = %v, %q; want %v, %q", tc.name, ok, result, tc.ok, tc.result)
		}
	}
	// The global switch wins over everything.
	if ok, result := allowed(c, true, now, false); ok || result != signin.ResultDisabled {
		t.Errorf("switched off everywhere: allowed = %v, %q", ok, result)
	}
}

func TestBrownoutHint(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	sunset := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	mk := func(url string) fosite.Client {
		c := oauth.NewClient(models.Client{ID: "loader", GrantTypes: []string{GrantType}, LegacySunset: &sunset, LegacyMigrationURL: url})
		c.Brownouts = []oauth.Brownout{{Start: now.Add(-time.Hour), End: time.Date(2030, 5, 1, 14, 0, 0, 0, time.UTC)}}
		return c
	}
	g := &PasswordGrant{MigrationURL: "https://intranet.example.com/oauth"}
	for _, tc := range []struct {
		name, clientURL, want string
	}{
		{"the client's own guide", "https://wiki.example.com/loader", "How to migrate: https://wiki.example.com/loader"},
		{"the configured default", "", "How to migrate: https://intranet.example.com/oauth"},
	} {
		got := g.brownoutHint(mk(tc.clientURL), now)
		for _, part := range []string{"scheduled brownout", "until 2030-05-01T14:00:00Z", "sunset, 2030-06-01T00:00:00Z", tc.want} {
			if !strings.Contains(got, part) {
				t.Errorf("%s: hint %q lacks %q", tc.name, got, part)
			}
		}
	}
	if got := (&PasswordGrant{}).brownoutHint(mk(""), now); !strings.Contains(got, "device authorization grant") {
		t.Errorf("without any guide: hint %q should name the ways off", got)
	}
}
