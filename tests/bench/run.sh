#!/usr/bin/env bash
#
# run.sh BUILD - sluice's benchmark: nginx + wrk on loopback.
#
#	tests/bench/run.sh build/prod	(what `make bench` runs)
#
# One nginx (worker_processes 1) and one wrk measure, in one run:
#
#   nginx alone		nginx answers by itself (return 200)
#   floor		tests/bench/fcgi-floor.c, a FastCGI responder that
#			does nothing but answer: the least a backend can cost
#   sluice		sluice serving apps/hello.so with pm.max_children = 1,
#			so that one worker process faces the one-process floor
#
# the two backends each without and with fastcgi_keep_conn, and sluice
# with keep_conn and its access log on (the log's price).  For every
# case it prints req/s, p99 latency, and the CPU time per request of
# nginx and of the backend: utime+stime from /proc/PID/stat of all their
# processes, sampled just before and after the wrk run, divided by the
# requests wrk completed.  Then, exactly, for sluice (the floor beside it
# for reference): system calls per request in the worker (strace -c
# attached during a short wrk run) and instructions per request
# (callgrind; the difference between a run of N1 and one of N2 requests,
# divided by N2 - N1, so that start-up and shut-down cancel out).
#
# A bench, not a test: no number makes it fail.  It exits non-zero only
# when a part could not run, and says which.  Everything it starts lives
# in a private temporary directory and is stopped on exit or Ctrl-C.
#
# The machine may be small and shared, so the throughput cases run in
# interleaved rounds (every case once per round) and the medians are
# printed: a burst of outside load then skews one round, not one case.
#
# After them, the pool cases of tests/bench/pool.sh, behind a second
# nginx: keep-alive with 2 worker processes and 16 clients (sluice, a
# plain libfcgi program, php-fpm where installed: p50, p99, max, req/s),
# and 20 reloads of sluice under load (requests, failed requests, p99).
#
# Knobs (environment): BENCH_DURATION (seconds per wrk run, 5),
# BENCH_ROUNDS (rounds of the throughput cases, 3),
# BENCH_CONNS (wrk connections, 16), BENCH_PATH (URL path, /),
# BENCH_CG_N1 / BENCH_CG_N2 (callgrind request counts, 500 / 2500),
# BENCH_KEEP=1 (keep the temporary directory and print where it is),
# BENCH_PARTS (which parts run, of "throughput syscalls instructions
# pool workloads workers chart"; all of them unless set: "instructions"
# alone gives the exact figures in a minute or two), BENCH_OUT (where
# bench.csv and bench.png go, $BUILD/bench/results); the knobs of
# pool.sh, workloads.sh and curves.sh are listed there.
#
# Then the workloads (tests/bench/workloads.sh: bodies, big answers, 100
# headers, routes, against the floor, libfcgi, php-fpm and uWSGI in the
# same run), the worker-count curve (tests/bench/curves.sh), every
# number the project aims at with its target and whether it was met,
# and the chart and results file (tests/bench/chart.sh).

# Several functions are only called through waitfor or the traps.
# shellcheck disable=SC2317

set -u -o pipefail

BUILD=${1:-build/prod}
DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-16}
URLPATH=${BENCH_PATH:-/}
CG_N1=${BENCH_CG_N1:-500}
CG_N2=${BENCH_CG_N2:-2500}
PARTS=" ${BENCH_PARTS:-throughput syscalls instructions pool workloads workers chart} "
NGINX=${NGINX:-/usr/sbin/nginx}
TICK=$(getconf CLK_TCK)

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SLUICE=$BUILD/sluice
HELLO=$BUILD/apps/hello.so
FLOOR=$BUILD/bench/fcgi-floor

DIR=
PIDS=()
FAILED=()

# ---- processes ---------------------------------------------------------

# alive PID: true while PID runs (a zombie no longer counts).
alive() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# proc_stats: /proc/PID/stat of every process.  A process that exits
# between the glob and the read makes cat fail; under pipefail that
# failure would become the status of every pipeline below, and of the
# assignment that takes its output, so it is ignored here.
proc_stats() {
	cat /proc/[0-9]*/stat 2>/dev/null
	return 0
}

# descendants PID: every process below PID, one per line.
descendants() {
	proc_stats | awk -v root="$1" '
		{ r = $0; sub(/^.*\) /, "", r); split(r, f, " "); pp[$1] = f[2] }
		END {
			mem[root] = 1
			do {
				more = 0
				for (p in pp)
					if (!(p in mem) && (pp[p] in mem)) { mem[p] = 1; more = 1 }
			} while (more)
			for (p in mem) if (p != root) print p
		}'
}

