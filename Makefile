# sluice - one plain GNU Makefile.
#
#   make                 production profile into build/prod/
#   make PROFILE=dev     development profile into build/dev/
#   make run             install what is missing, build, serve through nginx on :8080
#   make test            install what is missing, build, run every test suite
#   make test FILTER='config/*'   one suite (Criterion's --filter)
#   make bench           the benchmark (nginx + wrk on loopback)

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
CORE_SRCS := gateway/config.c gateway/log.c gateway/arena.c gateway/router.c \
             gateway/header.c gateway/module.c gateway/listen.c gateway/master.c \
             gateway/worker.c gateway/conn.c gateway/request.c gateway/fcgi.c \
             gateway/io.c gateway/scoreboard.c gateway/crash.c gateway/symbols.c \
             gateway/config_value.c gateway/uwsgi.c gateway/systemd.c gateway/trace.c \
             gateway/handoff.c gateway/holder.c gateway/access.c \
             gateway/proctitle.c gateway/output.c
MAIN_SRCS := gateway/main.c
# The profile chooses files, not #ifdefs: the development seam (dev.h) is
# stubs in production and the real thing in the dev profile.
DEV_SRCS_prod := gateway/dev_none.c
DEV_SRCS_dev  := gateway/dev.c gateway/dev_http.c gateway/dev_relay.c
CORE_SRCS     += $(DEV_SRCS_$(PROFILE))
LIBS_dev      := -lmicrohttpd
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJS := $(MAIN_SRCS:%.c=$(BUILD)/obj/%.o)
# libunwind-ptrace walks a slow worker's stack from the master (trace.c).
LIBS       = -lconfig -lsystemd -ldl -lunwind-ptrace -lunwind-generic -lunwind $(LIBS_$(PROFILE))

# Sample modules and test fixture modules, one .so per .c.
APPS         := hello echo routes
APP_SOS      := $(APPS:%=$(BUILD)/apps/%.so)
FIXTURE_SRCS := $(wildcard tests/fixtures/*.c)
FIXTURE_SOS  := $(FIXTURE_SRCS:tests/fixtures/%.c=$(BUILD)/fixtures/%.so)

# The one test binary: every unit and integration suite.
TEST_SRCS := $(wildcard tests/unit/*.c) $(wildcard tests/integration/*.c) tests/harness.c tests/fcgi_client.c tests/scenarios.c \
             tests/load.c tests/logscan.c tests/uwsgi_packet.c \
             tests/modules_conf.c
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_BIN  := $(BUILD)/sluice-tests
TEST_LIBS := -lcriterion -lcurl

BENCH_BIN := $(BUILD)/bench/fcgi-floor
BENCH_LIBFCGI := $(BUILD)/bench/libfcgi-hello

.PHONY: all run dev test tests bench check-prod install deps-run deps-test deps-dev deps-bench clean
all: $(BUILD)/sluice $(APP_SOS)

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
	$(CC) -Iinclude $(CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $<

$(BUILD)/fixtures/%.so: tests/fixtures/%.c include/sluice.h
	@mkdir -p $(@D)
	$(CC) -Iinclude $(CFLAGS) -Wno-missing-prototypes -fPIC -shared $(LDFLAGS) -o $@ $<

$(TEST_BIN): $(TEST_OBJS) $(CORE_OBJS)
	$(CC) $(CFLAGS) -pie $(LDFLAGS) $(EXPORTS) -o $@ $^ $(LIBS) $(TEST_LIBS)

$(BUILD)/obj/tests/%.o: CFLAGS += -Wno-missing-prototypes
$(BUILD)/obj/tests/%.o: CPPFLAGS += -iquote tests -DBUILD_DIR='"$(BUILD)"' \
                                     -DBUILD_ROOT='"$(BUILDROOT)"'

$(BENCH_BIN): tests/bench/fcgi-floor.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $<

# The libfcgi program the keep-alive case compares against.
$(BENCH_LIBFCGI): tests/bench/libfcgi-hello.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -lfcgi

# ---- Installing what is missing -----------------------------------------
# Debian 12 package names.  Only what is absent is installed, as root or
# through sudo, so a machine that has everything is left untouched.
DEPS_BUILD := gcc make pkg-config libconfig-dev libsystemd-dev libunwind-dev
DEPS_RUN   := $(DEPS_BUILD) nginx-light curl
DEPS_TEST  := $(DEPS_RUN) libcriterion-dev libcurl4-openssl-dev libfcgi-bin
DEPS_TEST  += libmicrohttpd-dev binutils procps apache2 libapache2-mod-fcgid systemd supervisor \
              logrotate
DEPS_DEV   := $(DEPS_BUILD) libmicrohttpd-dev curl
DEPS_BENCH := $(DEPS_RUN) wrk strace valgrind libfcgi-dev

define install_missing
	@missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
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
	$(BUILDROOT)/prod/sluice-tests --jobs=2 $(if $(FILTER),--filter='$(FILTER)')
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	$(BUILDROOT)/dev/sluice-tests --jobs=2 $(if $(FILTER),--filter='$(FILTER)')

tests: $(TEST_BIN) $(FIXTURE_SOS)

# The proof that the production binary holds nothing of development mode,
# measured against the development objects themselves.
DEV_OBJS := $(DEV_SRCS_dev:%.c=$(BUILDROOT)/dev/obj/%.o)
check-prod:
	@$(MAKE) --no-print-directory PROFILE=prod all
	@$(MAKE) --no-print-directory PROFILE=dev $(DEV_OBJS)
	tests/check-prod.sh $(BUILDROOT)/prod/sluice $(BUILDROOT)/prod/obj $(DEV_OBJS)

# The development loop: dev build, --dev, direct HTTP on :8081, auto-reload.
dev: deps-dev
	@$(MAKE) --no-print-directory PROFILE=dev all
	@conf/dev.sh $(BUILDROOT)/dev

bench: deps-bench
	@$(MAKE) --no-print-directory all $(BENCH_BIN) $(BENCH_LIBFCGI)
	tests/bench/run.sh $(BUILD)

# The production build, where a system keeps such things.
PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/sluice
	install -m 0755 $(BUILD)/sluice $(DESTDIR)$(PREFIX)/sbin/sluice
	install -m 0644 include/sluice.h $(DESTDIR)$(PREFIX)/include/sluice.h
	install -m 0644 $(APP_SOS) $(DESTDIR)$(PREFIX)/lib/sluice/

clean:
	rm -rf $(BUILDROOT)

-include $(shell find $(BUILDROOT) -name '*.d' 2>/dev/null)
