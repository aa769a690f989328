#!/usr/bin/env bash
# One command from a fresh Debian machine to the example pipeline running:
#   1. installs the Debian packages it needs (docker.io, git, ...; only
#      those missing), starts the Docker daemon if none answers, puts Go on
#      PATH (fetched from the Go module proxy if absent)
#   2. scripts/testimages.sh: builds busybox:1.35, debian:bookworm,
#      redis:7.0 and postgres:15 locally (no registry needed)
#   3. builds ./slipway (static, CGO_ENABLED=0)
#   4. slipway exec in examples/gitlab, then in examples/drone: a job with
#      Redis and PostgreSQL services, as GitLab and as Drone
# Each step is printed before it runs. Needs root (apt-get, debootstrap,
# docker): run it as root or with sudo; it re-runs itself under sudo if
# sudo is there.
#
# Usage: scripts/try.sh
set -euo pipefail
exec </dev/null

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

if [ "$(id -u)" != 0 ]; then
	have sudo || die "run this as root (it installs Debian packages and builds images): su -c $0"
	log "not root: running again under sudo"
	exec sudo --preserve-env=GOPROXY,GOFLAGS "$0" "$@"
fi

T0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive CGO_ENABLED=0

# run CMD...: prints CMD, then runs it.
run() {
	printf '+ %s\n' "$*" >&2
	"$@"
}

phase "Debian packages, the Docker daemon, Go"
ensure_pkgs docker.io git ca-certificates busybox-static debootstrap debian-archive-keyring
ensure_docker
ensure_go
log "$(docker version --format 'docker {{.Server.Version}}'), $(go version)"

phase "test images (scripts/testimages.sh)"
run scripts/testimages.sh

phase "the slipway binary"
run go build -o slipway ./cmd/slipway

for dialect in gitlab drone; do
	phase "the example as $dialect (examples/$dialect)"
	(cd "examples/$dialect" && run ../../slipway exec)
done

phase "done in $(elapsed "$T0"): both examples passed"
