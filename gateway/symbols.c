/*
 * symbols.c - an address-to-name table built from ELF symbol tables.
 * See symbols.h.
 */
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileid.h"
#include "safefmt.h"
#include "symbols.h"

struct sym {
	uintptr_t addr;		/* run-time address */
	size_t size;
	const char *name;	/* in the object's name pool */
};

struct object {
	uintptr_t lo, hi;	/* run-time range of its loaded segments */
	const char *file;	/* base name, for the output */
	struct sym *syms;	/* sorted by addr */
	size_t nsyms;
	char *pool;
	struct symbols_lines *lines;	/* file:line, in the dev profile */
	struct file_id id;		/* its file's, to know it again */
};

#define MAX_OBJECTS 64

/*
 * The objects read here are the ones mapped into this process, so they
 * have the process's own ELF class: ElfW() picks the 32- or 64-bit
 * structures, and a file of the other class is not read.
 */
#define NATIVE_CLASS (__ELF_NATIVE_CLASS == 64 ? ELFCLASS64 : ELFCLASS32)

static struct object objects[MAX_OBJECTS];
static int nobjects;

static int by_addr(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The symbol table section to read: .symtab when present, else .dynsym. */
static const ElfW(Shdr) *pick_table(const ElfW(Ehdr) *eh, const ElfW(Shdr) *sh)
{
	const ElfW(Shdr) *dyn = NULL;

	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type == SHT_SYMTAB)
			return &sh[i];
		if (sh[i].sh_type == SHT_DYNSYM)
			dyn = &sh[i];
	}
	return dyn;
}

/*
 * Copy the function symbols of the mapped ELF file `map` into `o`, their
 * addresses moved by the load bias.  Every offset read from the file is
 * checked against its size: a truncated file yields no symbols, not a
 * crash.
 */
static void read_symbols(struct object *o, const unsigned char *map, size_t size, uintptr_t bias)
{
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)map;
	const ElfW(Shdr) *sh, *tab, *strs;
	const ElfW(Sym) *s;
	size_t n, pool_len = 0;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != NATIVE_CLASS || eh->e_shoff > size ||
	    (size - eh->e_shoff) / sizeof(ElfW(Shdr)) < eh->e_shnum)
		return;
	sh = (const ElfW(Shdr) *)(map + eh->e_shoff);
	tab = pick_table(eh, sh);
	if (!tab || tab->sh_link >= eh->e_shnum || tab->sh_offset > size ||
	    tab->sh_size > size - tab->sh_offset)
		return;
	strs = &sh[tab->sh_link];
	if (strs->sh_offset > size || strs->sh_size > size - strs->sh_offset)
		return;
	s = (const ElfW(Sym) *)(map + tab->sh_offset);
	n = tab->sh_size / sizeof(*s);
	o->syms = calloc(n ? n : 1, sizeof(*o->syms));
	o->pool = malloc(strs->sh_size + 1);
	if (!o->syms || !o->pool)
		return;
	memcpy(o->pool, map + strs->sh_offset, strs->sh_size);
	o->pool[strs->sh_size] = '\0';
	pool_len = strs->sh_size;
	for (size_t i = 0; i < n; i++) {
		/* st_info packs the type the same way in both classes. */
		if (ELF64_ST_TYPE(s[i].st_info) != STT_FUNC || s[i].st_value == 0 ||
		    s[i].st_name >= pool_len)
			continue;
		size_t sz = s[i].st_size;

		/* A symbol without a size (_init, _fini) covers the rest of its
		 * section at most, not the data that follows. */
		if (sz == 0 && s[i].st_shndx < eh->e_shnum &&
		    sh[s[i].st_shndx].sh_addr + sh[s[i].st_shndx].sh_size > s[i].st_value)
			sz = sh[s[i].st_shndx].sh_addr + sh[s[i].st_shndx].sh_size - s[i].st_value;
		o->syms[o->nsyms++] = (struct sym){ bias + s[i].st_value, sz,
						    o->pool + s[i].st_name };
	}
	qsort(o->syms, o->nsyms, sizeof(*o->syms), by_addr);
}

static void load_file(struct object *o, const char *path, uintptr_t bias)
{
	struct stat st;
	void *map;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map != MAP_FAILED) {
			read_symbols(o, map, (size_t)st.st_size, bias);
			munmap(map, (size_t)st.st_size);
		}
	}
	close(fd);
}

