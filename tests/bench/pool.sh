# shellcheck shell=bash
# pool.sh - the pool cases of sluice's benchmark, sourced by run.sh after
# its own cases, with run.sh's helpers (start, stop, waitfor, fail, ...)
# and its private directory $DIR.
#
#   keep-alive	nginx keeps its upstream connections open (upstream
#		keepalive 32, fastcgi_keep_conn on) in front of a backend
#		of exactly 2 worker processes, and 16 clients ask at once.
#		A backend whose process is held by one kept connection
#		leaves the other 14 connections waiting until nginx
#		retires a kept one (every 1000 requests); one whose
#		workers serve whichever connection has a request does
#		not.  Measured: sluice (pm static, max_children 2), a
#		plain libfcgi program run as 2 processes
#		(tests/bench/libfcgi-hello.c) and, where it is installed,
#		php-fpm (pm static, max_children 2).
#   reload	sluice (pm static, 2 workers) behind the same nginx set-up
#		under continuous load from 8 clients, while the master
#		gets SIGHUP 20 times, each once the previous reload is
#		over (its "generation N serves" log line).  Counted
#		exactly: the requests wrk completed, those that failed
#		(non-2xx answers and socket errors, as wrk reports them),
#		and from nginx's own logs its non-200 answers and the
#		errors it met on kept connections to sluice.  nginx
#		retries a GET on a fresh connection after such an error,
#		so the client does not see it, but not a POST: those
#		errors are printed too, with the three most frequent.
#
# Knobs (environment): BENCH_KA_DURATION (seconds of a keep-alive run,
# 5), BENCH_KA_ROUNDS (rounds of the keep-alive cases, 3), BENCH_RELOADS
# (SIGHUPs of the reload case, 20).

KA_DURATION=${BENCH_KA_DURATION:-5}
KA_ROUNDS=${BENCH_KA_ROUNDS:-3}
RELOADS=${BENCH_RELOADS:-20}
KA_CLIENTS=16
RELOAD_CLIENTS=8
LIBFCGI_SRC=$ROOT/tests/bench/libfcgi-hello.c
LIBFCGI=$BUILD/bench/libfcgi-hello

# ---- set-up ------------------------------------------------------------

# pool_libfcgi: makes sure $LIBFCGI is a build of libfcgi-hello.c no
# older than its source; where `make` did not build one, it is compiled
# into the private directory (one file, linked with -lfcgi).
pool_libfcgi() {
	[ -x "$LIBFCGI" ] && [ ! "$LIBFCGI_SRC" -nt "$LIBFCGI" ] && return 0
	LIBFCGI=$DIR/libfcgi-hello
	"${CC:-cc}" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$LIBFCGI" \
		"$LIBFCGI_SRC" -lfcgi >"$DIR/libfcgi-build.log" 2>&1 && return 0
	fail "libfcgi-hello could not be built (is libfcgi-dev installed?)"
	tail_log "$DIR/libfcgi-build.log"
	return 1
}

# pool_php_fpm: the php-fpm binary, or nothing when it is not installed.
pool_php_fpm() {
	local f
	for f in "$(command -v php-fpm)" /usr/sbin/php-fpm*; do
		[ -n "$f" ] && [ -x "$f" ] && { echo "$f"; return; }
	done
}

# pool_upstream NAME SOCKET: an upstream that keeps 32 connections open.
# keepalive_requests is nginx's default, written out: nginx retires a
# kept connection after 1000 requests, which is what frees a process
# that a kept connection holds.
pool_upstream() {
	cat <<-EOF
	    upstream $1 {
	        server unix:$2;
	        keepalive 32;
	        keepalive_requests 1000;
	    }
	EOF
}

# pool_server PORT UPSTREAM [EXTRA]: a server that passes everything to
# UPSTREAM over kept connections.
pool_server() {
	cat <<-EOF
	    server {
	        listen 127.0.0.1:$1;
	        ${3:-}
	        location / {
	            $PARAMS
	            fastcgi_param SCRIPT_FILENAME $DIR/hello.php;
	            fastcgi_pass $2;
	            fastcgi_keep_conn on;
	        }
	    }
	EOF
}

