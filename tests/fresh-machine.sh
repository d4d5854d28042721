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
#   1. a Debian 12 root made by `debootstrap --variant=minbase bookworm`
#      with only git, make, ca-certificates and sudo added (what a fresh
#      container or cloud image holds), cached and reused while that list
#      is unchanged;
#   2. a disposable overlay of it, with /proc, /sys, /dev and /run mounted,
#      the host's resolv.conf so that apt can reach the mirror, and no
#      /etc/hosts (so that nothing can lean on the name "localhost");
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
cache=${SLUICE_FRESH_CACHE:-/var/cache/sluice-fresh}
mirror=${SLUICE_FRESH_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
base_pkgs=git,make,ca-certificates,sudo
# The cached root is keyed by everything that decides its contents.
key=$(printf '%s\n' "$suite" minbase "$base_pkgs" "$mirror" | sha256sum | cut -c1-16)
base=$cache/$suite-$key

# The URLs the README's quick start tells a user to try, and what it
# says they answer (README.md, "Quick start").
port=8080
run_timeout=900		# `make run`: apt-get, build, serve
test_timeout=2700	# `make test`: apt-get, two builds, both profiles

work=
root=
run_pid=
started=$(date +%s)
failed=0

step() { printf '\n==> %s\n' "$*"; }
ok() { printf 'ok   %s (%ss)\n' "$1" "$(($(date +%s) - $2))"; }
fail() { printf 'FAIL %s\n' "$*"; failed=1; }

# Every process whose root directory is inside our root: ours, and
# nothing else on the machine.
procs_in_root() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		case $r in "$root" | "$root"/*) echo "${p#/proc/}" ;; esac
	done
}

cleanup() {
	local pids tries
	trap - EXIT INT TERM
	[ -n "$root" ] || return 0
	[ -n "$run_pid" ] && kill -TERM -- "-$run_pid" 2>/dev/null
	for tries in 1 2 3 4 5 6 7 8 9 10; do
		pids=$(procs_in_root)
		[ -z "$pids" ] && break
		# shellcheck disable=SC2086  # a list of pids
		if [ "$tries" -lt 8 ]; then kill -TERM $pids 2>/dev/null; else kill -KILL $pids 2>/dev/null; fi
		sleep 0.5
	done
	for m in run dev/pts dev sys proc; do
		mountpoint -q "$root/$m" && umount -l "$root/$m"
	done
	mountpoint -q "$root" && umount -l "$root"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. The pristine root, made once per package list ------------------

make_base() {
	local tmp=$base.new

	if ! command -v debootstrap >/dev/null; then
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			debootstrap >/dev/null
	fi
	rm -rf "$tmp"
	mkdir -p "$cache"
	debootstrap --variant=minbase --include="$base_pkgs" "$suite" "$tmp" "$mirror" \
		>"$cache/debootstrap.log" 2>&1 ||
		{ tail -20 "$cache/debootstrap.log"; rm -rf "$tmp"; return 1; }
	# A chroot has no init system: a package's maintainer script must not
	# start its daemon (nginx, apache2) into the host's network, where it
	# would take port 80 and outlive the check.  Docker's Debian images,
	# sbuild and pbuilder install this same policy.
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod 0755 "$tmp/usr/sbin/policy-rc.d"
	rm -f "$tmp/etc/hosts"
	apt-get clean -o RootDir="$tmp" 2>/dev/null || true
	mv "$tmp" "$base"
}

t=$(date +%s)
if [ -d "$base" ]; then
	step "pristine Debian 12 root: reusing $base"
else
	step "pristine Debian 12 root: debootstrap --variant=minbase $suite + $base_pkgs into $base"
	make_base
fi
ok "root ready" "$t"

# ---- 2. A disposable copy with the kernel's file systems ---------------

work=$(mktemp -d /var/tmp/sluice-fresh-XXXXXX)
root=$work/root
mkdir -p "$root" "$work/upper" "$work/ovl"
if ! mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/ovl" \
	"$root" 2>/dev/null; then
	echo "(overlayfs unavailable: copying the root instead)"
	cp -a "$base/." "$root/"
fi
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if [ -e "$root/etc/hosts" ]; then
	fail "the root has an /etc/hosts"
	exit 1
fi

# ---- 3. The committed HEAD, cloned -------------------------------------

step "clone of the committed HEAD"
head=$(git -C "$repo" rev-parse HEAD)
git clone -q --no-hardlinks "$repo" "$root/root/sluice"
git -C "$root/root/sluice" checkout -q --detach "$head"
echo "commit $(git -C "$repo" log -1 --format='%h %s')"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
	echo "NOTE: $repo has uncommitted changes; they are NOT part of this check"
fi

# Run a command in the root as root, with a login shell's environment and
# nothing of the caller's.
in_root=(chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)

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
