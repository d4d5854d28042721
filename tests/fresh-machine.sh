#!/usr/bin/env bash
#
# fresh-machine.sh - the README's quick start on a pristine Debian 12,
# called by `make test-fresh` (and by .ci/run when CI=true).
#
# A machine that has been used for a while holds packages that nobody
# remembers installing, so a green `make test` there proves little about
# the README's first two commands.  This script proves them where nothing
# was installed beforehand:
#
#   1. a pristine Debian 12 root (debootstrap's minbase with git, make,
#      ca-certificates and sudo), cached, and
#   2. a disposable overlay of it: both from tests/debian-root.sh;
#   3. a git clone of the committed HEAD (uncommitted changes are not in
#      it), where `make run` must serve the README's three sample URLs as
#      the README says, and then `make test` must pass in both profiles.
#
# Each step is reported with its time; the mounts and every process left
# in the root are removed on any exit.  Exit status 0 only if all passed.
#
# Environment: SLUICE_FRESH_CACHE (default /var/cache/sluice-fresh),
# SLUICE_FRESH_MIRROR (default http://deb.debian.org/debian).  Needs root
# (it re-runs itself through sudo otherwise), debootstrap (installed when
# missing) and about 3 GB of disk.

set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	exec sudo --preserve-env=SLUICE_FRESH_CACHE,SLUICE_FRESH_MIRROR "$0" "$@"
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/debian-root.sh
. "$repo/tests/debian-root.sh"

# The URLs the README's quick start tells a user to try, and what it
# says they answer (README.md, "Quick start").
port=8080
run_timeout=900		# `make run`: apt-get, build, serve
test_timeout=2700	# `make test`: apt-get, two builds, both profiles

run_pid=
started=$(date +%s)

cleanup() {
	trap - EXIT INT TERM
	[ -n "$run_pid" ] && kill -TERM -- "-$run_pid" 2>/dev/null
	root_close
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

root_open || exit 1

# ---- 3. The committed HEAD, cloned -------------------------------------

step "clone of the committed HEAD"
head=$(git -C "$repo" rev-parse HEAD)
git clone -q --no-hardlinks "$repo" "$root/root/sluice"
git -C "$root/root/sluice" checkout -q --detach "$head"
echo "commit $(git -C "$repo" log -1 --format='%h %s')"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
	echo "NOTE: $repo has uncommitted changes; they are NOT part of this check"
fi

# ---- 4. make run, and the README's sample URLs --------------------------

# The body of `url` inside the root (with the curl that `make run`
# installed), or failure.
get() { "${in_root[@]}" curl -sS --max-time 10 "http://127.0.0.1:$port$1"; }

expect() {
	local url=$1 want=$2 body
	if body=$(get "$url") && printf '%s' "$body" | grep -qF -- "$want"; then
		printf 'ok   curl %s -> %s\n' "$url" "$want"
	else
		fail "curl $url: wanted '$want', got '${body:0:200}'"
	fi
}

step "make run (background), then the README's sample URLs"
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	fail "something on this machine already listens on port $port"
	exit 1
fi
t=$(date +%s)
setsid "${in_root[@]}" sh -c 'cd /root/sluice && exec make run' >"$work/run.log" 2>&1 </dev/null &
run_pid=$!
serving=0
while [ $(($(date +%s) - t)) -lt $run_timeout ]; do
	if ! kill -0 "$run_pid" 2>/dev/null; then
		break
	fi
	if [ -x "$root/usr/bin/curl" ] && get / >/dev/null 2>&1; then
		serving=1
		break
	fi
	sleep 1
done
if [ $serving -eq 1 ]; then
	ok "make run serves on :$port" "$t"
	expect / "Hello from sluice!"
	expect '/echo/x?a=1' '"path":"/echo/x","query":"a=1"'
	expect /demo/users/2 "user 2: bob"
elif ! kill -0 "$run_pid" 2>/dev/null; then
	fail "make run exited without serving; its last lines:"
	tail -30 "$work/run.log"
else
	fail "make run did not serve on :$port within ${run_timeout}s; its output:"
	tail -30 "$work/run.log"
fi
kill -TERM -- "-$run_pid" 2>/dev/null || true
wait "$run_pid" 2>/dev/null || true
run_pid=
if [ -n "$(procs_in_root)" ]; then
	fail "make run left processes behind after SIGTERM"
fi
[ $failed -eq 0 ] || exit 1

# ---- 5. make test, both profiles ---------------------------------------

step "make test (both profiles)"
t=$(date +%s)
rc=0
timeout -k 10 $test_timeout "${in_root[@]}" sh -c 'cd /root/sluice && make test' >"$work/test.log" 2>&1 </dev/null || rc=$?
# Criterion's closing lines, one per profile, and what failed.
grep -E '^\[(----|FAIL)\]|^\[====\] Synthesis|error:|Error [0-9]' "$work/test.log" | tail -40 || true
if [ $rc -eq 0 ]; then
	ok "make test" "$t"
else
	fail "make test exited $rc; its last lines:"
	tail -30 "$work/test.log"
fi

step "fresh-machine check: $([ $failed -eq 0 ] && echo passed || echo FAILED) in $(($(date +%s) - started))s"
exit $failed
