#!/usr/bin/env bash
# run.sh FUZZ_DIR NAME:SECONDS:MAX_LEN:SUPPRESSIONS... - run each libFuzzer
# harness FUZZ_DIR/fuzz-NAME from its corpus for SECONDS, one after the
# other, and print what each did: executions, crashes and leaks.
#
# A harness that finds something stops there (libFuzzer's default); the
# others still run.  New inputs go to FUZZ_DIR/corpus-NAME, findings to
# FUZZ_DIR/crashes-NAME (crash-*, leak-*, timeout-*, oom-*), and the log
# to FUZZ_DIR/NAME.log.  Exits 1 when any harness found something.
#
# ASan's quarantine (freed memory kept poisoned before reuse) is cut from
# 256 to 16 MiB: an input allocates far less, so a use after free within
# it, or within the hundreds before it, is still caught, and the fresh
# pages a larger one takes would cost a page fault each.  ASAN_OPTIONS
# given by the caller come after, and win.
set -uo pipefail
export ASAN_OPTIONS=quarantine_size_mb=16${ASAN_OPTIONS:+:$ASAN_OPTIONS}
dir=$1
shift
src=tests/fuzz

printf '%-10s %8s %12s %10s %7s %6s %8s\n' harness seconds executions 'execs/s' crashes leaks other >"$dir/summary"
status=0
for plan in "$@"; do
	IFS=: read -r name secs maxlen supp <<<"$plan"
	corpus=$dir/corpus-$name crashes=$dir/crashes-$name log=$dir/$name.log
	mkdir -p "$corpus" "$crashes"
	stamp=$dir/$name.stamp
	touch "$stamp"
	dict=()
	[ -f "$src/$name.dict" ] && dict=(-dict="$src/$name.dict")
	lsan=${LSAN_OPTIONS:-}
	[ -n "$supp" ] && lsan="suppressions=$PWD/$supp${lsan:+:$lsan}"
	echo "fuzz: $name for ${secs}s"
	LSAN_OPTIONS=$lsan "$dir/fuzz-$name" -max_total_time="$secs" -max_len="$maxlen" \
		-print_final_stats=1 "${dict[@]}" -artifact_prefix="$crashes/" \
		"$corpus" "$src/corpus/$name" >"$log" 2>&1
	rc=$?
	# -print_final_stats gives these also for a run stopped by a finding.
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	count() { find "$crashes" -maxdepth 1 -name "$1-*" -newer "$stamp" | wc -l; }
	c=$(count crash) l=$(count leak) o=$(( $(count timeout) + $(count oom) ))
	rm -f "$stamp"
	if [ "$rc" -ne 0 ] && [ $((c + l + o)) -eq 0 ]; then
		o=1	# stopped for a reason with no artifact: the log says which
	fi
	[ $((c + l + o)) -ne 0 ] && status=1 && tail -n 40 "$log"
	printf '%-10s %8s %12s %10s %7s %6s %8s\n' "$name" "$secs" "${runs:-?}" "${rate:-?}" \
		"$c" "$l" "$o" >>"$dir/summary"
done
echo
cat "$dir/summary"
exit "$status"
