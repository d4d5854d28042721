/*
 * config.c - fuzz the config loader (gateway/config.c): the input is a
 * config file, loaded through libconfig as `sluice -t` loads one.
 *
 * Each input is written to a file in a private folder made once per
 * process (libconfig reads files, and @include is looked up beside the
 * file).  Whatever the input: a refused config says why, naming the
 * file, and a loaded one frees cleanly, and the process lives on (an
 * @include naming a folder once made libconfig exit, config_include.c).
 * A file with pools is loaded once more per pool (config_pools.h).
 * An input with an @include whose name holds a '/' is skipped: it could
 * reach any file on the machine, and an outcome that depends on the
 * machine's files is no finding the fuzzer could reproduce.
 *
 * libconfig 1.5 leaks on some syntax errors (README, "Libraries, and
 * why"); config.supp names that leak, and nothing of sluice, for
 * LeakSanitizer.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"

/* A refused config's message names the file (or the folder an @include is read from). */
static void refused(const char *p, const char *err)
{
	if (err[0] == '\0' || strncmp(err, p, (size_t)(strrchr(p, '/') - p)) != 0)
		abort();
}

static void load_pool(const char *p, const char *name)
{
	static struct sl_config pool;
	char err[1024];

	memset(&pool, 0, sizeof(pool));
	if (config_load_pool(p, name, &pool, err, sizeof(err)) < 0)
		refused(p, err);
	else
		config_free(&pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[4096];

static void remove_folder(void)
{
	char dir[sizeof(path)];

	unlink(path);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

/*
 * The file every input is written to, in a folder of its own: in
 * /dev/shm when there is one, since on a disk file system a truncated
 * file is flushed on close (ext4's auto_da_alloc), which would cost
 * more than the parse.
 */
static const char *conf_path(void)
{
	char dir[sizeof(path) - 16];
	const char *tmp = getenv("TMPDIR");

	if (path[0])
		return path;
	if (access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	snprintf(dir, sizeof(dir), "%s/sluice-fuzz-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/fuzz.conf", dir);
	atexit(remove_folder);
	return path;
}

/* 1 if an @include in the `size` bytes of `s` could leave the folder. */
static int includes_outside(const char *s, size_t size)
{
	const char *end = s + size, *at = s;

	while ((at = memmem(at, (size_t)(end - at), "@", 1)) != NULL) {
		const char *eol = memchr(at, '\n', (size_t)(end - at));
		size_t n = (size_t)((eol ? eol : end) - at);

		if (n >= 8 && strncasecmp(at, "@include", 8) == 0 && memchr(at, '/', n))
			return 1;
		at++;
	}
	return 0;
}

static int write_file(const char *p, const uint8_t *data, size_t size)
{
	int fd, ok;

	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ok = fd >= 0 && write(fd, data, size) == (ssize_t)size;
	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sl_config cfg;
	const char *p = conf_path();
	char err[1024];

	if (includes_outside((const char *)data, size) || write_file(p, data, size) < 0)
		return 0;
	memset(&cfg, 0, sizeof(cfg));
	if (config_load(p, &cfg, err, sizeof(err)) < 0) {
		refused(p, err);
		return 0;
	}
	/* A file with pools: each pool's keys laid over the top level's too. */
	for (int i = 0; i < cfg.pools.n; i++)
		load_pool(p, cfg.pools.name[i]);
	config_free(&cfg);
	return 0;
}
