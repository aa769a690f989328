#!/usr/bin/env bash
# Builds the `slipway` container image locally, without any registry, and
# checks that it runs both of its uses:
#
#   an empty root (docker import of a tarball: FROM scratch, owners kept), plus
#   /usr/local/bin/slipway   the static binary (CGO_ENABLED=0)
#   /etc/ssl/certs/ca-certificates.crt   from this host's ca-certificates
#   git, git-http-backend, git-remote-http(s) and the shared libraries they
#   load (ldd), from this host's Debian git package: the server hosts
#   repositories through `git http-backend` and the runner clones with git
#   (its credential helper needs /bin/sh: Debian's dash).
#   Copying the few binaries git needs keeps the image at ~90 MB (most of it the slipway binary) and builds
#   in seconds; a debootstrapped root would be ~10x larger and take minutes.
#   /etc/passwd with the user slipway (uid 10001), who runs it; /data, its
#   home and the server's data dir; /tmp.
#
#   docker run -d -p 8080:8080 -v slipway-data:/data slipway:local
#       `slipway server --addr 0.0.0.0:8080 --data-dir /data` (the default command)
#   docker run -d --hostname runner-1 -v /var/run/docker.sock:/var/run/docker.sock \
#       --group-add "$(stat -c %g /var/run/docker.sock)" \
#       -v /etc/slipway:/data slipway:local runner run --config /data/config.toml
#
# A runner container must not share the host's hostname (no --network host
# without --pid host): it would take the host's live runs for dead ones and
# collect their containers.
#
# The checks: the server answers /healthz, a repository can be created and
# pushed to over git (git http-backend works as the non-root user),
# `runner run` without a configuration exits 2 saying what to do, and a
# server container and a runner container build examples/gitlab (~40 s).
#
# Usage: scripts/image.sh [--no-check]
# Env:   SLIPWAY_IMAGE  the image name (default slipway:local)
set -euo pipefail
exec </dev/null

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

IMAGE=${SLIPWAY_IMAGE:-slipway:local}
CHECK=1
[ "${1:-}" = --no-check ] && CHECK=
# /bin/sh too: the runner gives git a shell credential helper (the job token).
GIT_PROGRAMS=(/usr/bin/git /usr/lib/git-core/git-http-backend /usr/lib/git-core/git-remote-http /bin/dash)
CTX=
CID=
NET=

# remove_templates removes the workspace templates the checked runner made
# of its checkouts (in its /data, see check_build): a template is a cache
# that outlives its run, and these checkouts go with the runner.
remove_templates() {
	local v key data
	for v in $(docker volume ls -q --filter label=slipway.template.data); do
		key=$(docker volume inspect -f '{{index .Labels "slipway.cache.key"}}' "$v" 2>/dev/null) || continue
		data=$(docker volume inspect -f '{{index .Labels "slipway.template.data"}}' "$v" 2>/dev/null) || continue
		case $key in /data/slipway-checkout-*) docker volume rm "$v" "$data" >/dev/null 2>&1 || true ;; esac
	done
}

