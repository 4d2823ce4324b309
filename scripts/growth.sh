#!/usr/bin/env bash
# scripts/growth.sh measures how authgate's token rate and p99 latency hold
# as the token table grows: client_credentials (an INSERT per token),
# introspection (a read by key) and the signed-in code flow (an
# authorization's three rows written, then the code exchange: a locked read,
# updates and deletes, two tokens written), interleaved, ROUNDS times each,
# with the table holding each of SIZES rows in turn (0, then bulk-loaded to
# 1 million, ... : the table only grows). The figures behind the growth
# table in docs/PERFORMANCE.md.
#
#   scripts/growth.sh                              # 0 and 1,000,000 rows
#   SIZES="0 1000000 10000000" scripts/growth.sh   # about 10 GB more; slow
#   PRUNE_ROWS=10000000 SIZES=0 COMPARE_DELETE=0 scripts/growth.sh
#                                 # the janitor pruning ten million expired
#                                 # tokens under load, measured throughout
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
PRUNE_ROWS="${PRUNE_ROWS:-0}"
SHARED_BUFFERS="${SHARED_BUFFERS:-256MB}"
COMPARE_DELETE="${COMPARE_DELETE:-1}"

source scripts/pgcluster.sh
work="$pgc_work"
pgc_init db "$(pgc_free_port)" "shared_buffers=$SHARED_BUFFERS" max_wal_size=4GB
sql() { pgc_psql db "$@"; }

pgc_authgate "postgres://postgres@127.0.0.1:${pgc_ports[db]}/postgres?sslmode=disable"
# The signed-in code flow's client and user. Sign-in itself (argon2id) is
# once per worker (--reuse-session): the flows measure the table.
web="$("$bin" clients create --name bench-web --grant-types authorization_code --redirect-uris http://127.0.0.1:1/callback --scopes "openid profile" --id-token-alg ES256 --json)"
export WEB_SECRET PERF_PASSWORD='growth user passphrase'
WEB_SECRET="$(python3 -c "import json,sys; print(json.load(sys.stdin)['client_secret'])" <<<"$web")"
web_id="$(python3 -c "import json,sys; print(json.load(sys.stdin)['client_id'])" <<<"$web")"
printf '%s\n' "$PERF_PASSWORD" | "$bin" users create --username growth --email growth@example.com --password-stdin >/dev/null
"$bin" trusted-ips add 127.0.0.0/8 --description "growth run" >/dev/null
# The template row: one real access token.
curl -fsS -u "$client_id:$SVC_SECRET" -d grant_type=client_credentials "$AUTHGATE_ISSUER/oauth2/token" >/dev/null

# load N EXPIRES: bulk-loads N copies of the template row, each expiring at
# the SQL expression EXPIRES (of i, the copy's number).
next_i=1
load() {
	local n="$1" expires="$2" began=$SECONDS
	# Keep each index's definition, drop it, load, build it again.
	local defs
	defs="$(sql -tAc "SELECT indexdef || ';' FROM pg_indexes WHERE tablename = 'oauth_requests' AND indexname <> 'oauth_requests_pkey'")"
	sql -tAc "SELECT 'DROP INDEX ' || indexname || ';' FROM pg_indexes WHERE tablename = 'oauth_requests' AND indexname <> 'oauth_requests_pkey'" | sql >/dev/null
	sql -c "ALTER TABLE oauth_requests DROP CONSTRAINT oauth_requests_pkey"
	local from=$next_i to last=$((next_i + n - 1))
	while ((from <= last)); do
		to=$((from + 999999))
		((to > last)) && to=$last
		sql -c "INSERT INTO oauth_requests (kind, signature, request_id, access_signature, client_id, subject, requested_at, expires_at, active, data, origin)
			SELECT t.kind, rtrim(translate(encode(sha256(int8send(i)), 'base64'), '+/', '-_'), '='), md5(i::text), t.access_signature,
				t.client_id, t.subject, now(), $expires, true, t.data, t.origin
			FROM (SELECT * FROM oauth_requests WHERE kind = 'access' ORDER BY requested_at LIMIT 1) AS t, generate_series($from::bigint, $to::bigint) AS i"
		from=$((to + 1))
	done
	next_i=$((last + 1))
	sql -c "ALTER TABLE oauth_requests ADD CONSTRAINT oauth_requests_pkey PRIMARY KEY (kind, signature)"
	sql <<<"$defs" >/dev/null
	sql -c "VACUUM (ANALYZE) oauth_requests" -c "CHECKPOINT"
	echo "loaded $n rows in $((SECONDS - began)) s"
}

# load_to N: loads live rows (expiring an hour from now) until the table
# holds N.
load_to() {
	local have
	have="$(sql -tAc "SELECT count(*) FROM oauth_requests")"
	((${1} > have)) || return 0
	load $((${1} - have)) "now() + interval '1 hour'"
}

