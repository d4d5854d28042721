# sluice - one plain GNU Makefile.
#
#   make                 production profile into build/prod/
#   make PROFILE=dev     development profile into build/dev/
#   make run             install what is missing, build, serve through nginx on :8080
#   make test            install what is missing, build, run every test suite
#   make test FILTER='config/*'   one suite (Criterion's --filter)
#   make bench           the benchmark (nginx + wrk on loopback), its chart and results file
#   BENCH_PARTS="workloads workers chart" make bench   some of its parts
#   make test-fresh      make run and make test on a pristine Debian 12 root
#   make test-arm64      cross-build for arm64, run the unit suites under qemu
#   make install         PREFIX, DESTDIR, SYSCONFDIR: the daemon and its deployment
#   make deb             the Debian packages sluice and sluice-dev, lintian-checked
#   make test-deb        install the package on a pristine Debian 12 root and serve

PROFILE ?= prod
# BUILDROOT lets a second checkout or a parallel run build elsewhere.
BUILDROOT ?= build
BUILD   := $(BUILDROOT)/$(PROFILE)

CC      ?= cc
VERSION := 0.1.0

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef \
           -Wvla -Wnull-dereference
CFLAGS_prod := -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection
LDFLAGS_prod := -Wl,-z,relro,-z,now
CFLAGS_dev  := -g -O0 -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS_dev := -fsanitize=address,undefined

ifeq ($(filter $(PROFILE),prod dev),)
$(error PROFILE must be prod or dev, not '$(PROFILE)')
endif

CPPFLAGS += -Iinclude -iquote gateway -D_GNU_SOURCE -DSLUICE_VERSION='"$(VERSION)"' \
            -DSLUICE_PROFILE='"$(PROFILE)"'
CFLAGS   += -std=c11 -g $(WARN) $(CFLAGS_$(PROFILE))
LDFLAGS  += $(LDFLAGS_$(PROFILE))

# The daemon.  main.c is left out of CORE so that the tests link the rest.
CORE_SRCS := gateway/config.c gateway/config_include.c gateway/log.c gateway/arena.c gateway/router.c \
             gateway/header.c gateway/module.c gateway/listen.c gateway/master.c \
             gateway/worker.c gateway/conn.c gateway/request.c gateway/response.c gateway/fcgi.c \
             gateway/io.c gateway/scoreboard.c gateway/crash.c gateway/symbols.c \
             gateway/config_value.c gateway/config_keys.c gateway/config_pools.c gateway/pools.c gateway/selfpipe.c gateway/uwsgi.c gateway/systemd.c gateway/trace.c \
             gateway/handoff.c gateway/holder.c gateway/access.c \
             gateway/proctitle.c gateway/output.c gateway/stats.c gateway/status.c \
             gateway/status_cli.c gateway/top.c gateway/headlines.c gateway/escape.c \
             gateway/kv.c gateway/lazy.c gateway/query.c gateway/form.c gateway/body.c \
             gateway/cookie.c gateway/respond.c gateway/text.c gateway/config_check.c \
             gateway/pidfile.c gateway/multipart.c gateway/parts.c gateway/perm.c \
             gateway/serve.c gateway/allow.c gateway/elf.c gateway/audit.c \
             gateway/audit_rules.c gateway/audit_host.c gateway/audit_pkg.c gateway/sandbox.c \
             gateway/program.c
MAIN_SRCS := gateway/main.c gateway/scaffold.c
# The profile chooses files, not #ifdefs: the development seam (dev/dev.h) is
# stubs in production and the real thing in the dev profile.
# The same holds for source lines in backtraces (symbols.h): libdw reads
# DWARF in the dev profile only.
DEV_SRCS_prod := gateway/dev/dev_none.c gateway/symbols_none.c
DEV_SRCS_dev  := gateway/dev/dev.c gateway/dev/dev_http.c gateway/dev/dev_path.c \
                 gateway/dev/dev_relay.c gateway/symbols_dwarf.c
CORE_SRCS     += $(DEV_SRCS_$(PROFILE))
LIBS_dev      := -lmicrohttpd -ldw
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJS := $(MAIN_SRCS:%.c=$(BUILD)/obj/%.o)
# libunwind-ptrace walks a slow worker's stack from the master (trace.c).
# libseccomp: the workers' optional system call allow-list (sandbox.c).
LIBS       = -lconfig -lsystemd -ldl -lunwind-ptrace -lunwind-generic -lunwind -lseccomp \
             $(LIBS_$(PROFILE))

