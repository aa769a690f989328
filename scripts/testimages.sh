#!/usr/bin/env bash
# Builds the local Docker images slipway's tests use, without any
# container registry:
#
#   busybox:1.35     FROM scratch + Debian's static busybox, an applet
#                    symlink for every command in /bin, CMD ["sh"]; no bash.
#   debian:bookworm  debootstrap --variant=minbase bookworm root + bash,
#                    redis, postgresql-15 (+client), ca-certificates,
#                    netcat-openbsd, procps; CMD ["bash"].
#   redis:7.0        same root; CMD redis-server on 0.0.0.0:6379.
#   postgres:15      same root; ENTRYPOINT docker-entrypoint.sh, CMD postgres
#                    (testdata/images/postgres/docker-entrypoint.sh).
#
# The three Debian images are `docker import`s of ONE cached tarball, so
# they share a single layer. Images that already exist with the current
# recipe (label slipway.testimage.key) are reused; the root tarball is
# cached in $SLIPWAY_TEST_CACHE (default /var/cache/slipway-test) so a
# machine that lost its images only needs `docker import`.
#
# Usage: scripts/testimages.sh [--force] [--rebuild-root]
#   --force         re-create the images even if they are current
#   --rebuild-root  also re-run debootstrap (ignore the cached tarball)
# Env: SLIPWAY_TEST_CACHE, SLIPWAY_TEST_MIRROR (default: this host's apt
#      Debian mirror).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

FORCE=
REBUILD_ROOT=
for arg in "$@"; do
	case $arg in
	--force) FORCE=1 ;;
	--rebuild-root) FORCE=1 REBUILD_ROOT=1 ;;
	-h | --help)
		sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	*) die "unknown argument: $arg (try --help)" ;;
	esac
done

SUITE=bookworm
PACKAGES=(bash redis-server redis-tools postgresql-15 postgresql-client-15
	ca-certificates netcat-openbsd procps)
STD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PG_ENTRYPOINT_SRC=$repo/testdata/images/postgres/docker-entrypoint.sh
LABEL_KEY=slipway.testimage.key

sha() { sha256sum | cut -c1-16; }

# ---------------------------------------------------------------- helpers

# image_key IMAGE: the recipe key recorded on IMAGE, or "" if absent.
image_key() {
	docker image inspect -f "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$1" 2>/dev/null || true
}

# image_current IMAGE KEY
image_current() {
	[ -z "$FORCE" ] && [ "$(image_key "$1")" = "$2" ]
}

# drop_old_image OLD_ID NAME: remove the image NAME pointed at before it
# was re-tagged, if nothing else uses it (best effort).
drop_old_image() {
	local old=$1 new
	[ -n "$old" ] || return 0
	new=$(docker image inspect -f '{{.Id}}' "$2" 2>/dev/null || true)
	if [ "$old" != "$new" ]; then
		docker image rm "$old" >/dev/null 2>&1 || true
	fi
}

# ---------------------------------------------------------------- busybox

build_busybox() {
	local key=$1 ctx a old out
	ctx=$(mktemp -d)
	TMPDIRS+=("$ctx")
	mkdir -p "$ctx/rootfs"/{bin,etc,root,tmp,usr/bin,var/tmp}
	chmod 1777 "$ctx/rootfs/tmp" "$ctx/rootfs/var/tmp"
	chmod 0700 "$ctx/rootfs/root"
	cp /bin/busybox "$ctx/rootfs/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$ctx/rootfs/bin/$a"
	done
	ln -s /bin/env "$ctx/rootfs/usr/bin/env"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$ctx/rootfs/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$ctx/rootfs/etc/group"
	cat >"$ctx/Dockerfile" <<-EOF
		FROM scratch
		COPY rootfs/ /
		ENV PATH=$STD_PATH
		LABEL $LABEL_KEY=$key
		CMD ["sh"]
	EOF
	old=$(docker image inspect -f '{{.Id}}' busybox:1.35 2>/dev/null || true)
	# The legacy builder needs no buildx plugin; FROM scratch is offline.
	out=$(DOCKER_BUILDKIT=0 docker build -q -t busybox:1.35 "$ctx" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "docker build of busybox:1.35 failed"
	}
	drop_old_image "$old" busybox:1.35
}

ensure_busybox() {
	local key
	ensure_pkgs busybox-static
	# Debian's busybox-static ships the static binary as /bin/busybox.
	key=$({
		sha256sum /bin/busybox
		declare -f build_busybox
		echo "$STD_PATH"
	} | sha)
	if image_current busybox:1.35 "$key"; then
		log "busybox:1.35 is current (key $key), reusing it"
		return
	fi
	log "building busybox:1.35 (FROM scratch + $(/bin/busybox | head -n1 | cut -d' ' -f1-2), $(/bin/busybox --list | wc -l) applets)"
	build_busybox "$key"
	did+=("built busybox:1.35")
}

# ------------------------------------------------------------ Debian root

