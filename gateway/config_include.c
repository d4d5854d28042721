/*
 * config_include.c - the @include lines of a config, checked before
 * libconfig reads it.  See config_include.h.
 *
 * The scan follows libconfig 1.5's scanner (scanner.l): an include is
 * `^[ \t]*@include[ \t]+"name"` outside strings and comments, with \\
 * and \" escaped in the name; strings may span lines and keep their
 * backslash escapes; comments are #, // and C's.  Includes nest at most
 * 10 deep there (MAX_INCLUDE_DEPTH), so deeper ones are left to its own
 * error.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config_include.h"

#define INCLUDE_MAX_DEPTH	10

/*
 * Files scanned for one config at most.  A file that includes itself
 * twice would otherwise be scanned 2^10 times; libconfig stops at the
 * first include too deep, so such a config fails there anyway.
 */
#define INCLUDE_MAX_FILES	64

/* One config's check: where names are looked up, the files seen, the error. */
struct walk {
	const char *dir;
	int files;
	char *err;
	size_t errlen;
};

/* One file's pass. */
struct scan {
	FILE *fp;
	const char *path;	/* as reported */
	int line;
	struct walk *w;
};

static int check_file(struct walk *w, const char *path, int depth);

/* Skip to the end of the line (a # or // comment). */
static void skip_line(struct scan *s)
{
	int c;

	while ((c = getc(s->fp)) != EOF && c != '\n')
		;
	if (c == '\n')
		s->line++;
}

/* Skip past the closing quote of a string, or past the end of a C comment. */
static void skip_string(struct scan *s)
{
	int c;

	while ((c = getc(s->fp)) != EOF && c != '"') {
		if (c == '\\')
			c = getc(s->fp);
		if (c == '\n')
			s->line++;
	}
}

static void skip_comment(struct scan *s)
{
	int c, prev = 0;

	while ((c = getc(s->fp)) != EOF && !(prev == '*' && c == '/')) {
		if (c == '\n')
			s->line++;
		prev = c;
	}
}

/*
 * At a line's start: 1 with the name in `name` if the line is an
 * include, 0 if not (what was read is then code, `*next` its first
 * character), -1 with *why set for a name that cannot be taken as it is
 * written.  libconfig builds the name as a C string, so a NUL byte would
 * cut it short (to "", the folder), and it drops a backslash that
 * escapes neither '\\' nor '"': such names are refused, not guessed.
 */
static int read_include(struct scan *s, char *name, size_t size, int *next, const char **why)
{
	static const char word[] = "@include";
	size_t n = 0;
	int c;

	while ((c = getc(s->fp)) == ' ' || c == '\t')
		;
	for (size_t i = 0; word[i]; i++, c = getc(s->fp))
		if (c != word[i]) {
			*next = c;
			return 0;
		}
	if (c != ' ' && c != '\t') {
		*next = c;
		return 0;
	}
	while ((c = getc(s->fp)) == ' ' || c == '\t')
		;
	if (c != '"') {
		*next = c;
		return 0;
	}
	while ((c = getc(s->fp)) != EOF && c != '"') {
		if (c == '\\' && (c = getc(s->fp)) != '\\' && c != '"')
			return *why = "a backslash that escapes neither \\ nor \"", -1;
		if (c == '\0')
			return *why = "a NUL byte", -1;
		if (n + 1 >= size)
			return *why = "more than a path's length", -1;
		name[n++] = (char)c;
	}
	name[n] = '\0';
	*next = c;
	return c == '"' ? 1 : 0;
}

/* The named file must be a regular one; then its own includes are checked. */
static int check_include(struct scan *s, const char *name, int depth)
{
	struct walk *w = s->w;
	char full[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(full, sizeof(full), "%s/%s", w->dir, name) >= sizeof(full)) {
		snprintf(w->err, w->errlen, "%s:%d: @include name too long", s->path, s->line);
		return -1;
	}
	if (stat(full, &st) < 0)
		return 0;	/* libconfig: "cannot open include file" */
	if (!S_ISREG(st.st_mode)) {
		snprintf(w->err, w->errlen, "%s:%d: @include \"%s\" names %s, not a file",
			 s->path, s->line, name, S_ISDIR(st.st_mode) ? "a folder" : "a device or FIFO");
		return -1;
	}
	if (++w->files > INCLUDE_MAX_FILES) {
		snprintf(w->err, w->errlen, "%s:%d: @include: more than %d files in all "
			 "(does a file include itself?)", s->path, s->line, INCLUDE_MAX_FILES);
		return -1;
	}
	return depth + 1 < INCLUDE_MAX_DEPTH ? check_file(w, full, depth + 1) : 0;
}

/* One pass over the file, in libconfig's scanner states. */
static int scan(struct scan *s, int depth)
{
	char name[PATH_MAX];
	const char *why;
	int c = '\n';

	for (;;) {
		if (c == '\n') {
			int rc = read_include(s, name, sizeof(name), &c, &why);

			if (rc < 0) {
				snprintf(s->w->err, s->w->errlen, "%s:%d: @include name with %s",
					 s->path, s->line, why);
				return -1;
			}
			if (rc > 0) {
				if (check_include(s, name, depth) < 0)
					return -1;
				c = getc(s->fp);
			}
		} else {
			c = getc(s->fp);
		}
		if (c == EOF)
			return 0;
		if (c == '\n') {
			s->line++;
		} else if (c == '"') {
			skip_string(s);
		} else if (c == '#') {
			skip_line(s);
			c = '\n';
		} else if (c == '/') {
			int d = getc(s->fp);

			if (d == '/') {
				skip_line(s);
				c = '\n';
			} else if (d == '*') {
				skip_comment(s);
			} else {
				ungetc(d, s->fp);
			}
		}
	}
}

static int check_file(struct walk *w, const char *path, int depth)
{
	struct scan s = { fopen(path, "re"), path, 1, w };
	struct stat st;
	int rc;

	if (!s.fp)
		return 0;	/* libconfig reports it */
	if (fstat(fileno(s.fp), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(s.fp);
		return 0;	/* the main file: config_load's read_error says what */
	}
	rc = scan(&s, depth);
	fclose(s.fp);
	return rc;
}

int config_include_check(const char *path, const char *dir, char *err, size_t errlen)
{
	struct walk w = { dir, 0, err, errlen };

	return check_file(&w, path, 0);
}
