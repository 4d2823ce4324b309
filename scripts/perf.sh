#!/usr/bin/env bash
# scripts/perf.sh measures authgate against the performance budget in
# docs/PERFORMANCE.md: one `authgate serve` on PostgreSQL and `authgate-bench`
# on the same machine, 20 s after a 5 s warm-up, for every scenario. It
# prints each report, the server's resident memory and CPU time.
#
# Beside authgate it runs the limit server (scripts/limit: the least a server
# on the same stack can do for the same request) on the same database, and
# for each scenario that has a counterpart it alternates the two (limit,
# authgate, limit, authgate, ... ROUNDS times each) and prints the ratio of
# the medians: authgate ÷ limit. Discovery and JWKS are compared with the
# same bytes served statically, the password grant with one argon2id
# verification of the same parameters.
#
# A scenario may carry its concurrency after an @ (client_credentials@64);
# without one it runs at CONCURRENCY (32). authorization_code_es256
# alternates the signed-in code flow of a client with RS256 ID tokens and
# one with ES256 ID tokens and prints the ratio of the two.
#
#   scripts/perf.sh                 # all scenarios
#   DURATION=5s ROUNDS=1 scripts/perf.sh     # shorter runs
#   SCENARIOS="discovery client_credentials@16" scripts/perf.sh
#   BENCH_WRAP="/usr/bin/time -f %U+%S" SCENARIOS=authorization_code_session scripts/perf.sh
#                                   # also the load tool's own CPU time
#   BASELINE=7280e0d^ SCENARIOS=authorization_code_baseline@16 scripts/perf.sh
#                                   # the signed-in code flow with ES256 ID
#                                   # tokens against an earlier build's
#                                   # (RS256, its default), alternating
#
# BASELINE names a git revision: perf.sh builds authgate at it and runs it
# beside this one, on a database of its own (authgate_perf_base, ports
# 18070/18071), with the same client and user made by its own CLI. Scenario
# authorization_code_baseline then alternates the two and prints this
# build's rate ÷ the baseline's.
#
# PERF_SQL is SQL run on authgate's database after it is migrated, before
# anything else: for experiments on the schema, such as
#   PERF_SQL="DROP INDEX idx_oauth_requests_request_id" SCENARIOS=client_credentials@16 scripts/perf.sh
# (what one index costs a token; docs/PERFORMANCE.md records such runs).
#
# It needs PostgreSQL on 127.0.0.1:5432 with trust auth (as .ci/run sets up)
# and creates and drops a database named authgate_perf.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONCURRENCY="${CONCURRENCY:-32}"
DURATION="${DURATION:-20s}"
WARMUP="${WARMUP:-5s}"
ROUNDS="${ROUNDS:-3}"
SCENARIOS="${SCENARIOS:-discovery jwks client_credentials@16 client_credentials@64 introspect@16 introspect@64 password@16 password@64 refresh authorization_code_es256 authorization_code_login}"
PGURL="postgres://postgres@127.0.0.1:5432"
DB=authgate_perf
work="$(mktemp -d)"
bin="$work/authgate"
bench="$work/authgate-bench"
limit="$work/limit"

go build -o "$bin" ./cmd/authgate
go build -o "$bench" ./cmd/authgate-bench
go build -o "$limit" ./scripts/limit
psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"

export AUTHGATE_DATABASE_URL="$PGURL/$DB?sslmode=disable"
export AUTHGATE_SECRET="perf-secret-0123456789abcdefghijklmnopqrstuvwxyz"
export AUTHGATE_MAIL_OUTBOX="$work/outbox"
export AUTHGATE_LISTEN=127.0.0.1:18080 AUTHGATE_ADMIN_LISTEN=127.0.0.1:18081
export AUTHGATE_ISSUER=http://127.0.0.1:18080
export AUTHGATE_LOCKOUT_THRESHOLD=1000000
# Every request comes from one loopback address: the per-source limit on
# unauthenticated work would measure itself, not the server.
export AUTHGATE_RATE_LIMIT_PER_MINUTE=0