# pool_write_nginx_conf: the second nginx, for these cases only, so that
# its error and access logs hold nothing else.  The reload server logs
# every request's status and upstream statuses ("502, 200" is a request
# that nginx retried on a fresh connection after an error on a kept one).
pool_write_nginx_conf() {
	local PARAMS
	PARAMS=$(fastcgi_params)
	{
		nginx_preamble pool-nginx
		cat <<-EOF
		    keepalive_requests 1000000;
		    log_format statuses '\$status \$upstream_status';
		EOF
		pool_upstream ka_sluice "$DIR/ka-sluice.sock"
		pool_upstream ka_libfcgi "$DIR/ka-libfcgi.sock"
		pool_upstream ka_php "$DIR/ka-php.sock"
		pool_upstream reload "$DIR/reload.sock"
		pool_server "$P_KA_SLUICE" ka_sluice
		pool_server "$P_KA_LIBFCGI" ka_libfcgi
		pool_server "$P_KA_PHP" ka_php
		pool_server "$P_RELOAD" reload \
			"access_log $DIR/reload-access.log statuses; error_log $DIR/reload-nginx-error.log warn;"
		echo "}"
	} >"$DIR/pool-nginx.conf"
}

pool_php_conf() {
	cat >"$DIR/php-fpm.conf" <<-EOF
	[global]
	pid = $DIR/php-fpm.pid
	error_log = $DIR/php-fpm-error.log
	daemonize = no
	[bench]
	user = $(id -un)
	listen = $DIR/ka-php.sock
	listen.mode = 0666
	pm = static
	pm.max_children = 2
	EOF
	printf '%s\n' '<?php' 'header("Content-Type: text/plain; charset=utf-8");' \
		'echo "Hello from sluice!\n";' >"$DIR/hello.php"
}

# two_children PID: true once PID has (at least) its 2 workers.
two_children() {
	[ "$(children "$1" | wc -l)" -ge 2 ]
}

# pool_start NAME LOG CMD...: starts a backend that listens on
# $DIR/NAME.sock and runs 2 worker processes, and waits for both.  The
# PID is left in $STARTED.
pool_start() {
	local name=$1 log=$2
	shift 2
	rm -f "$DIR/$name.sock"
	start "$log" "$@"
	if ! waitfor 30 sock_up "$DIR/$name.sock" || ! waitfor 30 two_children "$STARTED"; then
		fail "$name: the backend did not listen with 2 worker processes within 30 s"
		tail_log "$log"
		return 1
	fi
	return 0
}

# ---- reading wrk -------------------------------------------------------

# wrk_ms FILE WHAT: a latency of wrk's report in milliseconds: WHAT is a
# percentile ("50%", "99%") or "max" (the Max column of the Latency row).
wrk_ms() {
	awk -v what="$2" '
		function ms(s,  v, u) { v = s + 0; u = s; sub(/^[0-9.]+/, "", u)
			return v * (u == "us" ? 1e-3 : u == "s" ? 1e3 : u == "m" ? 6e4 : 1) }
		what == "max" && $1 == "Latency" && NF >= 4 { printf "%.2f", ms($4); exit }
		$1 == what { printf "%.2f", ms($2); exit }' "$1"
}

# wrk_failed FILE: non-2xx answers plus socket errors of all kinds.
wrk_failed() {
	awk '/Non-2xx or 3xx responses:/ { n += $NF }
		/Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
		END { print n + 0 }' "$1"
}

# ---- keep-alive --------------------------------------------------------

# The backends stay up for all rounds; each round runs every case once,
# so that outside load skews a round rather than a case.  Per case, one
# value per round, space-separated.
KA_KEYS=()
declare -A KA_LABEL KA_PORT KA_PID KA_SKIP KA_RPS KA_P50 KA_P99 KA_MAX KA_FAILED

KA_FMT="%-24s %8s %8s %8s %8s %7s   %s\n"

