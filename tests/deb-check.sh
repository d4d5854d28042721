#!/usr/bin/env bash
#
# deb-check.sh DEB_DIR - the Debian package on a pristine Debian 12,
# called by `make test-deb` after `make deb`.
#
# In a disposable root (tests/debian-root.sh, the same cached debootstrap
# root as tests/fresh-machine.sh):
#
#   1. `apt install ./sluice_*.deb`, as the README says, with nginx-light
#      and curl: the user sluice, www-data in group sluice, /run/sluice and
#      /var/log/sluice must then exist as sysusers.d and tmpfiles.d say;
#   2. `sluice -t` on the packaged /etc/sluice/sluice.conf, as the user
#      sluice (the unit's ExecReload= line);
#   3. the nginx examples the package ships, copied together into
#      /etc/nginx/conf.d as the README says, beside Debian's default site:
#      `nginx -t` must pass without a single warning;
#   4. sluice started as sluice.service would start it, without systemd:
#      the unit's ExecStart= line, run as its User= and Group= (with the
#      user's supplementary groups) and UMask=, then nginx with those
#      examples, and curl must get the sample module's page through them.
#      This runs in a network namespace of its own, so that ports 80,
#      8080 and 8081 of this machine are left alone;
#   5. `apt install ./sluice-dev_*.deb` with a compiler and Criterion:
#      `sluice new demo demo && cd demo && make test`, the module's own
#      test through the packaged test client (pkg-config sluice-test).
#
# Each step is reported with its time.  Exit status 0 only if all passed.
# Needs root (it re-runs itself through sudo otherwise).

set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	exec sudo --preserve-env=SLUICE_FRESH_CACHE,SLUICE_FRESH_MIRROR "$0" "$@"
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
debs=$(cd "${1:-$repo/build/deb}" && pwd)
# shellcheck source=tests/debian-root.sh
. "$repo/tests/debian-root.sh"

started=$(date +%s)
trap root_close EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

deb=$(ls "$debs"/sluice_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ]; then
	echo "deb-check.sh: no sluice_*.deb in $debs (make deb)" >&2
	exit 1
fi

root_open || exit 1

# ---- 1. apt install ./sluice_*.deb -------------------------------------

step "apt install ./${deb##*/} nginx-light curl"
t=$(date +%s)
mkdir -p "$root/root/debs"
cp "$deb" "$root/root/debs/"
if "${in_root[@]}" sh -c 'cd /root/debs && apt-get update -qq &&
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		./sluice_*.deb nginx-light curl' >"$work/apt.log" 2>&1; then
	ok "installed" "$t"
else
	fail "apt-get install failed; its last lines:"
	tail -20 "$work/apt.log"
	exit 1
fi

# owner:group mode of a path in the root, or failure.
stat_in_root() { "${in_root[@]}" stat -c '%U:%G %a' "$1"; }

expect_stat() {
	local got
	got=$(stat_in_root "$1" 2>&1) || true
	if [ "$got" = "$2" ]; then
		printf 'ok   %s is %s\n' "$1" "$2"
	else
		fail "$1: wanted $2, got '$got'"
	fi
}

if "${in_root[@]}" id -nG www-data | tr ' ' '\n' | grep -qx sluice; then
	echo "ok   www-data is in group sluice"
else
	fail "www-data is not in group sluice: $("${in_root[@]}" id www-data 2>&1)"
fi
expect_stat /run/sluice "sluice:sluice 750"
expect_stat /var/log/sluice "sluice:sluice 750"
expect_stat /etc/sluice/sluice.conf "root:root 644"
expect_stat /usr/lib/sluice/sluice-fcgid.sh "root:root 755"
if "${in_root[@]}" grep -qx /etc/sluice/sluice.conf /var/lib/dpkg/info/sluice.conffiles; then
	echo "ok   /etc/sluice/sluice.conf is a conffile"
else
	fail "/etc/sluice/sluice.conf is not a conffile"
fi
[ $failed -eq 0 ] || exit 1

# ---- 2. sluice -t, as the unit checks a reload -------------------------

unit=$root/lib/systemd/system/sluice.service
unit_value() { sed -n "s/^$1=//p" "$unit" | head -1; }
user=$(unit_value User)
group=$(unit_value Group)
umask_=$(unit_value UMask)
start=$(unit_value ExecStart)
check=$(sed -n 's/^ExecReload=\(.* -t .*\)$/\1/p' "$unit" | head -1)
# As the unit's user, with its group and supplementary groups.
as_unit=(setpriv --reuid="$user" --regid="$group" --init-groups)