# children PID: the direct children of PID, sorted.
children() {
	proc_stats | awk -v root="$1" '
		{ r = $0; sub(/^.*\) /, "", r); split(r, f, " ");
		  if (f[2] == root) print $1 }' | sort -n
}

# ticks PID: utime+stime of PID and all its descendants, in clock ticks.
ticks() {
	proc_stats | awk -v root="$1" '
		{ r = $0; sub(/^.*\) /, "", r); split(r, f, " ");
		  pp[$1] = f[2]; t[$1] = f[12] + f[13] }
		END {
			mem[root] = 1
			do {
				more = 0
				for (p in pp)
					if (!(p in mem) && (pp[p] in mem)) { mem[p] = 1; more = 1 }
			} while (more)
			s = 0
			for (p in mem) s += t[p]
			print s
		}'
}

# start LOG CMD...: runs CMD in the background, remembered for cleanup.
# The started PID is left in $STARTED.
start() {
	local log=$1
	shift
	"$@" </dev/null >"$log" 2>&1 &
	STARTED=$!
	PIDS+=("$STARTED")
}

# stop PID: SIGTERM, up to 10 s for PID to leave, then SIGKILL for PID
# and whatever it left behind.
stop() {
	local pid=$1 kids i
	alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
	kids=$(descendants "$pid")
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	# shellcheck disable=SC2086
	kill -KILL "$pid" $kids 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

cleanup() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--))
		do stop "${PIDS[i]}"; done
	if [ -n "$DIR" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $DIR"; else rm -rf "$DIR"; fi
	fi
}
trap cleanup EXIT
for sig in INT TERM HUP; do
	# shellcheck disable=SC2064
	trap "echo 'bench: stopped by SIG$sig' >&2; exit 130" "$sig"
done

# waitfor SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
waitfor() {
	local n=$(($1 * 10))
	shift
	while ((n-- > 0)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# fail WORDS...: records and prints a part that could not run.
fail() {
	FAILED+=("$*")
	echo "FAILED: $*"
}

# tail_log FILE: the end of a log, indented, for a failure report.
tail_log() {
	[ -s "$1" ] && tail -n 5 "$1" | sed "s|^|    $(basename "$1"): |"
	return 0
}

# part NAME: true when NAME is one of the parts this run does (BENCH_PARTS).
part() {
	case $PARTS in *" $1 "*) return 0 ;; esac
	return 1
}

# ---- set-up ------------------------------------------------------------

# free_port: a port on 127.0.0.1 that nothing listens on and that this
# run has not already taken.  It is drawn below the kernel's range of
# ephemeral ports: a port that a client connection happens to use
# (wrk's, or any other program's) cannot be bound, and connecting to it
# would not tell.
TAKEN=" "
EPHEMERAL=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
[ "${EPHEMERAL:-0}" -gt 22000 ] || EPHEMERAL=50000
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % (EPHEMERAL - 20000)))
		case $TAKEN in *" $p "*) continue ;; esac
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		TAKEN="$TAKEN$p "
		echo "$p"
		return
	done
}

# fastcgi_params: nginx's conventional parameter set, or the few a
# responder needs where the distribution does not ship the file.
fastcgi_params() {
	if [ -r /etc/nginx/fastcgi_params ]; then
		echo "include /etc/nginx/fastcgi_params;"
	else
		cat <<-'EOF'
		fastcgi_param QUERY_STRING $query_string;
		fastcgi_param REQUEST_METHOD $request_method;
		fastcgi_param CONTENT_TYPE $content_type;
		fastcgi_param CONTENT_LENGTH $content_length;
		fastcgi_param SCRIPT_NAME $fastcgi_script_name;
		fastcgi_param REQUEST_URI $request_uri;
		fastcgi_param DOCUMENT_URI $document_uri;
		fastcgi_param SERVER_PROTOCOL $server_protocol;
		fastcgi_param REMOTE_ADDR $remote_addr;
		fastcgi_param SERVER_NAME $server_name;
		fastcgi_param SERVER_PORT $server_port;
		EOF
	fi
}

