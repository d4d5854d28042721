/*
 * symbols_dwarf.c - source lines for backtraces, from DWARF (dev profile).
 * See symbols.h.
 *
 * A backtrace is written from a signal handler, where libdw may not run:
 * it allocates and takes locks.  So, like the symbol tables, each
 * object's whole line table is copied out when symbols_load runs, into a
 * sorted array of (address, file, line); a lookup is a binary search.
 * Only objects built with -g have one: the modules and the dev binary,
 * not the system libraries.
 */
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safefmt.h"
#include "symbols.h"

struct line_row {
	uintptr_t addr;		/* run-time address where the row starts */
	const char *file;	/* in `files`; NULL: end of a sequence */
	int line;
};

struct symbols_lines {
	struct line_row *rows;	/* sorted by addr */
	size_t n, cap;
	char **files;		/* one copy per source file */
	size_t nfiles;
};

static int by_addr(const void *a, const void *b)
{
	const struct line_row *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* An end of sequence sorts before a row that starts at the same address. */
	return (x->file != NULL) - (y->file != NULL);
}

/* Our copy of `name`: line tables repeat one file for many rows. */
static const char *file_copy(struct symbols_lines *l, const char *name)
{
	char **more;

	for (size_t i = l->nfiles; i-- > 0;)
		if (strcmp(l->files[i], name) == 0)
			return l->files[i];
	more = realloc(l->files, (l->nfiles + 1) * sizeof(*more));
	if (!more)
		return NULL;
	l->files = more;
	l->files[l->nfiles] = strdup(name);
	return l->files[l->nfiles] ? l->files[l->nfiles++] : NULL;
}

static int add_row(struct symbols_lines *l, uintptr_t addr, const char *file, int line)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct line_row *more = realloc(l->rows, cap * sizeof(*more));

		if (!more)
			return -1;
		l->rows = more;
		l->cap = cap;
	}
	l->rows[l->n++] = (struct line_row){ addr, file, line };
	return 0;
}

/* Copy one compilation unit's rows, addresses moved by `bias`. */
static int read_unit(struct symbols_lines *l, Dwarf_Die *cu, uintptr_t bias)
{
	Dwarf_Lines *lines;
	size_t n;

	if (dwarf_getsrclines(cu, &lines, &n) != 0)
		return 0;	/* a unit without a line table */
	for (size_t i = 0; i < n; i++) {
		Dwarf_Line *ln = dwarf_onesrcline(lines, i);
		Dwarf_Addr addr;
		bool end = false;
		int lineno = 0;
		const char *src;

		if (!ln || dwarf_lineaddr(ln, &addr) != 0)
			continue;
		dwarf_lineendsequence(ln, &end);
		src = end ? NULL : dwarf_linesrc(ln, NULL, NULL);
		if (!end && (!src || dwarf_lineno(ln, &lineno) != 0 ||
			     !(src = file_copy(l, src))))
			continue;
		if (add_row(l, bias + addr, src, lineno) < 0)
			return -1;
	}
	return 0;
}

static void read_units(struct symbols_lines *l, Dwarf *dw, uintptr_t bias)
{
	Dwarf_Off off = 0, next;
	size_t header;

	while (dwarf_nextcu(dw, off, &next, &header, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;

		if (dwarf_offdie(dw, off + header, &cu) && read_unit(l, &cu, bias) < 0)
			return;
		off = next;
	}
}

static int lines_enabled;

void symbols_lines_enable(void)
{
	lines_enabled = 1;
}

struct symbols_lines *symbols_lines_load(const char *path, uintptr_t bias)
{
	struct symbols_lines *l;
	Dwarf *dw;
	int fd;

	if (!lines_enabled || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	dw = dwarf_begin(fd, DWARF_C_READ);
	l = dw ? calloc(1, sizeof(*l)) : NULL;
	if (l)
		read_units(l, dw, bias);
	if (dw)
		dwarf_end(dw);
	close(fd);
	if (l && l->n == 0) {
		symbols_lines_free(l);
		return NULL;
	}
	if (l)
		qsort(l->rows, l->n, sizeof(*l->rows), by_addr);
	return l;
}

size_t symbols_lines_put(const struct symbols_lines *l, uintptr_t addr, char *buf, size_t len,
			 size_t at)
{
	size_t lo = 0, hi;
	const struct line_row *row;

	if (!l)
		return at;
	for (hi = l->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->rows[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || !(row = &l->rows[lo - 1])->file)
		return at;	/* before the first row, or past a sequence's end */
	at = sf_str(buf, len, at, " at ");
	at = sf_str(buf, len, at, row->file);
	at = sf_str(buf, len, at, ":");
	return sf_uint(buf, len, at, (unsigned)row->line, 0);
}

void symbols_lines_free(struct symbols_lines *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nfiles; i++)
		free(l->files[i]);
	free(l->files);
	free(l->rows);
	free(l);
}
