# shellcheck shell=bash disable=SC2154,SC2034 # globals shared with bench/run.sh
# The benchmarks of bench/run.sh, one function per figure (bench/README.md).
# Each writes its raw numbers under $WORK, adds a row to the table with
# `row`, and records failed checks with `check`.

BUSYBOX=busybox:1.35
SLOW_IMAGE=slipway-bench/slow-service:1
# 64-byte lines (63 characters + newline): 50 MiB is a whole number of them.
LINE=slipway-bench-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM

# one_rep I BASELINE_FN SLIPWAY_FN BASELINE_FILE SLIPWAY_FILE: one
# repetition of each, in alternating order; with --compare the candidate
# binary runs too (its numbers go to SLIPWAY_FILE.cand), next to slipway.
one_rep() {
	if (($1 % 2)); then
		"$2" "$4"
		"$3" "$5"
		candidate "$3" "$5"
	else
		candidate "$3" "$5"
		"$3" "$5"
		"$2" "$4"
	fi
}

# candidate SLIPWAY_FN FILE: runs SLIPWAY_FN with the --compare binary.
candidate() {
	[ -z "$COMPARE" ] || SW=$COMPARE SUF=.cand "$1" "${2:+$2.cand}"
}

# measure BASELINE_FN SLIPWAY_FN N BASELINE_FILE SLIPWAY_FILE: one warm-up
# run of each (page cache, images; not counted), then N repetitions.
measure() {
	local i
	"$2" ""
	candidate "$2" ""
	"$1" ""
	for ((i = 1; i <= $3; i++)); do
		one_rep "$i" "$1" "$2" "$4" "$5"
	done
}

# ratio_rows FIGURE TARGET LIMIT N SLIPWAY_FILE BASELINE_FILE [NOTE [CANDIDATE_NOTE]]:
# the figure's row (medians, their ratio, the paired ratio, the verdict
# against LIMIT) and, with --compare, the candidate's.
ratio_rows() {
	local ms mb r
	ms=$(median <"$5")
	mb=$(median <"$6")
	r=$(div "$ms" "$mb")
	row "$1" "$2" "$r" "$(fmt_s "$ms")" "$(fmt_s "$mb")" "$4" \
		"paired $(paired_median "$5" "$6"); ${7:+$7; }$(verdict "$r" "$3")"
	candidate_row "$1" "$2" "$5" "$6" "$4" "${8:-}"
}

# candidate_row FIGURE TARGET SLIPWAY_FILE BASELINE_FILE N [NOTE]
candidate_row() {
	[ -n "$COMPARE" ] || return 0
	local mc ms mb
	mc=$(median <"$3.cand")
	ms=$(median <"$3")
	mb=$(median <"$4")
	row "$1 — candidate" "$2" "$(div "$mc" "$mb")" "$(fmt_s "$mc")" "$(fmt_s "$mb")" "$5" \
		"--compare $(basename "$COMPARE"); candidate ÷ slipway $(div "$mc" "$ms") (paired $(paired_median "$3.cand" "$3"))${6:+; $6}"
}

# pipeline DIR: makes DIR (the job's workspace) and prints its .gitlab-ci.yml path.
pipeline() {
	mkdir -p "$1"
	printf '%s\n' "$1/.gitlab-ci.yml"
}