# build_root OUT.tar: debootstrap + packages, cleaned, as a tarball.
build_root() {
	local out=$1 work root arch
	arch=$(dpkg --print-architecture)
	work=$(mktemp -d "$SLIPWAY_TEST_CACHE/build.XXXXXX")
	root=$work/root
	BUILD_DIRS+=("$work")
	log "debootstrap --variant=minbase $SUITE from $MIRROR ($arch)"
	debootstrap --variant=minbase --arch="$arch" "$SUITE" "$root" "$MIRROR" \
		>"$work/debootstrap.log" 2>&1 </dev/null || {
		tail -n 30 "$work/debootstrap.log" >&2
		die "debootstrap failed (log above)"
	}

	# No daemons started by maintainer scripts, no default postgres
	# cluster (the entrypoint runs initdb), no docs/man pages/translations.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	mkdir -p "$root/etc/postgresql-common"
	echo 'create_main_cluster = false' >"$root/etc/postgresql-common/createcluster.conf"
	cat >"$root/etc/dpkg/dpkg.cfg.d/01-slipway-nodoc" <<-'EOF'
		path-exclude=/usr/share/doc/*
		path-include=/usr/share/doc/*/copyright
		path-exclude=/usr/share/man/*
		path-exclude=/usr/share/info/*
		path-exclude=/usr/share/locale/*
		path-include=/usr/share/locale/locale.alias
		path-exclude=/usr/share/lintian/*
	EOF
	cat >"$root/etc/apt/apt.conf.d/01-slipway" <<-'EOF'
		APT::Install-Recommends "false";
		APT::Install-Suggests "false";
		Acquire::Languages "none";
		Dpkg::Options { "--force-confdef"; "--force-confold"; };
	EOF
	echo "deb $MIRROR $SUITE main" >"$root/etc/apt/sources.list"

	mount -t proc proc "$root/proc"
	local ch=(chroot "$root" /usr/bin/env -i PATH="$STD_PATH" HOME=/root
		DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8)
	log "installing into the root: ${PACKAGES[*]}"
	{
		"${ch[@]}" apt-get update -q &&
			"${ch[@]}" apt-get install -y -q "${PACKAGES[@]}" &&
			"${ch[@]}" apt-get clean
	} >"$work/apt.log" 2>&1 </dev/null || {
		tail -n 40 "$work/apt.log" >&2
		die "apt-get in the Debian root failed (log above)"
	}
	umount "$root/proc"

	# Shrink and scrub host-specific bits.
	rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
		"$root"/var/cache/apt/archives/*.deb "$root"/var/cache/debconf/*-old \
		"$root"/var/lib/dpkg/*-old "$root"/var/cache/ldconfig/aux-cache \
		"$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian \
		"$root"/tmp/* "$root"/var/tmp/* "$root"/root/.bash_history
	find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
	find "$root/var/log" -type f -exec truncate -s 0 {} +
	# postgresql-15 depends on LLVM only for its optional JIT provider
	# (llvmjit.so); without it the server just runs with JIT unavailable.
	# Saves ~160 MB.
	rm -rf "$root"/usr/lib/postgresql/15/lib/llvmjit* "$root"/usr/lib/postgresql/15/lib/bitcode \
		"$root"/usr/lib/*-linux-gnu/libLLVM-*.so* "$root"/usr/lib/*-linux-gnu/libz3.so*
	: >"$root/etc/resolv.conf"
	echo localhost >"$root/etc/hostname"
	: >"$root/etc/machine-id"
	install -d -o "$(chroot "$root" id -u postgres)" -g "$(chroot "$root" id -g postgres)" \
		-m 0700 "$root/var/lib/postgresql/data"

	log "root size: $(du -sh --one-file-system "$root" | cut -f1); writing $out"
	tar --numeric-owner --one-file-system -C "$root" \
		--exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' --exclude='./run/*' \
		-cf "$out.tmp" .
	mv "$out.tmp" "$out"
	cleanup_build "$work"
}

cleanup_build() {
	local work=$1 m
	# Never rm -rf into anything still mounted.
	for m in proc sys dev/pts dev; do
		if mountpoint -q "$work/root/$m" 2>/dev/null; then
			umount -l "$work/root/$m" || true
		fi
	done
	if grep -q " $work/" /proc/mounts; then
		log "WARNING: something is still mounted under $work; not removing it"
		return
	fi
	rm -rf --one-file-system "$work"
}

# prepare_tarball: sets IMAGE_TAR to a temporary root+overlay tarball
# (deleted on exit) that gets imported: a copy of the cached root tarball
# (built with debootstrap if missing) with testdata/images files appended.
prepare_tarball() {
	local root_tar overlay ow
	root_tar=$SLIPWAY_TEST_CACHE/debian-$SUITE-root-$ROOT_KEY.tar
	if [ -n "$REBUILD_ROOT" ] || [ ! -s "$root_tar" ]; then
		local t0
		t0=$(date +%s)
		ensure_pkgs debootstrap debian-archive-keyring
		build_root "$root_tar"
		log "Debian root built in $(elapsed "$t0"): $(du -h "$root_tar" | cut -f1)"
		did+=("debootstrapped the Debian root ($(elapsed "$t0"))")
		find "$SLIPWAY_TEST_CACHE" -maxdepth 1 -name "debian-$SUITE-root-*.tar" \
			-not -name "$(basename "$root_tar")" -delete
	else
		log "using cached $root_tar"
	fi
	# The overlay: files from testdata/images added on top of the root.
	overlay=$(mktemp -d)
	TMPDIRS+=("$overlay")
	ow=$overlay/usr/local/bin
	install -d "$ow"
	install -m 0755 "$PG_ENTRYPOINT_SRC" "$ow/docker-entrypoint.sh"
	IMAGE_TAR=$SLIPWAY_TEST_CACHE/debian-$SUITE-image.tar.tmp
	cp "$root_tar" "$IMAGE_TAR"
	tar --numeric-owner --owner=0 --group=0 -C "$overlay" -rf "$IMAGE_TAR" ./usr/local/bin/docker-entrypoint.sh
	rm -rf "$overlay"
	log "prepared $IMAGE_TAR (cached root + testdata/images overlay)"
}

# import_image NAME CHANGE...: docker import of $IMAGE_TAR as NAME.
import_image() {
	local name=$1 key c old args=()
	shift
	key=$({
		echo "$IMAGE_KEY"
		printf '%s\n' "$@"
	} | sha)
	if image_current "$name" "$key"; then
		log "$name is current (key $key), reusing it"
		return
	fi
	[ -n "${IMAGE_TAR:-}" ] || prepare_tarball
	for c in "$@" "LABEL $LABEL_KEY=$key"; do
		args+=(--change "$c")
	done
	old=$(docker image inspect -f '{{.Id}}' "$name" 2>/dev/null || true)
	docker import -m "slipway test image $name" "${args[@]}" "$IMAGE_TAR" "$name" >/dev/null
	drop_old_image "$old" "$name"
	log "imported $name"
	did+=("imported $name")
}

ensure_debian_images() {
	MIRROR=${SLIPWAY_TEST_MIRROR:-$(debian_mirror)}
	ROOT_KEY=$({
		echo "$SUITE $MIRROR $(dpkg --print-architecture)"
		echo "${PACKAGES[*]}"
		declare -f build_root cleanup_build
	} | sha)
	IMAGE_KEY=$({
		echo "$ROOT_KEY"
		sha256sum <"$PG_ENTRYPOINT_SRC"
		declare -f prepare_tarball
	} | sha)
	IMAGE_TAR=

	import_image debian:bookworm \
		"ENV PATH=$STD_PATH" 'ENV LANG=C.UTF-8' \
		'CMD ["bash"]'
	import_image redis:7.0 \
		"ENV PATH=$STD_PATH" 'ENV LANG=C.UTF-8' \
		'WORKDIR /data' 'EXPOSE 6379/tcp' \
		'CMD ["redis-server", "--protected-mode", "no", "--bind", "0.0.0.0"]'
	import_image postgres:15 \
		"ENV PATH=/usr/lib/postgresql/15/bin:$STD_PATH" 'ENV LANG=C.UTF-8' \
		'ENV PGDATA=/var/lib/postgresql/data' 'EXPOSE 5432/tcp' \
		'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
		'CMD ["postgres"]'
}

# ------------------------------------------------------------------- main

on_exit() {
	local d
	for d in "${BUILD_DIRS[@]}"; do
		[ -d "$d" ] && cleanup_build "$d"
	done
	for d in "${TMPDIRS[@]}"; do rm -rf "$d"; done
	rm -f "$SLIPWAY_TEST_CACHE"/*.tar.tmp
}

main() {
	local t0 layers
	t0=$(date +%s)
	did=()
	TMPDIRS=()
	BUILD_DIRS=()
	trap on_exit EXIT
	trap 'exit 130' INT TERM HUP
	need_root
	have docker || die "docker CLI not found (install docker.io)"
	docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (docker info failed)"

	ensure_busybox
	ensure_debian_images

	layers=$(for i in debian:bookworm redis:7.0 postgres:15; do
		docker image inspect -f '{{join .RootFS.Layers " "}}' "$i"
	done | sort -u | wc -l)
	[ "$layers" = 1 ] || log "WARNING: the Debian images do not share one layer"

	if [ ${#did[@]} -eq 0 ]; then
		log "all test images present and current; nothing to do"
	else
		local d
		for d in "${did[@]}"; do log "did: $d"; done
	fi
	docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.ID}}\t{{.Size}}' |
		grep -E '^(busybox:1\.35|debian:bookworm|redis:7\.0|postgres:15)\s' | sed 's/^/    /' >&2 || true
	log "done in $(elapsed "$t0")"
}

with_lock testimages main
