# shellcheck shell=bash
# run.sh's measure reads URLPATH, CONNS, DURATION, WARMUP, WRK_ARGS and NGINX_PID,
# which wl_run and wl_cases set as locals (bash scopes them dynamically).
# shellcheck disable=SC2034,SC2153,SC2004
# workloads.sh - the workloads of sluice's benchmark, sourced by run.sh
# (part "workloads"), with run.sh's functions (start, stop, waitfor, fail,
# measure, median, ...) and its private directory $DIR.
#
# Behind one more nginx (worker_processes 1), every backend gets the same
# work, written in its own idiom, and one process to do it:
#
#   floor	tests/bench/fcgi-floor.c: the least a FastCGI responder can
#		do (one process per response size, fixed at start-up)
#   sluice	tests/bench/work.c, pm static 1, FastCGI and uwsgi listeners
#   libfcgi	tests/bench/libfcgi-hello.c, 1 process (FCGX_Accept_r loop)
#   php-fpm	a PHP script, pm static 1 (Debian's php8.2-fpm, opcache on)
#   uwsgi	tests/bench/symcall-work.c under uWSGI's symcall plugin,
#		1 process, behind uwsgi_pass (uWSGI's native protocol)
#
# and the workloads:
#
#   hello	GET /hello; also with fastcgi_keep_conn (floor and sluice:
#		the others hold a process per kept connection, see pool.sh)
#   headers100	GET /hello with 100 extra request headers
#   bodyN	POST /body of 1 KB, 64 KB, 1 MB, 16 MB, read to its end
#   respN	GET /resp/N, answers of 64 KB, 1 MB, 64 MB
#   routesN	sluice only: a module of N routes (tests/bench/routes-n.c),
#		N = 1, 100, 10,000, hitting the last route, and the middle
#		one of 10,000
#
# each over FastCGI, and over uwsgi for sluice and uWSGI.  Measured as in
# run.sh's throughput part (backend CPU time per request from
# /proc/PID/stat, medians of interleaved rounds), plus the growth of the
# backend's resident memory during the workload: the kernel's peak
# (VmHWM) is reset through /proc/PID/clear_refs before each run, and the
# peak after it less the resident size before it is the growth, for the
# process of the backend that grew most.
#
# Knobs (environment): BENCH_WL_DURATION (seconds per wrk run, 2),
# BENCH_WL_ROUNDS (rounds, 2), BENCH_WL (workloads to run, all unless
# set, e.g. "hello body1m").

WL_DURATION=${BENCH_WL_DURATION:-2}
WL_ROUNDS=${BENCH_WL_ROUNDS:-2}
WL_ALL="hello hello_ka headers100 body1k body64k body1m body16m resp64k resp1m resp64m
	routes1 routes100 routes10000 routes10000mid"
WL_LIST=${BENCH_WL:-$WL_ALL}
WL_RESP_SIZES="65536 1048576 67108864"
WL_ROUTES="1 100 10000"

# What each workload asks: path, wrk connections, bytes moved per
# request (for CPU per MB; 0 for none), and its wrk script if any.
declare -A WL_PATH=(
	[hello]=/hello [hello_ka]=/hello [headers100]=/hello
	[body1k]=/body [body64k]=/body [body1m]=/body [body16m]=/body
	[resp64k]=/resp/65536 [resp1m]=/resp/1048576 [resp64m]=/resp/67108864
	[routes1]=/r/0 [routes100]=/r/99 [routes10000]=/r/9999 [routes10000mid]=/r/5000
)
declare -A WL_CONNS=(
	[hello]=16 [hello_ka]=16 [headers100]=16 [body1k]=16 [body64k]=8 [body1m]=4
	[body16m]=2 [resp64k]=8 [resp1m]=4 [resp64m]=2
	[routes1]=16 [routes100]=16 [routes10000]=16 [routes10000mid]=16
)
declare -A WL_BYTES=(
	[body1k]=1024 [body64k]=65536 [body1m]=1048576 [body16m]=16777216
	[resp64k]=65536 [resp1m]=1048576 [resp64m]=67108864
)
# The backends each workload runs on, in the order of the table.
wl_backends() {
	case $1 in
	hello_ka) echo "floor sluice" ;;
	routes*) echo "sluice" ;;
	*) echo "floor sluice libfcgi php sluice_u uwsgi" ;;
	esac
}
declare -A WL_BE_LABEL=(
	[floor]="floor" [sluice]="sluice" [libfcgi]="libfcgi" [php]="php-fpm"
	[sluice_u]="sluice uwsgi" [uwsgi]="uWSGI symcall"
)
# The nginx port, and the pid whose process tree does the work, of each
# backend; WL_PID_RESP holds the floor of each response size.
declare -A WL_PORT WL_PID WL_PID_RESP WL_RSS