# ka_add KEY LABEL PORT PID: a started backend joins the rounds.
ka_add() {
	KA_KEYS+=("$1")
	KA_LABEL[$1]=$2 KA_PORT[$1]=$3 KA_PID[$1]=$4
}

# ka_skip KEY LABEL WHY: a case that will print WHY instead of numbers.
ka_skip() {
	KA_KEYS+=("$1")
	KA_LABEL[$1]=$2 KA_SKIP[$1]=$3
}

# ka_run KEY: the case's wrk run of this round, $KA_CLIENTS clients.  In
# the first round it checks the answer first.  wrk's own timeout is
# raised to 10 s so that a slow answer is measured, not dropped.  A case
# that failed once is not run again.
ka_run() {
	local key=$1 label=${KA_LABEL[$1]} url="http://127.0.0.1:${KA_PORT[$1]:-}/"
	local out="$DIR/wrk-ka-$1-$KA_ROUND.txt" n code

	[ -n "${KA_SKIP[$key]:-}" ] && return 1
	KA_SKIP[$key]="(could not run)"
	if [ "$KA_ROUND" = 1 ]; then
		code=$(status "$url")
		if [ "$code" != 200 ]; then
			fail "keep-alive, $label: nginx answered $code to GET /, not 200"
			tail_log "$DIR/pool-nginx-error.log"
			return 1
		fi
	fi
	timeout --foreground $((KA_DURATION + 30)) wrk -t2 -c"$KA_CLIENTS" -d"$KA_DURATION"s \
		--latency --timeout 10s "$url" >"$out" 2>&1
	n=$(wrk_requests "$out")
	if [ -z "$n" ] || [ "$n" -eq 0 ]; then
		fail "keep-alive, $label: wrk completed no request in round $KA_ROUND"
		tail_log "$out"
		return 1
	fi
	if ! alive "${KA_PID[$key]}"; then
		fail "keep-alive, $label: the backend (pid ${KA_PID[$key]}) exited in round $KA_ROUND"
		return 1
	fi
	KA_RPS[$key]+=" $(wrk_rps "$out")"
	KA_P50[$key]+=" $(wrk_ms "$out" 50%)"
	KA_P99[$key]+=" $(wrk_ms "$out" 99%)"
	KA_MAX[$key]+=" $(wrk_ms "$out" max)"
	KA_FAILED[$key]=$((${KA_FAILED[$key]:-0} + $(wrk_failed "$out")))
	unset "KA_SKIP[$key]"
	return 0
}

# ka_row KEY: the medians of the case's rounds, the failed requests of
# all rounds, and its p99 in every round.
ka_row() {
	local key=$1
	if [ -z "${KA_P99[$key]:-}" ]; then
		printf "%-24s %s\n" "${KA_LABEL[$key]}" "${KA_SKIP[$key]:-(could not run)}"
		return
	fi
	# shellcheck disable=SC2059
	printf "$KA_FMT" "${KA_LABEL[$key]}" "$(median "${KA_RPS[$key]}")" \
		"$(median "${KA_P50[$key]}")" "$(median "${KA_P99[$key]}")" \
		"$(median "${KA_MAX[$key]}")" "${KA_FAILED[$key]}" "${KA_P99[$key]# }"
}

ka_start_sluice() {
	local label="sluice, pm static 2"
	if [ "$HAVE_SLUICE" != 1 ]; then
		ka_skip sluice "$label" "(skipped: sluice is not built)"
		return
	fi
	sluice_conf ka-sluice warning 2
	if pool_start ka-sluice "$DIR/ka-sluice.log" "$SLUICE" -c "$DIR/ka-sluice.conf"; then
		ka_add sluice "$label" "$P_KA_SLUICE" "$STARTED"
	else
		tail_log "$DIR/ka-sluice-error.log"
		ka_skip sluice "$label" "(could not start)"
	fi
}

ka_start_libfcgi() {
	local label="libfcgi, 2 processes"
	if pool_libfcgi &&
	   pool_start ka-libfcgi "$DIR/ka-libfcgi.log" "$LIBFCGI" "$DIR/ka-libfcgi.sock" 2; then
		ka_add libfcgi "$label" "$P_KA_LIBFCGI" "$STARTED"
	else
		ka_skip libfcgi "$label" "(could not start)"
	fi
}

