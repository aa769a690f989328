#!/usr/bin/env bash
# A real private Docker registry for slipway's tests: Debian's
# docker-registry (distribution 2.8) as a background process on
# 127.0.0.1:$PORT (default 5000) with htpasswd (bcrypt) auth.
#
# Usage: scripts/registry.sh start|stop|restart|status|env|selftest
#   start     start it unless it already answers on the port (idempotent);
#             waits until it answers, writes a pid file
#   stop      stop the registry started by `start`
#   env       print `export` lines for the tests:
#             SLIPWAY_TEST_REGISTRY, SLIPWAY_TEST_REGISTRY_USER,
#             SLIPWAY_TEST_REGISTRY_PASSWORD
#   status    exit 0 if it is running and answering
#   selftest  docker login / push busybox:1.35 / rmi / pull / logout with a
#             throw-away DOCKER_CONFIG (needs `start` and testimages.sh)
#
# The Docker Engine treats 127.0.0.0/8 as an insecure registry by default,
# so plain HTTP on 127.0.0.1 works for docker push/pull without any
# daemon configuration.
#
# Env: PORT (default 5000); SLIPWAY_TEST_REGISTRY_DIR state dir holding
#      config.yml, htpasswd, data/, registry.pid, registry.log (default
#      ${TMPDIR:-/tmp}/slipway-registry-$PORT).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

PORT=${PORT:-5000}
ADDR=127.0.0.1:$PORT
REG_USER=slipway
REG_PASSWORD=slipway-test-pw
STATE=${SLIPWAY_TEST_REGISTRY_DIR:-${TMPDIR:-/tmp}/slipway-registry-$PORT}
PIDFILE=$STATE/registry.pid
REGISTRY_BIN=/usr/bin/docker-registry

# http_status [USER:PASSWORD]: HTTP status of GET /v2/ (000 if nothing
# answers). Pure bash (/dev/tcp), no curl needed.
http_status() {
	local auth=() line code
	if [ -n "${1:-}" ]; then
		auth=("Authorization: Basic $(printf '%s' "$1" | base64 -w0)")
	fi
	{
		exec 3<>"/dev/tcp/127.0.0.1/$PORT" || {
			echo 000
			return 0
		}
		printf 'GET /v2/ HTTP/1.0\r\nHost: %s\r\n%s\r\n' "$ADDR" \
			"${auth:+${auth[0]}$'\r\n'}" >&3
		IFS= read -r -t 5 line <&3 || line=
		exec 3<&- 3>&-
		read -r _ code _ <<<"$line"
		echo "${code:-000}"
	} 2>/dev/null || echo 000
}

# ours: answers on the port and accepts exactly our credentials.
ours() {
	[ "$(http_status)" = 401 ] && [ "$(http_status "$REG_USER:$REG_PASSWORD")" = 200 ]
}

