package clients_test

import (
	"errors"
	"testing"
	"time"

	"github.com/authgate/authgate/internal/apperr"
	"github.com/authgate/authgate/internal/clients"
)

func TestParseSunset(t *testing.T) {
	now := time.Date(2027, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		past bool
		want time.Time
		err  error
	}{
		// A date is the end of that day in UTC, never its start.
		{"2027-06-30", false, time.Date(2027, 7, 1, 0, 0, 0, 0, time.UTC), nil},
		{"2027-12-31", false, time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC), nil},
		// Today still has hours left: accepted without confirmation.
		{"2027-06-15", false, time.Date(2027, 6, 16, 0, 0, 0, 0, time.UTC), nil},
		{"2027-06-14", false, time.Time{}, clients.ErrSunsetPassed},
		{"2027-06-14", true, time.Date(2027, 6, 15, 0, 0, 0, 0, time.UTC), nil},
		{"2027-07-01T09:30:00+02:00", false, time.Date(2027, 7, 1, 7, 30, 0, 0, time.UTC), nil},
		{"2027-06-15T12:00:00Z", false, time.Time{}, clients.ErrSunsetPassed},
		{"2027-06-15T12:00:00Z", true, now, nil},
		{"30/06/2027", false, time.Time{}, nil},
		{"", false, time.Time{}, nil},
		{"2027-02-30", false, time.Time{}, nil},
	} {
		got, err := clients.ParseSunset(tc.in, now, tc.past)
		switch {
		case tc.err != nil:
			if !errors.Is(err, tc.err) {
				t.Errorf("ParseSunset(%q, past=%v): got %v, %v; want %v", tc.in, tc.past, got, err, tc.err)
			}
		case tc.want.IsZero():
			if e, ok := apperr.As(err); !ok || e.Field != "sunset" || errors.Is(err, clients.ErrSunsetPassed) {
				t.Errorf("ParseSunset(%q): got %v, %v; want a sunset field error", tc.in, got, err)
			}
		default:
			if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("ParseSunset(%q, past=%v): got %v, %v; want %v", tc.in, tc.past, got, err, tc.want)
			}
		}
	}
}

func TestSunsetLastDayRoundTrips(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, day := range []string{"2027-06-30", "2027-12-31", "2028-02-29"} {
		at, err := clients.ParseSunset(day, now, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := clients.SunsetLastDay(at); got != day {
			t.Errorf("SunsetLastDay(ParseSunset(%q)) = %q", day, got)
		}
	}
	if got := clients.SunsetLastDay(time.Date(2027, 7, 1, 7, 30, 0, 0, time.UTC)); got != "2027-07-01" {
		t.Errorf("a sunset during a day: last day %q, want that day", got)
	}
}
