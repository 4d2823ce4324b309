#!/usr/bin/env bash
# scripts/growth.sh measures how authgate's token rate and p99 latency hold
# as the token table grows: client_credentials (an INSERT per token) and
# introspection, interleaved, ROUNDS times each, with the table holding each
# of SIZES rows in turn (0, then bulk-loaded to 1 million, ... : the table
# only grows). The figures behind the growth table in docs/PERFORMANCE.md.
#
#   scripts/growth.sh                              # 0 and 1,000,000 rows
#   SIZES="0 1000000 10000000" scripts/growth.sh   # about 10 GB more; slow
#
# It runs one private PostgreSQL cluster (scripts/pgcluster.sh) with
# shared_buffers=SHARED_BUFFERS (256MB) and one `authgate serve` on it.
#
# Bulk load: the rows are copies of one real access token row (issued
# through the token endpoint) with their own signature and request id,
# made by INSERT ... SELECT FROM generate_series in transactions of a
# million rows, with the table's indexes dropped first and created again
# afterwards (one sorted build per index instead of millions of random
# inserts), then VACUUM (ANALYZE) and CHECKPOINT. Every loaded row expires
# an hour after the load, so the janitor has nothing to prune during the
# measurement.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-3s}"
ROUNDS="${ROUNDS:-3}"
SIZES="${SIZES:-0 1000000}"
SHARED_BUFFERS="${SHARED_BUFFERS:-256MB}"

source scripts/pgcluster.sh
work="$pgc_work"
pgc_init db "$(pgc_free_port)" "shared_buffers=$SHARED_BUFFERS" max_wal_size=4GB
sql() { pgc_psql db "$@"; }

pgc_authgate "postgres://postgres@127.0.0.1:${pgc_ports[db]}/postgres?sslmode=disable"
# The template row: one real access token.
curl -fsS -u "$client_id:$SVC_SECRET" -d grant_type=client_credentials "$AUTHGATE_ISSUER/oauth2/token" >/dev/null

# load_to N: bulk-loads copies of the template row until the table holds N.
load_to() {
	local want="$1" have
	have="$(sql -tAc "SELECT count(*) FROM oauth_requests")"
	((want > have)) || return 0
	local began=$SECONDS
	# Keep each index's definition, drop it, load, build it again.
	local defs
	defs="$(sql -tAc "SELECT indexdef || ';' FROM pg_indexes WHERE tablename = 'oauth_requests' AND indexname <> 'oauth_requests_pkey'")"
	sql -tAc "SELECT 'DROP INDEX ' || indexname || ';' FROM pg_indexes WHERE tablename = 'oauth_requests' AND indexname <> 'oauth_requests_pkey'" | sql >/dev/null
	sql -c "ALTER TABLE oauth_requests DROP CONSTRAINT oauth_requests_pkey"
	local from=$((have + 1)) to
	while ((from <= want)); do
		to=$((from + 999999))
		((to > want)) && to=$want
		sql -c "INSERT INTO oauth_requests (kind, signature, request_id, access_signature, client_id, subject, requested_at, expires_at, active, data, origin)
			SELECT t.kind, rtrim(translate(encode(sha256(int8send(i)), 'base64'), '+/', '-_'), '='), md5(i::text), t.access_signature,
				t.client_id, t.subject, now(), now() + interval '1 hour', true, t.data, t.origin
			FROM (SELECT * FROM oauth_requests WHERE kind = 'access' ORDER BY requested_at LIMIT 1) AS t, generate_series($from::bigint, $to::bigint) AS i"
		from=$((to + 1))
	done
	sql -c "ALTER TABLE oauth_requests ADD CONSTRAINT oauth_requests_pkey PRIMARY KEY (kind, signature)"
	sql <<<"$defs" >/dev/null
	sql -c "VACUUM (ANALYZE) oauth_requests" -c "CHECKPOINT"
	echo "loaded $((want - have)) rows in $((SECONDS - began)) s"
}

# run SCENARIO: one load-tool run; prints "rate p99 failures".
run() {
	"$bench" --scenario "$1" --issuer "$AUTHGATE_ISSUER" --client-id "$client_id" --client-secret-env SVC_SECRET \
		--concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --quiet --json |
		python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"{r['successes']/r['duration_seconds']:.1f} {r['latency_ms']['p99']:.1f} {r['failures']}\")"
}
median() { python3 -c "import statistics,sys; print(f'{statistics.median(float(x) for x in sys.argv[1:]):.1f}')" "$@"; }

summary=()
for rows in $SIZES; do
	load_to "$rows"
	sql -c "CHECKPOINT" >/dev/null
	read -r n size < <(sql -tAc "SELECT count(*), pg_size_pretty(pg_total_relation_size('oauth_requests')) FROM oauth_requests" | tr '|' ' ')
	echo "=== $n rows ($size): $ROUNDS rounds of client_credentials, introspect; concurrency $CONCURRENCY, $DURATION after $WARMUP"
	cc=() ccp=() in=() inp=()
	for i in $(seq 1 "$ROUNDS"); do
		read -r r p f < <(run client_credentials)
		cc+=("$r") ccp+=("$p")
		echo "round $i client_credentials $r/s p99 $p ms ($f failures)"
		read -r r p f < <(run introspect)
		in+=("$r") inp+=("$p")
		echo "round $i introspect         $r/s p99 $p ms ($f failures)"
	done
	summary+=("$(printf '%10s %9s  %8s/s %7s ms  %8s/s %7s ms' "$rows" "$size" "$(median "${cc[@]}")" "$(median "${ccp[@]}")" "$(median "${in[@]}")" "$(median "${inp[@]}")")")
done
echo
echo "=== medians of $ROUNDS interleaved runs"
printf '%10s %9s  %10s %10s  %10s %10s\n' rows size "cc rate" "cc p99" "intr rate" "intr p99"
printf '%s\n' "${summary[@]}"
