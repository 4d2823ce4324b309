# scripts/pgcluster.sh is sourced by scripts/replication.sh and
# scripts/growth.sh: private PostgreSQL clusters in a temporary directory on
# free loopback ports, built from the server binaries under
# /usr/lib/postgresql/*/bin (as the postgres user when run as root, since
# initdb refuses root), stopped and removed on exit.
#
#   source scripts/pgcluster.sh
#   pgc_init primary "$(pgc_free_port)" wal_level=replica
#   pgc_psql primary -c 'SELECT 1'

pgc_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[[ -n "$pgc_bin" && -x "$pgc_bin/pg_basebackup" ]] || { echo "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin" >&2; exit 1; }
pgc_work="$(mktemp -d)"
pgc_as=()
if [[ "$(id -u)" == 0 ]]; then
	chown postgres: "$pgc_work"
	pgc_as=(runuser -u postgres --)
fi
declare -A pgc_ports=()
pgc_on_exit=()

# pgc_tool TOOL ARGS...: runs a server tool as the clusters' owner.
pgc_tool() { (cd "$pgc_work" && "${pgc_as[@]}" "$pgc_bin/$1" "${@:2}"); }
pgc_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# pgc_start NAME PORT [name=value ...]: starts the cluster in $pgc_work/NAME.
pgc_start() {
	local name="$1" port="$2"; shift 2
	local opts="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$pgc_work -c max_connections=60"
	for c in "$@"; do opts+=" -c $c"; done
	pgc_ports[$name]="$port"
	pgc_tool pg_ctl -D "$pgc_work/$name" -l "$pgc_work/$name.log" -o "$opts" -w -t 60 start >/dev/null
}

# pgc_init NAME PORT [name=value ...]: initdb (trust, UTF8) and start.
pgc_init() {
	pgc_tool initdb -D "$pgc_work/$1" -U postgres -A trust -E UTF8 --no-sync --no-instructions >/dev/null
	pgc_start "$@"
}

# pgc_standby NAME PRIMARY PORT: a streaming standby of PRIMARY through a
# replication slot, started.
pgc_standby() {
	pgc_tool pg_basebackup -h 127.0.0.1 -p "${pgc_ports[$2]}" -U postgres -D "$pgc_work/$1" -R -X stream -C -S "${1}_slot" -c fast --no-sync
	pgc_start "$1" "$3"
}

# pgc_psql NAME ARGS...: psql on the cluster's postgres database.
pgc_psql() { psql -X -q -w -h 127.0.0.1 -p "${pgc_ports[$1]}" -U postgres -d postgres -v ON_ERROR_STOP=1 "${@:2}"; }

# pgc_pids NAME: the postmaster and its children, for CPU accounting.
pgc_pids() { local pm; pm="$(head -n 1 "$pgc_work/$1/postmaster.pid")"; echo "$pm" $(pgrep -P "$pm"); }

# pgc_authgate URL: builds authgate and authgate-bench into $pgc_work
# ($bin, $bench), migrates the database at URL, registers a client
# credentials client ($client_id, its secret exported as SVC_SECRET) and
# starts `authgate serve` ($server) on free loopback ports
# ($AUTHGATE_ISSUER), stopped on exit.
pgc_authgate() {
	bin="$pgc_work/authgate" bench="$pgc_work/authgate-bench"
	go build -o "$bin" ./cmd/authgate
	go build -o "$bench" ./cmd/authgate-bench
	export AUTHGATE_DATABASE_URL="$1"
	export AUTHGATE_SECRET="bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	export AUTHGATE_MAIL_OUTBOX="$pgc_work/outbox"
	local port admin
	port="$(pgc_free_port)" admin="$(pgc_free_port)"
	export AUTHGATE_LISTEN="127.0.0.1:$port" AUTHGATE_ADMIN_LISTEN="127.0.0.1:$admin" AUTHGATE_ISSUER="http://127.0.0.1:$port"
	export AUTHGATE_RATE_LIMIT_PER_MINUTE=0
	"$bin" migrate >/dev/null
	local svc
	svc="$("$bin" clients create --name bench-service --grant-types client_credentials --scopes profile --json)"
	export SVC_SECRET
	SVC_SECRET="$(python3 -c "import json,sys; print(json.load(sys.stdin)['client_secret'])" <<<"$svc")"
	client_id="$(python3 -c "import json,sys; print(json.load(sys.stdin)['client_id'])" <<<"$svc")"
	"$bin" serve >"$pgc_work/server.log" 2>&1 &
	server=$!
	pgc_on_exit+=("kill $server 2>/dev/null; wait $server 2>/dev/null")
	for _ in $(seq 1 100); do curl -fsS "$AUTHGATE_ISSUER/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
}

pgc_cleanup() {
	for f in "${pgc_on_exit[@]}"; do eval "$f" || true; done
	for name in "${!pgc_ports[@]}"; do
		pgc_tool pg_ctl -D "$pgc_work/$name" -m immediate stop >/dev/null 2>&1 || true
	done
	rm -rf "$pgc_work"
}
trap pgc_cleanup EXIT
