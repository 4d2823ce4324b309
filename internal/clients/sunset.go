package clients

import (
	"fmt"
	"time"

	"github.com/authgate/authgate/internal/apperr"
)

// SunsetFormat says, for error messages and help, what ParseSunset reads.
const SunsetFormat = `a date YYYY-MM-DD (the grant works until the end of that day, UTC) or an RFC 3339 time`

// ErrSunsetPassed is returned by ParseSunset for a moment that is not in
// the future when the caller has not confirmed it: such a sunset ends the
// legacy grant at once.
var ErrSunsetPassed = apperr.Field("sunset", "has passed: the legacy grant would be refused at once; confirm to set it anyway")

// ParseSunset reads a sunset as an operator writes it, the one parser of
// every surface (CLI, admin API, console). A date "YYYY-MM-DD" means the
// end of that day in UTC: the grant works through that day and is refused
// from 00:00 UTC the day after. An RFC 3339 time is that moment. A moment
// not after now is refused with ErrSunsetPassed unless past is true.
// Clearing a sunset ("none", null, empty) is each surface's own syntax.
func ParseSunset(s string, now time.Time, past bool) (time.Time, error) {
	var at time.Time
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		at = d.AddDate(0, 0, 1)
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t.UTC()
	} else {
		return time.Time{}, apperr.Field("sunset", fmt.Sprintf("%q is not %s", s, SunsetFormat))
	}
	if !past && !at.After(now) {
		return time.Time{}, ErrSunsetPassed
	}
	return at, nil
}

// SunsetLastDay returns the last day, in UTC, on which the legacy grant
// still works for a sunset at: the date an operator would type for it.
func SunsetLastDay(at time.Time) string {
	return at.UTC().Add(-time.Nanosecond).Format(time.DateOnly)
}