/*
 * The name a frame's object is shown under: the file's base name; for a
 * module reloaded from a private copy (/proc/self/fd/N, a memfd named
 * after the module), the module's name again.
 */
static const char *display_name(const char *path)
{
	char link[256];
	const char *base;
	ssize_t n;

	if (!*path)
		return strdup("sluice");
	if (strncmp(path, "/proc/self/fd/", 14) == 0 &&
	    (n = readlink(path, link, sizeof(link) - 1)) > 0) {
		link[n] = '\0';
		if (strncmp(link, "/memfd:", 7) == 0) {
			char *end = strstr(link, " (deleted)");

			if (end)
				*end = '\0';
			return strdup(link + 7);
		}
	}
	base = strrchr(path, '/');
	return strdup(base ? base + 1 : path);
}

void symbols_load_range(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi)
{
	*lo = UINTPTR_MAX;
	*hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < *lo)
			*lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > *hi)
			*hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
}

/* The table before a reload, whose objects still mapped are kept. */
static struct object old[MAX_OBJECTS];
static int nold;

/*
 * The old entry for the same file, unchanged, mapped at the same range,
 * taken out of `old`: its symbols need not be read again (the libraries,
 * the executable and the modules a reload keeps).
 */
static int take_old(uintptr_t lo, uintptr_t hi, const struct stat *st, struct object *o)
{
	for (int i = 0; i < nold; i++)
		if (old[i].file && old[i].lo == lo && old[i].hi == hi &&
		    file_id_same(&old[i].id, st)) {
			*o = old[i];
			old[i].file = NULL;
			return 1;
		}
	return 0;
}

static void free_object(struct object *o)
{
	free(o->syms);
	free(o->pool);
	free((char *)(uintptr_t)o->file);
	symbols_lines_free(o->lines);
}

static int add_object(struct dl_phdr_info *info, size_t size, void *data)
{
	struct object *o;
	const char *path = info->dlpi_name;
	uintptr_t lo, hi;
	struct stat st = { 0 };

	(void)size;
	(void)data;
	if (nobjects == MAX_OBJECTS)
		return 1;
	symbols_load_range(info, &lo, &hi);
	if (lo >= hi)
		return 0;
	/* The executable is listed with an empty name. */
	if (!path || !*path)
		path = "/proc/self/exe";
	o = &objects[nobjects++];
	if (stat(path, &st) == 0 && take_old(lo, hi, &st, o))
		return 0;
	*o = (struct object){ .lo = lo, .hi = hi, .id = file_id_of(&st) };
	o->file = display_name(info->dlpi_name);
	load_file(o, path, info->dlpi_addr);
	o->lines = symbols_lines_load(path, info->dlpi_addr);
	return 0;
}

void symbols_load(void)
{
	memcpy(old, objects, sizeof(old));
	nold = nobjects;
	nobjects = 0;
	dl_iterate_phdr(add_object, NULL);
	for (int i = 0; i < nold; i++)
		if (old[i].file)
			free_object(&old[i]);
	nold = 0;
}

/* The last symbol at or below addr, if addr lies inside it (or it has no size). */
static const struct sym *find_sym(const struct object *o, uintptr_t addr)
{
	size_t lo = 0, hi = o->nsyms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (o->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct sym *s = &o->syms[lo - 1];

	return s->size == 0 || addr < s->addr + s->size ? s : NULL;
}

size_t symbols_format(uintptr_t addr, char *buf, size_t len)
{
	size_t at = 0;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	for (int i = 0; i < nobjects; i++) {
		const struct object *o = &objects[i];
		const struct sym *s;

		if (addr < o->lo || addr >= o->hi)
			continue;
		s = find_sym(o, addr);
		if (s) {
			at = sf_str(buf, len, at, s->name);
			at = sf_str(buf, len, at, "+");
			at = sf_hex(buf, len, at, addr - s->addr);
			at = symbols_lines_put(o->lines, addr, buf, len, at);
			at = sf_str(buf, len, at, " (");
			at = sf_str(buf, len, at, o->file);
			return sf_str(buf, len, at, ")");
		}
		at = sf_str(buf, len, at, o->file);
		at = sf_str(buf, len, at, "+");
		at = sf_hex(buf, len, at, addr - o->lo);
		return symbols_lines_put(o->lines, addr, buf, len, at);
	}
	return sf_hex(buf, len, at, addr);
}
