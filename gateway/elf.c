/*
 * elf.c - build facts from an ELF file's headers.  See elf.h.
 *
 * The file is mapped read-only and every offset, size and count taken
 * from it is checked against the mapping before use: audit reads
 * modules an attacker may have replaced.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"

struct image {
	const unsigned char *p;
	size_t size;
	const ElfW(Ehdr) *eh;
	const ElfW(Shdr) *sh;		/* section headers, eh->e_shnum of them */
};

/* [off, off + len) lies inside the file. */
static int inside(const struct image *im, uint64_t off, uint64_t len)
{
	return off <= im->size && len <= im->size - off;
}

/* Section `i`'s bytes, or NULL when it has none in the file. */
static const unsigned char *section(const struct image *im, size_t i, size_t *len)
{
	const ElfW(Shdr) *s = &im->sh[i];

	if (i >= im->eh->e_shnum || s->sh_type == SHT_NOBITS ||
	    !inside(im, s->sh_offset, s->sh_size))
		return NULL;
	*len = s->sh_size;
	return im->p + s->sh_offset;
}

/* The NUL-terminated string at `off` of string section `i`, or NULL. */
static const char *string_at(const struct image *im, size_t i, size_t off)
{
	size_t len;
	const unsigned char *tab = section(im, i, &len);

	if (!tab || off >= len || !memchr(tab + off, '\0', len - off))
		return NULL;
	return (const char *)tab + off;
}

static const char *section_name(const struct image *im, size_t i)
{
	return string_at(im, im->eh->e_shstrndx, im->sh[i].sh_name);
}

static void read_dynamic(const struct image *im, size_t i, struct elf_facts *f)
{
	size_t len;
	const unsigned char *d = section(im, i, &len);

	if (!d)
		return;
	for (size_t k = 0; k + sizeof(ElfW(Dyn)) <= len; k += sizeof(ElfW(Dyn))) {
		ElfW(Dyn) dyn;
		const char *name;

		memcpy(&dyn, d + k, sizeof(dyn));
		if (dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag == DT_BIND_NOW ||
		    (dyn.d_tag == DT_FLAGS && (dyn.d_un.d_val & DF_BIND_NOW)) ||
		    (dyn.d_tag == DT_FLAGS_1 && (dyn.d_un.d_val & DF_1_NOW)))
			f->bind_now = 1;
		if (dyn.d_tag == DT_FLAGS_1 && (dyn.d_un.d_val & DF_1_PIE))
			f->executable = 1;
		if (dyn.d_tag == DT_TEXTREL ||
		    (dyn.d_tag == DT_FLAGS && (dyn.d_un.d_val & DF_TEXTREL)))
			f->pie = 0;
		if (dyn.d_tag == DT_NEEDED && f->nneeded < ELF_MAX_NEEDED &&
		    (name = string_at(im, im->sh[i].sh_link, dyn.d_un.d_val)))
			snprintf(f->needed[f->nneeded++], sizeof(f->needed[0]), "%s", name);
	}
}

/* Does symbol table section `i` name __stack_chk_fail? */
static int calls_stack_chk(const struct image *im, size_t i)
{
	size_t len;
	const unsigned char *t = section(im, i, &len);

	if (!t)
		return 0;
	for (size_t k = 0; k + sizeof(ElfW(Sym)) <= len; k += sizeof(ElfW(Sym))) {
		ElfW(Sym) sym;
		const char *name;

		memcpy(&sym, t + k, sizeof(sym));
		name = string_at(im, im->sh[i].sh_link, sym.st_name);
		if (name && strncmp(name, "__stack_chk_fail", 16) == 0)
			return 1;
	}
	return 0;
}

/*
 * The compilers' recorded command lines ("GNU C17 12.2.0 -mtune=generic
 * -O2 -fstack-protector-strong ..."), in .debug_str: ELF_YES when one
 * turned the protector on, ELF_NO when they all say nothing of it or
 * turned it off, ELF_UNKNOWN when there is none to read.
 */
static enum elf_tri recorded_canary(const struct image *im, size_t i)
{
	size_t len, k = 0;
	const unsigned char *s = section(im, i, &len);
	enum elf_tri seen = ELF_UNKNOWN;

	if (!s)
		return ELF_UNKNOWN;
	while (k < len) {
		const char *str = (const char *)s + k;
		size_t n = strnlen(str, len - k);

		if (n > 4 && strncmp(str, "GNU ", 4) == 0 && memmem(str, n, " -", 2)) {
			if (memmem(str, n, "-fstack-protector", 17) &&
			    !memmem(str, n, "-fno-stack-protector", 20))
				return ELF_YES;
			seen = ELF_NO;
		}
		k += n + 1;
	}
	return seen;
}

