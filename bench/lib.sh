# shellcheck shell=bash disable=SC2034 # globals read by bench/run.sh
# Helpers for bench/run.sh: timing, statistics, the results table.

log() { printf '[%s] bench: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}
phase() { printf '\n=== [%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# check OK MESSAGE: records a failed check (the run goes on, exits 1).
check() {
	if [ "$1" = 1 ]; then return 0; fi
	log "CHECK FAILED: $2"
	FAILED=1 # read by bench/run.sh
	return 1
}

# keep VALUE FILE: appends VALUE to FILE, unless FILE is "" (a warm-up).
keep() { [ -z "$2" ] || printf '%s\n' "$1" >>"$2"; }

now() { printf '%s\n' "$EPOCHREALTIME"; }

# since T0: seconds elapsed since T0 (an $EPOCHREALTIME), 4 decimals.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f\n", b - a }'; }

# median: the median of the numbers on stdin.
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# maximum: the largest of the numbers on stdin.
maximum() { sort -g | tail -n 1; }

# div A B: A / B with 2 decimals.
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.2f\n", a / b }'; }
# fmt_s SECONDS: "1.234 s"
fmt_s() { awk -v a="$1" 'BEGIN { printf "%.3f s\n", a }'; }
fmt_mb() { awk -v a="$1" 'BEGIN { printf "%.1f MB\n", a / 1024 }'; } # from KiB
# le A B: true if A <= B (floats).
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# paired_median A_FILE B_FILE: the median of the per-repetition ratios
# a[i]/b[i] (load drifts between repetitions; pairs cancel more of it).
paired_median() {
	paste "$1" "$2" | awk '$2 > 0 { print $1 / $2 }' | median | awk '{ printf "%.2f\n", $1 }'
}

# row FIGURE TARGET RATIO SLIPWAY BASELINE N NOTE
row() {
	local IFS=$'\x1f'
	ROWS+=("$*")
	log "figure: $1 — ratio $3 (target $2): slipway $4, baseline $5, N=$6${7:+; $7}"
}

# verdict RATIO LIMIT: "meets" or "misses" (information, never a failure).
verdict() { if le "$1" "$2"; then echo "meets ≤ $2"; else echo "MISSES ≤ $2"; fi; }

print_table() {
	printf '| figure | ratio | target | slipway (median) | baseline (median) | N | notes |\n'
	printf '| --- | --- | --- | --- | --- | --- | --- |\n'
	local r f t ra s b n note
	for r in "${ROWS[@]}"; do
		r=${r//|/\\|} # a | in a cell would end it
		IFS=$'\x1f' read -r f t ra s b n note <<<"$r"
		printf '| %s | **%s** | %s | %s | %s | %s | %s |\n' "$f" "$ra" "$t" "$s" "$b" "$n" "$note"
	done
}

# stamp: prefixes every line of stdin with the time it arrived.
stamp() {
	local line
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s %s\n' "$EPOCHREALTIME" "$line"
	done
}

# stamp_of FILE PATTERN: the time of the first stamped line matching the
# (extended) regular expression PATTERN, matched against the line's text.
stamp_of() {
	awk -v pat="$2" '{ t = $1; sub(/^[^ ]* /, ""); if ($0 ~ pat) { print t; exit } }' "$1"
}
# last_stamp_of FILE PATTERN: the time of the last such line.
last_stamp_of() {
	awk -v pat="$2" '{ t = $1; sub(/^[^ ]* /, ""); if ($0 ~ pat) last = t } END { print last }' "$1"
}

# remove_baseline_objects: what this run's baselines created.
remove_baseline_objects() {
	local ids
	ids=$(docker ps -aq --filter "label=slipway.bench=$BENCH_ID" 2>/dev/null || true)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
	ids=$(docker network ls -q --filter "label=slipway.bench=$BENCH_ID" 2>/dev/null || true)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || docker network rm $ids >/dev/null 2>&1 || true
}

machine() {
	local mem dv
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	dv=$(docker version --format 'Docker Engine {{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo '?')
	printf '%s, %s CPUs (nproc), %s RAM, %s, storage driver %s, kernel %s' \
		"$(. /etc/os-release && echo "$PRETTY_NAME")" "$(nproc)" "$mem" "$dv" \
		"$(docker info --format '{{.Driver}}' 2>/dev/null)" "$(uname -r)"
}

write_results() {
	cat <<-EOF
		# slipway benchmark results

		Written by \`bench/run.sh\`; see bench/README.md for what each figure measures.

		- date: $START_DATE
		- command: \`$COMMAND\`
		- slipway: $SLIPWAY_VERSION
		- machine: $(machine)
		- load average at start (1, 5, 15 min): $START_LOAD; at end: $(cut -d' ' -f1-3 /proc/loadavg)
		- go: $(go version 2>/dev/null | cut -d' ' -f3-)

		Every ratio is slipway's median over the baseline's median, both measured in the
		same run with the repetitions interleaved (N is the number of repetitions of
		each). "paired" is the median of the per-repetition ratios. The machine was shared
		with other builds and tests while this ran: absolute times are noisy, ratios much less.

	EOF
	printf '%s\n' "$1"
	printf '\n'
	local d
	for d in "${DETAILS[@]}"; do printf '%s\n' "$d"; done
}
