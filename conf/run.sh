#!/usr/bin/env bash
#
# run.sh BUILD_DIR - serve the sample modules through nginx on
# http://127.0.0.1:8080 until Ctrl-C.  Called by `make run`.
#
# Everything lives in a private folder under /tmp: sluice's config and
# socket, nginx's config (made from conf/nginx/sluice.conf with only the
# socket path changed, so the example users copy is the one that runs),
# its pid file and temp folders.  Both programs log to this terminal.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build/prod}" && pwd)
snippet=$here/nginx/sluice.conf
example_sock=/run/sluice/sluice.sock
port=8080

dir=$(mktemp -d /tmp/sluice-run-XXXXXX)
sock=$dir/sluice.sock
sluice_pid=
nginx_pid=

# Stop what was started, newest first, and remove the folder.  Runs once,
# on Ctrl-C, on SIGTERM, or when either program exits by itself.
# shellcheck disable=SC2317  # only ever called from the traps
cleanup() {
	trap - INT TERM EXIT
	for pid in $nginx_pid $sluice_pid; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

# nginx's workers run as an unprivileged user when nginx starts as root
# (www-data on Debian); they must be able to enter the folder to reach
# the socket, whose mode sluice sets to 0666.
chmod 0755 "$dir"

cat >"$dir/sluice.conf" <<CONF
listen = {
  address = "$sock";
  mode = "0666";
};
error_log = "stderr";
log_level = "info";
pm = { max_children = 2; };
modules = (
  { path = "$build/apps/hello.so";  mount = "/"; },
  { path = "$build/apps/echo.so";   mount = "/echo"; },
  { path = "$build/apps/routes.so"; mount = "/demo"; },
  { path = "$build/apps/notes.so";  mount = "/notes";
    settings = { db = "$dir/notes.db"; page_size = 20; }; }
);
CONF

if ! grep -q "unix:$example_sock;" "$snippet"; then
	echo "run.sh: $snippet no longer names $example_sock" >&2
	exit 1
fi
sed "s|unix:$example_sock;|unix:$sock;|" "$snippet" >"$dir/sluice-nginx.conf"
cp /etc/nginx/fastcgi_params "$dir/fastcgi_params"

user=
if [ "$(id -u)" -eq 0 ]; then
	user="user www-data;"
fi

cat >"$dir/nginx.conf" <<CONF
$user
worker_processes 1;
error_log stderr;
pid $dir/nginx.pid;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $dir/client_body_temp;
	fastcgi_temp_path $dir/fastcgi_temp;
	uwsgi_temp_path $dir/uwsgi_temp;
	proxy_temp_path $dir/proxy_temp;
	scgi_temp_path $dir/scgi_temp;
	include $dir/sluice-nginx.conf;
}
CONF

"$build/sluice" -c "$dir/sluice.conf" &
sluice_pid=$!

# Wait for the socket, so that nginx's first request does not fail.
for _ in $(seq 50); do
	[ -S "$sock" ] && break
	kill -0 "$sluice_pid" 2>/dev/null || { echo "run.sh: sluice did not start" >&2; exit 1; }
	sleep 0.1
done

/usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" -e stderr -g 'daemon off;' &
nginx_pid=$!

cat <<TEXT

sluice and nginx are serving on http://127.0.0.1:$port (Ctrl-C stops both):

  curl http://127.0.0.1:$port/                    hello (apps/hello.c)
  curl 'http://127.0.0.1:$port/echo?x=1' -d hi    echo (apps/echo.c)
  curl http://127.0.0.1:$port/demo/users          routes (apps/routes.c)
  curl http://127.0.0.1:$port/demo/users/2
  curl http://127.0.0.1:$port/demo/files/a/b
  curl http://127.0.0.1:$port/demo/broken         a failing handler: 500
  http://127.0.0.1:$port/notes                    notes (apps/notes.c): a page, in a browser
  curl http://127.0.0.1:$port/notes/notes -H 'Content-Type: application/json' \
       -d '{"text":"hi"}'                          its JSON API: 201
  curl 'http://127.0.0.1:$port/notes/notes?limit=5'

TEXT

# Until either program exits or a signal arrives (the trap then runs).
wait -n "$sluice_pid" "$nginx_pid" || true
echo "run.sh: sluice or nginx exited, stopping" >&2
exit 1