# ------------------------------------------------------------------------
# 1. One-step job: slipway exec vs docker run --rm.
bench_one_step() {
	phase "1. one-step job (echo hello in $BUSYBOX) vs docker run --rm, N=$REPS"
	local f s=$WORK/1.slipway b=$WORK/1.docker i
	f=$(pipeline "$WORK/1/project")
	cat >"$f" <<-EOF
		hello:
		  image: $BUSYBOX
		  script:
		    - echo hello
	EOF
	: >"$s"
	: >"$b"
	: >"$s.empty"
	: >"$s.changed"
	mkdir -p "$WORK/1/empty"
	one_slipway() {
		local t0 rc=0 el
		[ -z "${TOUCH:-}" ] || touch "$f"
		t0=$EPOCHREALTIME
		"${SW:-$SLIPWAY}" exec -f "$f" ${WS:+--workspace "$WS"} >"$WORK/1.out" 2>&1 || rc=$?
		el=$(since "$t0")
		check "$([ $rc = 0 ] && grep -qx hello "$WORK/1.out" && echo 1)" \
			"1: slipway exec failed (exit $rc): $(tail -n 3 "$WORK/1.out")" || return 0
		keep "$el" "${1:-}"
	}
	one_docker() {
		local t0=$EPOCHREALTIME rc=0 el
		docker run --rm "${BASE_LABELS[@]}" "$BUSYBOX" sh -c 'echo hello' >"$WORK/1.dout" 2>&1 || rc=$?
		el=$(since "$t0")
		check "$([ $rc = 0 ] && grep -qx hello "$WORK/1.dout" && echo 1)" "1: docker run failed (exit $rc)" || return 0
		keep "$el" "${1:-}"
	}
	one_slipway "" # warm-up (page cache, the sandbox image), not counted
	candidate one_slipway ""
	one_docker ""
	for ((i = 1; i <= REPS; i++)); do
		one_rep "$i" one_docker one_slipway "$b" "$s"
		# The same job with an empty workspace, which is not copied: what
		# the copy costs (see "What the profiles show" in bench/README.md).
		WS=$WORK/1/empty one_slipway "$s.empty"
		# The checkout changed since the last run: a new template is
		# filled (one upload, as before templates, plus its bookkeeping).
		TOUCH=1 one_slipway "$s.changed"
	done
	local mb
	mb=$(median <"$b")
	ratio_rows "1. one-step job, wall" "≤ 1.05" 1.05 "$REPS" "$s" "$b"
	row "1. … with an empty workspace (--workspace, nothing to copy)" "(reference)" "$(div "$(median <"$s.empty")" "$mb")" \
		"$(fmt_s "$(median <"$s.empty")")" "$(fmt_s "$mb")" "$REPS" \
		"paired $(paired_median "$s.empty" "$b"); the same job with no workspace copy: what the copy costs"
	row "1. … the checkout changed before each run" "(reference)" "$(div "$(median <"$s.changed")" "$mb")" \
		"$(fmt_s "$(median <"$s.changed")")" "$(fmt_s "$mb")" "$REPS" \
		"paired $(paired_median "$s.changed" "$b"); each run fills a new workspace template (one upload) before its job"
}