# nginx_preamble NAME: what every nginx of the bench starts with (pid and
# error log named NAME, temporary files in $DIR), up to inside its http
# block, which the caller goes on with and closes.
nginx_preamble() {
	# Started as root, nginx would run its worker as "nobody", which
	# cannot reach the sockets inside our private 0700 directory.
	[ "$(id -u)" -eq 0 ] && echo "user root;"
	cat <<-EOF
	worker_processes 1;
	pid $DIR/$1.pid;
	error_log $DIR/$1-error.log warn;
	events { worker_connections 1024; }
	http {
	    access_log off;
	    default_type text/plain;
	    client_body_temp_path $DIR/tmp/client_body;
	    proxy_temp_path $DIR/tmp/proxy;
	    fastcgi_temp_path $DIR/tmp/fastcgi;
	    uwsgi_temp_path $DIR/tmp/uwsgi;
	    scgi_temp_path $DIR/tmp/scgi;
	EOF
}

write_nginx_conf() {
	local params
	params=$(fastcgi_params)
	{
		nginx_preamble nginx
		cat <<-EOF
		    # wrk's connections, and the upstream ones, stay up for the
		    # whole run instead of being cycled every 1000 requests.
		    keepalive_requests 1000000;

		    upstream floor_ka {
		        server unix:$DIR/floor.sock;
		        keepalive 16;
		        keepalive_requests 1000000;
		    }
		    upstream sluice_ka {
		        server unix:$DIR/sluice.sock;
		        keepalive 16;
		        keepalive_requests 1000000;
		    }
		    upstream sluice_log_ka {
		        server unix:$DIR/sluice_log.sock;
		        keepalive 16;
		        keepalive_requests 1000000;
		    }
		    server {
		        listen 127.0.0.1:$P_NGINX;
		        location / { return 200 "hello\n"; }
		    }
		    server {
		        listen 127.0.0.1:$P_FLOOR;
		        location / { $params fastcgi_pass unix:$DIR/floor.sock; }
		    }
		    server {
		        listen 127.0.0.1:$P_FLOOR_KA;
		        location / { $params fastcgi_pass floor_ka; fastcgi_keep_conn on; }
		    }
		    server {
		        listen 127.0.0.1:$P_SLUICE;
		        location / { $params fastcgi_pass unix:$DIR/sluice.sock; }
		    }
		    server {
		        listen 127.0.0.1:$P_SLUICE_KA;
		        location / { $params fastcgi_pass sluice_ka; fastcgi_keep_conn on; }
		    }
		    server {
		        listen 127.0.0.1:$P_SLUICE_LOG_KA;
		        location / { $params fastcgi_pass sluice_log_ka; fastcgi_keep_conn on; }
		    }
		}
		EOF
	} >"$DIR/nginx.conf"
}

# sluice_conf NAME LEVEL CHILDREN: $DIR/NAME.conf, a sluice serving
# hello.so on $DIR/NAME.sock with CHILDREN static workers, logging at
# LEVEL to $DIR/NAME-error.log.  pool.sh uses it too.
sluice_conf() {
	cat >"$DIR/$1.conf" <<-EOF
	error_log = "$DIR/$1-error.log";
	log_level = "$2";
	listen = { address = "$DIR/$1.sock"; mode = "0666"; };
	pm = { mode = "static"; max_children = $3; };
	modules = ( { path = "$HELLO"; mount = "/"; } );
	EOF
}

# status URL: the HTTP status nginx answers URL with ("000" if none).
status() {
	curl -s -o /dev/null -m 5 -w '%{http_code}' "$1"
}

answers200() {
	[ "$(status "$1")" = 200 ]
}

sock_up() {
	[ -S "$1" ]
}

# ---- backends ----------------------------------------------------------

FLOOR_PID=
SLUICE_PID=

# start_floor [WRAPPER...]: starts the floor, optionally under a wrapper
# (valgrind), and waits for its socket.
start_floor() {
	rm -f "$DIR/floor.sock"
	start "$DIR/floor.log" "$@" "$FLOOR" "$DIR/floor.sock"
	FLOOR_PID=$STARTED
	waitfor 30 sock_up "$DIR/floor.sock" && return 0
	fail "fcgi-floor did not create its socket within 30 s"
	tail_log "$DIR/floor.log"
	return 1
}

# start_sluice [WRAPPER...]: starts sluice and waits for its socket and
# its worker.
start_sluice() {
	rm -f "$DIR/sluice.sock"
	start "$DIR/sluice.log" "$@" "$SLUICE" -c "$DIR/sluice.conf"
	SLUICE_PID=$STARTED
	if ! waitfor 30 sock_up "$DIR/sluice.sock"; then
		fail "sluice did not create $DIR/sluice.sock within 30 s"
		tail_log "$DIR/sluice.log"
		tail_log "$DIR/sluice-error.log"
		return 1
	fi
	if ! waitfor 30 has_children "$SLUICE_PID"; then
		fail "sluice started no worker within 30 s"
		tail_log "$DIR/sluice-error.log"
		return 1
	fi
	return 0
}

