/*
 * symbols_none.c - the production side of symbols.h's source lines:
 * backtraces name functions from the ELF symbol tables only, and the
 * production binary needs no DWARF reader.
 */
#include "symbols.h"

void symbols_lines_enable(void)
{
}

struct symbols_lines *symbols_lines_load(const char *path, uintptr_t bias)
{
	(void)path;
	(void)bias;
	return NULL;
}

size_t symbols_lines_put(const struct symbols_lines *l, uintptr_t addr, char *buf, size_t len,
			 size_t at)
{
	(void)l;
	(void)addr;
	(void)buf;
	(void)len;
	return at;
}

void symbols_lines_free(struct symbols_lines *l)
{
	(void)l;
}