# php-fpm is a comparison, not a dependency: without it the row says so.
ka_start_php() {
	local label="php-fpm, pm static 2" fpm
	fpm=$(pool_php_fpm)
	if [ -z "$fpm" ]; then
		ka_skip php "$label" "(skipped: php-fpm is not installed)"
		return
	fi
	pool_php_conf
	if pool_start ka-php "$DIR/php-fpm.log" "$fpm" -R -F -y "$DIR/php-fpm.conf"; then
		ka_add php "$label" "$P_KA_PHP" "$STARTED"
	else
		tail_log "$DIR/php-fpm-error.log"
		ka_skip php "$label" "(could not start)"
	fi
}

# ms_or_na VALUES: the median of VALUES in ms, or n/a when there is none.
ms_or_na() {
	if [ -n "$1" ]; then echo "$(median "$1") ms"; else echo "n/a"; fi
}

pool_keepalive() {
	local key
	echo
	echo "== keep-alive does not pin workers: upstream keepalive 32, fastcgi_keep_conn on;" \
		"2 worker processes; wrk -t2 -c$KA_CLIENTS -d${KA_DURATION}s --latency --timeout 10s;" \
		"median over $KA_ROUNDS round(s), cases interleaved"
	ka_start_sluice
	ka_start_libfcgi
	ka_start_php
	for ((KA_ROUND = 1; KA_ROUND <= KA_ROUNDS; KA_ROUND++)); do
		for key in "${KA_KEYS[@]}"; do ka_run "$key"; done
	done
	# shellcheck disable=SC2059
	printf "$KA_FMT" "case" "req/s" "p50 ms" "p99 ms" "max ms" "failed" "p99 ms by round"
	for key in "${KA_KEYS[@]}"; do ka_row "$key"; done
	echo "keep-alive, 2 workers, $KA_CLIENTS clients: sluice p99 $(ms_or_na "${KA_P99[sluice]:-}")" \
		"(target < 5 ms); libfcgi p99 $(ms_or_na "${KA_P99[libfcgi]:-}")"
	for key in "${KA_KEYS[@]}"; do
		[ -n "${KA_PID[$key]:-}" ] && stop "${KA_PID[$key]}"
	done
	return 0
}

# ---- reload under load -------------------------------------------------

# serves_lines: how many reloads sluice's log reports as done.
serves_lines() {
	grep -c 'generation [0-9]* serves' "$DIR/reload-error.log" 2>/dev/null
}

# more_serves N: true once more than N reloads are reported done.
more_serves() {
	[ "$(serves_lines)" -gt "$1" ]
}

# reload_loop PID: sends PID up to $RELOADS SIGHUPs, each after the
# previous reload is reported done (5 s at most each).  It gives up
# after two reloads in a row that do not finish.  Leaves the count of
# finished reloads in $RELOADS_DONE.
reload_loop() {
	local pid=$1 i n missed=0
	RELOADS_DONE=0
	for ((i = 1; i <= RELOADS; i++)); do
		n=$(serves_lines)
		kill -HUP "$pid" 2>/dev/null || { fail "reload: the sluice master (pid $pid) is gone"; return; }
		if waitfor 5 more_serves "$n"; then
			RELOADS_DONE=$((RELOADS_DONE + 1))
			missed=0
		else
			echo "    reload $i: no \"generation N serves\" line within 5 s"
			if ((++missed == 2)); then
				echo "    reload: stopped after two reloads in a row did not finish"
				return
			fi
		fi
		sleep 0.2
	done
}