# start_sluice_log: a second sluice like the first, with the access log
# on in its default format, for the throughput case that prices it.
start_sluice_log() {
	sluice_conf sluice_log warning 1
	echo "access_log = \"$DIR/access.log\";" >>"$DIR/sluice_log.conf"
	rm -f "$DIR/sluice_log.sock"
	start "$DIR/sluice_log.log" "$SLUICE" -c "$DIR/sluice_log.conf"
	SLUICE_LOG_PID=$STARTED
	if ! waitfor 30 sock_up "$DIR/sluice_log.sock" || ! waitfor 30 has_children "$STARTED"; then
		fail "sluice with the access log did not start within 30 s"
		tail_log "$DIR/sluice_log-error.log"
		SLUICE_LOG_PID=
		return 1
	fi
	return 0
}

has_children() {
	[ -n "$(children "$1")" ]
}

# ---- measuring ---------------------------------------------------------

# wrk_run SECONDS URL OUT: one bounded wrk run, its report in OUT.
# WRK_ARGS, where a caller sets it, adds wrk options (a script).
WRK_ARGS=()
wrk_run() {
	timeout --foreground $(($1 + 20)) wrk -t1 -c"$CONNS" -d"$1"s --latency \
		"${WRK_ARGS[@]}" "$2" >"$3" 2>&1
}

wrk_requests() { awk '/ requests in / { print $1 }' "$1"; }
wrk_rps() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$1"; }
wrk_p99() { awk '$1 == "99%" { print $2 }' "$1"; }
wrk_errors() {
	awk '/Non-2xx/ { print "non-2xx: " $NF } /Socket errors/ { sub(/^ +/, ""); print }' "$1" |
		paste -sd ';' -
}

# us_per_req TICKS REQUESTS: CPU microseconds per request.
us_per_req() {
	awk -v t="$1" -v n="$2" -v hz="$TICK" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }'
}

# wrk prints latencies as 157.00us, 1.62ms, 1.00s; in microseconds:
wrk_p99_us() {
	awk '$1 == "99%" { v = $2 + 0; u = $2; sub(/^[0-9.]+/, "", u)
		print v * (u == "ms" ? 1e3 : u == "s" ? 1e6 : u == "m" ? 6e7 : 1) }' "$1"
}

# Each case collects one value per round, space-separated, in these.
declare -A RPS P99 NGX_US BE_US LABEL BROKEN