"$bin" migrate >/dev/null
if [ -n "${PERF_SQL:-}" ]; then psql -X -q -h 127.0.0.1 -U postgres -d "$DB" -c "$PERF_SQL"; fi
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
svc="$("$bin" clients create --name perf-service --grant-types client_credentials --scopes profile --json)"
legacy="$("$bin" clients create --name perf-legacy --grant-types password,refresh_token --scopes "profile offline_access" --json)"
web="$("$bin" clients create --name perf-web --grant-types authorization_code --redirect-uris http://127.0.0.1:1/callback --scopes "openid profile" --json)"
web_es="$("$bin" clients create --name perf-web-es256 --grant-types authorization_code --redirect-uris http://127.0.0.1:1/callback --scopes "openid profile" --id-token-alg ES256 --json)"
printf '%s\n' 'perf user passphrase' | "$bin" users create --username perf --email perf@example.com --password-stdin >/dev/null
# The password alone is enough from the loopback range, as from an office network.
"$bin" trusted-ips add 127.0.0.0/8 --description "perf run" >/dev/null

AUTHGATE_PPROF="${AUTHGATE_PPROF:-false}" "$bin" serve >"$work/server.log" 2>&1 &
server=$!
limit_pid="" base_pid=""
trap 'kill $server $limit_pid $base_pid 2>/dev/null || true; wait $server $limit_pid $base_pid 2>/dev/null || true; psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "DROP DATABASE IF EXISTS ${DB}_base" || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fsS "$AUTHGATE_ISSUER/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done

export SVC_SECRET LEGACY_SECRET WEB_SECRET WEB_ES_SECRET PERF_PASSWORD='perf user passphrase'
SVC_SECRET="$(json client_secret <<<"$svc")"
LEGACY_SECRET="$(json client_secret <<<"$legacy")"
WEB_SECRET="$(json client_secret <<<"$web")"
WEB_ES_SECRET="$(json client_secret <<<"$web_es")"
common=(--duration "$DURATION" --warmup "$WARMUP" --quiet)

# The limit server: the same database, the same argon2id parameters, the
# JWKS and discovery bytes copied from authgate.
export LIMIT_CLIENT_SECRET="limit-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" LIMIT_PASSWORD="$PERF_PASSWORD"
LIMIT_URL=http://127.0.0.1:18090
"$limit" --listen 127.0.0.1:18090 --database-url "$AUTHGATE_DATABASE_URL" \
	--argon2-time "${AUTHGATE_ARGON2_TIME:-1}" --argon2-memory-kib "${AUTHGATE_ARGON2_MEMORY_KIB:-65536}" --argon2-threads "${AUTHGATE_ARGON2_THREADS:-2}" \
	--jwks-from "$AUTHGATE_ISSUER/.well-known/jwks.json" --discovery-from "$AUTHGATE_ISSUER/.well-known/openid-configuration" >"$work/limit.log" 2>&1 &
limit_pid=$!
for _ in $(seq 1 100); do curl -fsS "$LIMIT_URL/.well-known/jwks.json" >/dev/null 2>&1 && break; sleep 0.1; done

# The baseline build, when asked for: its own database and ports, the same
# secret, client and user.
BASE_ISSUER=http://127.0.0.1:18070
if [[ -n "${BASELINE:-}" ]]; then
	git worktree add -q --detach "$work/base-src" "$BASELINE"
	(cd "$work/base-src" && go build -o "$work/authgate-base" ./cmd/authgate)
	git worktree remove --force "$work/base-src"
	psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS ${DB}_base" -c "CREATE DATABASE ${DB}_base"
	base_env=(AUTHGATE_DATABASE_URL="$PGURL/${DB}_base?sslmode=disable" AUTHGATE_LISTEN=127.0.0.1:18070
		AUTHGATE_ADMIN_LISTEN=127.0.0.1:18071 AUTHGATE_ISSUER="$BASE_ISSUER" AUTHGATE_MAIL_OUTBOX="$work/outbox-base")
	env "${base_env[@]}" "$work/authgate-base" migrate >/dev/null
	base_web="$(env "${base_env[@]}" "$work/authgate-base" clients create --name perf-web --grant-types authorization_code \
		--redirect-uris http://127.0.0.1:1/callback --scopes "openid profile" --json)"
	printf '%s\n' "$PERF_PASSWORD" | env "${base_env[@]}" "$work/authgate-base" users create --username perf --email perf@example.com --password-stdin >/dev/null
	export BASE_WEB_SECRET
	BASE_WEB_SECRET="$(json client_secret <<<"$base_web")"
	env "${base_env[@]}" "$work/authgate-base" serve >"$work/base.log" 2>&1 &
	base_pid=$!
	for _ in $(seq 1 100); do curl -fsS "$BASE_ISSUER/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
fi


