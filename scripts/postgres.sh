#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for slipway's store tests: Debian's
# postgresql package, initdb'd under /tmp and started with pg_ctl on
# 127.0.0.1 on a free port, as a non-root user (the package's `postgres`
# user when run as root, else the caller).
#
# Usage: scripts/postgres.sh start|stop|restart|status|env
#   start   install postgresql if missing (needs root then), create the
#           cluster and the database slipway_test, start it unless it runs
#           (idempotent); waits until it accepts connections
#   stop    stop the cluster and remove its directory
#   env     print `export SLIPWAY_TEST_POSTGRES=postgres://...` for the tests
#   status  exit 0 if it is running
#
# Env: PORT (default: the first free port from 15432 up);
#      SLIPWAY_TEST_POSTGRES_DIR state dir holding data/, port, postgres.log
#      (default ${TMPDIR:-/tmp}/slipway-postgres).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

STATE=${SLIPWAY_TEST_POSTGRES_DIR:-${TMPDIR:-/tmp}/slipway-postgres}
DATA=$STATE/data
DB_USER=slipway
DB_PASSWORD=slipway-test-pw
DB_NAME=slipway_test

# bindir: the newest installed server's initdb/pg_ctl.
bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
	[ -n "$d" ] && [ -x "$d/pg_ctl" ] || return 1
	echo "$d"
}

# as_owner CMD...: runs CMD as the cluster's owner (initdb refuses root).
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
	local p
	for ((p = 15432; p < 15532; p++)); do
		port_busy "$p" || {
			echo "$p"
			return 0
		}
	done
	die "no free port in 15432-15531"
}

running() {
	local bin
	bin=$(bindir) || return 1
	[ -f "$DATA/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

cmd_start() {
	local t0 bin port pwfile
	t0=$(date +%s)
	if running; then
		log "postgres already running on 127.0.0.1:$(<"$STATE/port") ($DATA); nothing to do"
		return 0
	fi
	if ! bin=$(bindir); then
		ensure_pkgs postgresql
		bin=$(bindir) || die "postgresql installed, but no /usr/lib/postgresql/*/bin/pg_ctl"
	fi
	rm -rf "$STATE"
	mkdir -p "$STATE"
	port=${PORT:-$(free_port)}
	port_busy "$port" && die "port $port is taken (pick another PORT)"
	echo "$port" >"$STATE/port"
	pwfile=$STATE/pw
	printf '%s\n' "$DB_PASSWORD" >"$pwfile"
	[ "$(id -u)" = 0 ] && chown -R postgres: "$STATE"
	log "initdb $DATA ($("$bin/postgres" --version))"
	as_owner "$bin/initdb" -D "$DATA" -U "$DB_USER" --pwfile="$pwfile" --auth=scram-sha-256 \
		-E UTF8 --locale=C.UTF-8 >"$STATE/initdb.log" 2>&1 || {
		tail -n 20 "$STATE/initdb.log" >&2
		die "initdb failed (log above)"
	}
	rm -f "$pwfile"
	log "pg_ctl start on 127.0.0.1:$port (log: $STATE/postgres.log)"
	as_owner "$bin/pg_ctl" -D "$DATA" -l "$STATE/postgres.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $STATE -c max_connections=200" start >/dev/null || {
		tail -n 20 "$STATE/postgres.log" >&2
		die "postgres did not start (log above)"
	}
	PGPASSWORD=$DB_PASSWORD as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME"
	log "postgres up on 127.0.0.1:$port after $(elapsed "$t0"); database $DB_NAME, user $DB_USER"
}

cmd_stop() {
	local bin
	if ! running; then
		rm -rf "$STATE"
		log "postgres not running"
		return 0
	fi
	bin=$(bindir)
	as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null
	rm -rf "$STATE"
	log "postgres stopped; $STATE removed"
}

cmd_env() {
	[ -s "$STATE/port" ] || die "not started (run: $0 start)"
	printf 'export SLIPWAY_TEST_POSTGRES=postgres://%s:%s@127.0.0.1:%s/%s?sslmode=disable\n' \
		"$DB_USER" "$DB_PASSWORD" "$(<"$STATE/port")" "$DB_NAME"
}

cmd_status() {
	if running; then
		log "postgres running on 127.0.0.1:$(<"$STATE/port") ($DATA)"
	else
		log "postgres not running"
		return 1
	fi
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
restart) cmd_stop && cmd_start ;;
status) cmd_status ;;
env) cmd_env ;;
*)
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
	;;
esac