cleanup() {
	[ -z "$CID" ] || docker rm -f -v "$CID" >/dev/null 2>&1 || true
	[ -z "$NET" ] || docker rm -f "$NET-server" "$NET-runner" >/dev/null 2>&1 || true
	[ -z "$NET" ] || remove_templates
	[ -z "$NET" ] || docker network rm "$NET" >/dev/null 2>&1 || true
	[ -z "$NET" ] || docker volume rm "$NET-server" "$NET-runner" >/dev/null 2>&1 || true
	[ -z "$CTX" ] || rm -rf "$CTX"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# copy_with_libs FILE...: FILE and every shared library it loads, at the
# same paths under $CTX/rootfs.
copy_with_libs() {
	local f
	for f in "$@" $(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u); do
		mkdir -p "$CTX/rootfs$(dirname "$f")"
		cp -L "$f" "$CTX/rootfs$f"
	done
}

make_rootfs() {
	local r=$CTX/rootfs
	mkdir -p "$r"/{etc/ssl/certs,usr/local/bin,tmp,data}
	chmod 1777 "$r/tmp"
	CGO_ENABLED=0 go build -ldflags "-s -w" -o "$r/usr/local/bin/slipway" ./cmd/slipway
	cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
	copy_with_libs "${GIT_PROGRAMS[@]}"
	ln -s git-remote-http "$r/usr/lib/git-core/git-remote-https"
	ln -s dash "$r/bin/sh"
	mkdir -p "$r/usr/share"
	cp -r /usr/share/git-core "$r/usr/share/" # templates for git init
	printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'slipway:x:10001:10001:slipway:/data:/sbin/nologin' >"$r/etc/passwd"
	printf '%s\n' 'root:x:0:' 'slipway:x:10001:' >"$r/etc/group"
}

build() {
	local old
	CTX=$(mktemp -d)
	ensure_pkgs git ca-certificates curl jq
	ensure_go
	make_rootfs
	chown -R 0:0 "$CTX/rootfs"
	chown 10001:10001 "$CTX/rootfs/data"
	# docker import keeps the tarball's owners (COPY would make /data root's)
	# and, like FROM scratch, pulls nothing.
	tar --numeric-owner -C "$CTX/rootfs" -cf "$CTX/rootfs.tar" .
	old=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
	docker import -m "slipway $(git describe --always --dirty 2>/dev/null || echo dev)" \
		--change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'ENV HOME=/data' \
		--change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
		--change 'USER 10001:10001' --change 'WORKDIR /data' --change 'VOLUME /data' --change 'EXPOSE 8080' \
		--change 'ENTRYPOINT ["/usr/local/bin/slipway"]' \
		--change 'CMD ["server", "--addr", "0.0.0.0:8080", "--data-dir", "/data"]' \
		"$CTX/rootfs.tar" "$IMAGE" >/dev/null
	# The previous build, now untagged, unless a container still uses it.
	[ -z "$old" ] || [ "$old" = "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ] ||
		docker image rm "$old" >/dev/null 2>&1 || true
	log "built $IMAGE: $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
}

# check_server: the server answers /healthz as the non-root user, and git
# http-backend takes a push.
check_server() {
	local port admin work i user
	CID=$(docker run -d --label slipway.image-check=1 -p 127.0.0.1::8080 "$IMAGE")
	port=$(docker port "$CID" 8080/tcp | head -n1)
	port=${port##*:}
	for ((i = 0; i < 100; i++)); do
		curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { docker logs "$CID" >&2; die "the server in $IMAGE does not answer /healthz"; }
	user=$(docker top "$CID" -o pid,user | awk 'NR == 2 { print $2 }')
	[ "$user" = 10001 ] || die "the server in $IMAGE runs as $user, want 10001"
	admin=$(docker cp "$CID:/data/admin.token" - | tar -xO)
	curl -fsS -X POST -H "Authorization: Bearer $admin" "http://127.0.0.1:$port/api/repos/check/repo" >/dev/null
	work=$CTX/push
	mkdir -p "$work"
	echo "check: {script: [true]}" >"$work/.gitlab-ci.yml"
	git -C "$work" init --quiet --initial-branch=main
	git -C "$work" add .
	git -C "$work" -c user.name=check -c user.email=check@localhost commit --quiet -m check
	git -C "$work" push --quiet "http://admin:$admin@127.0.0.1:$port/check/repo.git" main ||
		{ docker logs "$CID" >&2; die "git push to the server in $IMAGE failed"; }
	log "check: the server answers /healthz on port $port as uid $user and takes a git push"
	docker rm -f -v "$CID" >/dev/null
	CID=
}

# check_runner: `runner run` without a configuration fails saying why.
check_runner() {
	local out rc=0
	out=$(docker run --rm --label slipway.image-check=1 "$IMAGE" runner run 2>&1) || rc=$?
	[ "$rc" = 2 ] && [[ $out == *"register a runner first"* ]] ||
		die "runner run in $IMAGE: exit $rc, want 2 and 'register a runner first': $out"
	log "check: runner run without a configuration exits 2: $out"
}

# check_build: a server container and a runner container (the Docker
# socket, its group) run the example pipeline pushed to the server.
check_build() {
	local c=(docker run -d --label slipway.image-check=1 --network "${NET:=slipway-image-check-$$}")
	local url=http://$NET-server:8080 admin glrt i port status=
	docker network create --label slipway.image-check=1 "$NET" >/dev/null
	"${c[@]}" --name "$NET-server" -v "$NET-server:/data" -p 127.0.0.1::8080 "$IMAGE" \
		server --addr 0.0.0.0:8080 --data-dir /data --external-url "$url" >/dev/null
	port=$(docker port "$NET-server" 8080/tcp | head -n1)
	port=${port##*:}
	for ((i = 0; i < 100; i++)); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
	admin=$(docker cp "$NET-server:/data/admin.token" - | tar -xO)
	glrt=$(docker exec "$NET-server" slipway runner token create --server http://127.0.0.1:8080 --token "$admin" --run-untagged)
	docker run --rm --network "$NET" -v "$NET-runner:/data" "$IMAGE" \
		runner register --url "$url" --token "$glrt" --executor docker --config /data/config.toml >/dev/null
	"${c[@]}" --name "$NET-runner" --hostname "$NET-runner" -v "$NET-runner:/data" -e TMPDIR=/data \
		-v /var/run/docker.sock:/var/run/docker.sock --group-add "$(stat -c %g /var/run/docker.sock)" \
		"$IMAGE" runner run --config /data/config.toml >/dev/null
	curl -fsS -X POST -H "Authorization: Bearer $admin" "http://127.0.0.1:$port/api/repos/examples/gitlab" >/dev/null
	cp -r examples/gitlab/. "$CTX/push/"
	git -C "$CTX/push" add .
	git -C "$CTX/push" -c user.name=check -c user.email=check@localhost commit --quiet -m example
	git -C "$CTX/push" push --quiet "http://admin:$admin@127.0.0.1:$port/examples/gitlab.git" main
	for ((i = 0; i < 600; i++)); do
		status=$(curl -fs -H "Authorization: Bearer $admin" "http://127.0.0.1:$port/api/repos/examples/gitlab/builds/1" | jq -r .status) || true
		case $status in success | failure | error | killed) break ;; esac
		sleep 0.2
	done
	[ "$status" = success ] || { docker logs "$NET-runner" >&2; die "the example built in containers of $IMAGE: '$status', want success"; }
	log "check: a server and a runner container of $IMAGE ran the example pipeline: $status"
}

build
if [ -n "$CHECK" ]; then
	check_server
	check_runner
	check_build
fi
