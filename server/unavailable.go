package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// isUnavailable reports whether err means the database cannot be reached
// right now, as opposed to a bug: the caller should answer 503.
func isUnavailable(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01..57P03: admin shutdown, crash shutdown, cannot connect now.
		return len(pgErr.Code) >= 2 && pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var connErr *pgconn.ConnectError
	return errors.As(err, &connErr)
}

// unavailable reports whether a request failed because a dependency (the
// database) is unreachable or too slow, rather than because it was wrong.
func unavailable(err error) bool {
	return err != nil && (isUnavailable(err) || errors.Is(err, context.DeadlineExceeded))
}

// writeUnavailable answers 503 with an RFC 6749 style body and a hint to
// retry soon.
func writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The server is temporarily unable to handle the request; try again shortly.")
}