# Sample modules and test fixture modules, one .so per .c.
APPS         := hello echo routes notes
# Libraries a sample links, by name: notes keeps its notes in SQLite and
# reads JSON with jansson.
APP_LIBS_notes := -lsqlite3 -ljansson
APP_SOS      := $(APPS:%=$(BUILD)/apps/%.so)
FIXTURE_SRCS := $(wildcard tests/fixtures/*.c)
FIXTURE_SOS  := $(FIXTURE_SRCS:tests/fixtures/%.c=$(BUILD)/fixtures/%.so)
# C++ fixtures prove that sluice.h and SLUICE_MODULE work from C++.
FIXTURE_CXX_SRCS := $(wildcard tests/fixtures/*.cc)
FIXTURE_SOS  += $(FIXTURE_CXX_SRCS:tests/fixtures/%.cc=$(BUILD)/fixtures/%.so)

# The one test binary: every unit and integration suite.
TEST_SRCS := $(wildcard tests/unit/*.c) $(wildcard tests/integration/*.c) tests/harness.c tests/fcgi_client.c tests/scenarios.c \
             tests/load.c tests/logscan.c tests/uwsgi_packet.c \
             tests/modules_conf.c tests/netns.c
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/obj/%.o)
# The fuzz harnesses that the fuzz_corpus suite replays the corpus
# through, with the project's compiler (tests/unit/test_fuzz_corpus.c);
# the dev listener's path code they reach is pure, and goes in too.
FUZZ_REPLAYED := query form cookie multipart escape header router devpath config
TEST_OBJS += $(FUZZ_REPLAYED:%=$(BUILD)/obj/tests/fuzz/%.o) \
             $(if $(filter gateway/dev/dev_path.c,$(CORE_SRCS)),,$(BUILD)/obj/gateway/dev/dev_path.o)
# The test client (sluice_test.h): not in the daemon, but in the test
# binary and in libsluice-test.a with the daemon's objects, so that a
# module's own tests run its handlers through sluice's request code.
# The archive is linked whole (a module's sl_* calls are not seen at
# link time) and the sl_* symbols exported, as from the daemon.
TESTCLIENT_OBJS := $(BUILD)/obj/gateway/testclient.o
TESTCLIENT_LIB  := $(BUILD)/libsluice-test.a
TESTCLIENT_LDLIBS = -Wl,--whole-archive -lsluice-test -Wl,--no-whole-archive \
                    -Wl,--export-dynamic-symbol='sl_*' $(LIBS)
TEST_BIN  := $(BUILD)/sluice-tests
TEST_LIBS := -lcriterion -lcurl

# libsluice.a: the daemon's objects, for programs that are their own
# sluice (sluice_serve.h).  A program links it like the test client,
# with the daemon's libraries; the profile's objects go in, so only the
# dev build of the library has development mode.  Single-binary samples,
# apps/single/NAME.c, are built against it as a user would.
# Both link with pkg-config, from $(BUILD)/pkgconfig: the files `make
# install` writes, naming this tree.  The archive is linked whole and
# the sl_* symbols exported (libsluice.exports), so that modules loaded
# from files find the whole API, as in the daemon.  The dev profile's
# Libs carry its sanitizers, which its objects need.
SERVE_LIB     := $(BUILD)/libsluice.a
SERVE_EXPORTS := $(BUILD)/libsluice.exports
SERVE_LDLIBS   = -Wl,--whole-archive -lsluice -Wl,--no-whole-archive \
                 -Wl,--dynamic-list=\$${libdir}/libsluice.exports $(LIBS) $(LDFLAGS_$(PROFILE))
SERVE_PC      := $(BUILD)/pkgconfig/sluice-serve.pc
SINGLE_APPS   := hello
SINGLE_BINS   := $(SINGLE_APPS:%=$(BUILD)/single/%)

# The pkg-config files of the header and of libsluice.a: $(1) the
# includedir, $(2) the libdir.
define sluice_pc
printf '%s\n' 'includedir=$(1)' '' 'Name: sluice' \
  'Description: module API of the sluice application server' \
  'Version: $(VERSION)' 'Cflags: -I$${includedir}'
endef
define serve_pc
printf '%s\n' 'libdir=$(2)' 'includedir=$(1)' '' 'Name: sluice-serve' \
  'Description: programs that are their own sluice (sluice_serve.h)' \
  'Version: $(VERSION)' 'Requires: sluice' \
  "Libs: -L\$${libdir} $(SERVE_LDLIBS)"
endef
# The test client's, for a module's own tests: linked whole, its sl_*
# symbols exported by the same list as libsluice.a's (a '*' in a .pc's
# Libs would reach the linker escaped).
TESTCLIENT_PC_LIBS = -Wl,--whole-archive -lsluice-test -Wl,--no-whole-archive \
                     -Wl,--dynamic-list=\$${libdir}/libsluice.exports $(LIBS) $(LDFLAGS_$(PROFILE))
define test_pc
printf '%s\n' 'libdir=$(2)' 'includedir=$(1)' '' 'Name: sluice-test' \
  'Description: test client for sluice modules (sluice_test.h)' \
  'Version: $(VERSION)' 'Requires: sluice' \
  "Libs: -L\$${libdir} $(TESTCLIENT_PC_LIBS)"
endef
# Unchanged libfcgi programs that the supervised-program suite runs.
PROGRAMS  := $(patsubst tests/programs/%.c,$(BUILD)/programs/%,$(wildcard tests/programs/*.c))

BENCH_BIN := $(BUILD)/bench/fcgi-floor
BENCH_LIBFCGI := $(BUILD)/bench/libfcgi-hello
# The workloads' sluice modules, the uWSGI symcall handler and the
# start-up timer (tests/bench/workloads.sh, curves.sh).
BENCH_ROUTES := 1 100 10000
BENCH_SOS := $(BUILD)/bench/work.so $(BUILD)/bench/symcall-work.so \
             $(BENCH_ROUTES:%=$(BUILD)/bench/routes-%.so)
BENCH_TOOLS := $(BUILD)/bench/notify-wait

.PHONY: all run dev test tests bench check-prod install deps-run deps-test deps-dev deps-bench clean \
        test-fresh test-arm64 deps-arm64 fuzz fuzz-build fuzz-smoke deps-fuzz deb deps-deb test-deb
all: $(BUILD)/sluice $(APP_SOS) $(SERVE_LIB) $(SERVE_EXPORTS) $(SERVE_PC) $(SINGLE_BINS) $(BUILD)/man/sluice.conf.5

# Modules resolve the sl_* API against the executable: export exactly
# those symbols, not the daemon's internals.
EXPORTS := -Wl,--export-dynamic-symbol='sl_*'

$(BUILD)/sluice: $(CORE_OBJS) $(MAIN_OBJS)
	$(CC) $(CFLAGS) -pie $(LDFLAGS) $(EXPORTS) -o $@ $^ $(LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIE -MMD -MP -c -o $@ $<

# Modules are built like a user would build theirs: only include/ is visible.
$(BUILD)/apps/%.so: apps/%.c include/sluice.h
	@mkdir -p $(@D)
	$(CC) -Iinclude $(CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $< $(APP_LIBS_$*)

$(BUILD)/fixtures/%.so: tests/fixtures/%.c include/sluice.h
	@mkdir -p $(@D)
	$(CC) -Iinclude $(CFLAGS) -Wno-missing-prototypes -fPIC -shared $(LDFLAGS) -o $@ $<

# Libraries are often built with hidden visibility: the descriptor must
# still be exported.
$(BUILD)/fixtures/hidden.so: CFLAGS += -fvisibility=hidden

# What `sluice audit` flags in a module: no stack protector, no RELRO.
$(BUILD)/fixtures/unhardened.so: CFLAGS += -fno-stack-protector
$(BUILD)/fixtures/unhardened.so: LDFLAGS += -Wl,-z,norelro,-z,lazy

CXX      ?= g++
CXXFLAGS += -std=c++20 -g -Wall -Wextra -Werror -Wshadow -fvisibility=hidden \
            $(CFLAGS_$(PROFILE))

$(BUILD)/fixtures/%.so: tests/fixtures/%.cc include/sluice.h
	@mkdir -p $(@D)
	$(CXX) -Iinclude $(CXXFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $<

$(SERVE_LIB): $(CORE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(SERVE_EXPORTS): gateway/libsluice.exports
	cp $< $@

$(SERVE_PC): Makefile
	@mkdir -p $(@D)
	$(call sluice_pc,$(abspath include)) >$(@D)/sluice.pc
	$(call test_pc,$(abspath include),$(abspath $(BUILD))) >$(@D)/sluice-test.pc
	$(call serve_pc,$(abspath include),$(abspath $(BUILD))) >$@

$(BUILD)/single/%: apps/single/%.c include/sluice.h include/sluice_serve.h $(SERVE_LIB) \
                   $(SERVE_EXPORTS) $(SERVE_PC)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< \
	  $$(PKG_CONFIG_PATH=$(BUILD)/pkgconfig pkg-config --cflags --libs sluice-serve)

$(TEST_BIN): $(TEST_OBJS) $(CORE_OBJS) $(TESTCLIENT_OBJS)
	$(CC) $(CFLAGS) -pie $(LDFLAGS) $(EXPORTS) -o $@ $^ $(LIBS) $(TEST_LIBS)

$(BUILD)/obj/tests/%.o: CFLAGS += -Wno-missing-prototypes
$(BUILD)/obj/tests/%.o: CPPFLAGS += -iquote tests -DBUILD_DIR='"$(BUILD)"' \
                                     -DBUILD_ROOT='"$(BUILDROOT)"'
$(BUILD)/obj/tests/fuzz/%.o: CPPFLAGS += -iquote tests/fuzz \
                                          -DLLVMFuzzerTestOneInput=fuzz_replay_$(notdir $*)

$(BENCH_BIN): tests/bench/fcgi-floor.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $<

# They stand for programs built elsewhere: the same plain build in both
# profiles, without the dev profile's sanitizers.
$(BUILD)/programs/%: tests/programs/%.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 -g $(WARN) -Wno-missing-prototypes -o $@ $< -lfcgi

# The libfcgi program the keep-alive case compares against.
$(BENCH_LIBFCGI): tests/bench/libfcgi-hello.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -lfcgi

# sluice-fcgi: fcgi2's API (include/fcgi2/) on sluice's FastCGI reader,
# for fcgi2 programs relinked with `pkg-config --libs sluice-fcgi`.  Its
# own objects, apart from the daemon's CORE_SRCS.
FCGI2_SRCS := gateway/fcgi2/wire.c gateway/fcgi2/stream.c gateway/fcgi2/accept.c \
              gateway/fcgi2/stdio.c
FCGI2_OBJS := $(FCGI2_SRCS:%.c=$(BUILD)/obj/%.o)
FCGI2_LIB  := $(BUILD)/libsluice-fcgi.a
$(FCGI2_OBJS): CPPFLAGS += -iquote include/fcgi2

$(FCGI2_LIB): $(FCGI2_OBJS)
	rm -f $@ && ar rcs $@ $^

all: $(FCGI2_LIB)

# Its unit suite (tests/unit/test_fcgi2.c) runs in the test binary.
$(TEST_BIN): $(FCGI2_OBJS)

# fcgi2 programs (tests/fcgi2/), written against fcgi2's headers only and
# built as their users build them, twice: against Debian's libfcgi into
# BUILD/fcgi2/NAME-libfcgi, and against sluice-fcgi into NAME-sluice.
FCGI2_PROGS := stdio_app fcgx_app
FCGI2_BINS  := $(FCGI2_PROGS:%=$(BUILD)/fcgi2/%-libfcgi) $(FCGI2_PROGS:%=$(BUILD)/fcgi2/%-sluice)

$(BUILD)/fcgi2/%-libfcgi: tests/fcgi2/%.c tests/fcgi2/route.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -pthread -o $@ $< -lfcgi

$(BUILD)/fcgi2/%-sluice: tests/fcgi2/%.c tests/fcgi2/route.h $(FCGI2_LIB) \
                         $(wildcard include/fcgi2/*.h)
	@mkdir -p $(@D)
	$(CC) -Iinclude/fcgi2 $(CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -pthread -o $@ $< \
	  $(FCGI2_LIB)

$(BUILD)/bench/work.so: tests/bench/work.c include/sluice.h
	@mkdir -p $(@D)
	$(CC) -Iinclude $(CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $<

$(BUILD)/bench/routes-%.so: tests/bench/routes-n.c include/sluice.h
	@mkdir -p $(@D)
	$(CC) -Iinclude $(CFLAGS) -DNROUTES=$* -fPIC -shared $(LDFLAGS) -o $@ $<

# uWSGI resolves the handler's calls into its API when it loads it.
$(BUILD)/bench/symcall-work.so: tests/bench/symcall-work.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -shared -o $@ $<

$(BUILD)/bench/notify-wait: tests/bench/notify-wait.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

# ---- Installing what is missing -----------------------------------------
# Debian 12 package names.  Only what is absent is installed, as root or
# through sudo, so a machine that has everything is left untouched.
# `gcc` installed without recommends does not bring the C library's
# headers (libc6-dev); `make test-fresh` proves these lists complete.
DEPS_BUILD := gcc libc6-dev make pkg-config libconfig-dev libsystemd-dev libunwind-dev \
              libseccomp-dev
# The notes sample stores in SQLite and parses JSON with jansson.
DEPS_BUILD += libsqlite3-dev libjansson-dev
DEPS_RUN   := $(DEPS_BUILD) nginx-light curl
DEPS_TEST  := $(DEPS_RUN) libcriterion-dev libcurl4-openssl-dev libfcgi-bin g++
# The fcgi2 test programs are built against libfcgi too (tests/fcgi2/).
DEPS_TEST  += libfcgi-dev
DEPS_TEST  += libmicrohttpd-dev libdw-dev binutils procps apache2 libapache2-mod-fcgid systemd supervisor \
              logrotate prometheus jq python3-prometheus-client tmux iproute2 groff-base
# The other FastCGI fronts users put sluice behind (suite other_fronts).
# Their maintainer scripts start the daemons (invoke-rc.d,
# deb-systemd-invoke), which policy-rc.d forbids in a chroot
# (tests/debian-root.sh); elsewhere a daemon that cannot start (port 80
# taken) does not fail the install.  The suite runs its own instances on
# private ports and never needs the system's.
DEPS_TEST  += haproxy lighttpd caddy
DEPS_DEV   := $(DEPS_BUILD) libmicrohttpd-dev libdw-dev curl
DEPS_BENCH := $(DEPS_RUN) wrk strace valgrind libfcgi-dev
# The peers of the workloads, and the chart.
DEPS_BENCH += php8.2-fpm uwsgi-core gnuplot-nox
# clang ships libFuzzer; only `make fuzz` needs it.
DEPS_FUZZ  := clang

# A name without ":arch" means this machine's architecture (or "all"): the
# arm64 copy of a library, installed by test-arm64, does not count.
define install_missing
	@native=$$(dpkg --print-architecture); \
	missing=$$(for p in $(1); do \
	    case $$p in *:*) arch=$${p#*:};; *) arch="$$native|all";; esac; \
	    dpkg-query -W -f='$${Status} $${Architecture}\n' $$p 2>/dev/null | \
	      grep -Eq "^install ok installed ($$arch)$$" || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
	fi
endef

deps-run:
	$(call install_missing,$(DEPS_RUN))
deps-test:
	$(call install_missing,$(DEPS_TEST))
deps-bench:
	$(call install_missing,$(DEPS_BENCH))
deps-dev:
	$(call install_missing,$(DEPS_DEV))
deps-fuzz:
	$(call install_missing,$(DEPS_FUZZ))

# ---- The quick-start commands -------------------------------------------
run: deps-run
	@$(MAKE) --no-print-directory all
	@conf/run.sh $(BUILD)

# Every suite runs against both profiles: the dev binary without --dev
# must behave exactly like production.  Dev-only suites skip in prod.
test: deps-test
	@$(MAKE) --no-print-directory PROFILE=prod all tests
	@$(MAKE) --no-print-directory PROFILE=dev all tests
	@$(MAKE) --no-print-directory check-prod
	$(call run_tests,$(BUILDROOT)/prod/sluice-tests)
	$(call run_tests,LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp $(BUILDROOT)/dev/sluice-tests)

tests: $(TEST_BIN) $(FIXTURE_SOS) $(PROGRAMS) $(TESTCLIENT_LIB) $(FCGI2_BINS) lint-man

# sluice.conf(5) is made from README.md's configuration table, so that the
# two cannot drift; both pages must render without a groff warning.
$(BUILD)/man/sluice.conf.5: conf/sluice.conf.5.in conf/sluice.conf.5.awk README.md
	@mkdir -p $(@D)
	awk -f conf/sluice.conf.5.awk README.md >$@.keys
	sed -e '/@KEYS@/r $@.keys' -e '/@KEYS@/d' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|' conf/sluice.conf.5.in >$@.tmp
	rm -f $@.keys && mv $@.tmp $@

.PHONY: lint-man
lint-man: $(BUILD)/man/sluice.conf.5
	@for m in $< conf/sluice.3 conf/sluice.8; do \
	  w=$$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z $$m 2>&1); \
	  if [ -n "$$w" ]; then echo "$$m: $$w"; exit 1; fi; done

$(TESTCLIENT_LIB): $(CORE_OBJS) $(TESTCLIENT_OBJS)
	rm -f $@ && ar rcs $@ $^

# The suites that bound latencies under load (none over 100 ms, a fresh
# request answered within 100 ms, status within 10 ms while the workers
# spin) run alone, after the rest has run two
# at a time: on a 2-core machine a neighbouring suite's load would be
# measured as theirs.
SERIAL_SUITES := blast_radius slow_peers status
define run_tests
	$(if $(FILTER),$(1) --jobs=2 --filter='$(FILTER)',\
	$(1) --jobs=2 --filter='!(@($(subst $() ,|,$(SERIAL_SUITES))))/*' && \
	$(1) --jobs=1 --filter='@($(subst $() ,|,$(SERIAL_SUITES)))/*')
endef

# The proof that the production binary holds nothing of development mode,
# measured against the development objects themselves.
DEV_OBJS := $(DEV_SRCS_dev:%.c=$(BUILDROOT)/dev/obj/%.o)
check-prod:
	@$(MAKE) --no-print-directory PROFILE=prod all
	@$(MAKE) --no-print-directory PROFILE=dev $(DEV_OBJS)
	tests/check-prod.sh $(BUILDROOT)/prod/sluice $(BUILDROOT)/prod/obj $(DEV_OBJS)
	@for b in $(SINGLE_APPS:%=$(BUILDROOT)/prod/single/%); do \
	  tests/check-prod.sh $$b $(BUILDROOT)/prod/obj $(DEV_OBJS) || exit 1; done

# The development loop: dev build, --dev, direct HTTP on :8081, auto-reload.
dev: deps-dev
	@$(MAKE) --no-print-directory PROFILE=dev all
	@conf/dev.sh $(BUILDROOT)/dev

bench: deps-bench
	@$(MAKE) --no-print-directory all $(BENCH_BIN) $(BENCH_LIBFCGI) $(BENCH_SOS) $(BENCH_TOOLS)
	tests/bench/run.sh $(BUILD)

# The README's quick start on a pristine Debian 12 root (debootstrap,
# cached under /var/cache/sluice-fresh): make run serves the sample URLs
# and make test passes, from a clone of the committed HEAD.  Needs root.
test-fresh:
	tests/fresh-machine.sh

# ---- arm64 ----------------------------------------------------------------
# Debian's aarch64 cross compiler, the arm64 copies of the libraries
# (multiarch), and qemu-user to run the result.  Criterion runs each test
# by exec'ing its own binary, so the kernel must hand arm64 programs to
# qemu: the binfmt_misc entry that Debian's qemu-user-static ships, which
# systemd-binfmt registers at boot, is registered here when it is not
# (a container may not even have binfmt_misc mounted).  The suites that
# run here are those that stay inside the test binary's processes, the
# unit suites; every integration suite starts the sluice binary and most
# start nginx or Apache too, and they run natively in `make test`.
#
# Criterion's arm64 package cannot be installed beside the amd64 one that
# `make test` needs (Debian 12 rebuilt libnanomsg5 for amd64 only, so the
# two versions differ), so it and libnanomsg5 are unpacked into a private
# folder instead, with the rest of its dependencies installed normally.
ARM64_ROOT    := $(BUILDROOT)/arm64
ARM64_SYSROOT := $(ARM64_ROOT)/sysroot
ARM64_LIBDIR  := $(abspath $(ARM64_SYSROOT)/usr/lib/aarch64-linux-gnu)
BINFMT        := /proc/sys/fs/binfmt_misc
ARM64_UNPACK  := libcriterion3:arm64 libcriterion-dev:arm64 libnanomsg5:arm64
DEPS_ARM64    := gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static \
                 libconfig-dev:arm64 libsystemd-dev:arm64 libcurl4-openssl-dev:arm64 \
                 libseccomp-dev:arm64 \
                 libffi8:arm64 libgit2-1.5:arm64 libunwind-dev:arm64 \
                 libsqlite3-dev:arm64 libjansson-dev:arm64 libstdc++6:arm64 libfcgi-dev:arm64
# trace's suite is left out: it ptraces a child, which qemu-user cannot do;
# and program's, which reads a child's system call from /proc, where
# qemu-user shows its own.
ARM64_SUITES  := $(filter-out trace program,$(sort $(shell sed -n 's/^Test.\([a-z_]*\),.*/\1/p' tests/unit/*.c)))
ARM64_FILTER  := @($(subst $() ,|,$(ARM64_SUITES)))/*

deps-arm64:
	@if ! dpkg --print-foreign-architectures | grep -qx arm64; then \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
	  echo "adding the arm64 architecture to dpkg"; \
	  $$sudo dpkg --add-architecture arm64 && $$sudo apt-get update -qq; \
	fi
	$(call install_missing,$(DEPS_ARM64))
	@if [ ! -e $(BINFMT)/qemu-aarch64 ]; then \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi; \
	  echo "registering qemu-aarch64 with binfmt_misc"; \
	  mountpoint -q $(BINFMT) || $$sudo mount -t binfmt_misc binfmt_misc $(BINFMT) || exit 1; \
	  $$sudo sh -c 'cat /usr/lib/binfmt.d/qemu-aarch64.conf >$(BINFMT)/register' || exit 1; \
	fi
	@if [ ! -e $(ARM64_LIBDIR)/libcriterion.so ]; then \
	  rm -rf $(ARM64_ROOT)/debs $(ARM64_SYSROOT) && mkdir -p $(ARM64_ROOT)/debs && \
	  (cd $(ARM64_ROOT)/debs && apt-get download -q $(ARM64_UNPACK) >/dev/null) && \
	  for d in $(ARM64_ROOT)/debs/*.deb; do dpkg-deb -x $$d $(ARM64_SYSROOT) || exit 1; done; \
	fi

test-arm64: deps-arm64
	@$(MAKE) --no-print-directory BUILDROOT=$(ARM64_ROOT) PROFILE=prod \
	  CC='aarch64-linux-gnu-gcc -isystem $(ARM64_SYSROOT)/usr/include' \
	  CXX='aarch64-linux-gnu-g++ -isystem $(ARM64_SYSROOT)/usr/include' \
	  TEST_LIBS='-L$(ARM64_LIBDIR) -Wl,-rpath-link,$(ARM64_LIBDIR) -lcriterion -lcurl' \
	  all tests
	LD_LIBRARY_PATH=$(ARM64_LIBDIR) \
	  $(ARM64_ROOT)/prod/sluice-tests --jobs=2 --filter='$(ARM64_FILTER)'

# ---- Fuzzing ---------------------------------------------------------------
# libFuzzer harnesses (tests/fuzz/NAME.c), built with clang and the
# address and undefined-behaviour sanitizers against the daemon's core,
# compiled again with clang into build/fuzz/obj (the daemon's own build
# is not touched) and linked from an archive, so that each harness takes
# only the files it calls.  The codec harnesses and `helpers` drive a
# connection through the worker's read path (codec.h).
#
# `make fuzz` runs each from its corpus (tests/fuzz/corpus/NAME/, with
# tests/fuzz/NAME.dict) for FUZZ_SECONDS_NAME seconds, or FUZZ_SECONDS
# for all when set, and prints executions, crashes and leaks per
# harness; what it finds goes to build/fuzz/crashes-NAME/.
# `make fuzz-smoke` runs each for FUZZ_SMOKE_SECONDS, for CI; the corpus
# is replayed first, so a crash once found and kept there fails it at
# once.  The corpus is also replayed by the `fuzz_corpus` suite of `make
# test`, built with the project's compiler: no clang needed there.
FUZZ_DIR     := $(BUILDROOT)/fuzz
FUZZ_CODECS  := fcgi uwsgi
FUZZERS      := query form cookie multipart escape header router devpath config helpers \
                $(FUZZ_CODECS)
FUZZ_CFLAGS  := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined $(WARN) -Wno-missing-prototypes
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_MAX_LEN ?= 4096
FUZZ_MAX_LEN_fcgi    := 16384
FUZZ_MAX_LEN_uwsgi   := 16384
FUZZ_MAX_LEN_helpers := 8192
# Seconds per harness: what a 1-million run (10 million for a codec)
# took at the rates measured on the 2-core build machine while other
# builds shared it (README.md, "Security"), with some room.
FUZZ_SECONDS_query     ?= 180
FUZZ_SECONDS_form      ?= 180
FUZZ_SECONDS_cookie    ?= 180
FUZZ_SECONDS_multipart ?= 180
FUZZ_SECONDS_escape    ?= 300
FUZZ_SECONDS_header    ?= 120
FUZZ_SECONDS_router    ?= 180
FUZZ_SECONDS_devpath   ?= 60
FUZZ_SECONDS_config    ?= 900
FUZZ_SECONDS_helpers   ?= 240
FUZZ_SECONDS_fcgi      ?= 2400
FUZZ_SECONDS_uwsgi     ?= 2100
# libconfig's own leak on syntax errors, and nothing else (config.c).
FUZZ_LSAN_config := tests/fuzz/config.supp

# The dev listener's path code is pure and has no production stub.
FUZZ_CORE_SRCS := $(filter-out $(DEV_SRCS_prod) $(DEV_SRCS_dev),$(CORE_SRCS)) $(DEV_SRCS_prod) \
                  gateway/dev/dev_path.c
FUZZ_CORE_OBJS := $(FUZZ_CORE_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_CORE_LIB  := $(FUZZ_DIR)/libcore.a

fuzz-build: deps-fuzz
	@$(MAKE) --no-print-directory $(FUZZERS:%=$(FUZZ_DIR)/fuzz-%)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	clang $(CPPFLAGS) $(subst -fsanitize=fuzzer,-fsanitize=fuzzer-no-link,$(FUZZ_CFLAGS)) \
	  -MMD -MP -c -o $@ $<

$(FUZZ_CORE_LIB): $(FUZZ_CORE_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz-%: tests/fuzz/%.c tests/fuzz/fuzz.h tests/fuzz/codec.h $(FUZZ_CORE_LIB)
	clang $(CPPFLAGS) -iquote tests/fuzz $(FUZZ_CFLAGS) -MMD -MP -o $@ $< $(FUZZ_CORE_LIB) \
	  $(FUZZ_LDFLAGS) $(LIBS)

# The connection's system calls are served in memory (codec.h).
$(FUZZ_CODECS:%=$(FUZZ_DIR)/fuzz-%) $(FUZZ_DIR)/fuzz-helpers: \
  FUZZ_LDFLAGS := -Wl,--wrap=read,--wrap=write,--wrap=writev,--wrap=sendfile,--wrap=poll

# NAME:SECONDS:MAX_LEN:LSAN_SUPPRESSIONS for each harness, for run.sh;
# $(1), when given, is the seconds for all.
fuzz_plan = $(foreach f,$(FUZZERS),$(f):$(or $(1),$(FUZZ_SECONDS),$(FUZZ_SECONDS_$(f))):$(or \
            $(FUZZ_MAX_LEN_$(f)),$(FUZZ_MAX_LEN)):$(FUZZ_LSAN_$(f)))

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_DIR) $(call fuzz_plan)

fuzz-smoke: fuzz-build
	tests/fuzz/run.sh $(FUZZ_DIR) $(call fuzz_plan,$(FUZZ_SMOKE_SECONDS))

# ---- Installing ----------------------------------------------------------
# The production build and everything a deployment needs, where a system
# keeps such things: the daemon, the header, the sample modules, the
# mod_fcgid wrapper, the config, the systemd units, the sysusers.d and
# tmpfiles.d entries (the user `sluice`, /run/sluice, /var/log/sluice),
# the logrotate file and the man page; the nginx and Apache examples in
# DATADIR/sluice and a pkg-config file for the header.
# PREFIX=/usr is the Debian package's layout (`make deb`).
#
# The files under conf/ name the /usr/local layout (/usr/local/sbin,
# /usr/local/lib/sluice, /etc/sluice), as the integration suites run
# them; they are installed with those paths replaced by the real ones.
# The config is always written: keeping an edited one is the package's
# job (it is a conffile there).  Installed as root without DESTDIR, the
# user and the folders are made at once, as the package's scripts do.
PREFIX        ?= /usr/local
SYSCONFDIR    ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SBINDIR       ?= $(PREFIX)/sbin
LIBDIR        ?= $(PREFIX)/lib
INCLUDEDIR    ?= $(PREFIX)/include
DATADIR       ?= $(PREFIX)/share
# Debian 12 still keeps its own units in /lib/systemd/system.
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
SYSUSERSDIR   ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR   ?= $(PREFIX)/lib/tmpfiles.d
# The header alone is the API (modules resolve sl_* against the daemon),
# so the pkg-config file is architecture-independent.
PKGCONFIGDIR  ?= $(DATADIR)/pkgconfig
MANDIR        ?= $(DATADIR)/man
# The static libraries (libsluice.a, the test client) are this machine's
# code, so they and their pkg-config files are architecture-dependent:
# the package puts them under /usr/lib/TRIPLET (debian/rules).
ARCH_LIBDIR       ?= $(LIBDIR)
ARCH_PKGCONFIGDIR ?= $(PKGCONFIGDIR)

# The compiled-in default config follows SYSCONFDIR.  The stamp changes
# only when SYSCONFDIR does, and main.o depends on it, so that
# `make install PREFIX=/usr` after a plain `make` does not keep the old path.
SYSCONFDIR_STAMP := $(BUILD)/sysconfdir
$(shell mkdir -p $(BUILD) && [ "$$(cat $(SYSCONFDIR_STAMP) 2>/dev/null)" = '$(SYSCONFDIR)' ] || \
        printf '%s\n' '$(SYSCONFDIR)' >$(SYSCONFDIR_STAMP))
$(BUILD)/obj/gateway/main.o: CPPFLAGS += -DSYSCONFDIR='"$(SYSCONFDIR)"'
$(BUILD)/obj/gateway/main.o: $(SYSCONFDIR_STAMP)

SUBST := sed -e 's|/usr/local/sbin/sluice|$(SBINDIR)/sluice|g' \
             -e 's|/usr/local/lib/sluice|$(LIBDIR)/sluice|g' \
             -e 's|/etc/sluice/|$(SYSCONFDIR)/sluice/|g'
# install_subst SOURCE, MODE, TARGET: SOURCE with the paths replaced.
define install_subst
	$(SUBST) $(1) >$(3).tmp && chmod $(2) $(3).tmp && mv $(3).tmp $(3)
endef

install: all $(TESTCLIENT_LIB)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/sluice \
	  $(DESTDIR)$(SYSCONFDIR)/sluice $(DESTDIR)$(SYSCONFDIR)/logrotate.d \
	  $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
	  $(DESTDIR)$(DATADIR)/sluice/nginx $(DESTDIR)$(DATADIR)/sluice/apache \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(MANDIR)/man3
	install -m 0755 $(BUILD)/sluice $(DESTDIR)$(SBINDIR)/sluice
	install -m 0644 include/sluice.h $(DESTDIR)$(INCLUDEDIR)/sluice.h
	$(call sluice_pc,$(INCLUDEDIR)) >$(DESTDIR)$(PKGCONFIGDIR)/sluice.pc
	install -m 0644 $(APP_SOS) $(DESTDIR)$(LIBDIR)/sluice/
	$(call install_subst,conf/apache/sluice-fcgid.sh,0755,$(DESTDIR)$(LIBDIR)/sluice/sluice-fcgid.sh)
	$(call install_subst,conf/sluice.conf,0644,$(DESTDIR)$(SYSCONFDIR)/sluice/sluice.conf)
	$(call install_subst,conf/logrotate/sluice,0644,$(DESTDIR)$(SYSCONFDIR)/logrotate.d/sluice)
	$(call install_subst,conf/systemd/sluice.service,0644,$(DESTDIR)$(SYSTEMDUNITDIR)/sluice.service)
	$(call install_subst,conf/systemd/sluice.socket,0644,$(DESTDIR)$(SYSTEMDUNITDIR)/sluice.socket)
	$(call install_subst,conf/sluice.8,0644,$(DESTDIR)$(MANDIR)/man8/sluice.8)
	install -m 0644 $(BUILD)/man/sluice.conf.5 $(DESTDIR)$(MANDIR)/man5/sluice.conf.5
	install -m 0644 conf/sluice.3 $(DESTDIR)$(MANDIR)/man3/sluice.3
	install -m 0644 include/sluice_serve.h $(DESTDIR)$(INCLUDEDIR)/sluice_serve.h
	install -d $(DESTDIR)$(ARCH_LIBDIR) $(DESTDIR)$(ARCH_PKGCONFIGDIR)
	install -m 0644 $(SERVE_LIB) $(DESTDIR)$(ARCH_LIBDIR)/libsluice.a
	install -m 0644 $(SERVE_EXPORTS) $(DESTDIR)$(ARCH_LIBDIR)/libsluice.exports
	$(call serve_pc,$(INCLUDEDIR),$(ARCH_LIBDIR)) >$(DESTDIR)$(ARCH_PKGCONFIGDIR)/sluice-serve.pc
	install -m 0644 include/sluice_test.h $(DESTDIR)$(INCLUDEDIR)/sluice_test.h
	install -m 0644 $(TESTCLIENT_LIB) $(DESTDIR)$(ARCH_LIBDIR)/libsluice-test.a
	$(call test_pc,$(INCLUDEDIR),$(ARCH_LIBDIR)) >$(DESTDIR)$(ARCH_PKGCONFIGDIR)/sluice-test.pc
	install -d $(DESTDIR)$(INCLUDEDIR)/sluice-fcgi
	install -m 0644 include/fcgi2/*.h $(DESTDIR)$(INCLUDEDIR)/sluice-fcgi/
	install -m 0644 $(FCGI2_LIB) $(DESTDIR)$(ARCH_LIBDIR)/libsluice-fcgi.a
	printf '%s\n' 'libdir=$(ARCH_LIBDIR)' 'includedir=$(INCLUDEDIR)' '' 'Name: sluice-fcgi' \
	  'Description: fcgi2 (libfcgi) API on sluice'"'"'s FastCGI reader' \
	  'Version: $(VERSION)' 'Cflags: -I$${includedir}/sluice-fcgi' \
	  'Libs: -L$${libdir} -lsluice-fcgi' >$(DESTDIR)$(ARCH_PKGCONFIGDIR)/sluice-fcgi.pc
	install -m 0644 conf/sysusers/sluice.conf $(DESTDIR)$(SYSUSERSDIR)/sluice.conf
	install -m 0644 conf/tmpfiles/sluice.conf $(DESTDIR)$(TMPFILESDIR)/sluice.conf
	for f in conf/nginx/*.conf; do \
	  $(call install_subst,$$f,0644,$(DESTDIR)$(DATADIR)/sluice/nginx/$${f##*/}) || exit 1; done
	for f in conf/apache/*.conf; do \
	  $(call install_subst,$$f,0644,$(DESTDIR)$(DATADIR)/sluice/apache/$${f##*/}) || exit 1; done
	$(call install_subst,conf/sluice-pools.conf,0644,$(DESTDIR)$(DATADIR)/sluice/sluice-pools.conf)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && command -v systemd-sysusers >/dev/null; then \
	  echo "systemd-sysusers $(SYSUSERSDIR)/sluice.conf; systemd-tmpfiles --create"; \
	  systemd-sysusers $(SYSUSERSDIR)/sluice.conf && \
	  systemd-tmpfiles --create $(TMPFILESDIR)/sluice.conf; \
	fi

