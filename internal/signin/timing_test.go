package signin_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/accounts"
	"github.com/authgate/authgate/internal/password"
)

// The login page answers every failure in about the same time: the median
// of each failure kind is within a generous factor of the median of a
// wrong password, measured in the same run with the kinds interleaved. It
// asserts a ratio of medians, never an absolute time.
func TestFailureTimingDoesNotTell(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	// argon2id must dominate the request: 16 MiB, as in a real deployment
	// it is more.
	s := newSiteWith(t, "sqlite", password.Params{Time: 1, Memory: 16 * 1024, Threads: 1}, 1<<20)
	ctx := t.Context()
	bob, err := s.accounts.CreateUser(ctx, "test", accounts.NewUser{Username: "bob", Email: "bob@example.com", Password: "bob-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	s.lockUser(t, bob.ID)
	kinds := []struct{ name, username, password string }{
		{"wrong password", "alice", "wrong-password-1"},
		{"unknown user", "nobody", "wrong-password-1"},
		{"locked user", "bob", "bob-password-1"},
		{"over-long input", "alice", strings.Repeat("x", 4096)},
	}
	median := func(d []time.Duration) time.Duration {
		d = slices.Clone(d)
		slices.Sort(d)
		return d[len(d)/2]
	}
	// measure returns each kind's median over a wrong password's, the
	// kinds interleaved so that a burst of load elsewhere hits them alike.
	measure := func() []float64 {
		const rounds = 15
		samples := make([][]time.Duration, len(kinds))
		for range rounds {
			for i, k := range kinds {
				f := s.openLogin(t)
				start := time.Now()
				status, err := f.submit(s, k.username, k.password)
				samples[i] = append(samples[i], time.Since(start))
				if err != nil || status != http.StatusUnauthorized {
					t.Fatalf("%s: got %d %v, want 401", k.name, status, err)
				}
			}
		}
		base := median(samples[0])
		ratios := make([]float64, len(kinds))
		for i := range kinds {
			ratios[i] = float64(median(samples[i])) / float64(base)
		}
		return ratios
	}
	// On a machine shared with other work one run can be skewed; a real
	// difference (a refusal without argon2id is 10× faster or more) shows
	// in every run, so a kind fails only when three runs all put it out
	// of bounds.
	outside := make([]int, len(kinds))
	const runs = 3
	for run := range runs {
		ratios := measure()
		bad := false
		for i, k := range kinds[1:] {
			r := ratios[i+1]
			t.Logf("run %d, %s: %.2f× a wrong password's median", run+1, k.name, r)
			if r < 0.5 || r > 2 {
				outside[i+1]++
				bad = true
			}
		}
		if !bad {
			return
		}
	}
	for i, k := range kinds[1:] {
		if outside[i+1] == runs {
			t.Errorf("%s: median outside 0.5–2× a wrong password's in all %d runs", k.name, runs)
		}
	}
}