pid_alive() {
	local pid
	[ -s "$PIDFILE" ] || return 1
	pid=$(<"$PIDFILE")
	[ -d "/proc/$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q docker-registry
}

write_config() {
	mkdir -p "$STATE/data"
	# bcrypt (the only hash distribution's htpasswd auth accepts)
	htpasswd -Bbn "$REG_USER" "$REG_PASSWORD" >"$STATE/htpasswd"
	cat >"$STATE/config.yml" <<-EOF
		# written by scripts/registry.sh
		version: 0.1
		log:
		  level: info
		  accesslog:
		    disabled: true
		  fields:
		    service: slipway-test-registry
		storage:
		  filesystem:
		    rootdirectory: $STATE/data
		  delete:
		    enabled: true
		  cache:
		    blobdescriptor: inmemory
		http:
		  addr: $ADDR
		  secret: slipway-test-registry-$PORT
		  headers:
		    X-Content-Type-Options: [nosniff]
		auth:
		  htpasswd:
		    realm: slipway-test-registry
		    path: $STATE/htpasswd
	EOF
}

cmd_start() {
	local t0 code pid
	t0=$(date +%s)
	if ours; then
		log "registry already answering on $ADDR; nothing to do"
		return 0
	fi
	code=$(http_status)
	if [ "$code" != 000 ]; then
		die "something else answers on $ADDR (GET /v2/ -> $code, not our auth); if it is Debian's docker-registry service: systemctl stop docker-registry (or pick another PORT)"
	fi
	if [ ! -x "$REGISTRY_BIN" ] || ! have htpasswd; then
		ensure_pkgs docker-registry apache2-utils
	fi
	if pid_alive; then
		log "stale registry process $(<"$PIDFILE") is not answering; stopping it"
		cmd_stop
	fi
	write_config
	log "starting $REGISTRY_BIN serve $STATE/config.yml (log: $STATE/registry.log)"
	# setsid: own session, so it outlives this script and ^C of the caller.
	setsid "$REGISTRY_BIN" serve "$STATE/config.yml" >>"$STATE/registry.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$PIDFILE"
	for _ in $(seq 1 150); do
		if ours; then
			log "registry up on $ADDR (pid $pid) after $(elapsed "$t0"); user $REG_USER"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$STATE/registry.log" >&2 || true
			rm -f "$PIDFILE"
			die "registry exited during start-up (log above)"
		fi
		sleep 0.2
	done
	tail -n 20 "$STATE/registry.log" >&2 || true
	die "registry did not answer on $ADDR within 30s"
}

cmd_stop() {
	local pid
	if ! pid_alive; then
		rm -f "$PIDFILE"
		if ours; then
			log "a registry answers on $ADDR but was not started from $STATE; leaving it alone"
		else
			log "registry not running"
		fi
		return 0
	fi
	pid=$(<"$PIDFILE")
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "registry (pid $pid) ignored SIGTERM; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$PIDFILE"
	log "registry stopped (pid $pid)"
}

cmd_env() {
	printf 'export SLIPWAY_TEST_REGISTRY=%s\n' "$ADDR"
	printf 'export SLIPWAY_TEST_REGISTRY_USER=%s\n' "$REG_USER"
	printf 'export SLIPWAY_TEST_REGISTRY_PASSWORD=%s\n' "$REG_PASSWORD"
}

cmd_status() {
	if ours; then
		log "registry answering on $ADDR${PIDFILE:+ (pid file $PIDFILE: $(cat "$PIDFILE" 2>/dev/null || echo none))}"
	else
		log "registry not answering on $ADDR"
		return 1
	fi
}

# selftest: the documented manual check, scripted.
cmd_selftest() {
	local cfg out ref=$ADDR/private/busybox:1.35 rc=0
	ours || die "registry not running on $ADDR (run: $0 start)"
	docker image inspect busybox:1.35 >/dev/null 2>&1 || die "busybox:1.35 missing (run scripts/testimages.sh)"
	cfg=$(mktemp -d)
	(
		set -e
		export DOCKER_CONFIG=$cfg
		log "docker login $ADDR (DOCKER_CONFIG=$cfg)"
		out=$(printf '%s' "$REG_PASSWORD" | docker login -u "$REG_USER" --password-stdin "$ADDR" 2>&1) || {
			printf '%s\n' "$out" >&2
			exit 1
		}
		docker tag busybox:1.35 "$ref"
		log "docker push $ref"
		docker push "$ref" >/dev/null
		docker rmi "$ref" >/dev/null
		log "docker pull $ref"
		docker pull -q "$ref" >/dev/null
		docker run --rm --label slipway.run=manual-check "$ref" sh -c 'echo pulled image runs'
		docker rmi "$ref" >/dev/null
		docker logout "$ADDR" >/dev/null
	) || rc=$?
	docker rmi "$ref" >/dev/null 2>&1 || true
	rm -rf "$cfg"
	[ "$rc" = 0 ] || die "selftest failed"
	# Without credentials the pull must be refused.
	cfg=$(mktemp -d)
	if DOCKER_CONFIG=$cfg docker pull -q "$ref" >/dev/null 2>&1; then
		rc=1
		docker rmi "$ref" >/dev/null 2>&1 || true
	fi
	rm -rf "$cfg"
	[ "$rc" = 0 ] || die "anonymous pull of $ref unexpectedly worked"
	log "selftest ok: login, push, pull, anonymous pull refused"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
restart) cmd_stop && cmd_start ;;
status) cmd_status ;;
env) cmd_env ;;
selftest) cmd_selftest ;;
*)
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
	;;
esac
