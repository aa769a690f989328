#!/usr/bin/env bash
# slipway's benchmarks: each figure is a ratio of slipway against
# a plain-docker baseline measured in the same run, interleaved, with the
# medians behind it and the number of repetitions.
#
# Usage: bench/run.sh [--short] [--write] [--reps N] [--only LIST] [--slipway PATH]
#                     [--compare PATH [--compare-note TEXT]] [--keep]
#   --short        CI mode: proves every benchmark still works (~1-2 min):
#                  fewer repetitions, smaller sizes, no RESULTS.md
#   --write        write bench/RESULTS.md (the default for a full run)
#   --no-write     do not write bench/RESULTS.md
#   --reps N       repetitions of the quick benchmarks (1, 6; default 15, short 2)
#   --only LIST    comma-separated benchmarks to run: 1,2,3,4,5,6,7,server,profile
#   --slipway PATH use this slipway binary instead of building one
#   --compare PATH also run this slipway binary (a candidate change) in
#                  benchmarks 1-3, 6 and 7, interleaved with the other two, and
#                  print its ratios too (to the baseline, and to slipway)
#   --compare-note TEXT  what the candidate is, for RESULTS.md
#   --keep         keep the work directory (pipelines, captured output)
#
# Needs: a Docker Engine, the images of scripts/testimages.sh (busybox:1.35),
# Go (to build slipway), GNU time (/usr/bin/time), and for benchmark 5 the
# registry of scripts/registry.sh (started here if it is not running).
# Never pulls from a public registry. Everything the baselines create is
# labelled slipway.run=bench-baseline and removed, however the run ends.
#
# Exit status: 0 when every benchmark ran and every check passed (output
# complete and in order, jobs passed, pulled once); 1 otherwise. Timings
# never fail the run: benchmarks are not tests.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh disable=SC2034
. "$here/lib.sh"

ORIG_ARGS=("$@")
SHORT=
WRITE=auto
REPS=
ONLY=1,2,3,4,5,6,7,server,profile
SLIPWAY=
COMPARE=
COMPARE_NOTE=
KEEP=
while [ $# -gt 0 ]; do
	case $1 in
	--short) SHORT=1 ;;
	--write) WRITE=1 ;;
	--no-write) WRITE= ;;
	--reps) REPS=$2; shift ;;
	--only) ONLY=$2; shift ;;
	--slipway) SLIPWAY=$(realpath "$2"); shift ;;
	--compare) COMPARE=$(realpath "$2"); shift ;;
	--compare-note) COMPARE_NOTE=$2; shift ;;
	--keep) KEEP=1 ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done
[ "$WRITE" = auto ] && { [ -n "$SHORT" ] && WRITE= || WRITE=1; }

if [ -n "$SHORT" ]; then
	: "${REPS:=2}"
	BIG=$((5 << 20))      # benchmark 2: bytes printed
	BIG_REPS=1
	SVC_REPS=1
	MANY_JOBS=20          # benchmark 4
	MANY_CONC=10
	MANY_REPS=1
	PULL_MB=1             # benchmark 5: size of each image's own layer
	PULL_REPS=1
else
	: "${REPS:=15}"
	BIG=$((50 << 20))
	BIG_REPS=7
	SVC_REPS=9
	MANY_JOBS=200
	MANY_CONC=20
	MANY_REPS=2
	PULL_MB=24
	PULL_REPS=5
fi

want() { [[ ",$ONLY," == *",$1,"* ]]; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench.XXXXXX")
BENCH_ID=$$
BASE_LABELS=(--label slipway.run=bench-baseline --label "slipway.bench=$BENCH_ID")
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
START_DATE=$(date -u '+%Y-%m-%d %H:%M:%SZ')
COMMAND=bench/run.sh
for a in "${ORIG_ARGS[@]}"; do
	if [[ $a =~ ^[][A-Za-z0-9_./,=:@+-]+$ ]]; then COMMAND+=" $a"; else COMMAND+=" '${a//\'/\'\\\'\'}'"; fi
done
FAILED=0
ROWS=()     # table rows: figure|target|ratio|slipway|baseline|N|note
DETAILS=()  # extra lines for RESULTS.md

# remove_templates removes the workspace templates exec made of the
# benchmarks' checkouts: a template is a cache that outlives its run, and
# these checkouts go with the work directory.
remove_templates() {
	local v key
	for v in $(docker volume ls -q --filter label=slipway.template.data); do
		key=$(docker volume inspect -f '{{index .Labels "slipway.cache.key"}}' "$v" 2>/dev/null) || continue
		case $key in "$WORK"/*) "$SLIPWAY" cache rm "$key" >/dev/null 2>&1 || true ;; esac
	done
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[ -n "${BG_PID:-}" ] && kill "$BG_PID" 2>/dev/null && wait "$BG_PID" 2>/dev/null
	remove_baseline_objects
	if [ -n "$SLIPWAY" ] && [ -x "$SLIPWAY" ]; then
		"$SLIPWAY" gc >/dev/null 2>&1 || true
		remove_templates
	fi
	[ -n "${PULL_CFG:-}" ] && rm -rf "$PULL_CFG"
	[ -z "${STOP_REGISTRY:-}" ] || "$repo/scripts/registry.sh" stop >/dev/null 2>&1 || true
	if [ -n "$KEEP" ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------
phase "set-up"
docker info >/dev/null 2>&1 || die "the Docker Engine does not answer (see .ci/run)"
docker image inspect busybox:1.35 >/dev/null 2>&1 || die "busybox:1.35 is missing: run scripts/testimages.sh"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing: apt-get install time"
if [ -z "$SLIPWAY" ]; then
	SLIPWAY=$WORK/slipway
	log "building slipway (CGO_ENABLED=0 go build ./cmd/slipway)"
	(cd "$repo" && CGO_ENABLED=0 go build -o "$SLIPWAY" ./cmd/slipway) || die "slipway does not build"
fi
SLIPWAY_VERSION="built from $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
[ "$(git -C "$repo" status --porcelain 2>/dev/null | wc -l)" = 0 ] || SLIPWAY_VERSION+=" + uncommitted changes"
log "slipway: $SLIPWAY; work directory $WORK; load average $START_LOAD"
"$SLIPWAY" gc >/dev/null 2>&1 || true

# shellcheck source=bench/figures.sh
. "$here/figures.sh"
# shellcheck source=bench/firstline_stages.sh
. "$here/firstline_stages.sh"

[ -z "$COMPARE" ] || DETAILS+=("The rows marked \"candidate\" ran $COMPARE${COMPARE_NOTE:+: $COMPARE_NOTE}" "")
want 1 && bench_one_step
want 2 && bench_big_output
want 3 && bench_services
want 4 && bench_many_jobs
want 5 && bench_pulls
want 6 && bench_first_line
want 7 && bench_stages
# shellcheck source=bench/serverfigures.sh
. "$here/serverfigures.sh"
want server && bench_server
want profile && bench_profile

# ------------------------------------------------------------------------
phase "results"
table=$(print_table)
printf '%s\n' "$table"
for d in "${DETAILS[@]}"; do printf '%s\n' "$d"; done | grep -v '^```' || true
if [ -n "$WRITE" ]; then
	write_results "$table" >"$here/RESULTS.md"
	log "wrote $here/RESULTS.md"
fi
left=$(docker ps -aq --filter "label=slipway.bench=$BENCH_ID" | wc -l)
[ "$left" = 0 ] || { log "ERROR: $left baseline containers left"; FAILED=1; }
if [ "$FAILED" != 0 ]; then
	log "some checks FAILED (see above)"
	exit 1
fi
log "all benchmarks ran; all checks passed"