rss() { awk '/VmRSS|VmHWM/ {printf "%s %s %s  ", $1, $2, $3} END {print ""}' "/proc/$server/status"; }
# cpu_ticks prints the server's user+system CPU time in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
hz="$(getconf CLK_TCK)"
# reset_peak starts the server's peak resident memory (VmHWM) afresh.
reset_peak() { echo 5 >"/proc/$server/clear_refs" 2>/dev/null || true; }
# rate prints a JSON report's successful requests per second and its failures.
rate() { python3 -c "import json,sys; r=json.load(sys.stdin); print(f\"{r['successes']/r['duration_seconds']:.1f} {r['failures']} {r['successes']}\")"; }
# ticks PID... prints the CPU time (user+system, clock ticks) of the processes.
# (With the children it waited for: PostgreSQL's exited backends count in
# the postmaster's.)
ticks() { local t=0 p f; for p in "$@"; do read -r -a f <"/proc/$p/stat" 2>/dev/null && t=$((t + f[13] + f[14] + f[15] + f[16])) || true; done; echo "$t"; }
# pg_ticks prints the CPU time of every PostgreSQL process on the machine.
pg_ticks() { ticks $(pgrep -x postgres); }
# per_request TICKS REQUESTS prints microseconds of CPU per request.
per_request() { python3 -c "import sys; t,n=float(sys.argv[1]),float(sys.argv[2]); print(f'{t*1e6/$hz/n:.0f}' if n else '-')" "$1" "$2"; }
median() { python3 -c "import statistics,sys; print(f'{statistics.median(float(x) for x in sys.argv[1:]):.1f}')" "$@"; }

# authgate_run SCENARIO CONCURRENCY [--json]: one load-tool run against authgate.
authgate_run() {
	local s="$1" c="$2"; shift 2
	local args=(--issuer "$AUTHGATE_ISSUER" --concurrency "$c" "${common[@]}" "$@")
	case "$s" in
	discovery | jwks) "$bench" --scenario "$s" "${args[@]}" ;;
	client_credentials | introspect)
		"$bench" --scenario "$s" "${args[@]}" --client-id "$(json client_id <<<"$svc")" --client-secret-env SVC_SECRET ;;
	password | refresh)
		"$bench" --scenario "$s" "${args[@]}" --client-id "$(json client_id <<<"$legacy")" --client-secret-env LEGACY_SECRET \
			--username perf --password-env PERF_PASSWORD --scope "profile offline_access" ;;
	authorization_code_session | authorization_code_login | authorization_code_session_es256)
		local reuse=() client="$web" secret_env=WEB_SECRET
		[[ "$s" == authorization_code_session* ]] && reuse=(--reuse-session)
		[[ "$s" == *_es256 ]] && client="$web_es" secret_env=WEB_ES_SECRET
		${BENCH_WRAP:-} "$bench" --scenario authorization_code "${args[@]}" --client-id "$(json client_id <<<"$client")" --client-secret-env "$secret_env" \
			--redirect-uri http://127.0.0.1:1/callback --scope "openid profile" --username perf --password-env PERF_PASSWORD "${reuse[@]}" ;;
	authorization_code_base)
		[[ -n "$base_pid" ]] || { echo "authorization_code_baseline needs BASELINE=<git revision>" >&2; exit 2; }
		"$bench" --scenario authorization_code "${args[@]}" --issuer "$BASE_ISSUER" --client-id "$(json client_id <<<"$base_web")" --client-secret-env BASE_WEB_SECRET \
			--redirect-uri http://127.0.0.1:1/callback --scope "openid profile" --username perf --password-env PERF_PASSWORD --reuse-session ;;
	*) echo "unknown scenario $s" >&2; exit 2 ;;
	esac
}

# limit_run SCENARIO CONCURRENCY: one load-tool run against the limit server,
# with --json. Scenarios without a counterpart print nothing.
limit_run() {
	local s="$1" c="$2"
	local args=(--concurrency "$c" "${common[@]}" --json)
	case "$s" in
	discovery) "$bench" --scenario discovery --discovery-url "$LIMIT_URL/.well-known/openid-configuration" "${args[@]}" ;;
	jwks) "$bench" --scenario jwks --jwks-url "$LIMIT_URL/.well-known/jwks.json" "${args[@]}" ;;
	client_credentials | introspect)
		"$bench" --scenario "$s" --token-url "$LIMIT_URL/token" --introspect-url "$LIMIT_URL/introspect" "${args[@]}" \
			--client-id limit --client-secret-env LIMIT_CLIENT_SECRET ;;
	password)
		"$bench" --scenario password --token-url "$LIMIT_URL/token" "${args[@]}" --client-id limit --client-secret-env LIMIT_CLIENT_SECRET \
			--username perf --password-env PERF_PASSWORD --scope profile ;;
	esac
}

