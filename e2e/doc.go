// Package e2e tests authgate as it is deployed: real "authgate serve"
// processes built from ./cmd/authgate, several replicas sharing one
// PostgreSQL, a database that goes away and comes back, SIGTERM under
// load, and slow or oversized requests. It holds tests only.
//
// The tests use the PostgreSQL named by AUTHGATE_TEST_DATABASE_URL (see
// internal/testdb) and, for the outage and failover tests, private
// clusters they start from the server binaries under /usr/lib/postgresql
// (the failover test: a primary and a synchronous streaming standby that
// it promotes). Without PostgreSQL they skip, unless
// AUTHGATE_REQUIRE_POSTGRES=1 (or, for the failover test,
// AUTHGATE_REQUIRE_FAILOVER=1), when they fail.
//
// A failing test shows the last lines of each server's log; with
// AUTHGATE_E2E_LOG_DIR set, every server's whole log is written there.
package e2e
