/*
 * check.h - the assertions integration suites share, written once, and
 * the helpers that fail a test when what they need is not there.
 *
 * Criterion asserts with a message that shows what was searched; log
 * checks name the program whose log holds the error.  Header-only: each
 * function is small and static inline, so that a suite that uses one
 * pays for nothing else.
 */
#ifndef SLUICE_TEST_CHECK_H
#define SLUICE_TEST_CHECK_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "uwsgi_packet.h"

/* `needle` is in `hay`; on failure the message shows the start of `hay`. */
#define assert_has(hay, needle) \
	cr_assert_not_null(strstr((hay), (needle)), "\"%s\" not in:\n%.4000s", (needle), (hay))

/* `needle` is not in `hay`. */
#define assert_lacks(hay, needle) \
	cr_assert_null(strstr((hay), (needle)), "\"%s\" should not be in:\n%.4000s", (needle), (hay))

/* uwsgi_packet_end, for a packet that fitted its buffer and a 16-bit block. */
static inline void assert_uwsgi_end(struct uwsgi_packet *p, unsigned mod1, unsigned mod2)
{
	cr_assert_eq(uwsgi_packet_end(p, mod1, mod2), 0, "a uwsgi packet too large to build");
}

/*
 * BUILD_DIR/`rel` is built: its absolute path in `out` (`len` bytes).
 * Suites write it into sluice's configs because sluice resolves a
 * relative module path against the config's folder, a private one.
 */
static inline void assert_built(char *out, size_t len, const char *rel)
{
	char path[512], *abs;

	snprintf(path, sizeof(path), "%s/%s", BUILD_DIR, rel);
	abs = realpath(path, NULL);
	cr_assert_not_null(abs, "%s is not built", path);
	cr_assert_lt(strlen(abs), len, "%s: path too long", abs);
	strcpy(out, abs);
	free(abs);
}

/*
 * `text`, a shipped example read into malloc'ed memory, with every
 * `from` replaced by `to`; `text` is freed.  The example must still
 * name `from`, or the test fails naming `example`, so that a test never
 * runs an example it did not adapt.
 */
static inline char *example_replace(char *text, const char *from, const char *to,
				    const char *example)
{
	char *out;

	cr_assert_not_null(strstr(text, from), "%s no longer names \"%s\"", example, from);
	out = harness_replace(text, from, to);
	cr_assert_not_null(out);
	free(text);
	return out;
}

/* Error markers in sluice's, nginx's and Apache's error logs. */
static const char *const check_sluice_bad[] = { "[error]", NULL };
static const char *const check_nginx_bad[] = { "[error]", "[crit]", "[alert]", "[emerg]", NULL };
static const char *const check_apache_bad[] = { ":error]", ":crit]", ":alert]", ":emerg]", NULL };

/* Expect none of `bad` (NULL-terminated) in `text`, the log of `who`. */
static inline void expect_log_clean(const char *who, const char *text, const char *const *bad)
{
	for (int i = 0; bad[i] != NULL; i++)
		cr_expect_null(strstr(text, bad[i]), "%s logged %s:\n%.8000s", who, bad[i], text);
}

/* sluice logged no error. */
static inline void expect_sluice_clean(const struct sluice_proc *sp)
{
	char *log = harness_sluice_log(sp);

	expect_log_clean("sluice", log, check_sluice_bad);
	free(log);
}

/* nginx (started by the harness) logged no error; the message names its log. */
static inline void expect_nginx_clean(const struct nginx_proc *np)
{
	char path[256], who[300], *log;

	snprintf(path, sizeof(path), "%s/error.log", np->dir);
	snprintf(who, sizeof(who), "nginx (%s)", path);
	log = harness_read_file(path);
	expect_log_clean(who, log, check_nginx_bad);
	free(log);
}

/* Apache (started by the harness) logged no error. */
static inline void expect_apache_clean(const struct apache_proc *ap)
{
	char *log = harness_apache_log(ap);

	expect_log_clean("Apache", log, check_apache_bad);
	free(log);
}

#endif
