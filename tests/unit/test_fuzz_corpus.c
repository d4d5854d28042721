/*
 * test_fuzz_corpus.c - every file of the fuzz corpus, replayed through
 * its harness by `make test`, with the project's compiler: no clang and
 * no libFuzzer are needed.
 *
 * The harnesses (tests/fuzz/NAME.c) are compiled into this binary with
 * their entry point renamed fuzz_replay_NAME (Makefile).  Each one
 * aborts when what must hold whatever the input does not, so a replayed
 * file that breaks it fails its test here (and, in the dev profile,
 * ASan and UBSan stop it too).  An input that fuzzing once found
 * crashing is kept in tests/fuzz/corpus/NAME/ as a regression test.
 * The codec and helpers harnesses are left out: they serve the
 * connection's system calls themselves (codec.h), which takes a link of
 * their own; their seeds are the requests of the fcgi_wire and
 * nginx_uwsgi suites.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*fuzz_entry)(const uint8_t *data, size_t size);

#define REPLAYED(X) X(query) X(form) X(cookie) X(multipart) X(escape) X(header) \
		    X(router) X(devpath) X(config)

#define DECLARE(name) int fuzz_replay_##name(const uint8_t *data, size_t size);
REPLAYED(DECLARE)

/* The whole of `path`, in a buffer of its own (an empty file is a valid input). */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	cr_assert_not_null(fp, "%s: cannot open", path);
	cr_assert_eq(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n, "%s: short read", path);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Every file in tests/fuzz/corpus/NAME through `entry`; how many there were. */
static int replay(const char *name, fuzz_entry entry)
{
	char dir[256], path[512];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", name);
	d = opendir(dir);
	cr_assert_not_null(d, "%s: no corpus", dir);
	while ((e = readdir(d)) != NULL) {
		size_t len;
		uint8_t *data;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		data = slurp(path, &len);
		cr_log_info("replaying %s", path);
		entry(data, len);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

#define REPLAY_TEST(name) \
	Test(fuzz_corpus, name) \
	{ \
		cr_assert_geq(replay(#name, fuzz_replay_##name), 2, \
			      "tests/fuzz/corpus/" #name " has fewer than 2 seeds"); \
	}
REPLAYED(REPLAY_TEST)
