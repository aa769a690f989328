# shellcheck shell=bash
# Shared helpers for slipway's test set-up scripts (testimages.sh,
# registry.sh, .ci/run). Source it; it does not change shell options.

# Cache for the Debian root tarball, lock files, ... (override with
# SLIPWAY_TEST_CACHE).
SLIPWAY_TEST_CACHE=${SLIPWAY_TEST_CACHE:-/var/cache/slipway-test}

_lib_prog=$(basename -- "${0:-slipway}")

ts() { date -u +%Y-%m-%dT%H:%M:%SZ; }

log() { printf '[%s] %s: %s\n' "$(ts)" "$_lib_prog" "$*" >&2; }

die() {
	log "ERROR: $*"
	exit 1
}

# phase NAME: prints a visible, timestamped phase header.
phase() { printf '\n=== [%s] %s\n' "$(ts)" "$*" >&2; }

# elapsed START_EPOCH: "12s" / "3m04s" since START_EPOCH.
elapsed() {
	local d=$(($(date +%s) - $1))
	if ((d >= 60)); then
		printf '%dm%02ds' $((d / 60)) $((d % 60))
	else
		printf '%ds' "$d"
	fi
}

need_root() {
	[ "$(id -u)" = 0 ] || die "must run as root (needs apt-get/debootstrap/docker)"
}

have() { command -v "$1" >/dev/null 2>&1; }

# pkg_installed PKG: true if the Debian package is installed.
pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

_apt_updated=
# ensure_pkgs PKG...: apt-get install the packages that are missing
# (runs apt-get update once, only when something has to be installed).
ensure_pkgs() {
	local p missing=()
	for p in "$@"; do
		pkg_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	need_root
	log "installing missing Debian packages: ${missing[*]}"
	if [ -z "$_apt_updated" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
		_apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${missing[@]}" </dev/null
}

# debian_mirror: the first Debian archive URI configured for apt on this
# host (deb822 .sources files or one-line sources.list entries), falling
# back to http://deb.debian.org/debian. Security/updates mirrors and
# non-Debian repositories are skipped.
debian_mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		uri=$(awk '
			function flush() { if (u != "" && s ~ / bookworm /) { print u; found = 1; exit } u = ""; s = "" }
			/^[[:space:]]*#/ { next }
			/^[[:space:]]*$/ { flush(); next }
			tolower($1) == "uris:" { u = $2 }
			tolower($1) == "suites:" { $1 = ""; s = $0 " " }
			END { if (!found) flush() }
		' "$f" | grep -v -e security -e updates | head -n1)
		[ -n "$uri" ] && { echo "${uri%/}"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		uri=$(awk '$1 == "deb" {
				i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i+1) == "bookworm") { print $i; exit }
			}' "$f" | grep -v security | head -n1)
		[ -n "$uri" ] && { echo "${uri%/}"; return; }
	done
	echo http://deb.debian.org/debian
}

# with_lock NAME CMD...: runs CMD holding an exclusive flock on
# $SLIPWAY_TEST_CACHE/NAME.lock (waits for other holders).
with_lock() {
	local name=$1
	shift
	mkdir -p "$SLIPWAY_TEST_CACHE"
	(
		exec 9>"$SLIPWAY_TEST_CACHE/$name.lock"
		if ! flock -n 9; then
			log "waiting for lock $SLIPWAY_TEST_CACHE/$name.lock (another run in progress)"
			flock 9
		fi
		"$@"
	)
}

# wait_docker SECONDS: true once the Docker daemon answers.
wait_docker() {
	local i
	for ((i = 0; i < $1 * 2; i++)); do
		docker info >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

# ensure_docker: makes sure a Docker daemon answers, starting one (systemd,
# init script, else dockerd itself) if not.
ensure_docker() {
	docker info >/dev/null 2>&1 && return 0
	log "docker info failed; starting the Docker daemon"
	local started=
	if [ -d /run/systemd/system ]; then
		if systemctl start docker; then started=1; fi
	elif [ -x /etc/init.d/docker ]; then
		if service docker start; then started=1; fi
	fi
	if [ -z "$started" ] || ! wait_docker 20; then
		if ! pgrep -x dockerd >/dev/null; then
			log "starting dockerd directly (log: /var/log/dockerd.log)"
			setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &
		fi
	fi
	if ! wait_docker 60; then
		tail -n 30 /var/log/dockerd.log >&2 2>/dev/null || true
		die "the Docker daemon did not come up within 60s"
	fi
}

# ensure_go: puts Go on PATH (/usr/local/go/bin); without one, fetches the
# toolchain go.mod asks for, which is published as a Go module
# (golang.org/toolchain) on the module proxy. Run from the repository.
ensure_go() {
	export PATH=/usr/local/go/bin:$PATH
	have go && return 0
	local gover goarch proxy url tmp
	gover=$(awk '$1 == "toolchain" { sub(/^go/, "", $2); print $2; exit }' go.mod)
	[ -n "$gover" ] || gover=$(awk '$1 == "go" { print $2; exit }' go.mod)
	goarch=$(dpkg --print-architecture)
	proxy=${GOPROXY:-https://proxy.golang.org}
	proxy=${proxy%%,*}
	proxy=${proxy%%|*}
	url=$proxy/golang.org/toolchain/@v/v0.0.1-go$gover.linux-$goarch.zip
	log "go not found; installing go$gover from $url into /usr/local/go"
	ensure_pkgs curl busybox-static
	tmp=$(mktemp -d)
	curl -fsSL --retry 3 -o "$tmp/go.zip" "$url"
	(cd "$tmp" && busybox unzip -q go.zip)
	rm -rf /usr/local/go
	mv "$tmp/golang.org/toolchain@v0.0.1-go$gover.linux-$goarch" /usr/local/go
	rm -rf "$tmp"
	# module zips do not keep file modes
	chmod -R a+rX /usr/local/go
	find /usr/local/go/bin /usr/local/go/pkg/tool -type f -exec chmod 0755 {} +
}