summary=()
for entry in $SCENARIOS; do
	s="${entry%@*}"
	c="$CONCURRENCY"
	[[ "$entry" == *@* ]] && c="${entry#*@}"
	echo "=== $s, concurrency $c"
	# Start each scenario from a settled database: the previous one's
	# writes flushed and its dead rows vacuumed.
	psql -X -q -h 127.0.0.1 -U postgres -d "$DB" -c "VACUUM (ANALYZE)" -c "CHECKPOINT"
	reset_peak
	before="$(cpu_ticks)"
	case "$s" in
	discovery | jwks | client_credentials | introspect | password)
		ours=() theirs=() failed=0
		ours_cpu=() theirs_cpu=() ours_db=() theirs_db=()
		for _ in $(seq 1 "$ROUNDS"); do
			# CPU per request, warm-up included: a rough split of where
			# the time goes (server, database), not part of the ratio.
			t0="$(ticks "$limit_pid")" d0="$(pg_ticks)"
			read -r r f n < <(limit_run "$s" "$c" | rate)
			theirs+=("$r")
			theirs_cpu+=("$(per_request $(($(ticks "$limit_pid") - t0)) "$n")") theirs_db+=("$(per_request $(($(pg_ticks) - d0)) "$n")")
			t0="$(ticks "$server")" d0="$(pg_ticks)"
			read -r r f n < <(authgate_run "$s" "$c" --json | rate)
			ours+=("$r")
			ours_cpu+=("$(per_request $(($(ticks "$server") - t0)) "$n")") ours_db+=("$(per_request $(($(pg_ticks) - d0)) "$n")")
			failed=$((failed + f))
		done
		a="$(median "${ours[@]}")" l="$(median "${theirs[@]}")"
		ratio="$(python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$a" "$l")"
		echo "authgate ${ours[*]} /s (median $a), limit ${theirs[*]} /s (median $l), ratio $ratio, authgate failures $failed"
		echo "CPU µs per request, server: authgate ${ours_cpu[*]}, limit ${theirs_cpu[*]}; PostgreSQL: authgate ${ours_db[*]}, limit ${theirs_db[*]}"
		summary+=("$(printf '%-28s %6s  %10s/s %10s/s  %5s  %s' "$s" "$c" "$a" "$l" "$ratio" "$(awk '/VmHWM/ {print $2/1024 " MB"}' "/proc/$server/status")")")
		;;
	authorization_code_es256 | authorization_code_baseline)
		# The signed-in code flow with ES256 ID tokens, alternating with
		# RS256 ones (this build) or with the baseline build; the ratio is
		# ES256 ÷ the other.
		other=authorization_code_session label="code flow ES256 ÷ RS256"
		[[ "$s" == authorization_code_baseline ]] && other=authorization_code_base label="code flow ES256 ÷ baseline"
		ours=() theirs=() failed=0
		for _ in $(seq 1 "$ROUNDS"); do
			read -r r f _ < <(authgate_run "$other" "$c" --json | rate)
			theirs+=("$r")
			failed=$((failed + f))
			read -r r f _ < <(authgate_run authorization_code_session_es256 "$c" --json | rate)
			ours+=("$r")
			failed=$((failed + f))
		done
		a="$(median "${ours[@]}")" l="$(median "${theirs[@]}")"
		ratio="$(python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$a" "$l")"
		echo "ES256 ${ours[*]} flows/s (median $a), ${other#authorization_code_} ${theirs[*]} flows/s (median $l), ratio $ratio, failures $failed"
		summary+=("$(printf '%-28s %6s  %10s/s %10s/s  %5s  %s' "$label" "$c" "$a" "$l" "$ratio" "$(awk '/VmHWM/ {print $2/1024 " MB"}' "/proc/$server/status")")")
		;;
	*) authgate_run "$s" "$c" ;;
	esac
	echo "server memory: $(rss)"
	echo "server CPU: $(( ($(cpu_ticks) - before) * 1000 / hz )) ms over the scenario, warm-ups included"
done

if ((${#summary[@]})); then
	echo
	echo "=== authgate beside the limit server (medians of $ROUNDS alternating runs)"
	printf '%-28s %6s  %12s %12s  %5s  %s\n' scenario conc authgate limit ratio "authgate peak RSS"
	printf '%s\n' "${summary[@]}"
fi
