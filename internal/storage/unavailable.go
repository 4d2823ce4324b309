package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// sqlstateReadOnly is read_only_sql_transaction: a write reached a server
// that is (now) a standby.
const sqlstateReadOnly = "25006"

// IsUnavailable reports whether err means the database cannot be reached
// right now (refused or dropped connection, shutdown, timeout), as opposed
// to a bad query or bad data: the caller should answer 503 and the client
// retry. A write refused by a read-only server counts: after a failover
// the old primary is a standby, and the next connection finds the new one.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		// gorm joins a dropped session's errors as "%v; %w": often only
		// pgx's ErrConnClosed is left in the chain.
		errors.Is(err, pgconn.ErrConnClosed) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01..57P03: admin shutdown,
		// crash shutdown, cannot connect now; 25006: read-only server.
		return len(pgErr.Code) >= 2 && pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" ||
			pgErr.Code == sqlstateReadOnly
	}
	var connErr *pgconn.ConnectError
	return errors.As(err, &connErr)
}
