# debian-root.sh - a disposable pristine Debian 12 root, for
# tests/fresh-machine.sh and tests/deb-check.sh (sourced, as root).
#
#   1. a Debian 12 root made by `debootstrap --variant=minbase bookworm`
#      with only git, make, ca-certificates and sudo added (what a fresh
#      container or cloud image holds), cached and reused while that list
#      is unchanged;
#   2. a disposable overlay of it, with /proc, /sys, /dev and /run mounted,
#      the host's resolv.conf so that apt can reach the mirror, and no
#      /etc/hosts (so that nothing can lean on the name "localhost").
#
# root_open makes both and sets $root and $work (a private folder beside
# the root); root_close, which the caller runs on exit, stops every
# process left in the root and removes the mounts and the copy.
# "${in_root[@]}" runs a command in the root as root, with a login
# shell's environment and nothing of the caller's.
#
# Environment: SLUICE_FRESH_CACHE (default /var/cache/sluice-fresh),
# SLUICE_FRESH_MIRROR (default http://deb.debian.org/debian).

cache=${SLUICE_FRESH_CACHE:-/var/cache/sluice-fresh}
mirror=${SLUICE_FRESH_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
base_pkgs=git,make,ca-certificates,sudo
# The cached root is keyed by everything that decides its contents.
key=$(printf '%s\n' "$suite" minbase "$base_pkgs" "$mirror" | sha256sum | cut -c1-16)
base=$cache/$suite-$key

work=
root=
in_root=()
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

root_close() {
	local pids tries m
	[ -n "$root" ] || return 0
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
	root=
}

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

# ---- 2. A disposable copy with the kernel's file systems ---------------

root_open() {
	local t

	t=$(date +%s)
	if [ -d "$base" ]; then
		step "pristine Debian 12 root: reusing $base"
	else
		step "pristine Debian 12 root: debootstrap --variant=minbase $suite + $base_pkgs into $base"
		make_base
	fi
	ok "root ready" "$t"

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
		return 1
	fi
	in_root=(chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
}