# median LIST: the median of space-separated numbers ("" if none).
median() {
	# shellcheck disable=SC2086
	printf '%s\n' $1 | sort -g | awk '{ v[NR] = $1 }
		END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# measure KEY LABEL PORT [BACKEND_PID]: one measured wrk run of this
# round, with CPU samples of nginx and the backend around it.  In the
# first round it checks the answer and warms up for a second first
# (unless WARMUP=0: the workloads warm each backend once); a
# case that failed once is not run again.  The backend's processes must
# be the same before and after: the CPU time of one that died would be
# missing from the sum.
measure() {
	local key=$1 url="http://127.0.0.1:$3$URLPATH" be=${4:-}
	local out="$DIR/wrk-$key-$ROUND.txt" code n n0 n1 b0=0 b1=0 k0='' k1='' err

	LABEL[$key]=$2
	[ -n "${BROKEN[$key]:-}" ] && return 1
	BROKEN[$key]=1
	if [ "$ROUND" = 1 ]; then
		code=$(status "$url")
		if [ "$code" != 200 ]; then
			fail "$2: nginx answered $code to GET $URLPATH, not 200"
			tail_log "$DIR/nginx-error.log"
			return 1
		fi
		[ "${WARMUP:-1}" = 1 ] && wrk_run 1 "$url" /dev/null
	fi
	n0=$(ticks "$NGINX_PID")
	[ -n "$be" ] && b0=$(ticks "$be") && k0=$(descendants "$be" | sort)
	wrk_run "$DURATION" "$url" "$out"
	n1=$(ticks "$NGINX_PID")
	[ -n "$be" ] && b1=$(ticks "$be") && k1=$(descendants "$be" | sort)
	n=$(wrk_requests "$out")
	if [ -z "$n" ] || [ "$n" -eq 0 ]; then
		fail "$2: wrk completed no request in round $ROUND"
		tail_log "$out"
		return 1
	fi
	if [ -n "$be" ] && { ! alive "$be" || [ "$k0" != "$k1" ]; }; then
		if alive "$be"; then
			fail "$2: the backend's child processes changed during round $ROUND" \
"(before: $(echo "$k0" | paste -sd ' ' -), after: $(echo "$k1" | paste -sd ' ' -))"
		else
			fail "$2: the backend (pid $be) exited during round $ROUND"
		fi
		tail_log "$DIR/sluice-error.log"
		return 1
	fi
	RPS[$key]+=" $(wrk_rps "$out")"
	P99[$key]+=" $(wrk_p99_us "$out")"
	NGX_US[$key]+=" $(us_per_req $((n1 - n0)) "$n")"
	[ -n "$be" ] && BE_US[$key]+=" $(us_per_req $((b1 - b0)) "$n")"
	err=$(wrk_errors "$out")
	[ -n "$err" ] && echo "    $2, round $ROUND: wrk reported errors: $err"
	unset "BROKEN[$key]"
	return 0
}

ROW_FMT="%-26s %8s %9s %8s %9s   %s\n"

# report KEY: the medians of a case's rounds, and the backend's CPU time
# of every round to show how noisy the machine was.
report() {
	local key=$1 p99 be=-
	[ -n "${RPS[$key]:-}" ] || return 0
	p99=$(median "${P99[$key]}" | awk '{ printf($1 < 1000 ? "%.0fus" : "%.2fms", $1 < 1000 ? $1 : $1 / 1000) }')
	[ -n "${BE_US[$key]:-}" ] && be=$(median "${BE_US[$key]}")
	# shellcheck disable=SC2059
	printf "$ROW_FMT" "${LABEL[$key]}" "$(median "${RPS[$key]}")" "$p99" \
		"$(median "${NGX_US[$key]}")" "$be" "${BE_US[$key]:--}"
}

# syscalls KEY LABEL PORT PID...: strace -c attached to the PIDs during
# a 2-second wrk run; prints syscalls per request and the top ones.
syscalls() {
	local key=$1 label=$2 url="http://127.0.0.1:$3$URLPATH" spid n p
	local out="$DIR/strace-$key.txt" args=()
	shift 3
	for p in "$@"; do args+=(-p "$p"); done
	timeout --foreground 60 strace -c -f -o "$out" "${args[@]}" 2>"$DIR/strace-$key.log" &
	spid=$!
	if ! waitfor 10 traced "$1"; then
		fail "$label: strace could not attach to pid $1"
		tail_log "$DIR/strace-$key.log"
		kill -INT "$spid" 2>/dev/null
		wait "$spid"
		return 1
	fi
	wrk_run 2 "$url" "$DIR/wrk-strace-$key.txt"
	kill -INT "$spid" 2>/dev/null
	wait "$spid"
	n=$(wrk_requests "$DIR/wrk-strace-$key.txt")
	if [ -z "$n" ] || [ "$n" -eq 0 ] || [ ! -s "$out" ]; then
		fail "$label: no strace count (requests: ${n:-none})"
		tail_log "$DIR/strace-$key.log"
		return 1
	fi
	# strace -c: "% time  seconds  usecs/call  calls  [errors]  syscall";
	# the calls column is always the fourth.
	awk -v n="$n" -v label="$label" '
		/^-/ { rule++; next }
		rule == 1 && NF >= 5 { c[$NF] = $4 }
		$NF == "total" { total = $4 }
		END {
			printf "%-28s %6.2f syscalls/req  (%d requests):", label, total / n, n
			k = 0
			while (k < 6) {
				best = ""
				for (s in c) if (best == "" || c[s] > c[best]) best = s
				if (best == "") break
				printf " %s %.2f", best, c[best] / n
				delete c[best]
				k++
			}
			printf "\n"
		}' "$out"
}

traced() {
	local tp
	tp=$(awk '/^TracerPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$tp" ] && [ "$tp" != 0 ]
}

# requests PORT N: N sequential GETs on one connection (curl reuses it);
# prints how many got 200.
requests() {
	local i cfg="$DIR/curl-$2.cfg"
	for ((i = 0; i < $2; i++)); do
		printf 'url = "http://127.0.0.1:%s%s"\noutput = "/dev/null"\n' "$1" "$URLPATH"
	done >"$cfg"
	timeout --foreground 300 curl -s -w '%{http_code}\n' -K "$cfg" | grep -c '^200$'
}

# callgrind_run WHAT PORT N: runs WHAT (floor or sluice) under callgrind,
# sends N requests, and stops it.  Leaves in CG_IR the instructions (Ir)
# counted in the processes that served them, in CG_FILES how many such
# processes wrote a file, and in CG_FILE the last of those files.  That
# is the floor itself, or sluice's worker: callgrind writes one file per
# process (%p), and the master's, whose pid we know, is left out.  Not
# run in a subshell, so that what it starts is stopped on Ctrl-C.
callgrind_run() {
	local what=$1 port=$2 n=$3 cg="$DIR/cg-$1-$2-$3${CG_TAG:+-$CG_TAG}" pid ok f
	local vg=(valgrind --tool=callgrind --trace-children=yes
		--callgrind-out-file="$cg/callgrind.out.%p")
	CG_IR=0 CG_FILES=0 CG_FILE=
	mkdir -p "$cg"
	if [ "$what" = floor ]; then
		stop "$FLOOR_PID"
		start_floor "${vg[@]}" || return 1
		pid=$FLOOR_PID
	else
		stop "$SLUICE_PID"
		start_sluice "${vg[@]}" || return 1
		pid=$SLUICE_PID
	fi
	if ! waitfor 30 answers200 "http://127.0.0.1:$port$URLPATH"; then
		echo "    $what under callgrind: no 200 answer within 30 s"
		stop "$pid"
		return 1
	fi
	ok=$(requests "$port" "$n")
	stop "$pid"
	[ "$ok" -eq "$n" ] || echo "    $what under callgrind: only $ok of $n requests got 200"
	for f in "$cg"/callgrind.out.*; do
		[ -e "$f" ] || continue
		[ "$what" = sluice ] && [ "${f##*.}" = "$pid" ] && continue
		CG_IR=$((CG_IR + $(awk '/^(totals|summary):/ { print $2; exit }' "$f")))
		CG_FILES=$((CG_FILES + 1))
		CG_FILE=$f
	done
	return 0
}

# self_ir FILE: "Ir<TAB>function" for every function of a callgrind file.
self_ir() {
	callgrind_annotate --threshold=100 --auto=no "$1" 2>/dev/null |
		awk '/^ *[0-9,]+ +\( *[0-9.]+%\) / && !/PROGRAM TOTALS/ {
			n = $1; gsub(/,/, "", n)
			sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, ""); sub(/ \[.*\]$/, ""); sub(/^.*:/, "")
			print n "\t" $0 }'
}