# reload_report OUT: the verdict line, and where the failures, if any,
# came from.  nginx's access log counts its own answers other than 200
# (499 is a client that wrk's stop cut off, not a failure) and the
# requests it retried on a fresh connection after an error on a kept
# one: retried requests did not fail, but they are the sign that a
# connection was closed under nginx's feet.
reload_report() {
	local out=$1 n failed p99 ngx retried upstream_errs
	n=$(wrk_requests "$out")
	failed=$(wrk_failed "$out")
	p99=$(wrk_ms "$out" 99%)
	ngx=$(awk '$1 != 200 && $1 != 499' "$DIR/reload-access.log" 2>/dev/null | wc -l)
	retried=$(awk '$1 == 200 && /,/' "$DIR/reload-access.log" 2>/dev/null | wc -l)
	upstream_errs=$(grep -c 'upstream' "$DIR/reload-nginx-error.log" 2>/dev/null)
	echo "reload under load: $RELOADS_DONE reloads, ${n:-0} requests, $failed failed (target 0)," \
		"p99 $(ms_or_na "$p99")"
	echo "    wrk: $(wrk_errors "$out" | sed 's/^$/no errors/');" \
		"nginx: $ngx answers other than 200 (499 aside)"
	echo "    nginx: ${upstream_errs:-0} upstream errors on kept connections; $retried GETs" \
		"succeeded only on a retry (nginx does not retry a POST: target 0)"
	[ "${upstream_errs:-0}" -gt 0 ] && grep 'upstream' "$DIR/reload-nginx-error.log" |
		sed 's/^.*\] [0-9#]*: \*[0-9]* //; s/, client:.*//' | sort | uniq -c | sort -rn |
		head -n 3 | sed 's/^/      /'
	return 0
}

# pool_reload: the reload case.  wrk runs until it is interrupted (its
# report is printed then), with a bound far above the reloads' time.
pool_reload() {
	local master wrk_pid out="$DIR/wrk-reload.txt" url="http://127.0.0.1:$P_RELOAD/"
	echo
	echo "== reload under load: sluice pm static 2, $RELOADS x SIGHUP to the master," \
		"each after the previous one is done; wrk -t2 -c$RELOAD_CLIENTS --latency until 1 s after the last"
	if [ "$HAVE_SLUICE" = 1 ]; then
		sluice_conf reload notice 2
		pool_start reload "$DIR/reload.log" "$SLUICE" -c "$DIR/reload.conf" || return
	else
		fail "reload under load: sluice is not built"
		return
	fi
	master=$STARTED
	if [ "$(status "$url")" != 200 ]; then
		fail "reload under load: nginx did not answer 200 through sluice"
		tail_log "$DIR/reload-error.log"
		stop "$master"
		return
	fi
	start "$out" timeout --foreground 200 wrk -t2 -c"$RELOAD_CLIENTS" -d150s --latency "$url"
	wrk_pid=$STARTED
	sleep 1
	reload_loop "$master"
	sleep 1
	kill -INT "$wrk_pid" 2>/dev/null
	wait "$wrk_pid" 2>/dev/null
	alive "$master" || fail "reload under load: the sluice master exited"
	if [ -z "$(wrk_requests "$out")" ]; then
		fail "reload under load: wrk printed no report"
		tail_log "$out"
	else
		reload_report "$out"
	fi
	[ "$RELOADS_DONE" -lt "$RELOADS" ] && tail_log "$DIR/reload-error.log"
	stop "$master"
}

# ---- the run -----------------------------------------------------------

# written FILE: true once FILE exists and is not empty.
written() {
	[ -s "$1" ]
}

# pool_cases: both cases, behind their own nginx.
pool_cases() {
	P_KA_SLUICE=$(free_port)
	P_KA_LIBFCGI=$(free_port)
	P_KA_PHP=$(free_port)
	P_RELOAD=$(free_port)
	pool_write_nginx_conf
	start "$DIR/pool-nginx.log" "$NGINX" -p "$DIR" -c "$DIR/pool-nginx.conf" -g 'daemon off;'
	if ! waitfor 10 written "$DIR/pool-nginx.pid"; then
		fail "the second nginx (keep-alive and reload cases) did not start"
		tail_log "$DIR/pool-nginx.log"
		tail_log "$DIR/pool-nginx-error.log"
		return
	fi
	pool_keepalive
	pool_reload
}
