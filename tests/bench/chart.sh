# shellcheck shell=bash
# chart.sh - the chart and the results file of sluice's benchmark,
# sourced by run.sh (part "chart", after the others).
#
# The results file ($DIR/results.csv, one line per number: part, case,
# backend, metric, value) is copied to $OUT/bench.csv, and gnuplot
# draws from it $OUT/bench.png: the workloads side by side (backend CPU
# per request over the floor's, per backend), and the cost curves: CPU
# per request as the body, the response, the route table and the
# request's headers grow, and per worker memory, start-up and reload
# time as the worker count grows.  Without gnuplot the file is still
# written and the chart is named among the parts that could not run.

CHART_BACKENDS="floor sluice libfcgi php sluice_u uwsgi"

# chart_col CASES METRIC [PART]: a table for gnuplot, one row per case
# (its first column), one column per backend; "?" where none.
chart_col() {
	awk -F, -v cases="$1" -v metric="$2" -v part="${3:-workload}" -v bes="$CHART_BACKENDS" '
		$1 == part && $4 == metric { v[$2 "," $3] = $5 }
		END {
			n = split(cases, c, " "); m = split(bes, b, " ")
			for (i = 1; i <= n; i++) {
				line = c[i]
				for (j = 1; j <= m; j++)
					line = line " " ((c[i] "," b[j]) in v ? v[c[i] "," b[j]] : "?")
				print line
			}
		}' "$RESULTS"
}

# chart_xy CASE:X... METRIC: "X value..." rows, for the curves.
chart_xy() {
	local metric=$1 pair
	shift
	for pair in "$@"; do
		chart_col "${pair%%:*}" "$metric" | awk -v x="${pair#*:}" '{ $1 = x; print }'
	done
}

chart_data() {
	chart_col "hello hello_ka headers100 body1k body64k body1m body16m resp64k resp1m resp64m" \
		x_floor >"$DIR/chart-bars.dat"
	chart_xy us_per_req body1k:1024 body64k:65536 body1m:1048576 body16m:16777216 \
		>"$DIR/chart-body.dat"
	chart_xy us_per_req resp64k:65536 resp1m:1048576 resp64m:67108864 >"$DIR/chart-resp.dat"
	chart_xy us_per_req routes1:1 routes100:100 routes10000:10000 >"$DIR/chart-routes.dat"
	chart_xy us_per_req hello:0 headers100:100 >"$DIR/chart-headers.dat"
	awk -F, '$1 == "workers" { v[$2, $4] = $5; k[$2] = 1 }
		END { for (n in k) print n, v[n, "rss_kb_per_worker"], v[n, "pss_kb_per_worker"],
			v[n, "pss_beyond_module_kb"], v[n, "start_ms"], v[n, "reload_ms"] }' "$RESULTS" |
		sort -n | awk '{ for (i = 2; i <= 6; i++) if ($i == "") $i = "?"; print }' \
		>"$DIR/chart-workers.dat"
}

# chart_plot TITLE: the gnuplot program for the six panels.
chart_plot() {
	local lines
	# Columns 2.. of the tables are the backends, in CHART_BACKENDS order.
	lines='using 1:2 title "floor" lw 2, "" using 1:3 title "sluice" lw 2,'
	lines+=' "" using 1:4 title "libfcgi", "" using 1:5 title "php-fpm",'
	lines+=' "" using 1:6 title "sluice uwsgi", "" using 1:7 title "uWSGI symcall"'
	cat <<-EOF
	set terminal pngcairo size 1600,1500 font "DejaVu Sans,10" noenhanced
	set output "$OUT/bench.png"
	set datafile missing "?"
	set multiplot layout 3,2 title "$1"
	set key top left
	set grid ytics
	set title "Workloads: backend CPU per request / the floor's (1.2 = the target line)"
	set style data histograms
	set style histogram clustered gap 1
	set style fill solid 0.8 border -1
	set yrange [0:*]
	set xtics rotate by -30
	set ylabel "x floor"
	plot "$DIR/chart-bars.dat" using 2:xtic(1) title "floor", "" using 3 title "sluice", \\
	  "" using 4 title "libfcgi", "" using 5 title "php-fpm", "" using 6 title "sluice uwsgi", \\
	  "" using 7 title "uWSGI symcall", 1.2 with lines dt 2 lc "black" notitle
	unset style
	set style data linespoints
	set xtics norotate
	set yrange [*:*]
	set logscale xy
	set ylabel "backend CPU us/request"
	set xlabel "request body bytes (POST, read in full)"
	set title "CPU per request as the body grows"
	plot "$DIR/chart-body.dat" $lines
	set xlabel "response bytes"
	set title "CPU per request as the response grows"
	plot "$DIR/chart-resp.dat" $lines
	unset logscale y
	set yrange [0:*]
	set xlabel "routes in the module (the last one hit)"
	set title "sluice: CPU per request as the route table grows"
	plot "$DIR/chart-routes.dat" using 1:3 title "sluice" with linespoints lw 2
	unset logscale
	set xlabel "extra request headers"
	set xtics (0, 100)
	set title "CPU per request with 100 more request headers"
	plot [-10:110] "$DIR/chart-headers.dat" $lines
	set xtics auto
	set logscale x 2
	set xlabel "workers (pm static, idle)"
	set ylabel "kB per worker"
	set y2label "ms"
	set y2tics
	set ytics nomirror
	set title "sluice: memory per worker, start-up to ready, SIGHUP to serving"
	plot "$DIR/chart-workers.dat" using 1:2 title "RSS kB/worker", "" using 1:3 title "PSS kB/worker", \\
	  "" using 1:4 title "PSS beyond the module kB/worker", \\
	  "" using 1:5 axes x1y2 title "start-up ms", "" using 1:6 axes x1y2 title "reload ms"
	unset multiplot
	EOF
}

chart_write() {
	local title
	cp "$RESULTS" "$OUT/bench.csv" || fail "results file: cannot write $OUT/bench.csv"
	if ! command -v gnuplot >/dev/null; then
		fail "chart: gnuplot is not installed (make deps-bench)"
		return
	fi
	chart_data
	title="sluice bench, $(date -u +%Y-%m-%d), $(nproc) CPUs, $(uname -m), wrk and nginx on loopback"
	if chart_plot "$title" | gnuplot >"$DIR/gnuplot.log" 2>&1; then
		echo
		echo "chart: $OUT/bench.png; results: $OUT/bench.csv"
	else
		fail "chart: gnuplot failed"
		tail_log "$DIR/gnuplot.log"
	fi
}