# top_functions FILE1 FILE2: the functions whose own instructions grew
# most per request between the two runs (same difference method).
top_functions() {
	command -v callgrind_annotate >/dev/null || return 0
	self_ir "$1" >"$1.self"
	self_ir "$2" >"$2.self"
	awk -F '\t' -v n="$((CG_N2 - CG_N1))" '
		NR == FNR { a[$2] += $1; next }
		{ b[$2] += $1 }
		END {
			for (f in b) d[f] = (b[f] - (f in a ? a[f] : 0)) / n
			printf "    top functions, own instructions/req:"
			for (k = 0; k < 8; k++) {
				best = ""
				for (f in d) if (best == "" || d[f] > d[best]) best = f
				if (best == "" || d[best] < 1) break
				printf " %s %.0f", best, d[best]
				delete d[best]
			}
			printf "\n"
		}' "$1.self" "$2.self"
}

# instructions KEY LABEL WHAT PORT: the difference method described at
# the top; also prints the raw totals, and for sluice where they go.
# Leaves the instructions per request in IR_REQ[KEY].
declare -A IR_REQ
instructions() {
	local label=$2 what=$3 port=$4 ir1 f1 file1
	if ! callgrind_run "$what" "$port" "$CG_N1"; then
		fail "$label: callgrind run with $CG_N1 requests"
		return 1
	fi
	ir1=$CG_IR f1=$CG_FILES file1=$CG_FILE
	if ! callgrind_run "$what" "$port" "$CG_N2"; then
		fail "$label: callgrind run with $CG_N2 requests"
		return 1
	fi
	if [ "$f1" -ne 1 ] || [ "$CG_FILES" -ne 1 ]; then
		fail "$label: expected one serving process under callgrind, found $f1 and $CG_FILES"
		return 1
	fi
	IR_REQ[$1]=$(awk -v a="$ir1" -v b="$CG_IR" -v n1="$CG_N1" -v n2="$CG_N2" \
		'BEGIN { printf "%.0f", (b - a) / (n2 - n1) }')
	awk -v a="$ir1" -v b="$CG_IR" -v n1="$CG_N1" -v n2="$CG_N2" -v label="$label" 'BEGIN {
		printf "%-28s %8.0f instructions/req  (Ir %d at %d req, %d at %d req)\n",
			label, (b - a) / (n2 - n1), a, n1, b, n2 }'
	[ "$what" = sluice ] && top_functions "$file1" "$CG_FILE"
	return 0
}

# result PART CASE BACKEND METRIC VALUE: one line of the results file.
result() {
	[ -n "$5" ] && echo "$1,$2,$3,$4,$5" >>"$RESULTS"
	return 0
}

