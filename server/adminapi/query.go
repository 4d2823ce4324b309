package adminapi

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Paging of listings. The services clamp what they are given; the API
// refuses what it would clamp, so that "limit" in a response is always
// the limit that applied.
const (
	defaultPageLimit = 100
	maxPageLimit     = 1000
)

// queryInt reads the integer parameter name, def when absent, which must
// lie in [lo, hi].
func queryInt(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fieldError(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
	}
	return n, nil
}

// page reads limit and offset.
func page(q url.Values) (limit, offset int, err error) {
	if limit, err = queryInt(q, "limit", defaultPageLimit, 1, maxPageLimit); err != nil {
		return 0, 0, err
	}
	if offset, err = queryInt(q, "offset", 0, 0, 1<<31-1); err != nil {
		return 0, 0, err
	}
	return limit, offset, nil
}

// queryTime reads the RFC 3339 time parameter name; zero when absent.
func queryTime(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fieldError(name, "must be an RFC 3339 time such as 2024-05-01T00:00:00Z")
	}
	return t.UTC(), nil
}