# ---- set-up ------------------------------------------------------------

# wl_lua: wrk's scripts for the POST bodies and the 100 headers.
wl_lua() {
	local i s
	for s in 1024 65536 1048576 16777216; do
		{
			printf 'wrk.method = "POST"\nwrk.body = string.rep("x", %d)\n' "$s"
			printf 'wrk.headers["Content-Type"] = "application/octet-stream"\n'
		} >"$DIR/post-$s.lua"
	done
	for ((i = 1; i <= 100; i++)); do
		printf 'wrk.headers["X-Bench-Header-%d"] = "value number %d of the hundred"\n' "$i" "$i"
	done >"$DIR/headers100.lua"
}

# wl_script WORKLOAD: the wrk script of a workload, or nothing.
wl_script() {
	case $1 in
	headers100) echo "$DIR/headers100.lua" ;;
	body*) echo "$DIR/post-${WL_BYTES[$1]}.lua" ;;
	esac
}

wl_php() {
	cat >"$DIR/wl-php-fpm.conf" <<-EOF
	[global]
	pid = $DIR/wl-php-fpm.pid
	error_log = $DIR/wl-php-fpm-error.log
	daemonize = no
	[bench]
	user = $(id -un)
	listen = $DIR/wl-php.sock
	listen.mode = 0666
	pm = static
	pm.max_children = 1
	php_admin_value[post_max_size] = 64M
	php_admin_value[memory_limit] = 256M
	EOF
	cat >"$DIR/work.php" <<-'EOF'
	<?php
	// The PHP side of tests/bench/work.c: /body reads the body to its end
	// through php://input, /resp/N echoes N bytes in 64 KiB pieces.
	$uri = $_SERVER['DOCUMENT_URI'];
	if ($uri === '/body') {
	    $in = fopen('php://input', 'rb');
	    $n = 0;
	    while (!feof($in))
	        $n += strlen(fread($in, 65536));
	    header('Content-Type: text/plain');
	    echo "read $n bytes\n";
	} elseif (strncmp($uri, '/resp/', 6) === 0) {
	    header('Content-Type: application/octet-stream');
	    $left = (int)substr($uri, 6);
	    $block = str_repeat('x', 65536);
	    for (; $left >= 65536; $left -= 65536)
	        echo $block;
	    if ($left > 0)
	        echo substr($block, 0, $left);
	} else {
	    header('Content-Type: text/plain; charset=utf-8');
	    echo "Hello from sluice!\n";
	}
	EOF
}

# wl_sluice_conf NAME MODULE: one worker serving MODULE on FastCGI
# ($DIR/NAME.sock) and uwsgi ($DIR/NAME-u.sock), bodies up to 64 MB.
wl_sluice_conf() {
	cat >"$DIR/$1.conf" <<-EOF
	error_log = "$DIR/$1-error.log";
	log_level = "warning";
	listen = ( { address = "$DIR/$1.sock"; mode = "0666"; },
	           { address = "$DIR/$1-u.sock"; mode = "0666"; protocol = "uwsgi"; } );
	pm = { mode = "static"; max_children = 1; };
	limits = { max_body_bytes = "64M"; };
	modules = ( { path = "$2"; mount = "/"; } );
	EOF
}