# target WHAT VALUE OP LIMIT [NOTE]: one of the issue's numbers to reach:
# prints it with its target and whether it was met (OP is "<=" or "<"),
# records it in the results file, and keeps the missed ones for the
# closing note.  An empty VALUE is "n/a", and counts as missed.
MISSED=()
target() {
	local what=$1 v=$2 op=$3 lim=$4 note=${5:-} ok
	if [ -z "$v" ]; then
		echo "  $what: n/a (target $op $lim): MISSED (not measured)"
		MISSED+=("$what: not measured")
		return
	fi
	ok=$(awk -v v="$v" -v l="$lim" -v op="$op" 'BEGIN { print (op == "<" ? v < l : v <= l) ? 1 : 0 }')
	if [ "$ok" = 1 ]; then
		echo "  $what: $v (target $op $lim): met${note:+; $note}"
	else
		echo "  $what: $v (target $op $lim): MISSED${note:+; $note}"
		MISSED+=("$what: $v, target $op $lim${note:+ ($note)}")
	fi
	result target "$what" "" value "$v"
	result target "$what" "" met "$ok"
}

# shellcheck source=tests/bench/pool.sh
. "$ROOT/tests/bench/pool.sh"
# shellcheck source=tests/bench/workloads.sh
. "$ROOT/tests/bench/workloads.sh"
# shellcheck source=tests/bench/curves.sh
. "$ROOT/tests/bench/curves.sh"
# shellcheck source=tests/bench/chart.sh
. "$ROOT/tests/bench/chart.sh"

# ---- the run -----------------------------------------------------------

for tool in "$NGINX" wrk curl strace valgrind awk; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is not installed" >&2; exit 1; }
done
[ -x "$FLOOR" ] || { echo "bench: $FLOOR is not built" >&2; exit 1; }
HAVE_SLUICE=1
if [ ! -x "$SLUICE" ] || [ ! -r "$HELLO" ]; then
	HAVE_SLUICE=0
fi

DIR=$(mktemp -d /tmp/sluice-bench.XXXXXX) || exit 1
mkdir -p "$DIR/tmp"
OUT=${BENCH_OUT:-$BUILD/bench/results}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
mkdir -p "$OUT" || exit 1
RESULTS=$DIR/results.csv
echo "part,case,backend,metric,value" >"$RESULTS"
P_NGINX=$(free_port)
P_FLOOR=$(free_port)
P_FLOOR_KA=$(free_port)
P_SLUICE=$(free_port)
P_SLUICE_KA=$(free_port)
P_SLUICE_LOG_KA=$(free_port)
write_nginx_conf
sluice_conf sluice warning 1

echo "sluice bench: $("$NGINX" -v 2>&1 | sed 's/.*: //'), worker_processes 1;" \
	"wrk -t1 -c$CONNS -d${DURATION}s --latency; loopback; GET $URLPATH"
echo "sluice runs with pm.max_children = 1: one worker, as the floor is one process."
echo "CPU us/req = utime+stime of all the processes (from /proc/PID/stat," \
	"CLK_TCK $TICK) / requests completed."
echo

start "$DIR/nginx.log" "$NGINX" -p "$DIR" -c "$DIR/nginx.conf" -g 'daemon off;'
NGINX_PID=$STARTED
if ! waitfor 10 answers200 "http://127.0.0.1:$P_NGINX/"; then
	fail "nginx did not start"
	tail_log "$DIR/nginx.log"
	tail_log "$DIR/nginx-error.log"
	exit 1
fi
start_floor || exit 1
if [ "$HAVE_SLUICE" = 1 ]; then
	start_sluice || HAVE_SLUICE=0
	SLUICE_LOG_PID=
	if [ "$HAVE_SLUICE" = 1 ] && part throughput; then
		start_sluice_log
	fi
else
	fail "sluice parts skipped: $SLUICE or $HELLO is not built"
fi

if part throughput; then
	echo "== throughput and CPU time per request: median over $ROUNDS round(s), cases interleaved"
	for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
		measure nginx "nginx alone (return 200)" "$P_NGINX"
		measure floor "floor" "$P_FLOOR" "$FLOOR_PID"
		measure floor_ka "floor, keep_conn" "$P_FLOOR_KA" "$FLOOR_PID"
		if [ "$HAVE_SLUICE" = 1 ]; then
			measure sluice "sluice" "$P_SLUICE" "$SLUICE_PID"
			measure sluice_ka "sluice, keep_conn" "$P_SLUICE_KA" "$SLUICE_PID"
			[ -n "$SLUICE_LOG_PID" ] && measure sluice_ka_log "sluice, keep_conn, access log" \
				"$P_SLUICE_LOG_KA" "$SLUICE_LOG_PID"
		fi
	done
	# shellcheck disable=SC2059
	printf "$ROW_FMT" "case" "req/s" "p99" "nginx" "backend" "backend by round"
	# shellcheck disable=SC2059
	printf "$ROW_FMT" "" "" "" "us/req" "us/req" "us/req"
	for key in nginx floor floor_ka sluice sluice_ka sluice_ka_log; do report "$key"; done
