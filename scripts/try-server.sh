#!/usr/bin/env bash
# One command to a slipway server with a build to watch:
#   1. builds ./slipway (static) and, if missing, the test images
#      (scripts/testimages.sh, which needs root)
#   2. starts `slipway server` on its embedded SQLite in a fresh temporary
#      data dir, on 127.0.0.1 (port 8080, else the next free one)
#   3. mints a runner token, registers a runner, starts `slipway runner run`
#   4. pushes examples/gitlab to the server as the repository examples/gitlab
#   5. waits for the build, prints its jobs' statuses and logs, its URL, the
#      admin token file and how to stop everything
# then keeps the server and runner running until Ctrl-C (or SIGTERM), when
# it stops both. With --once it stops them as soon as the build ended and
# exits 0 only if the build passed (what the test does).
#
# Usage: scripts/try-server.sh [--once]
# Env:   SLIPWAY_TRY_PORT  the port to try first (default 8080)
set -euo pipefail
exec </dev/null

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

ONCE=
case ${1:-} in
--once) ONCE=1 ;;
"") ;;
*) die "unknown argument: $1 (usage: $0 [--once])" ;;
esac

SLUG=examples/gitlab
PIDS=()

# stop: SIGTERM to the runner (it drains), then the server; waits for both.
stop() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
}
trap stop EXIT
trap 'log "stopping the runner and the server"; exit 130' INT TERM HUP

# prerequisites: the binary, the tools, the images.
prerequisites() {
	ensure_pkgs git curl jq ca-certificates
	ensure_docker
	ensure_go
	log "building ./slipway"
	CGO_ENABLED=0 go build -o slipway ./cmd/slipway
	if ! docker image inspect debian:bookworm redis:7.0 postgres:15 busybox:1.35 >/dev/null 2>&1; then
		scripts/testimages.sh
	fi
}

free_port() {
	local p
	for p in $(seq "${SLIPWAY_TRY_PORT:-8080}" 8180); do
		[ -n "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] || { echo "$p"; return; }
	done
	die "no free port from ${SLIPWAY_TRY_PORT:-8080} to 8180"
}

# api METHOD PATH [BODY]: the server's REST API as the administrator.
api() {
	curl -fsS -X "$1" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
		${3:+--data "$3"} "$URL$2"
}

start_server() {
	local i
	./slipway server --addr "$ADDR" --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
	PIDS=($! "${PIDS[@]}")
	for ((i = 0; i < 100; i++)); do
		curl -fs "$URL/healthz" >/dev/null 2>&1 && [ -s "$DATA/admin.token" ] && break
		kill -0 "${PIDS[0]}" 2>/dev/null || { cat "$DATA/server.log" >&2; die "the server exited"; }
		sleep 0.1
	done
	curl -fs "$URL/healthz" >/dev/null || die "the server did not answer $URL/healthz (log: $DATA/server.log)"
	ADMIN=$(<"$DATA/admin.token")
	log "server up at $URL (data dir $DATA, log $DATA/server.log)"
}

start_runner() {
	local glrt
	glrt=$(./slipway runner token create --server "$URL" --token "$ADMIN" --run-untagged --description try-server)
	./slipway runner register --url "$URL" --token "$glrt" --executor docker --config "$DATA/runner.toml" >&2
	./slipway runner run --config "$DATA/runner.toml" >"$DATA/runner.log" 2>&1 &
	PIDS=($! "${PIDS[@]}")
	log "runner registered ($DATA/runner.toml) and running (log $DATA/runner.log)"
}

push_example() {
	local work=$DATA/checkout
	api POST "/api/repos/$SLUG" >/dev/null
	cp -r examples/gitlab "$work"
	git -C "$work" init --quiet --initial-branch=main
	git -C "$work" add .
	git -C "$work" -c user.name=try -c user.email=try@localhost commit --quiet -m "the example pipeline"
	git -C "$work" push --quiet "http://admin:$ADMIN@$ADDR/$SLUG.git" main
	log "pushed examples/gitlab to $URL/$SLUG.git"
}

# wait_build: waits up to 5 minutes for build 1 to end; sets STATUS.
wait_build() {
	local i
	STATUS=
	for ((i = 0; i < 1500; i++)); do
		STATUS=$(api GET "/api/repos/$SLUG/builds/1" 2>/dev/null | jq -r .status) || STATUS=
		case $STATUS in success | failure | error | killed) return ;; esac
		sleep 0.2
	done
	die "build 1 of $SLUG did not end within 5 minutes (status '$STATUS'; logs: $DATA/*.log)"
}

print_build() {
	api GET "/api/repos/$SLUG/builds/1" | jq -r '.stages[] | "\(.number) \(.name) \(.status)"' |
		while read -r n name status; do
			printf '\n=== job %s: %s\n' "$name" "$status"
			api GET "/api/repos/$SLUG/builds/1/logs/$n/1" | jq -j '.[].out'
		done
}

main() {
	T0=$(date +%s)
	prerequisites
	DATA=$(mktemp -d /tmp/slipway-try.XXXXXX)
	ADDR=127.0.0.1:$(free_port)
	URL=http://$ADDR
	start_server
	start_runner
	push_example
	wait_build
	print_build
	printf '\n=== build 1 of %s: %s (%s from start)\n' "$SLUG" "$STATUS" "$(elapsed "$T0")"
	cat <<-EOF
		server:      $URL  (health: $URL/healthz)
		in a browser: $URL/$SLUG/-/builds/1  (sign in with the admin token)
		build (API): $URL/api/repos/$SLUG/builds/1
		admin token: $DATA/admin.token  (curl -H "Authorization: Bearer \$(cat $DATA/admin.token)" $URL/api/user)
		repository:  git clone http://admin:\$(cat $DATA/admin.token)@$ADDR/$SLUG.git
		logs:        $DATA/server.log $DATA/runner.log
	EOF
	if [ -n "$ONCE" ]; then
		stop
		[ "$STATUS" = success ] || return 1
		rm -rf "$DATA"
		return
	fi
	echo "Ctrl-C stops the runner and the server (the data dir $DATA stays)."
	wait "${PIDS[@]}"
}

main
