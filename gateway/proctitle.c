/*
 * proctitle.c - process titles written over argv's memory.
 *
 * The kernel shows a process's command line from the memory its argv
 * strings were in.  The environment strings follow them, so once those
 * are copied elsewhere, the whole span is ours to write a title in.
 * When the title runs past the last byte of argv, the kernel reads on to
 * the first NUL (it takes it for a setproctitle), so ps shows all of it.
 * After the title, the span is cleared as far as the previous title
 * reached (the rest is still clear), so that a shorter title leaves no
 * tail of a longer one.  The prefix is written only when it changes, so
 * a worker's busy and idle titles cost about the length of what follows
 * it: a few stores, twice a request.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "proctitle.h"

#define PREFIX_MAX	48

extern char **environ;

static struct {
	char *area;		/* argv[0]; NULL: titles are off */
	size_t size;		/* bytes up to the end of the last string moved */
	size_t used;		/* where the previous title ended */
	char prefix[PREFIX_MAX];
	size_t prefix_len;
	int prefix_shown;	/* the area starts with the prefix already */
	char **argv, *argv_block;	/* the copies main and getenv read, */
	char **env, *env_block;		/* kept for the process's life */
} t;

/*
 * `n` strings copied into one block (its address in *keep, for the life
 * of the process: unsetenv drops pointers from environ, the block stays
 * reachable), and the array of pointers to them, returned; NULL when
 * memory is short.
 */
static char **copy_strings(char *const *from, int n, char **keep)
{
	size_t total = 0;
	char **to, *p;

	for (int i = 0; i < n; i++)
		total += strlen(from[i]) + 1;
	to = malloc(((size_t)n + 1) * sizeof(*to));
	p = malloc(total ? total : 1);
	if (!to || !p) {
		free(to);
		free(p);
		return NULL;
	}
	*keep = p;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(from[i]) + 1;

		to[i] = memcpy(p, from[i], len);
		p += len;
	}
	to[n] = NULL;
	return to;
}

int proctitle_init(int argc, char ***argvp)
{
	char **argv = *argvp, **copy, *end;
	int n = 0;

	if (argc < 1 || !argv[0])
		return -1;
	/* The span: argv's strings, then every environment string that
	 * follows on without a gap. */
	end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc; i++)
		if (argv[i] == end)
			end = argv[i] + strlen(argv[i]) + 1;
	for (; environ[n]; n++)
		if (environ[n] == end)
			end = environ[n] + strlen(environ[n]) + 1;
	copy = copy_strings(argv, argc, &t.argv_block);
	if (!copy)
		return -1;
	t.env = copy_strings(environ, n, &t.env_block);
	if (!t.env) {
		free(copy);
		free(t.argv_block);
		return -1;
	}
	environ = t.env;
	*argvp = t.argv = copy;
	t.area = argv[0];
	t.size = (size_t)(end - argv[0]);
	t.used = t.size - 1;	/* clear it all the first time */
	return 0;
}

void proctitle_prefix(const char *prefix)
{
	size_t len = strlen(prefix);

	if (len >= sizeof(t.prefix))
		len = sizeof(t.prefix) - 1;
	memcpy(t.prefix, prefix, len);
	t.prefix[len] = '\0';
	t.prefix_len = len;
	t.prefix_shown = 0;
}

void proctitle_set(const char *s, ...)
{
	size_t room, n;
	va_list ap;

	if (!t.area || t.size < 2)
		return;
	room = t.size - 1;	/* a NUL always ends it */
	n = t.prefix_len < room ? t.prefix_len : room;
	if (!t.prefix_shown) {
		memcpy(t.area, t.prefix, n);
		t.prefix_shown = 1;
	}
	va_start(ap, s);
	for (; s && n < room; s = va_arg(ap, const char *)) {
		size_t len = strlen(s);

		if (len > room - n)
			len = room - n;
		memcpy(t.area + n, s, len);
		n += len;
	}
	va_end(ap);
	memset(t.area + n, '\0', (t.used > n ? t.used : n) - n + 1);
	t.used = n;
}