fi

if part syscalls; then
	echo
	echo "== system calls per request in the serving process (strace -c, wrk -d2s)"
	syscalls floor "floor" "$P_FLOOR" "$FLOOR_PID"
	syscalls floor_ka "floor, keep_conn" "$P_FLOOR_KA" "$FLOOR_PID"
	if [ "$HAVE_SLUICE" = 1 ]; then
		# shellcheck disable=SC2046
		syscalls sluice "sluice worker" "$P_SLUICE" $(children "$SLUICE_PID")
		# shellcheck disable=SC2046
		syscalls sluice_ka "sluice worker, keep_conn" "$P_SLUICE_KA" $(children "$SLUICE_PID")
	fi
fi

if part instructions; then
	echo
	echo "== user-space instructions per request (callgrind, (Ir at $CG_N2 req - Ir at $CG_N1 req)" \
		"/ $((CG_N2 - CG_N1)), sequential requests on one client connection)"
	instructions floor "floor" floor "$P_FLOOR"
	instructions floor_ka "floor, keep_conn" floor "$P_FLOOR_KA"
	if [ "$HAVE_SLUICE" = 1 ]; then
		instructions sluice "sluice worker" sluice "$P_SLUICE"
		instructions sluice_ka "sluice worker, keep_conn" sluice "$P_SLUICE_KA"
		# The same with the access log on, in its default format.
		echo "access_log = \"$DIR/access.log\";" >>"$DIR/sluice.conf"
		CG_TAG=log instructions sluice_ka_log "sluice worker, keep_conn, access log" sluice \
			"$P_SLUICE_KA"
		sluice_conf sluice warning 1
		if [ -n "${IR_REQ[sluice_ka]:-}" ] && [ -n "${IR_REQ[sluice_ka_log]:-}" ]; then
			awk -v on="${IR_REQ[sluice_ka_log]}" -v off="${IR_REQ[sluice_ka]}" 'BEGIN {
				printf "access log on vs off, instructions/req: %.3fx (formatting only;" \
					" the target is on backend CPU, in the throughput part)\n", on / off }'
		fi
	fi
fi

if part throughput; then
	echo
	echo "== sluice's backend CPU per request against the floor's (medians above)"
	for key in "" _ka; do
		what=without
		[ "$key" = _ka ] && what=with
		f=$(median "${BE_US[floor$key]:-}")
		s=$(median "${BE_US[sluice$key]:-}")
		if [ -z "$f" ] || [ -z "$s" ]; then
			echo "sluice CPU/req vs floor: n/a (target <= 1.20x), $what keep_conn"
		else
			awk -v s="$s" -v f="$f" -v what="$what" 'BEGIN {
				printf "sluice CPU/req vs floor: %.2fx (target <= 1.20x), %s keep_conn\n",
					s / f, what }'
		fi
	done
fi

if part throughput && [ "$HAVE_SLUICE" = 1 ]; then
	on=$(median "${BE_US[sluice_ka_log]:-}")
	off=$(median "${BE_US[sluice_ka]:-}")
	if [ -n "$on" ] && [ -n "$off" ]; then
		awk -v on="$on" -v off="$off" 'BEGIN {
			printf "access log on vs off, backend CPU/req: %.2fx (target <= 1.10x)," \
				" keep_conn\n", on / off }'
	fi
fi

part pool && pool_cases
part workloads && wl_cases
part workers && curve_cases
part workloads && wl_targets
part workers && curve_targets
part chart && chart_write

echo
if [ ${#MISSED[@]} -gt 0 ]; then
	echo "numbers missed (${#MISSED[@]}; causes in the README's benchmark section):"
	printf '  %s\n' "${MISSED[@]}"
elif part workloads || part workers; then
	echo "every number measured was met"
fi

echo
echo "bench took ${SECONDS}s"

if [ ${#FAILED[@]} -gt 0 ]; then
	echo
	echo "parts that could not run:"
	printf '  %s\n' "${FAILED[@]}"
	exit 1
fi
exit 0