# wl_fcgi_server PORT SOCKET [EXTRA]: a server passing all to SOCKET.
wl_fcgi_server() {
	cat <<-EOF
	    server {
	        listen 127.0.0.1:$1;
	        location / { $PARAMS fastcgi_pass $2; ${3:-} }
	    }
	EOF
}

wl_write_nginx_conf() {
	local PARAMS size
	PARAMS="$(fastcgi_params) fastcgi_param SCRIPT_FILENAME $DIR/work.php;"
	{
		nginx_preamble wl-nginx
		cat <<-EOF
		    keepalive_requests 1000000;
		    # Bodies are held in memory and sent whole.  Answers are
		    # buffered as nginx does by default (memory, then its
		    # temporary file), so that it reads a backend as fast as
		    # it can: with fastcgi_max_temp_file_size 0 it would read
		    # at the client's pace, and a backend that spills what a
		    # slow reader leaves (sluice) would pay for the client.
		    client_max_body_size 64m;
		    client_body_buffer_size 17m;
		    fastcgi_buffers 16 64k;
		    uwsgi_buffers 16 64k;
		    upstream wl_floor_ka { server unix:$DIR/wl-floor.sock; keepalive 16; keepalive_requests 1000000; }
		    upstream wl_sluice_ka { server unix:$DIR/wl-sluice.sock; keepalive 16; keepalive_requests 1000000; }
		    server {
		        listen 127.0.0.1:${WL_PORT[floor]};
		        location / { $PARAMS fastcgi_pass unix:$DIR/wl-floor.sock; }
		EOF
		for size in $WL_RESP_SIZES; do
			echo "        location = /resp/$size { $PARAMS fastcgi_pass unix:$DIR/wl-floor-$size.sock; }"
		done
		echo "    }"
		wl_fcgi_server "${WL_PORT[floor_ka]}" wl_floor_ka "fastcgi_keep_conn on;"
		wl_fcgi_server "${WL_PORT[sluice]}" "unix:$DIR/wl-sluice.sock"
		wl_fcgi_server "${WL_PORT[sluice_ka]}" wl_sluice_ka "fastcgi_keep_conn on;"
		wl_fcgi_server "${WL_PORT[libfcgi]}" "unix:$DIR/wl-libfcgi.sock"
		wl_fcgi_server "${WL_PORT[php]}" "unix:$DIR/wl-php.sock"
		for size in $WL_ROUTES; do
			wl_fcgi_server "${WL_PORT[routes$size]}" "unix:$DIR/wl-routes$size.sock"
		done
		cat <<-EOF
		    server {
		        listen 127.0.0.1:${WL_PORT[sluice_u]};
		        location / { include /etc/nginx/uwsgi_params; uwsgi_pass unix:$DIR/wl-sluice-u.sock; }
		    }
		    server {
		        listen 127.0.0.1:${WL_PORT[uwsgi]};
		        location / {
		            include /etc/nginx/uwsgi_params;
		            uwsgi_modifier1 18;
		            uwsgi_pass unix:$DIR/wl-uwsgi.sock;
		        }
		    }
		}
		EOF
	} >"$DIR/wl-nginx.conf"
}

# wl_up NAME SOCKET LOG CMD...: starts a backend, waits for its socket;
# its pid goes to $STARTED.
wl_up() {
	local name=$1 sock=$2 log=$3
	shift 3
	rm -f "$sock"
	start "$log" "$@"
	if ! waitfor 30 sock_up "$sock"; then
		fail "workloads, $name: no socket $sock within 30 s"
		tail_log "$log"
		return 1
	fi
	return 0
}

