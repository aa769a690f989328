#!/usr/bin/env bash
# Server memory with 10,000 stored builds: the resident set (VmRSS) of the
# slipway server binary on SQLite holding a repository with 10,000
# finished builds (two jobs each, with their logs; stored by
# server/store/buildfill as a runner would leave them), against the same
# server holding the same repository with no build, measured in the same
# run, the repetitions interleaved (baseline, loaded, loaded, baseline...).
#
# Each server is measured right after it answers /healthz ("startup"),
# and again after every page of the repository's builds was listed through
# the API (GET .../builds?page=P&per_page=100) and the web repository page
# was served ("after listing"); VmHWM is the peak.
#
# Usage: bench/server-memory.sh [--short] [--reps N] [--builds N] [--slipway PATH]
#   --short        CI mode: 1,000 builds, one repetition
#   --reps N       repetitions (default 3)
#   --builds N     stored builds (default 10000)
#   --slipway PATH use this slipway binary instead of building one
#
# Needs Go and git; no Docker. Exit status 1 when a check fails (a server
# that does not start, a page that does not answer 200, a wrong number of
# builds listed), never because of a figure.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

REPS=3
BUILDS=10000
SLIPWAY=
while [ $# -gt 0 ]; do
	case $1 in
	--short) REPS=1 BUILDS=1000 ;;
	--reps) REPS=$2; shift ;;
	--builds) BUILDS=$2; shift ;;
	--slipway) SLIPWAY=$(realpath "$2"); shift ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
	shift
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/slipway-bench-mem.XXXXXX")
SERVER_PID=
cleanup() {
	[ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
FAILED=

if [ -z "$SLIPWAY" ]; then
	SLIPWAY=$WORK/slipway
	log "building slipway and buildfill"
	(cd "$repo" && CGO_ENABLED=0 go build -o "$SLIPWAY" ./cmd/slipway) || die "slipway does not build"
fi
(cd "$repo" && CGO_ENABLED=0 go build -o "$WORK/buildfill" ./server/store/buildfill) || die "buildfill does not build"

# free_port: a loopback port nothing listens on now.
free_port() {
	local p
	for ((p = 18900 + RANDOM % 1000; ; p++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

# serve DATA: starts the server on DATA, sets SERVER_PID and URL, waits for /healthz.
serve() {
	local port i
	port=$(free_port)
	URL=http://127.0.0.1:$port
	"$SLIPWAY" server --data-dir "$1" --addr "127.0.0.1:$port" 2>>"$1.log" &
	SERVER_PID=$!
	for ((i = 0; i < 200; i++)); do
		curl -fs "$URL/healthz" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	die "the server on $1 did not answer /healthz (see $1.log)"
}

stop() {
	kill "$SERVER_PID"
	wait "$SERVER_PID" || true
	SERVER_PID=
}

# kib FIELD: the server's VmRSS or VmHWM in KiB.
kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SERVER_PID/status"; }

# prepare DATA N: a data directory whose repository octo/big has N builds.
prepare() {
	serve "$1"
	curl -fs -X POST -H "Authorization: Bearer $(cat "$1/admin.token")" "$URL/api/repos/octo/big" >/dev/null ||
		die "creating octo/big failed"
	stop
	[ "$2" = 0 ] || "$WORK/buildfill" -data "$1" -repo octo/big -builds "$2"
}

# measure DATA WANT KIND: one repetition; appends to $WORK/KIND.{start,after,peak}.
measure() {
	local data=$1 want=$2 kind=$3 token p n body listed=0 code
	serve "$data"
	token=$(cat "$data/admin.token")
	sleep 0.5 # whatever the server does once started is done
	kib VmRSS >>"$WORK/$kind.start"
	for ((p = 1; ; p++)); do
		body=$(curl -fs -H "Authorization: Bearer $token" "$URL/api/repos/octo/big/builds?page=$p&per_page=100") ||
			{ check 0 "$kind: builds page $p did not answer" || true; break; }
		n=$({ grep -o '"repo_id":' <<<"$body" || true; } | wc -l) # one per build
		listed=$((listed + n))
		[ "$n" -gt 0 ] || break
	done
	check "$([ "$listed" = "$want" ] && echo 1)" "$kind: listed $listed builds, want $want" || true
	# signed in as a browser is: the sign-in form, then its cookie
	curl -s -o /dev/null -c "$WORK/cookies" --data-urlencode "token=$token" "$URL/-/login"
	for p in 1 2 3; do
		code=$(curl -s -o /dev/null -w '%{http_code}' -b "$WORK/cookies" "$URL/octo/big?page=$p")
		check "$([ "$code" = 200 ] && echo 1)" "$kind: the web page /octo/big?page=$p answered $code" || true
	done
	kib VmRSS >>"$WORK/$kind.after"
	kib VmHWM >>"$WORK/$kind.peak"
	stop
}

phase "preparing: an empty repository, and one with $BUILDS builds"
prepare "$WORK/empty" 0
prepare "$WORK/full" "$BUILDS"
du_db=$(du -k "$WORK/full/slipway.db" | cut -f1)

phase "measuring, $REPS repetitions interleaved"
for ((r = 0; r < REPS; r++)); do
	if ((r % 2)); then
		measure "$WORK/full" "$BUILDS" full
		measure "$WORK/empty" 0 empty
	else
		measure "$WORK/empty" 0 empty
		measure "$WORK/full" "$BUILDS" full
	fi
done

ROWS=()
for m in start after peak; do
	f=$(median <"$WORK/full.$m")
	e=$(median <"$WORK/empty.$m")
	case $m in
	start) what="RSS after startup" ;;
	after) what="RSS after listing every builds page and the web page" ;;
	peak) what="peak RSS (VmHWM)" ;;
	esac
	row "server memory, $BUILDS stored builds: $what" "—" "$(div "$f" "$e")" "$(fmt_mb "$f")" "$(fmt_mb "$e")" "$REPS" \
		"paired $(paired_median "$WORK/full.$m" "$WORK/empty.$m"); database $(fmt_mb "$du_db")"
done
printf '\n'
print_table
[ -z "$FAILED" ] || exit 1