# run SCENARIO: one load-tool run; prints "rate p99 failures".
run() {
	local who=(--client-id "$client_id" --client-secret-env SVC_SECRET)
	if [[ "$1" == authorization_code ]]; then
		who=(--client-id "$web_id" --client-secret-env WEB_SECRET --redirect-uri http://127.0.0.1:1/callback
			--scope "openid profile" --username growth --password-env PERF_PASSWORD --reuse-session)
	fi
	"$bench" --scenario "$1" --issuer "$AUTHGATE_ISSUER" "${who[@]}" \
		--concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --quiet --json |
		python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"{r['successes']/r['duration_seconds']:.1f} {r['latency_ms']['p99']:.1f} {r['failures']}\")"
}
median() { python3 -c "import statistics,sys; print(f'{statistics.median(float(x) for x in sys.argv[1:]):.1f}')" "$@"; }

summary=()
for rows in $SIZES; do
	load_to "$rows"
	sql -c "CHECKPOINT" >/dev/null
	read -r n size < <(sql -tAc "SELECT count(*), pg_size_pretty(pg_total_relation_size('oauth_requests')) FROM oauth_requests" | tr '|' ' ')
	echo "=== $n rows ($size): $ROUNDS rounds of client_credentials, introspect, authorization_code; concurrency $CONCURRENCY, $DURATION after $WARMUP"
	cc=() ccp=() in=() inp=() ac=() acp=()
	for i in $(seq 1 "$ROUNDS"); do
		read -r r p f < <(run client_credentials)
		cc+=("$r") ccp+=("$p")
		echo "round $i client_credentials $r/s p99 $p ms ($f failures)"
		read -r r p f < <(run introspect)
		in+=("$r") inp+=("$p")
		echo "round $i introspect         $r/s p99 $p ms ($f failures)"
		read -r r p f < <(run authorization_code)
		ac+=("$r") acp+=("$p")
		echo "round $i code flow          $r/s p99 $p ms ($f failures)"
	done
	summary+=("$(printf '%10s %9s  %8s/s %7s ms  %8s/s %7s ms  %8s/s %7s ms' "$rows" "$size" "$(median "${cc[@]}")" "$(median "${ccp[@]}")" "$(median "${in[@]}")" "$(median "${inp[@]}")" "$(median "${ac[@]}")" "$(median "${acp[@]}")")")
done
echo
echo "=== medians of $ROUNDS interleaved runs"
printf '%10s %9s  %10s %10s  %10s %10s  %10s %10s\n' rows size "cc rate" "cc p99" "intr rate" "intr p99" "flow rate" "flow p99"
printf '%s\n' "${summary[@]}"

((PRUNE_ROWS > 0)) || exit 0

# The janitor under load: PRUNE_ROWS tokens that expired over the last day
# (2 to 26 hours ago, all past the janitor's one-hour grace), pruned while
# client_credentials runs, against the same run with nothing to prune. The
# pruning is authgate's own: a second `authgate serve` on the same database,
# whose janitor runs as it starts. For comparison, the same rows deleted the
# way the janitor did before (one DELETE).
expired="now() - interval '2 hours' - (i % 86400) * interval '1 second'"
count_expired() { sql -tAc "SELECT count(*) FROM oauth_requests WHERE expires_at < now() - interval '1 hour'"; }
echo
echo "=== the janitor pruning $PRUNE_ROWS expired tokens under load (client_credentials, concurrency $CONCURRENCY, $DURATION)"
load "$PRUNE_ROWS" "$expired"
for i in $(seq 1 "$ROUNDS"); do
	read -r r p f < <(run client_credentials)
	echo "idle:                 $r/s p99 $p ms ($f failures), $(count_expired) expired rows waiting"
done
(
	export AUTHGATE_LISTEN="127.0.0.1:$(pgc_free_port)" AUTHGATE_ADMIN_LISTEN="127.0.0.1:$(pgc_free_port)"
	exec "$bin" serve >"$pgc_work/janitor.log" 2>&1
) &
janitor=$!
pgc_on_exit+=("kill $janitor 2>/dev/null; wait $janitor 2>/dev/null")
began=$SECONDS
# One run after another for as long as the janitor prunes: every window of
# the pruning is measured, not only its start.
while :; do
	read -r r p f < <(run client_credentials)
	left="$(count_expired)"
	echo "pruning in batches:   $r/s p99 $p ms ($f failures), $left expired rows left after the run"
	((left > 0)) || break
done
echo "the janitor pruned $PRUNE_ROWS rows in about $((SECONDS - began)) s"
kill "$janitor"; wait "$janitor" 2>/dev/null || true

((COMPARE_DELETE)) || exit 0

load "$PRUNE_ROWS" "$expired"
read -r r p f < <(run client_credentials)
echo "idle:                 $r/s p99 $p ms ($f failures)"
began=$SECONDS
sql -c "DELETE FROM oauth_requests WHERE expires_at < now() - interval '1 hour'" >/dev/null &
deleter=$!
read -r r p f < <(run client_credentials)
wait "$deleter"
echo "one DELETE (before):  $r/s p99 $p ms ($f failures); the DELETE took about $((SECONDS - began)) s"