# wl_start: every backend.  One that cannot start is left out of the
# table (its rows say so) and named among the failed parts.
wl_start() {
	local size fpm
	wl_up floor "$DIR/wl-floor.sock" "$DIR/wl-floor.log" "$FLOOR" "$DIR/wl-floor.sock" &&
		WL_PID[floor]=$STARTED WL_PID[floor_ka]=$STARTED
	for size in $WL_RESP_SIZES; do
		wl_up "floor $size" "$DIR/wl-floor-$size.sock" "$DIR/wl-floor-$size.log" \
			"$FLOOR" "$DIR/wl-floor-$size.sock" "$size" && WL_PID_RESP[$size]=$STARTED
	done
	if [ "$HAVE_SLUICE" = 1 ]; then
		wl_sluice_conf wl-sluice "$BUILD/bench/work.so"
		wl_up sluice "$DIR/wl-sluice.sock" "$DIR/wl-sluice.log" "$SLUICE" -c "$DIR/wl-sluice.conf" &&
			waitfor 30 has_children "$STARTED" &&
			WL_PID[sluice]=$STARTED WL_PID[sluice_ka]=$STARTED WL_PID[sluice_u]=$STARTED
		for size in $WL_ROUTES; do
			wl_sluice_conf "wl-routes$size" "$BUILD/bench/routes-$size.so"
			wl_up "sluice, $size routes" "$DIR/wl-routes$size.sock" "$DIR/wl-routes$size.log" \
				"$SLUICE" -c "$DIR/wl-routes$size.conf" && waitfor 30 has_children "$STARTED" &&
				WL_PID[routes$size]=$STARTED
		done
	fi
	pool_libfcgi && wl_up libfcgi "$DIR/wl-libfcgi.sock" "$DIR/wl-libfcgi.log" \
		"$LIBFCGI" "$DIR/wl-libfcgi.sock" 1 && WL_PID[libfcgi]=$STARTED
	fpm=$(pool_php_fpm)
	if [ -n "$fpm" ]; then
		wl_php
		wl_up php-fpm "$DIR/wl-php.sock" "$DIR/wl-php-fpm.log" "$fpm" -R -F -y "$DIR/wl-php-fpm.conf" &&
			WL_PID[php]=$STARTED
	else
		fail "workloads: php-fpm is not installed (make deps-bench)"
	fi
	if command -v uwsgi-core >/dev/null && [ -r "$BUILD/bench/symcall-work.so" ]; then
		# --dlopen loads the handler too late for --symcall to find
		# it in uWSGI 2.0.21; preloaded, it is in the global scope.
		wl_up "uWSGI symcall" "$DIR/wl-uwsgi.sock" "$DIR/wl-uwsgi.log" \
			env LD_PRELOAD="$BUILD/bench/symcall-work.so" \
			uwsgi-core --plugin symcall --symcall bench_work --uwsgi-socket "$DIR/wl-uwsgi.sock" --chmod-socket=666 \
			--processes 1 --buffer-size 65535 --disable-logging --die-on-term &&
			WL_PID[uwsgi]=$STARTED
	else
		fail "workloads: uWSGI (uwsgi-core) or symcall-work.so is missing (make deps-bench)"
	fi
}

# ---- measuring ---------------------------------------------------------

# wl_pid WORKLOAD BACKEND: the pid doing the work.
wl_pid() {
	case $1/$2 in
	resp*/floor) echo "${WL_PID_RESP[${WL_BYTES[$1]}]:-}" ;;
	routes10000mid/sluice) echo "${WL_PID[routes10000]:-}" ;;
	routes*/sluice) echo "${WL_PID[$1]:-}" ;;
	*) echo "${WL_PID[$2]:-}" ;;
	esac
}

