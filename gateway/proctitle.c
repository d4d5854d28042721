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
 * tail of a longer one and a title costs about its own length.
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
	char **argv;		/* the copy main reads, kept for the process's life */
} t;

/* Copy the environment to the heap; 0 or -1. */
static int move_environ(int n)
{
	char **env = malloc(((size_t)n + 1) * sizeof(*env));

	if (!env)
		return -1;
	for (int i = 0; i < n; i++) {
		env[i] = strdup(environ[i]);
		if (!env[i]) {
			while (i-- > 0)
				free(env[i]);
			free(env);
			return -1;
		}
	}
	env[n] = NULL;
	environ = env;
	return 0;
}

/* Copy argv too: getopt and the error messages still read it. */
static char **copy_argv(int argc, char **argv)
{
	char **copy = malloc(((size_t)argc + 1) * sizeof(*copy));

	if (!copy)
		return NULL;
	for (int i = 0; i < argc; i++) {
		copy[i] = strdup(argv[i]);
		if (!copy[i]) {
			while (i-- > 0)
				free(copy[i]);
			free(copy);
			return NULL;
		}
	}
	copy[argc] = NULL;
	return copy;
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
	copy = copy_argv(argc, argv);
	if (!copy || move_environ(n) < 0)
		return -1;
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
}

void proctitle_set(const char *s, ...)
{
	size_t room, n;
	va_list ap;

	if (!t.area || t.size < 2)
		return;
	room = t.size - 1;	/* a NUL always ends it */
	n = t.prefix_len < room ? t.prefix_len : room;
	memcpy(t.area, t.prefix, n);
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
