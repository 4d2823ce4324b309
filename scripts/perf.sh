#!/usr/bin/env bash
# scripts/perf.sh measures authgate against the performance budget in
# docs/PERFORMANCE.md: one `authgate serve` on PostgreSQL and `authgate-bench`
# on the same machine, concurrency 32, 20 s after a 5 s warm-up, for every
# scenario. It prints each report and the server's resident memory.
#
#   scripts/perf.sh                 # all scenarios
#   DURATION=5s scripts/perf.sh     # shorter runs
#   SCENARIOS="discovery jwks" scripts/perf.sh
#   BENCH_WRAP="/usr/bin/time -f %U+%S" SCENARIOS=authorization_code_session scripts/perf.sh
#                                   # also the load tool's own CPU time
#
# It needs PostgreSQL on 127.0.0.1:5432 with trust auth (as .ci/run sets up)
# and creates and drops a database named authgate_perf.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONCURRENCY="${CONCURRENCY:-32}"
DURATION="${DURATION:-20s}"
WARMUP="${WARMUP:-5s}"
SCENARIOS="${SCENARIOS:-discovery jwks client_credentials introspect password password_64 refresh authorization_code_session authorization_code_login}"
PGURL="postgres://postgres@127.0.0.1:5432"
DB=authgate_perf
work="$(mktemp -d)"
bin="$work/authgate"
bench="$work/authgate-bench"

go build -o "$bin" ./cmd/authgate
go build -o "$bench" ./cmd/authgate-bench
psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"

export AUTHGATE_DATABASE_URL="$PGURL/$DB?sslmode=disable"
export AUTHGATE_SECRET="perf-secret-0123456789abcdefghijklmnopqrstuvwxyz"
export AUTHGATE_MAIL_OUTBOX="$work/outbox"
export AUTHGATE_LISTEN=127.0.0.1:18080 AUTHGATE_ADMIN_LISTEN=127.0.0.1:18081
export AUTHGATE_ISSUER=http://127.0.0.1:18080
export AUTHGATE_LOCKOUT_THRESHOLD=1000000

"$bin" migrate >/dev/null
json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
svc="$("$bin" clients create --name perf-service --grant-types client_credentials --scopes profile --json)"
legacy="$("$bin" clients create --name perf-legacy --grant-types password,refresh_token --scopes "profile offline_access" --json)"
web="$("$bin" clients create --name perf-web --grant-types authorization_code --redirect-uris http://127.0.0.1:1/callback --scopes "openid profile" --json)"
printf '%s\n' 'perf user passphrase' | "$bin" users create --username perf --email perf@example.com --password-stdin >/dev/null
# The password alone is enough from the loopback range, as from an office network.
"$bin" trusted-ips add 127.0.0.0/8 --description "perf run" >/dev/null

AUTHGATE_PPROF="${AUTHGATE_PPROF:-false}" "$bin" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB" || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -fsS "$AUTHGATE_ISSUER/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done

export SVC_SECRET LEGACY_SECRET WEB_SECRET PERF_PASSWORD='perf user passphrase'
SVC_SECRET="$(json client_secret <<<"$svc")"
LEGACY_SECRET="$(json client_secret <<<"$legacy")"
WEB_SECRET="$(json client_secret <<<"$web")"
common=(--issuer "$AUTHGATE_ISSUER" --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --quiet)

rss() { awk '/VmRSS|VmHWM/ {printf "%s %s %s  ", $1, $2, $3} END {print ""}' "/proc/$server/status"; }
# cpu_ticks prints the server's user+system CPU time in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
hz="$(getconf CLK_TCK)"

for s in $SCENARIOS; do
	echo "=== $s"
	# Start each scenario from a settled database: the previous one's
	# writes flushed and its dead rows vacuumed.
	psql -X -q -h 127.0.0.1 -U postgres -d "$DB" -c "VACUUM (ANALYZE)" -c "CHECKPOINT"
	before="$(cpu_ticks)"
	case "$s" in
	discovery | jwks) "$bench" --scenario "$s" "${common[@]}" ;;
	client_credentials | introspect)
		"$bench" --scenario "$s" "${common[@]}" --client-id "$(json client_id <<<"$svc")" --client-secret-env SVC_SECRET ;;
	password | refresh)
		"$bench" --scenario "$s" "${common[@]}" --client-id "$(json client_id <<<"$legacy")" --client-secret-env LEGACY_SECRET \
			--username perf --password-env PERF_PASSWORD --scope "profile offline_access" ;;
	password_64)
		# Twice the concurrency: throughput and memory must not change.
		"$bench" --scenario password "${common[@]}" --concurrency 64 --client-id "$(json client_id <<<"$legacy")" --client-secret-env LEGACY_SECRET \
			--username perf --password-env PERF_PASSWORD --scope "profile offline_access" ;;
	authorization_code_session | authorization_code_login)
		reuse=()
		[[ "$s" == authorization_code_session ]] && reuse=(--reuse-session)
		${BENCH_WRAP:-} "$bench" --scenario authorization_code "${common[@]}" --client-id "$(json client_id <<<"$web")" --client-secret-env WEB_SECRET \
			--redirect-uri http://127.0.0.1:1/callback --scope "openid profile" --username perf --password-env PERF_PASSWORD "${reuse[@]}" ;;
	*) echo "unknown scenario $s" >&2; exit 2 ;;
	esac
	echo "server memory: $(rss)"
	echo "server CPU: $(( ($(cpu_ticks) - before) * 1000 / hz )) ms over the run, warm-up included"
done