wl_port() {
	case $1/$2 in
	routes10000mid/sluice) echo "${WL_PORT[routes10000]}" ;;
	routes*/sluice) echo "${WL_PORT[$1]}" ;;
	hello_ka/*) echo "${WL_PORT[$2_ka]}" ;;
	*) echo "${WL_PORT[$2]}" ;;
	esac
}

# tree PID: PID and its descendants.
tree() {
	echo "$1"
	descendants "$1"
}

# rss_reset PID: resets the peak of every process of PID's tree and
# prints "pid:rss_kb" for each.
rss_reset() {
	local p
	for p in $(tree "$1"); do
		{ echo 5 >"/proc/$p/clear_refs"; } 2>/dev/null || continue
		echo "$p:$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)"
	done
}

# rss_growth BEFORE: the largest peak-less-before among those processes, kB.
rss_growth() {
	local e p g=0 hwm
	for e in $1; do
		p=${e%%:*}
		hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
		[ -n "$hwm" ] && [ $((hwm - ${e#*:})) -gt "$g" ] && g=$((hwm - ${e#*:}))
	done
	echo "$g"
}

# wl_run WORKLOAD BACKEND: one measured run through run.sh's measure.
wl_run() {
	local wl=$1 be=$2 pid port script before
	local key="$wl.$be" WRK_ARGS=() URLPATH=${WL_PATH[$1]} CONNS=${WL_CONNS[$1]}
	local DURATION=$WL_DURATION WARMUP=0
	# One warm-up per backend is enough (PHP's opcache, the first
	# page faults): in the first workload, which all backends share.
	[ "$wl" = "${WL_LIST%% *}" ] && WARMUP=1
	pid=$(wl_pid "$wl" "$be")
	if [ -z "$pid" ]; then
		LABEL[$key]="${WL_BE_LABEL[$be]}"
		return
	fi
	port=$(wl_port "$wl" "$be")
	script=$(wl_script "$wl")
	[ -n "$script" ] && WRK_ARGS=(-s "$script")
	before=$(rss_reset "$pid")
	measure "$key" "${WL_BE_LABEL[$be]}" "$port" "$pid" &&
		WL_RSS[$key]+=" $(rss_growth "$before")"
}

# ---- reporting ---------------------------------------------------------

WL_FMT="%-16s %-14s %9s %9s %8s %9s %8s %10s\n"

# wl_us KEY: the median backend CPU per request, or nothing.
wl_us() {
	[ -n "${BE_US[$1]:-}" ] && median "${BE_US[$1]}"
}

# wl_table: one row per workload and backend, with the ratio to the
# floor of the same protocol (uwsgi rows against the FastCGI floor, as
# there is no uwsgi floor) and the CPU per MB moved.  Each row also goes
# to the results file.
wl_table() {
	local wl be key us floor ratio permb p99 rss
	echo
	echo "== workloads: backend CPU per request, one process per backend, median of $WL_ROUNDS" \
		"round(s) of wrk -d${WL_DURATION}s, interleaved"
	# shellcheck disable=SC2059
	printf "$WL_FMT" workload backend "us/req" "x floor" "us/MB" "p99" "req/s" "RSS +kB"
	for wl in $WL_LIST; do
		floor=$(wl_us "$wl.floor")
		[ "$wl" = "${wl#routes}" ] || floor=$(wl_us "routes1.sluice")
		for be in $(wl_backends "$wl"); do
			key="$wl.$be"
			us=$(wl_us "$key")
			if [ -z "$us" ]; then
				# shellcheck disable=SC2059
				printf "$WL_FMT" "$wl" "${WL_BE_LABEL[$be]}" "n/a" "" "" "" "" ""
				continue
			fi
			ratio=$(awk -v a="$us" -v b="${floor:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
			permb=$(awk -v a="$us" -v n="${WL_BYTES[$wl]:-0}" \
				'BEGIN { if (n > 0) printf "%.0f", a * 1048576 / n }')
			p99=$(median "${P99[$key]}" | awk '{ printf($1 < 1000 ? "%.0fus" : "%.1fms",
				$1 < 1000 ? $1 : $1 / 1000) }')
			rss=$(median "${WL_RSS[$key]:-}")
			# shellcheck disable=SC2059
			printf "$WL_FMT" "$wl" "${WL_BE_LABEL[$be]}" "$us" "$ratio" "$permb" "$p99" \
				"$(median "${RPS[$key]}")" "$rss"
			result workload "$wl" "$be" us_per_req "$us"
			[ -n "$ratio" ] && result workload "$wl" "$be" x_floor "$ratio"
			[ -n "$permb" ] && result workload "$wl" "$be" us_per_mb "$permb"
			result workload "$wl" "$be" rss_growth_kb "$rss"
			result workload "$wl" "$be" rps "$(median "${RPS[$key]}")"
		done
	done
}

# ---- the part ----------------------------------------------------------

wl_cases() {
	local wl be name
	for name in floor floor_ka sluice sluice_ka libfcgi php sluice_u uwsgi \
		routes1 routes100 routes10000; do
		WL_PORT[$name]=$(free_port)
	done
	wl_lua
	wl_write_nginx_conf
	start "$DIR/wl-nginx.log" "$NGINX" -p "$DIR" -c "$DIR/wl-nginx.conf" -g 'daemon off;'
	WL_NGINX=$STARTED
	if ! waitfor 10 written "$DIR/wl-nginx.pid"; then
		fail "the workloads' nginx did not start"
		tail_log "$DIR/wl-nginx-error.log"
		return
	fi
	wl_start
	local NGINX_PID=$WL_NGINX
	for ((ROUND = 1; ROUND <= WL_ROUNDS; ROUND++)); do
		for wl in $WL_LIST; do
			for be in $(wl_backends "$wl"); do wl_run "$wl" "$be"; done
		done
	done
	wl_table
}

# wl_targets: the issue's numbers for the workloads.  Per workload,
# sluice against the floor (the uwsgi rows against the FastCGI floor,
# there being no uwsgi floor) and against every peer of the same run.
wl_targets() {
	local wl s f be p peers cheapest
	echo
	echo "== numbers to reach, workloads"
	for wl in $WL_LIST; do
		case $wl in routes*) continue ;; esac
		s=$(wl_us "$wl.sluice")
		f=$(wl_us "$wl.floor")
		target "$wl: sluice CPU/req vs the floor's" \
			"$(awk -v s="$s" -v f="$f" 'BEGIN { if (s != "" && f > 0) printf "%.2f", s / f }')" \
			"<=" 1.20 "sluice ${s:-n/a} us, floor ${f:-n/a} us"
		[ "$wl" = hello_ka ] && continue
		peers="" cheapest=""
		for be in libfcgi php uwsgi; do
			p=$(wl_us "$wl.$be")
			[ -n "$p" ] || continue
			peers+="${peers:+, }${WL_BE_LABEL[$be]} $p"
			[ -z "$cheapest" ] || awk -v a="$p" -v b="$cheapest" 'BEGIN { exit !(a < b) }' && cheapest=$p
		done
		target "$wl: sluice CPU/req vs the cheapest peer's" \
			"$(awk -v s="$s" -v p="$cheapest" 'BEGIN { if (s != "" && p > 0) printf "%.2f", s / p }')" \
			"<" 1 "sluice ${s:-n/a} us; ${peers:-no peer}"
		s=$(wl_us "$wl.sluice_u")
		p=$(wl_us "$wl.uwsgi")
		[ -n "$p" ] && target "$wl: sluice uwsgi CPU/req vs uWSGI symcall's" \
			"$(awk -v s="$s" -v p="$p" 'BEGIN { if (s != "" && p > 0) printf "%.2f", s / p }')" \
			"<" 1 "sluice uwsgi ${s:-n/a} us, uWSGI ${p} us"
	done
	s=$(wl_us routes10000.sluice)
	f=$(wl_us routes1.sluice)
	target "routing: CPU/req at 10,000 routes vs 1 route" \
		"$(awk -v s="$s" -v f="$f" 'BEGIN { if (s != "" && f > 0) printf "%.2f", s / f }')" \
		"<=" 1.10 "${s:-n/a} us vs ${f:-n/a} us"
	for wl in resp64m body16m; do
		for be in sluice sluice_u; do
			target "$wl: ${WL_BE_LABEL[$be]} worker RSS growth, kB" \
				"$(median "${WL_RSS[$wl.$be]:-}")" "<=" 2048
		done
	done
}