/* Sluice's own note, owner "sluice" type 1, in note section `i`. */
static void read_notes(const struct image *im, size_t i, struct elf_facts *f)
{
	size_t len, k = 0;
	const unsigned char *n = section(im, i, &len);

	while (n && k + sizeof(ElfW(Nhdr)) <= len) {
		ElfW(Nhdr) nh;
		size_t name_off = k + sizeof(nh), name_len, desc_off;

		memcpy(&nh, n + k, sizeof(nh));
		name_len = (nh.n_namesz + 3) & ~(size_t)3;
		desc_off = name_off + name_len;
		if (desc_off > len || nh.n_descsz > len - desc_off)
			return;
		if (nh.n_type == 1 && nh.n_namesz == sizeof("sluice") &&
		    memcmp(n + name_off, "sluice", sizeof("sluice")) == 0)
			snprintf(f->profile, sizeof(f->profile), "%.*s",
				 (int)strnlen((const char *)n + desc_off, nh.n_descsz),
				 (const char *)n + desc_off);
		k = desc_off + ((nh.n_descsz + 3) & ~(size_t)3);
	}
}

static int read_image(const struct image *im, struct elf_facts *f, char *err, size_t errlen)
{
	const ElfW(Ehdr) *eh = im->eh;
	enum elf_tri recorded = ELF_UNKNOWN;
	int canary = 0;

	if (!inside(im, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(ElfW(Phdr))) ||
	    !inside(im, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(ElfW(Shdr))) ||
	    eh->e_shstrndx >= eh->e_shnum || eh->e_shoff % _Alignof(ElfW(Shdr)) != 0) {
		snprintf(err, errlen, "truncated or malformed ELF headers");
		return -1;
	}
	f->executable = eh->e_type == ET_EXEC;
	f->pie = eh->e_type == ET_DYN;
	for (size_t i = 0; i < eh->e_phnum; i++) {
		ElfW(Phdr) ph;

		memcpy(&ph, im->p + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_GNU_RELRO)
			f->relro = 1;
	}
	for (size_t i = 0; i < eh->e_shnum; i++) {
		const char *name = section_name(im, i);

		if (im->sh[i].sh_type == SHT_DYNAMIC)
			read_dynamic(im, i, f);
		else if (im->sh[i].sh_type == SHT_DYNSYM || im->sh[i].sh_type == SHT_SYMTAB)
			canary |= calls_stack_chk(im, i);
		else if (im->sh[i].sh_type == SHT_NOTE)
			read_notes(im, i, f);
		else if (name && strcmp(name, ".debug_str") == 0)
			recorded = recorded_canary(im, i);
	}
	f->canary = canary ? ELF_YES : recorded;
	return 0;
}

int elf_inspect(const char *path, struct elf_facts *f, char *err, size_t errlen)
{
	struct image im = { 0 };
	struct stat st;
	void *map;
	int fd, rc = -1;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	map = st.st_size >= (off_t)sizeof(ElfW(Ehdr))
		? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "%s: not an ELF file", path);
		return -1;
	}
	im.p = map;
	im.size = (size_t)st.st_size;
	im.eh = map;
	if (memcmp(im.eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    im.eh->e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)) {
		snprintf(err, errlen, "%s: not an ELF file of this machine's class", path);
	} else {
		im.sh = (const ElfW(Shdr) *)(im.p + im.eh->e_shoff);
		rc = read_image(&im, f, err, errlen);
		if (rc < 0) {
			char why[128];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "%s: %s", path, why);
		}
	}
	munmap(map, im.size);
	return rc;
}

static const char *tri(enum elf_tri t)
{
	return t == ELF_YES ? "yes" : t == ELF_NO ? "no" : "unknown";
}

void elf_print(const struct elf_facts *f, FILE *out)
{
	fprintf(out, "profile: %s\n", f->profile[0] ? f->profile : "none");
	fprintf(out, "pie: %s\n", f->pie ? "yes" : "no");
	fprintf(out, "relro: %s\n", !f->relro ? "no" : f->bind_now ? "full" : "partial");
	fprintf(out, "stack protector: %s\n", tri(f->canary));
	for (int i = 0; i < f->nneeded; i++)
		fprintf(out, "needed: %s\n", f->needed[i]);
}
