#!/usr/bin/env bash
# check-prod.sh BINARY PROD_OBJ_DIR DEV_OBJECT...
#
# Proves that BINARY holds nothing of development mode: no source file
# of gateway/dev/ but the production stubs (dev_none.c), not the debug
# endpoint prefix, not the error page templates, no function that only the
# development sources define, not the HTTP library; and that its profile
# note says "prod" and that it is built hardened (PIE, full RELRO, stack
# protector), as `sluice audit --elf` reads them.  Prints one line per
# leak and exits 1 if there is any.
set -u
bin=$1 prod_objs=$2
shift 2
leaks=0
leak() { echo "check-prod: $bin $*"; leaks=1; }

[ -x "$bin" ] || { echo "check-prod: $bin: no such binary"; exit 2; }

# The compile units the binary was linked from, as its DWARF names them
# (both profiles build with -g): development mode is the folder
# gateway/dev/, of which production links only the seam's stubs.
units=$(readelf --debug-dump=info "$bin" 2>/dev/null |
	awk '/DW_TAG_compile_unit/ { cu = 1; next } cu && /DW_AT_name/ { print $NF; cu = 0 }')
[ -n "$units" ] || { echo "check-prod: $bin has no DWARF compile units (built without -g?)"; exit 2; }
from_dev=$(echo "$units" | grep '^gateway/dev/' | grep -vx 'gateway/dev/dev_none.c')
[ -n "$from_dev" ] && leak "is built from sources of gateway/dev/:" $from_dev

strings -a "$bin" | grep -qF '/_sluice/' &&
	leak "contains the debug endpoint prefix /_sluice/"
strings -a "$bin" | grep -qF 'sluice development mode' &&
	leak "contains the development error page templates"

# Functions defined by the development objects and by no production
# object: none of them may be in the binary's symbol table.
functions() { nm --defined-only "$@" 2>/dev/null | awk 'NF == 3 && $2 ~ /[tT]/ { print $3 }' | sort -u; }
symbols() { nm "$@" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u; }
dev_only=$(comm -23 <(functions "$@") <(symbols $(find "$prod_objs" -name '*.o')))
[ -n "$dev_only" ] || { echo "check-prod: no development functions found in $*"; exit 2; }
found=$(comm -12 <(symbols "$bin") <(echo "$dev_only"))
[ -n "$found" ] && leak "contains functions of the development sources:" $found

readelf -d "$bin" | grep NEEDED | grep -qi microhttpd && leak "links libmicrohttpd"
strings -a "$bin" | grep -q 'MHD_' && leak "contains libmicrohttpd symbols"

# The profile note and the hardening flags, read by the same code that
# `sluice audit` judges binaries and modules with (gateway/elf.c), run
# from the production sluice next to PROD_OBJ_DIR (a single-binary app
# has no `audit` of its own).
reader=$(dirname "$prod_objs")/sluice
elf=$("$reader" audit --elf "$bin") || { echo "check-prod: $reader audit --elf $bin failed"; exit 2; }
echo "$elf" | grep -qx 'profile: prod' || leak "does not carry the profile note \"prod\""
for want in 'pie: yes' 'relro: full' 'stack protector: yes'; do
	echo "$elf" | grep -qx "$want" || leak "is not hardened: wants \"$want\", has" \
		"\"$(echo "$elf" | grep "^${want%%:*}:")\""
done

[ $leaks -eq 0 ] && echo "check-prod: $bin holds nothing of development mode"
exit $leaks
