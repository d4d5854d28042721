/*
 * symbols.h - names for code addresses, for backtraces written from a
 * signal handler.
 *
 * glibc's backtrace_symbols names only exported symbols, and a module's
 * handlers are usually static.  So the function symbols of every loaded
 * object (the executable, the modules, the libraries) are read from the
 * files' ELF symbol tables ahead of time, in a safe context; looking an
 * address up later only reads that table, which is safe in a handler.
 */
#ifndef SLUICE_SYMBOLS_H
#define SLUICE_SYMBOLS_H

#include <link.h>
#include <stddef.h>
#include <stdint.h>

/*
 * (Re)build the table from every object loaded now.  Called by the master
 * after loading modules; workers inherit it through fork.  Objects whose
 * file cannot be read keep their addresses, unnamed.
 */
void symbols_load(void);

/*
 * Write "name+0x1a (hello.so)" for `addr`, or "hello.so+0x1139" when no
 * symbol covers it, into `buf` (always NUL-terminated).  Returns the
 * length.  Async-signal-safe.
 */
size_t symbols_format(uintptr_t addr, char *buf, size_t len);

/*
 * The address range [*lo, *hi) an object's loadable segments span, from
 * its program headers (a dl_iterate_phdr entry); *lo >= *hi when it has
 * none.
 */
void symbols_load_range(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi);

/*
 * Source lines: the dev profile links symbols_dwarf.c, which reads an
 * object's DWARF line table (libdw) ahead of time like the symbols; the
 * production profile links symbols_none.c, whose backtraces keep the
 * symbol-table names alone.
 *
 * symbols_lines_load returns the line table of the file at `path`, whose
 * addresses move by `bias`, or NULL when it has none.
 * symbols_lines_put appends " at file.c:12" for `addr` to `buf` at `at`
 * when the table covers it, and returns the new length; it only reads the
 * table, so it is async-signal-safe.
 */
struct symbols_lines;

/*
 * Only in development mode (--dev, dev_enable): the tables cost the
 * master and every worker tens of MiB under AddressSanitizer, which a
 * dev-profile binary serving without --dev should not pay.  Before
 * symbols_load.
 */
void symbols_lines_enable(void);

struct symbols_lines *symbols_lines_load(const char *path, uintptr_t bias);
size_t symbols_lines_put(const struct symbols_lines *l, uintptr_t addr, char *buf, size_t len,
			 size_t at);
void symbols_lines_free(struct symbols_lines *l);

#endif
