# shellcheck shell=bash
# curves.sh - the worker-count curve of sluice's benchmark, sourced by
# run.sh (part "workers"), with run.sh's functions and its private $DIR.
#
# For each worker count (1 to 64 on any machine, whatever its cores),
# sluice is started idle with apps/hello.so, pm static N, and measured:
#
#   start-up	from the exec of sluice to READY=1 on its NOTIFY_SOCKET,
#		which the master sends once all N workers serve
#		(tests/bench/notify-wait.c notes when it arrives)
#   memory	RSS and PSS of each worker from /proc/PID/smaps_rollup,
#		averaged, and PSS beyond the modules' own: the worker's
#		PSS less that of the mappings of the module file
#		(/proc/PID/smaps)
#   reload	from SIGHUP to the "generation N serves" line of the error
#		log, both as wall-clock milliseconds (the line's own time
#		stamp), median of BENCH_RELOAD_N (7) reloads: on a shared
#		machine one reload in three can take twice as long
#
# Knobs (environment): BENCH_WORKERS (the counts, "1 2 4 8 16 32 64"),
# BENCH_RELOAD_N (reloads per count, 7).

CURVE_WORKERS=${BENCH_WORKERS:-1 2 4 8 16 32 64}
RELOAD_N=${BENCH_RELOAD_N:-7}
NOTIFY=$BUILD/bench/notify-wait
declare -A CV_START CV_RSS CV_PSS CV_PSS_OWN CV_RELOAD

now_ms() { date +%s%3N; }

# log_ms LINE: the time stamp at the head of an error-log line, in ms.
log_ms() {
	date -d "$(echo "$1" | awk '{ print $1 " " $2 " " $3 }')" +%s%3N 2>/dev/null
}

# worker_mem PID: "rss_kb pss_kb module_pss_kb" of one worker.
worker_mem() {
	awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } END { printf "%d %d ", r, p }' \
		"/proc/$1/smaps_rollup" 2>/dev/null
	awk -v so="$HELLO" '
		/^[0-9a-f]+-[0-9a-f]+ / { mine = ($NF == so) }
		mine && /^Pss:/ { s += $2 }
		END { print s + 0 }' "/proc/$1/smaps" 2>/dev/null
}

# ready_line FILE: true once notify-wait has written READY=1.
ready_line() {
	grep -q 'READY=1' "$1" 2>/dev/null
}

# curve_reload PID LOG: one SIGHUP; prints its time to the serves line.
curve_reload() {
	local pid=$1 log=$2 n t0 line
	n=$(grep -c 'generation [0-9]* serves' "$log")
	t0=$(now_ms)
	kill -HUP "$pid" 2>/dev/null || return 1
	waitfor 10 more_serves_in "$log" "$n" || return 1
	line=$(grep 'generation [0-9]* serves' "$log" | tail -n 1)
	echo $(($(log_ms "$line") - t0))
}

more_serves_in() {
	[ "$(grep -c 'generation [0-9]* serves' "$1")" -gt "$2" ]
}

# curve_one N: one worker count, measured as described at the top.
curve_one() {
	local n=$1 name="cv$1" t0 ready pid w m rss=0 pss=0 own=0 k=0 i r p o times=""
	sluice_conf "$name" notice "$n"
	rm -f "$DIR/$name.sock" "$DIR/$name.notify"
	start "$DIR/$name.notify.log" "$NOTIFY" "$DIR/$name.notify"
	local npid=$STARTED
	waitfor 5 sock_up "$DIR/$name.notify" || { fail "workers $n: notify-wait did not start"; return; }
	t0=$(now_ms)
	start "$DIR/$name.log" env NOTIFY_SOCKET="$DIR/$name.notify" "$SLUICE" -c "$DIR/$name.conf"
	pid=$STARTED
	if ! waitfor 60 ready_line "$DIR/$name.notify.log"; then
		fail "workers $n: no READY=1 within 60 s"
		tail_log "$DIR/$name-error.log"
		stop "$pid"
		stop "$npid"
		return
	fi
	ready=$(awk '/READY=1/ { print $1; exit }' "$DIR/$name.notify.log")
	CV_START[$n]=$((ready - t0))
	sleep 0.5
	for w in $(children "$pid"); do
		m=$(worker_mem "$w")
		[ -n "$m" ] || continue
		read -r r p o <<<"$m"
		rss=$((rss + r)) pss=$((pss + p)) own=$((own + o)) k=$((k + 1))
	done
	if [ "$k" -gt 0 ]; then
		CV_RSS[$n]=$((rss / k)) CV_PSS[$n]=$((pss / k)) CV_PSS_OWN[$n]=$(((pss - own) / k))
	fi
	for ((i = 0; i < RELOAD_N; i++)); do
		r=$(curve_reload "$pid" "$DIR/$name-error.log") && times+=" $r"
		sleep 0.3
	done
	[ -n "$times" ] && CV_RELOAD[$n]=$(median "$times")
	[ -n "$times" ] || fail "workers $n: no reload finished"
	stop "$pid"
	stop "$npid"
}

curve_cases() {
	local n
	echo
	echo "== workers: sluice with apps/hello.so, pm static N, idle; start-up to READY=1," \
		"memory per worker (smaps_rollup), SIGHUP to \"generation N serves\" (median of $RELOAD_N)"
	if [ "$HAVE_SLUICE" != 1 ] || [ ! -x "$NOTIFY" ]; then
		fail "workers: sluice or $NOTIFY is not built"
		return
	fi
	printf "%8s %12s %12s %12s %16s %12s\n" workers "start ms" "RSS kB/w" "PSS kB/w" \
		"PSS-module kB/w" "reload ms"
	for n in $CURVE_WORKERS; do
		curve_one "$n"
		printf "%8s %12s %12s %12s %16s %12s\n" "$n" "${CV_START[$n]:-n/a}" \
			"${CV_RSS[$n]:-n/a}" "${CV_PSS[$n]:-n/a}" "${CV_PSS_OWN[$n]:-n/a}" \
			"${CV_RELOAD[$n]:-n/a}"
		result workers "$n" sluice start_ms "${CV_START[$n]:-}"
		result workers "$n" sluice rss_kb_per_worker "${CV_RSS[$n]:-}"
		result workers "$n" sluice pss_kb_per_worker "${CV_PSS[$n]:-}"
		result workers "$n" sluice pss_beyond_module_kb "${CV_PSS_OWN[$n]:-}"
		result workers "$n" sluice reload_ms "${CV_RELOAD[$n]:-}"
	done
}

# curve_targets: the issue's numbers for the pool, at 16 workers.
curve_targets() {
	echo
	echo "== numbers to reach, workers"
	target "idle worker PSS beyond the module's own at 16 workers, kB" \
		"${CV_PSS_OWN[16]:-}" "<=" 1024
	target "SIGHUP to \"generation N serves\" with 16 workers, ms" "${CV_RELOAD[16]:-}" "<=" 50
}
