package signin_test

import (
	"testing"

	"github.com/authgate/authgate/internal/signin"
)

func TestSource(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"", ""},
		{"not an address", ""},
	} {
		if got := signin.Source(tc.addr); got != tc.want {
			t.Errorf("Source(%q): got %q, want %q", tc.addr, got, tc.want)
		}
	}
}