step "$check (as $user)"
t=$(date +%s)
if out=$("${in_root[@]}" "${as_unit[@]}" $check 2>&1); then
	ok "sluice -t: $out" "$t"
else
	fail "sluice -t on the packaged config: $out"
	exit 1
fi

# The pools example the package ships checks as the unit's user too.
step "sluice -t -c /usr/share/sluice/sluice-pools.conf (as $user)"
t=$(date +%s)
if out=$("${in_root[@]}" "${as_unit[@]}" /usr/sbin/sluice -t -c /usr/share/sluice/sluice-pools.conf 2>&1); then
	ok "sluice -t: $out" "$t"
else
	fail "sluice -t on the packaged pools example: $out"
	exit 1
fi

# ---- 3. The nginx examples, copied together -----------------------------

step "cp /usr/share/sluice/nginx/sluice.conf sluice-uwsgi.conf /etc/nginx/conf.d/; nginx -t"
t=$(date +%s)
"${in_root[@]}" cp /usr/share/sluice/nginx/sluice.conf /usr/share/sluice/nginx/sluice-uwsgi.conf \
	/usr/share/sluice/nginx/sluice-upstream.conf /etc/nginx/conf.d/
out=$("${in_root[@]}" nginx -t 2>&1) || { fail "nginx -t failed: $out"; exit 1; }
if printf '%s\n' "$out" | grep -q '\[warn\]\|\[emerg\]'; then
	fail "nginx -t warned:"
	printf '%s\n' "$out"
else
	ok "nginx -t, no warning" "$t"
fi
# The upstream example names documentation addresses: it was there to be
# checked together with the others, not to serve.
"${in_root[@]}" rm /etc/nginx/conf.d/sluice-upstream.conf

# ---- 4. Started as the unit would, behind nginx -------------------------

step "$start (as $user:$group, umask $umask_), nginx, curl"
t=$(date +%s)
# One shell in a network namespace of its own: sluice in the background
# as the unit's user, nginx once the socket is there, then the page.
# shellcheck disable=SC2016  # expanded by the inner shells
unshare --net sh -c 'ip link set lo up && exec "$@"' - "${in_root[@]}" /bin/bash -c '
	set -u
	(umask '"$umask_"'; exec '"${as_unit[*]}"' '"$start"') >/root/sluice.out 2>&1 &
	sluice_pid=$!
	for _ in $(seq 100); do [ -S /run/sluice/sluice.sock ] && break; sleep 0.1; done
	stat -c "socket %n %U:%G %a" /run/sluice/sluice.sock || { cat /root/sluice.out; exit 1; }
	nginx || exit 1
	body=$(curl -sS --max-time 10 http://127.0.0.1:8080/) || { cat /var/log/nginx/error.log; exit 1; }
	echo "page: $body"
	nginx -s quit
	kill -TERM $sluice_pid
	wait $sluice_pid
	echo "access log: $(tail -1 /var/log/sluice/access.log)"
	case $body in *"Hello from sluice!"*) exit 0 ;; *) exit 1 ;; esac
' >"$work/serve.log" 2>&1 && served=1 || served=0
cat "$work/serve.log"
if [ $served -eq 1 ] && grep -q '^socket /run/sluice/sluice.sock sluice:sluice 660$' "$work/serve.log" &&
	grep -q '^access log: .*"GET /' "$work/serve.log"; then
	ok "served through nginx with the packaged config, socket and log" "$t"
else
	fail "sluice as the unit starts it did not serve the page through nginx"
fi

# ---- 5. A module's test against sluice-dev -----------------------------

dev=$(ls "$debs"/sluice-dev_*.deb 2>/dev/null | head -1)
step "apt install ./${dev##*/}; sluice new demo demo; make test"
t=$(date +%s)
cp "$dev" "$root/root/debs/"
if "${in_root[@]}" sh -c 'cd /root/debs &&
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		./sluice-dev_*.deb gcc libc6-dev make pkg-config libcriterion-dev &&
	cd /root && sluice new demo demo && cd demo && make test' >"$work/dev.log" 2>&1; then
	tail -1 "$work/dev.log"
	ok "a new module's test passed against the packaged test client" "$t"
else
	fail "sluice new demo && make test failed with sluice-dev; its last lines:"
	tail -20 "$work/dev.log"
fi

step "deb check: $([ $failed -eq 0 ] && echo passed || echo FAILED) in $(($(date +%s) - started))s"
exit $failed
