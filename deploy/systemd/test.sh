#!/usr/bin/env bash
# Tests the systemd units. With systemd as PID 1 (a real machine): installs
# them with the user of slipway.sysusers.conf, starts the server, checks
# /healthz, registers and starts the runner, checks both stay active, then
# stops and removes everything. Without it (a container, this project's CI):
# `systemd-analyze verify` of both units in a temporary root holding the
# binary, the host's units (docker.service among them) and the user made by
# `systemd-sysusers`; any warning fails, and a broken unit must be caught.
#
# Usage: deploy/systemd/test.sh   (as root)
set -euo pipefail
exec </dev/null

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
need_root
ensure_pkgs systemd curl
UNITS=(slipway-server.service slipway-runner.service)
ROOT=
trap '[ -z "$ROOT" ] || rm -rf "$ROOT"' EXIT

build() { (cd "$repo" && ensure_go && CGO_ENABLED=0 go build -o "$1" ./cmd/slipway); }

# verify_in ROOT: systemd-analyze verify's complaints about the units.
verify_in() {
	systemd-analyze verify --root="$1" "${UNITS[@]}" 2>&1 || echo "systemd-analyze verify failed ($?)"
}

verify() {
	local out
	ROOT=$(mktemp -d)
	mkdir -p "$ROOT/usr/local/bin" "$ROOT/usr/lib/systemd" "$ROOT/etc/systemd/system" "$ROOT/usr/lib/sysusers.d"
	build "$ROOT/usr/local/bin/slipway"
	cp -a /usr/lib/systemd/system "$ROOT/usr/lib/systemd/"
	cp "$here"/*.service "$ROOT/etc/systemd/system/"
	cp "$here/slipway.sysusers.conf" "$ROOT/usr/lib/sysusers.d/slipway.conf"
	systemd-sysusers --root="$ROOT" 2>&1 | grep -v '^Creating' >&2 || true
	grep -q '^slipway:' "$ROOT/etc/passwd" && grep -q '^docker:.*slipway' "$ROOT/etc/group" ||
		die "systemd-sysusers made no user slipway in the group docker"
	out=$(verify_in "$ROOT")
	[ -z "$out" ] || die "systemd-analyze verify: $out"
	# The check itself must be able to fail.
	sed -i 's/^ProtectSystem=strict/ProtectSystem=bogus/' "$ROOT/etc/systemd/system/slipway-server.service"
	[ -n "$(verify_in "$ROOT")" ] || die "systemd-analyze verify did not notice a broken unit"
	log "systemd is not PID 1 here ($(cat /proc/1/comm)): systemd-analyze verify passed for ${UNITS[*]}; sysusers made slipway (in docker)"
}

# install_and_start: the real thing, on a machine run by systemd.
install_and_start() {
	local glrt i
	build /usr/local/bin/slipway
	install -m 0644 "$here/slipway.sysusers.conf" /etc/sysusers.d/slipway.conf
	systemd-sysusers
	install -m 0644 "$here"/*.service /etc/systemd/system/
	systemctl daemon-reload
	systemctl start slipway-server
	for ((i = 0; i < 100; i++)); do curl -fs http://127.0.0.1:8080/healthz >/dev/null && break; sleep 0.1; done
	curl -fsS http://127.0.0.1:8080/healthz >/dev/null || die "slipway-server does not answer /healthz"
	glrt=$(/usr/local/bin/slipway runner token create --server http://127.0.0.1:8080 \
		--token "$(cat /var/lib/slipway-server/admin.token)" --run-untagged)
	install -d -o slipway -g slipway -m 0700 /var/lib/slipway-runner
	runuser -u slipway -- /usr/local/bin/slipway runner register --url http://127.0.0.1:8080 --token "$glrt" \
		--executor docker --config /var/lib/slipway-runner/config.toml
	systemctl start slipway-runner
	sleep 3
	systemctl is-active --quiet slipway-server slipway-runner ||
		{ journalctl -n 30 -u slipway-server -u slipway-runner >&2; die "a unit is not active"; }
	log "slipway-server and slipway-runner installed, started and active"
}

uninstall() {
	systemctl stop "${UNITS[@]}" || true
	rm -f "${UNITS[@]/#//etc/systemd/system/}" /etc/sysusers.d/slipway.conf
	systemctl daemon-reload
}

if [ "$(cat /proc/1/comm)" = systemd ]; then
	trap 'uninstall; [ -z "$ROOT" ] || rm -rf "$ROOT"' EXIT
	install_and_start
else
	verify
fi