# ------------------------------------------------------------------------
# 2. A step printing $BIG bytes: complete and in order on slipway's stdout,
# wall time vs docker run of the same command (both to a file), peak RSS.
bench_big_output() {
	local mib=$((BIG >> 20))
	phase "2. a step printing $mib MiB vs docker run, N=$BIG_REPS"
	# yes dies of SIGPIPE when head has had enough; GitLab scripts run
	# with pipefail, so that is made explicit.
	local cmd="{ yes $LINE || true; } | head -c $BIG" f want i
	f=$(pipeline "$WORK/2/project")
	cat >"$f" <<-EOF
		big:
		  image: $BUSYBOX
		  script:
		    - '$cmd'

	EOF
	want=$({ yes "$LINE" || true; } | head -c "$BIG" | sha256sum | cut -d' ' -f1)
	local s=$WORK/2.slipway b=$WORK/2.docker rss=$WORK/2.rss cpu=$WORK/2.cpu
	: >"$s"
	: >"$b"
	: >"$rss"
	: >"$cpu"
	big_slipway() {
		local t0=$EPOCHREALTIME rc=0 out=$WORK/2.out got el kb user sys
		/usr/bin/time -f '%M %U %S' -o "$WORK/2.time" "${SW:-$SLIPWAY}" exec -f "$f" >"$out" 2>"$WORK/2.err" || rc=$?
		el=$(since "$t0")
		check "$([ $rc = 0 ] && echo 1)" "2: slipway exec failed (exit $rc): $(tail -n 3 "$WORK/2.err")" || return 0
		got=$(between "$out" "\$ $cmd" 'Job "big" passed' | sha256sum | cut -d' ' -f1)
		check "$([ "$got" = "$want" ] && echo 1)" \
			"2: slipway's stdout between the markers is not the $BIG bytes printed, in order (sha256 $got, want $want; $(between "$out" "\$ $cmd" 'Job "big" passed' | wc -c) bytes)" || return 0
		keep "$el" "${1:-}"
		if [ -n "${1:-}" ]; then
			read -r kb user sys <"$WORK/2.time"
			echo "$kb" >>"$rss${SUF:-}"
			awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }' >>"$cpu${SUF:-}"
		fi
		rm -f "$out"
	}
	big_docker() {
		local t0=$EPOCHREALTIME rc=0 out=$WORK/2.dout got el
		# shellcheck disable=SC2086 # NOLOG is empty or two words
		docker run --rm "${BASE_LABELS[@]}" ${NOLOG:+--log-driver none} "$BUSYBOX" sh -c "$cmd" >"$out" 2>"$WORK/2.derr" || rc=$?
		el=$(since "$t0")
		got=$(sha256sum <"$out" | cut -d' ' -f1)
		check "$([ $rc = 0 ] && [ "$got" = "$want" ] && echo 1)" "2: docker run (exit $rc) did not print the expected bytes: $(head -c 300 "$WORK/2.derr")" &&
			keep "$el" "${1:-}"
		rm -f "$out"
	}
	# The engine's own limit: docker run attached with no log driver, the
	# path slipway's output takes; after each slipway run (not the
	# candidate's), so it is interleaved too.
	local n=$WORK/2.nolog
	: >"$n"
	big_slipway_nolog() {
		big_slipway "$1"
		[ -n "${SUF:-}" ] || NOLOG=1 big_docker "${1:+$n}"
	}
	measure big_docker big_slipway_nolog "$BIG_REPS" "$b" "$s"
	ratio_rows "2. $mib MiB of output, wall" "≤ 0.5" 0.5 "$BIG_REPS" "$s" "$b" \
		"every byte checked (sha256); slipway CPU $(fmt_s "$(median <"$cpu")")" \
		"peak RSS $(fmt_mb "$(maximum 2>/dev/null <"$rss.cand")")"
	row "2. … against docker run --log-driver none (the engine's limit)" "(reference)" "$(div "$(median <"$s")" "$(median <"$n")")" \
		"$(fmt_s "$(median <"$s")")" "$(fmt_s "$(median <"$n")")" "$BIG_REPS" \
		"paired $(paired_median "$s" "$n"); the same bytes through an attach with no log store, as slipway reads them; the engine's copy is the bottleneck"
	local peak
	peak=$(maximum <"$rss")
	row "2. $mib MiB of output, slipway peak RSS" "≤ 40 MB" "$(div "$peak" 40960)" "$(fmt_mb "$(median <"$rss")") median, $(fmt_mb "$peak") max" \
		"40 MB" "$BIG_REPS" "ratio = max peak RSS / 40 MB; $(verdict "$(div "$peak" 40960)" 1.0)"
}

