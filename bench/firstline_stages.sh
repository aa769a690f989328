# shellcheck shell=bash disable=SC2154,SC2034 # globals shared with bench/run.sh
# Benchmarks 6 and 7 of bench/run.sh (bench/README.md): the time to a
# job's first output line, and a pipeline of 10 jobs in 3 stages.

# first_line T0 OUT: copies stdin to OUT and prints the seconds from T0
# (an $EPOCHREALTIME) to the first line that is exactly "first"; nothing
# if there is none. The clock is read as the line arrives, not after.
first_line() {
	local l at=
	while IFS= read -r l; do
		[ -z "$at" ] && [ "$l" = first ] && at=$EPOCHREALTIME
		printf '%s\n' "$l"
	done >"$2"
	[ -z "$at" ] || awk -v a="$1" -v b="$at" 'BEGIN { printf "%.4f\n", b - a }'
}

# ------------------------------------------------------------------------
# 6. Time to the first line of a job's output: slipway exec vs docker run.
bench_first_line() {
	phase "6. time to a job's first output line vs docker run --rm, N=$REPS"
	local f s=$WORK/6.slipway b=$WORK/6.docker i
	f=$(pipeline "$WORK/6/project")
	cat >"$f" <<-EOF
		first:
		  image: $BUSYBOX
		  script:
		    - echo first
		    - sleep 1
	EOF
	: >"$s"
	: >"$b"
	first_slipway() {
		local t0=$EPOCHREALTIME el
		el=$("${SW:-$SLIPWAY}" exec -f "$f" 2>&1 | first_line "$t0" "$WORK/6.out")
		check "$([ -n "$el" ] && grep -q '^Job "first" passed' "$WORK/6.out" && echo 1)" \
			"6: slipway exec printed no line \"first\" or failed: $(tail -n 3 "$WORK/6.out")" || return 0
		keep "$el" "${1:-}"
	}
	first_docker() {
		local t0=$EPOCHREALTIME el
		el=$(docker run --rm "${BASE_LABELS[@]}" "$BUSYBOX" sh -c 'echo first; sleep 1' 2>&1 | first_line "$t0" "$WORK/6.dout")
		check "$([ -n "$el" ] && echo 1)" "6: docker run printed no line \"first\": $(tail -n 3 "$WORK/6.dout")" || return 0
		keep "$el" "${1:-}"
	}
	measure first_docker first_slipway "$REPS" "$b" "$s"
	ratio_rows "6. time to the job's first output line" "≤ 1.1" 1.1 "$REPS" "$s" "$b" \
		"from the command's start to the line \`first\` on its stdout"
}

# ------------------------------------------------------------------------
# 7. 10 jobs in 3 stages (4, 3, 3), 4 at once: slipway exec vs a shell
# script of the same docker runs, each stage's at once, stage after stage.
STAGES=(build test deploy)
STAGE_JOBS=(4 3 3)

bench_stages() {
	phase "7. 10 jobs in 3 stages vs a script of the same docker runs, N=$BIG_REPS"
	local f s=$WORK/7.slipway b=$WORK/7.docker i k n=0
	f=$(pipeline "$WORK/7/project")
	{
		printf 'stages: [%s]\n' "$(IFS=,; echo "${STAGES[*]}")"
		for k in "${!STAGES[@]}"; do
			for ((i = 1; i <= STAGE_JOBS[k]; i++)); do
				n=$((n + 1))
				printf '%s%d:\n  stage: %s\n  image: %s\n  script:\n    - echo job %d\n' \
					"${STAGES[k]}" "$i" "${STAGES[k]}" "$BUSYBOX" "$n"
			done
		done
	} >"$f"
	: >"$s"
	: >"$b"
	stages_slipway() {
		local t0=$EPOCHREALTIME rc=0 el passed
		"${SW:-$SLIPWAY}" exec --concurrency 4 -f "$f" >"$WORK/7.out" 2>&1 || rc=$?
		el=$(since "$t0")
		passed=$(grep -c '^Job "[a-z]*[0-9]" passed' "$WORK/7.out" || true)
		check "$([ $rc = 0 ] && [ "$passed" = 10 ] && echo 1)" \
			"7: slipway exec exited $rc with $passed of 10 jobs passed: $(tail -n 3 "$WORK/7.out")" || return 0
		keep "$el" "${1:-}"
	}
	stages_docker() {
		local t0=$EPOCHREALTIME el k i n=0 pids=() failed=0 p
		for k in "${!STAGES[@]}"; do
			pids=()
			for ((i = 1; i <= STAGE_JOBS[k]; i++)); do
				n=$((n + 1))
				docker run --rm "${BASE_LABELS[@]}" "$BUSYBOX" sh -c "echo job $n" >"$WORK/7.dout.$n" 2>&1 &
				pids+=($!)
			done
			for p in "${pids[@]}"; do wait "$p" || failed=1; done
			[ $failed = 0 ] || break
		done
		el=$(since "$t0")
		check "$([ $failed = 0 ] && echo 1)" "7: a docker run of the script failed" || return 0
		keep "$el" "${1:-}"
	}
	measure stages_docker stages_slipway "$BIG_REPS" "$b" "$s"
	ratio_rows "7. 10 jobs in 3 stages (4, 3, 3), 4 at once, wall" "≤ 1.1" 1.1 "$BIG_REPS" "$s" "$b" \
		"baseline: a script running each stage's docker run --rm at once, stage after stage"
}
