# shellcheck shell=bash
# The server benchmark for bench/run.sh (sourced): go run ./bench/cmd/serverbench,
# which starts `slipway server` and `slipway runner run` and measures push to job
# start and a 50 MiB log against `slipway exec` (see bench/README.md).

bench_server() {
	phase "server: push to job start, a big log through server and runner"
	local args=(-slipway "$SLIPWAY") rc=0
	[ -n "$SHORT" ] && args+=(-short)
	(cd "$repo" && go run ./bench/cmd/serverbench "${args[@]}") >"$WORK/server.out" 2>"$WORK/server.err" || rc=$?
	check "$([ $rc = 0 ] && echo 1)" "serverbench failed: $(tail -n 5 "$WORK/server.err")" || return 0
	cat "$WORK/server.out" >&2
	DETAILS+=("## Server and runner" ""
		"\`go run ./bench/cmd/serverbench\`: \`slipway server\` and \`slipway runner run\` as processes, against"
		"\`slipway exec\` of the same job, interleaved:" ""
		'```' "$(cat "$WORK/server.out")" '```' "")
}
