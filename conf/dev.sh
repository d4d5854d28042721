#!/usr/bin/env bash
#
# dev.sh BUILD_DIR - the development loop, called by `make dev`: the dev
# build of sluice with --dev, serving the sample modules straight over
# HTTP on http://127.0.0.1:8081 (no nginx needed), with verbose error
# pages, the /_sluice/ debug endpoints, and auto-reload: rebuild a module
# (`make PROFILE=dev` in another terminal) and the next request runs the
# new code.  Ctrl-C stops it.

set -eu

build=$(cd "${1:-build/dev}" && pwd)
dir=$(mktemp -d /tmp/sluice-dev-XXXXXX)
trap 'rm -rf "$dir"' EXIT

cat >"$dir/sluice.conf" <<CONF
listen = { address = "$dir/sluice.sock"; mode = "0600"; };
error_log = "stderr";
log_level = "info";
pm = { mode = "static"; max_children = 2; };
request_terminate_timeout = 30;
modules = (
  { path = "$build/apps/hello.so";  mount = "/"; },
  { path = "$build/apps/echo.so";   mount = "/echo"; },
  { path = "$build/apps/routes.so"; mount = "/demo"; }
);
CONF

cat <<TEXT

sluice (development mode) on http://127.0.0.1:8081 (Ctrl-C stops it):

  curl http://127.0.0.1:8081/                 hello
  curl http://127.0.0.1:8081/_sluice/         the debug endpoints
  curl http://127.0.0.1:8081/demo/broken      a failing handler's verbose page

Rebuild a module with \`make PROFILE=dev\` and it is reloaded by itself.

TEXT
"$build/sluice" --dev --http 127.0.0.1:8081 -c "$dir/sluice.conf"