# between FILE START END: the exact bytes of FILE after the first line
# equal to START and before the last line beginning with END (the runner's
# status line comes last). No early-exiting pipes: under pipefail a SIGPIPE
# would be an error.
between() {
	local a e
	a=$(grep -b -m1 -xF -- "$2" "$1" | cut -d: -f1)
	e=$(grep -b -- "^$3" "$1" | tail -n 1 | cut -d: -f1)
	[ -n "$a" ] && [ -n "$e" ] || return 0
	a=$((a + ${#2} + 1))
	((e >= a)) || return 0
	dd if="$1" iflag=skip_bytes,count_bytes skip="$a" count=$((e - a)) bs=1M status=none
}

# ------------------------------------------------------------------------
# 3. Three services that listen after 1.5 s.
build_slow_service() {
	docker image inspect "$SLOW_IMAGE" >/dev/null 2>&1 && return 0
	log "building $SLOW_IMAGE (FROM $BUSYBOX, EXPOSE 8080, listens after 1.5 s)"
	docker build -q -t "$SLOW_IMAGE" - >"$WORK/build.log" 2>&1 <<-EOF
		FROM $BUSYBOX
		EXPOSE 8080
		CMD ["sh", "-c", "sleep 1.5; echo ok > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
	EOF
}

bench_services() {
	phase "3. three services that listen after 1.5 s vs a docker run -d script, N=$SVC_REPS"
	build_slow_service || die "cannot build $SLOW_IMAGE: $(tail -n 5 "$WORK/build.log")"
	local f i s=$WORK/3.slipway b=$WORK/3.docker sw=$WORK/3.swait bw=$WORK/3.bwait
	local job="wget -qO- http://svc1:8080/ http://svc2:8080/ http://svc3:8080/"
	f=$(pipeline "$WORK/3/project")
	cat >"$f" <<-EOF
		services3:
		  image: $BUSYBOX
		  services:
		    - name: $SLOW_IMAGE
		      alias: svc1
		    - name: $SLOW_IMAGE
		      alias: svc2
		    - name: $SLOW_IMAGE
		      alias: svc3
		  script:
		    - $job
	EOF
	: >"$s"
	: >"$b"
	: >"$sw"
	: >"$bw"
	svc_slipway() {
		local t0=$EPOCHREALTIME rc=0 out=$WORK/3.out te el
		"${SW:-$SLIPWAY}" exec -f "$f" 2>&1 | stamp >"$out" || rc=$? # pipefail: slipway's status
		el=$(since "$t0")
		check "$([ $rc = 0 ] && [ "$(grep -c ' ok$' "$out")" = 3 ] && ! grep -q WARNING "$out" && echo 1)" \
			"3: slipway exec failed (exit $rc) or a service was not reached: $(tail -n 5 "$out")" || return 0
		keep "$el" "${1:-}"
		# From the start to the script's first echo.
		te=$(stamp_of "$out" '^\$ wget')
		[ -z "${1:-}" ] || awk -v a="$t0" -v b="$te" 'BEGIN { printf "%.4f\n", b - a }' >>"$sw${SUF:-}"
	}
	# The hand-written script: start the three at once, wait for their
	# ports from the host, run the job on the same network, remove them.
	svc_docker() {
		local t0=$EPOCHREALTIME rc=0 net=slipway-bench-$BENCH_ID-net ip n el out=$WORK/3.dout
		{
			docker network create "${BASE_LABELS[@]}" "$net" >/dev/null
			for n in svc1 svc2 svc3; do
				docker run -d "${BASE_LABELS[@]}" --network "$net" --network-alias "$n" \
					--name "slipway-bench-$BENCH_ID-$n" "$SLOW_IMAGE" >"$WORK/3.$n.id" &
			done
			wait
			for n in svc1 svc2 svc3; do
				ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "slipway-bench-$BENCH_ID-$n")
				until (exec 3<>"/dev/tcp/$ip/8080") 2>/dev/null; do sleep 0.025; done
			done
			docker run --rm "${BASE_LABELS[@]}" --network "$net" "$BUSYBOX" sh -c "echo script-started; $job"
			docker rm -f "slipway-bench-$BENCH_ID-svc1" "slipway-bench-$BENCH_ID-svc2" "slipway-bench-$BENCH_ID-svc3" >/dev/null
			docker network rm "$net" >/dev/null
		} 2>&1 | stamp >"$out" || rc=$?
		el=$(since "$t0")
		remove_baseline_objects
		check "$([ $rc = 0 ] && [ "$(grep -c ' ok$' "$out")" = 3 ] && echo 1)" \
			"3: the docker script failed (exit $rc): $(tail -n 3 "$out")" || return 0
		keep "$el" "${1:-}"
		[ -z "${1:-}" ] || awk -v a="$t0" -v b="$(stamp_of "$out" '^script-started')" 'BEGIN { printf "%.4f\n", b - a }' >>"$bw"
	}
	measure svc_docker svc_slipway "$SVC_REPS" "$b" "$s"
	ratio_rows "3. three 1.5 s services + job, wall" "≤ 1.15" 1.15 "$SVC_REPS" "$s" "$b"
	row "3. … time until the job's script starts" "1.5 s + starts" "$(div "$(median <"$sw")" "$(median <"$bw")")" \
		"$(fmt_s "$(median <"$sw")")" "$(fmt_s "$(median <"$bw")")" "$SVC_REPS" \
		"from the command's start to the script's first line (slipway's \`\$ wget\` echo; the job container's first echo)"
}

# ------------------------------------------------------------------------
# 4. $MANY_JOBS jobs, $MANY_CONC at once; slipway's RSS over time.
bench_many_jobs() {
	phase "4. $MANY_JOBS jobs, $MANY_CONC at once, N=$MANY_REPS"
	local f i s=$WORK/4.slipway b=$WORK/4.docker q1s=$WORK/4.q1 q4s=$WORK/4.q4 peaks=$WORK/4.peak
	f=$(pipeline "$WORK/4/project")
	for ((i = 1; i <= MANY_JOBS; i++)); do
		printf 'job%03d:\n  image: %s\n  script:\n    - echo hello %d\n' "$i" "$BUSYBOX" "$i"
	done >"$f"
	: >"$s"
	: >"$b"
	: >"$q1s"
	: >"$q4s"
	: >"$peaks"
	many_slipway() {
		local t0=$EPOCHREALTIME rc=0 out=$WORK/4.out samples=$WORK/4.samples k v _ n passed el
		: >"$samples"
		"$SLIPWAY" exec --concurrency "$MANY_CONC" -f "$f" >"$out" 2>&1 &
		BG_PID=$!
		while kill -0 "$BG_PID" 2>/dev/null; do
			while read -r k v _; do
				[ "$k" = VmRSS: ] && echo "$v" >>"$samples"
			done <"/proc/$BG_PID/status" 2>/dev/null || true
			sleep 0.1
		done
		wait "$BG_PID" || rc=$?
		BG_PID=
		el=$(since "$t0")
		passed=$(grep -c '^Job "job[0-9]*" passed' "$out" || true)
		check "$([ $rc = 0 ] && [ "$passed" = "$MANY_JOBS" ] && echo 1)" \
			"4: slipway exec exited $rc with $passed of $MANY_JOBS jobs passed: $(grep -v passed "$out" | grep -v '^\[' | tail -n 5)" || return 0
		echo "$el" >>"$s"
		n=$(wc -l <"$samples")
		head -n $((n / 4)) "$samples" | median >>"$q1s"
		tail -n $((n / 4)) "$samples" | median >>"$q4s"
		maximum <"$samples" >>"$peaks"
		log "4: $n RSS samples; first-quartile median $(head -n $((n / 4)) "$samples" | median) KiB, last $(tail -n $((n / 4)) "$samples" | median) KiB"
	}
	many_docker() {
		local t0=$EPOCHREALTIME rc=0 el
		seq "$MANY_JOBS" | xargs -P "$MANY_CONC" -I{} docker run --rm "${BASE_LABELS[@]}" "$BUSYBOX" sh -c 'echo hello {}' \
			>"$WORK/4.dout" 2>&1 || rc=$?
		el=$(since "$t0")
		check "$([ $rc = 0 ] && [ "$(grep -c '^hello' "$WORK/4.dout")" = "$MANY_JOBS" ] && echo 1)" "4: xargs docker run failed (exit $rc)" &&
			echo "$el" >>"$b"
	}
	for ((i = 1; i <= MANY_REPS; i++)); do
		if ((i % 2)); then
			many_docker
			many_slipway
		else
			many_slipway
			many_docker
		fi
	done
	local ms mb q1 q4 r
	ms=$(median <"$s")
	mb=$(median <"$b")
	q1=$(median <"$q1s")
	q4=$(median <"$q4s")
	r=$(div "$q4" "$q1")
	row "4. $MANY_JOBS jobs × $MANY_CONC at once, RSS last ÷ first quartile" "≈ 1.0 (flat)" "$r" \
		"$(fmt_mb "$q4") (last quartile)" "$(fmt_mb "$q1") (first quartile)" "$MANY_REPS" \
		"peak $(fmt_mb "$(maximum <"$peaks")"); all $MANY_JOBS jobs passed each time; RSS sampled every 0.1 s"
	row "4. $MANY_JOBS jobs × $MANY_CONC at once, wall" "(no target)" "$(div "$ms" "$mb")" "$(fmt_s "$ms")" \
		"$(fmt_s "$mb")" "$MANY_REPS" "baseline: seq $MANY_JOBS | xargs -P $MANY_CONC docker run --rm"
}

# ------------------------------------------------------------------------
# 5. Pulls from the local registry: one pull per image per run; different
# images pulled concurrently.
bench_pulls() {
	phase "5. pulls from the local registry, N=$PULL_REPS"
	# Started here, stopped at the end; one that was running stays.
	"$repo/scripts/registry.sh" status >/dev/null 2>&1 || STOP_REGISTRY=1
	if ! "$repo/scripts/registry.sh" start >"$WORK/registry.log" 2>&1; then
		check 0 "5: scripts/registry.sh start failed: $(tail -n 3 "$WORK/registry.log")"
		return 0
	fi
	eval "$("$repo/scripts/registry.sh" env)"
	local reg=$SLIPWAY_TEST_REGISTRY x img imgs=() auth
	PULL_CFG=$(mktemp -d)
	printf '%s' "$SLIPWAY_TEST_REGISTRY_PASSWORD" |
		DOCKER_CONFIG=$PULL_CFG docker login -u "$SLIPWAY_TEST_REGISTRY_USER" --password-stdin "$reg" >/dev/null 2>&1 ||
		{ check 0 "5: docker login $reg failed"; return 0; }
	auth=$(printf '%s:%s' "$SLIPWAY_TEST_REGISTRY_USER" "$SLIPWAY_TEST_REGISTRY_PASSWORD" | base64 -w0)
	local dac="DOCKER_AUTH_CONFIG={\"auths\":{\"$reg\":{\"auth\":\"$auth\"}}}"
	# Three images, each FROM busybox with its own random layer: removing
	# one locally removes that layer, so every pull downloads it.
	for x in a b c; do
		img=$reg/slipway-bench/pull-$x:1
		imgs+=("$img")
		log "building and pushing $img (own layer ${PULL_MB} MiB)"
		docker build -q -t "$img" - >"$WORK/build.log" 2>&1 <<-EOF || die "cannot build $img: $(tail -n 5 "$WORK/build.log")"
			FROM $BUSYBOX
			RUN head -c $((PULL_MB << 20)) /dev/urandom > /blob-$x
			CMD ["sh", "-c", "exit 0"]
		EOF
		DOCKER_CONFIG=$PULL_CFG docker push -q "$img" >/dev/null || { check 0 "5: docker push $img failed"; return 0; }
	done
	rmi_all() { docker rmi "${imgs[@]}" >/dev/null 2>&1 || true; }

	# 5a: image A in five jobs (three concurrent, then two in a later
	# stage), each with a service of image A too, pull_policy always.
	local f cfg out=$WORK/5a.out rc=0 n
	f=$(pipeline "$WORK/5a/project")
	cfg=$WORK/5a.toml
	printf 'concurrent = 3\n[[runners]]\n  [runners.docker]\n    pull_policy = "always"\n' >"$cfg"
	{
		printf 'stages: [one, two]\n'
		for x in 1 2 3 4 5; do
			printf 'job%d:\n  stage: %s\n  image: %s\n  services:\n    - name: %s\n      alias: same\n  script:\n    - echo job %d\n' \
				"$x" "$([ $x -le 3 ] && echo one || echo two)" "${imgs[0]}" "${imgs[0]}" "$x"
		done
	} >"$f"
	rmi_all
	"$SLIPWAY" exec --config "$cfg" --env "$dac" -f "$f" >"$out" 2>&1 || rc=$?
	n=$(grep -c "Pulling ${imgs[0]}" "$out" || true)
	check "$([ $rc = 0 ] && [ "$n" = 1 ] && echo 1)" \
		"5: image A used by 5 jobs and 5 services was pulled $n times (exit $rc): $(grep -E 'Pull|failed' "$out" | head -n 5)"
	row "5a. one image in 5 jobs + 5 services (pull_policy always)" "1 pull" "$n pull(s)" "$n × Pulling" "—" 1 \
		"$([ "$n" = 1 ] && echo 'pulled once' || echo 'NOT once')"

	# 5b: one job with three services of three images, all missing.
	f=$(pipeline "$WORK/5b/project")
	{
		printf 'pulls:\n  image: %s\n  services:\n' "$BUSYBOX"
		for x in 0 1 2; do printf '    - name: %s\n      alias: s%d\n' "${imgs[$x]}" "$x"; done
		printf '  script:\n    - echo pulled\n'
	} >"$f"
	local s=$WORK/5.slipway b=$WORK/5.docker p=$WORK/5.par i
	: >"$s"
	: >"$b"
	: >"$p"
	pull_slipway() {
		local rc=0 ts te t0
		rmi_all
		t0=$EPOCHREALTIME
		"$SLIPWAY" exec --env "$dac" -f "$f" 2>&1 | stamp >"$out" || rc=$?
		ts=$(stamp_of "$out" '^Running job')
		te=$(last_stamp_of "$out" '^Pulled ')
		n=$(grep -c ' Pulled ' "$out" || true)
		check "$([ $rc = 0 ] && [ "$n" = 3 ] && echo 1)" "5: slipway pulled $n of 3 images (exit $rc): $(tail -n 4 "$out")" || return 0
		awk -v a="$ts" -v b="$te" 'BEGIN { printf "%.4f\n", b - a }' >>"$s"
	}
	pull_docker_seq() {
		local rc=0 t0 img el
		rmi_all
		t0=$EPOCHREALTIME
		for img in "${imgs[@]}"; do
			DOCKER_CONFIG=$PULL_CFG docker pull -q "$img" >/dev/null 2>&1 || rc=$?
		done
		el=$(since "$t0")
		check "$([ $rc = 0 ] && echo 1)" "5: docker pull failed" && echo "$el" >>"$b"
	}
	pull_docker_par() {
		local t0 img rc=0 el
		rmi_all
		t0=$EPOCHREALTIME
		for img in "${imgs[@]}"; do
			DOCKER_CONFIG=$PULL_CFG docker pull -q "$img" >/dev/null 2>&1 &
		done
		for img in "${imgs[@]}"; do wait -n || rc=$?; done
		el=$(since "$t0")
		check "$([ $rc = 0 ] && echo 1)" "5: docker pull (concurrent) failed" && echo "$el" >>"$p"
	}
	for ((i = 1; i <= PULL_REPS; i++)); do
		if ((i % 2)); then
			pull_docker_seq
			pull_slipway
			pull_docker_par
		else
			pull_docker_par
			pull_slipway
			pull_docker_seq
		fi
	done
	rmi_all
	local ms mb mp r
	ms=$(median <"$s")
	mb=$(median <"$b")
	mp=$(median <"$p")
	r=$(div "$ms" "$mb")
	row "5b. pull phase, 3 services of 3 images" "< 1 (concurrent)" "$r" "$(fmt_s "$ms")" "$(fmt_s "$mb") (one after another)" \
		"$PULL_REPS" "${PULL_MB} MiB own layer each; vs 3 docker pull at once ($(fmt_s "$mp")): $(div "$ms" "$mp")"
}

# ------------------------------------------------------------------------
# Profile: the Go benchmarks of bench/ (the runner in-process): an API
# trace of one job, and CPU profiles.
bench_profile() {
	phase "profile: Go benchmarks (go test ./bench)"
	local gt=(go test ./bench -run '^$' -count 1) trace rc=0
	if [ -n "$SHORT" ]; then
		(cd "$repo" && "${gt[@]}" -short -bench . -benchtime 1x) >"$WORK/go.out" 2>&1 || rc=$?
		check "$([ $rc = 0 ] && echo 1)" "Go benchmarks failed: $(tail -n 5 "$WORK/go.out")"
		return 0
	fi
	(cd "$repo" && BENCH_TRACE=1 "${gt[@]}" -bench OneStepJob -benchtime 5x -v) >"$WORK/trace.out" 2>&1 || rc=$?
	check "$([ $rc = 0 ] && echo 1)" "BenchmarkOneStepJob failed: $(tail -n 5 "$WORK/trace.out")" || return 0
	trace=$(sed -n '/API calls of the last job/,/API calls;/p' "$WORK/trace.out" | sed 1d)
	(cd "$repo" && "${gt[@]}" -bench 'OneStepJob|Output50MB' -benchtime 5x -benchmem \
		-cpuprofile "$WORK/cpu.out" -o "$WORK/bench.test") >"$WORK/go.out" 2>&1 || rc=$?
	check "$([ $rc = 0 ] && echo 1)" "Go benchmarks failed: $(tail -n 5 "$WORK/go.out")" || return 0
	DETAILS+=("## Profile" ""
		"\`BENCH_TRACE=1 go test ./bench -run '^\$' -bench OneStepJob -benchtime 5x -v\`: the Docker API calls of"
		"one \`echo hello\` job (runner in-process, through a logging proxy), times in ms from the job's start:" ""
		'```' "$trace" '```' ""
		"\`go test ./bench -run '^\$' -bench 'OneStepJob|Output50MB' -benchtime 5x -benchmem -cpuprofile cpu.out\`:" ""
		'```' "$(grep -E '^Benchmark' "$WORK/go.out")" '```' ""
		"\`go tool pprof -top -ignore 'between|expected'\` (slipway's own CPU in both benchmarks, without the benchmark's"
		"sha256 check of the output; the Docker Engine's CPU is not in it):" ""
		'```' "$(go tool pprof -top -nodecount 15 -ignore 'between|expected' "$WORK/bench.test" "$WORK/cpu.out" 2>/dev/null | sed -n '4,26p')" '```' "")
}