# ---- The Debian packages --------------------------------------------------
# sluice and sluice-dev, built by dpkg-buildpackage from debian/ in a copy
# of the tree (tracked and new files, not ignored ones) under
# $(BUILDROOT)/deb, where the .deb files land, so that neither the
# checkout nor its parent folder gets build products.  Then lintian, which
# must find nothing at warning level or above.
DEB_DIR   := $(BUILDROOT)/deb
DEPS_DEB  := $(DEPS_BUILD) dpkg-dev debhelper lintian git
DEPS_TEST_DEB := debootstrap git

deps-deb:
	$(call install_missing,$(DEPS_DEB))

deb: deps-deb
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/sluice-$(VERSION)
	git ls-files -z -co --exclude-standard | tar -c --null -T - -f - | \
	  tar -x -C $(DEB_DIR)/sluice-$(VERSION) -f -
	cd $(DEB_DIR)/sluice-$(VERSION) && dpkg-buildpackage -us -uc -b -j2
	lintian --fail-on warning $(DEB_DIR)/*.deb
	@ls -l $(DEB_DIR)/*.deb

# The package on a pristine Debian 12 root: apt installs it, the packaged
# config passes `sluice -t`, sluice started as the unit does serves a page
# through nginx with the packaged example, and the nginx examples copied
# together give no warning.  Needs root (as test-fresh).
test-deb: deb
	$(call install_missing,$(DEPS_TEST_DEB))
	tests/deb-check.sh $(DEB_DIR)

clean:
	rm -rf $(BUILDROOT)

-include $(shell find $(BUILDROOT) -name '*.d' -type f 2>/dev/null)
