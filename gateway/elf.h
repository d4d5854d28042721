/*
 * elf.h - what an ELF file says about how it was built: the hardening a
 * loader and a compiler leave visible (RELRO, immediate binding,
 * position independence, stack canaries), sluice's build profile note,
 * and the libraries it needs.
 *
 * One reader for two users: `sluice audit` (audit.c) judges the binary
 * and the modules with it, and `make check-prod` (tests/check-prod.sh)
 * asks the same questions of the production binary through
 * `sluice audit --elf FILE`, so that the two can never disagree.
 */
#ifndef SLUICE_ELF_H
#define SLUICE_ELF_H

#include <stddef.h>
#include <stdio.h>

#define ELF_MAX_NEEDED	32

/* Whether a protection is there, absent, or cannot be told from the file. */
enum elf_tri { ELF_NO, ELF_YES, ELF_UNKNOWN };

struct elf_facts {
	int executable;			/* ET_DYN with DF_1_PIE, or ET_EXEC */
	int pie;			/* position independent: ET_DYN, no text relocations */
	int relro;			/* a PT_GNU_RELRO segment */
	int bind_now;			/* BIND_NOW: with relro, the GOT is read-only too */
	enum elf_tri canary;		/* calls __stack_chk_fail, or was built to */
	char profile[8];		/* sluice's profile note ("prod", "dev"), "" if none */
	char needed[ELF_MAX_NEEDED][64];	/* DT_NEEDED names, in order */
	int nneeded;
};

/*
 * Read `path` into `f`.  Returns 0, or -1 with why in `err` (not an ELF
 * file of this machine's class, unreadable, truncated).
 *
 * The stack canary is YES when the file calls __stack_chk_fail; when it
 * does not, the compiler's recorded command line in .debug_str (GCC's
 * -grecord-gcc-switches, on by default) says whether it was built with
 * -fstack-protector (then no function needed a canary: YES) or without
 * (NO); a stripped file without the call is UNKNOWN.
 */
int elf_inspect(const char *path, struct elf_facts *f, char *err, size_t errlen);

/*
 * Print `f` as "name: value" lines, the form `sluice audit --elf` gives
 * and check-prod.sh reads.
 */
void elf_print(const struct elf_facts *f, FILE *out);

#endif
