#!/usr/bin/env bash
# scripts/replication.sh measures what synchronous replication costs authgate
# in throughput, and what a token costs in rows, bytes and CPU: the figures
# behind docs/SCALING.md.
#
# It builds a private PostgreSQL primary and a streaming standby (initdb,
# pg_basebackup with a replication slot) in a temporary directory on free
# loopback ports, starts one `authgate serve` on the primary, and alternates
# client_credentials runs of authgate-bench with the standby synchronous
# (synchronous_standby_names = '*') and asynchronous ('' , set with ALTER
# SYSTEM and a reload, nothing restarted): sync, async, sync, async, ...
# ROUNDS times each. It prints every run, the medians and their ratio; the
# rows and bytes (pg_total_relation_size) per token; and the CPU time the
# server and PostgreSQL used per token over the runs.
#
#   scripts/replication.sh
#   ROUNDS=5 DURATION=10s CONCURRENCY=16 scripts/replication.sh
#
# It needs the PostgreSQL server binaries under /usr/lib/postgresql/*/bin
# and psql; run as root it runs them as the postgres user. It touches no
# other database.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-3s}"
ROUNDS="${ROUNDS:-3}"

source scripts/pgcluster.sh
work="$pgc_work"
p1="$(pgc_free_port)" p2="$(pgc_free_port)"
pgc_init primary "$p1" wal_level=replica max_wal_senders=4 max_replication_slots=4
pgc_standby standby primary "$p2"
psql_primary() { pgc_psql primary "$@"; }
for _ in $(seq 1 100); do
	[[ "$(psql_primary -tAc "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" == 1 ]] && break
	sleep 0.1
done

pgc_authgate "postgres://postgres@127.0.0.1:$p1,127.0.0.1:$p2/postgres?sslmode=disable&target_session_attrs=read-write"

# cpu_ticks PID...: user+system clock ticks of the processes.
cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
hz="$(getconf CLK_TCK)"
rate() { python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"{r['successes']/r['duration_seconds']:.1f} {r['successes']} {r['failures']}\")"; }
median() { python3 -c "import statistics,sys; print(f'{statistics.median(float(x) for x in sys.argv[1:]):.1f}')" "$@"; }
run() {
	"$bench" --scenario client_credentials --issuer "$AUTHGATE_ISSUER" --client-id "$client_id" --client-secret-env SVC_SECRET \
		--concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --quiet --json | rate
}
set_sync() {
	psql_primary -c "ALTER SYSTEM SET synchronous_standby_names = '$1'" -c "SELECT pg_reload_conf()" >/dev/null
	local want=async
	[[ -n "$1" ]] && want=sync
	for _ in $(seq 1 100); do
		[[ "$(psql_primary -tAc "SELECT sync_state FROM pg_stat_replication")" == "$want" ]] && return 0
		sleep 0.05
	done
	echo "the standby did not become $want" >&2
	exit 1
}
size() { psql_primary -tAc "SELECT count(*), pg_total_relation_size('oauth_requests'), pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint FROM oauth_requests" | tr '|' ' '; }

echo "primary :$p1, standby :$p2, authgate $AUTHGATE_ISSUER; client_credentials, concurrency $CONCURRENCY, $DURATION after $WARMUP warm-up, $ROUNDS rounds"
read -r rows0 bytes0 wal0 < <(size)
sync=() async=() issued=0
srv0="$(cpu_ticks "$server")" pg0="$(cpu_ticks $(pgc_pids primary) $(pgc_pids standby))"
for i in $(seq 1 "$ROUNDS"); do
	set_sync '*'
	read -r r n f < <(run)
	sync+=("$r") issued=$((issued + n))
	echo "round $i sync:  $r tokens/s, $f failures"
	set_sync ''
	read -r r n f < <(run)
	async+=("$r") issued=$((issued + n))
	echo "round $i async: $r tokens/s, $f failures"
done
srv1="$(cpu_ticks "$server")" pg1="$(cpu_ticks $(pgc_pids primary) $(pgc_pids standby))"
read -r rows1 bytes1 wal1 < <(size)
ms="$(median "${sync[@]}")" ma="$(median "${async[@]}")"
echo
echo "sync  ${sync[*]} tokens/s, median $ms"
echo "async ${async[*]} tokens/s, median $ma"
python3 -c "import sys; print(f'sync / async = {float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$ms" "$ma"
python3 - "$rows0" "$bytes0" "$rows1" "$bytes1" "$issued" "$srv0" "$srv1" "$pg0" "$pg1" "$hz" "$wal0" "$wal1" <<'EOF'
import sys
r0, b0, r1, b1, n, s0, s1, p0, p1, hz, w0, w1 = map(int, sys.argv[1:])
rows = r1 - r0
print(f"oauth_requests: {rows} rows more, {(b1 - b0) / max(rows, 1):.0f} bytes per row (table, indexes and TOAST), {r1} rows and {b1 / 2**20:.1f} MiB in all")
print(f"WAL: {(w1 - w0) / max(rows, 1):.0f} bytes per token (what the standby receives)")
# Every token is a row, warm-ups included, and so is their CPU time.
total = rows or n
print(f"CPU per token (over {total} tokens, warm-ups included): authgate {1e6 * (s1 - s0) / hz / total:.0f} µs, PostgreSQL primary+standby {1e6 * (p1 - p0) / hz / total:.0f} µs")
EOF
