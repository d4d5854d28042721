/*
 * module.c - dlopen, check and register application modules.  See module.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "module.h"
#include "router.h"
#include "sluice.h"

/* The set a worker runs, for module_name. */
static const struct modset *active;

/* Check the descriptor's shape; NULL when fine, else what is wrong. */
static const char *check_descriptor(const struct sl_module *m, char *buf, size_t len)
{
	if (m->abi != SLUICE_ABI_VERSION) {
		snprintf(buf, len, "built for module ABI %u, this sluice has ABI %u "
			 "(rebuild it against this sluice's include/sluice.h)",
			 m->abi, SLUICE_ABI_VERSION);
		return buf;
	}
	if (!m->name || !*m->name)
		return "its descriptor has no name";
	if (!m->routes == !m->handler)
		return "its descriptor must give either routes or a handler, not both or neither";
	return NULL;
}

static int add_routes(const struct module_config *mc, const struct sl_module *m, int index,
		      struct router *rt, char *err, size_t errlen)
{
	if (m->handler)
		return router_add(rt, NULL, mc->mount, "/*", m->handler, index, err, errlen);
	for (const struct sl_route *r = m->routes; r->path; r++) {
		if (!r->handler) {
			snprintf(err, errlen, "route %s has no handler", r->path);
			return -1;
		}
		if (router_add(rt, r->method, mc->mount, r->path, r->handler, index,
			       err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* The handle of this file in the set in service if it is unchanged, else NULL. */
static void *unchanged_in(const struct modset *prev, const struct stat *st)
{
	for (int i = 0; prev && i < prev->n; i++)
		if (prev->files[i].dev == st->st_dev && prev->files[i].ino == st->st_ino &&
		    prev->files[i].size == st->st_size &&
		    prev->files[i].mtime_ns == st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec)
			return prev->handles[i];
	return NULL;
}

/* Close what a failed load opened itself, private copy included; shared handles stay. */
static void unload_own(struct modset *ms)
{
	while (ms->n > 0) {
		struct link_map *lm = NULL;
		int fd = -1;

		ms->n--;
		if (ms->shared[ms->n])
			continue;
		if (dlinfo(ms->handles[ms->n], RTLD_DI_LINKMAP, &lm) == 0 && lm)
			sscanf(lm->l_name, "/proc/self/fd/%d", &fd);
		dlclose(ms->handles[ms->n]);
		if (fd >= 0)
			close(fd);
	}
}

/*
 * dlopen a private copy of `path` (a memfd), always.  Workers then run a
 * snapshot: `cp new.so served.so` writes into the file in place, and
 * code mapped from the file itself would change under running workers
 * and crash them.  A copy also keeps the loader from confusing a rebuilt
 * file with the older object loaded from the same path.  The memfd stays
 * open once loaded: the loader matches objects by the name they were
 * opened under too, and a closed descriptor's number, reused for the
 * next copy, would hand back this one.  The loader's messages name the
 * copy; they are given the file's path back.
 */
static void *open_copy(const char *path, char *why, size_t whylen)
{
	char name[64];
	void *h = NULL;
	off_t off = 0;
	struct stat st;
	int in = open(path, O_RDONLY | O_CLOEXEC), out = -1;

	if (in < 0 || fstat(in, &st) < 0)
		goto fail;
	/* Named after the file, which is how backtraces will show it. */
	out = memfd_create(strrchr(path, '/') ? strrchr(path, '/') + 1 : path, MFD_CLOEXEC);
	if (out < 0)
		goto fail;
	while (off < st.st_size)
		if (sendfile(out, in, &off, (size_t)(st.st_size - off)) <= 0)
			goto fail;
	snprintf(name, sizeof(name), "/proc/self/fd/%d", out);
	h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *msg = dlerror(), *at = strstr(msg, name);

		if (at == msg && msg[strlen(name)] == ':')
			snprintf(why, whylen, "cannot load: %s%s", path, msg + strlen(name));
		else
			snprintf(why, whylen, "cannot load: %s", msg);
		close(out);
	}
	close(in);
	return h;
fail:
	snprintf(why, whylen, "cannot load: %s", strerror(errno));
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return NULL;
}

/* Load one module into slot ms->n; 0, or -1 with the reason in `why`. */
static int load_one(const struct module_config *mc, const struct modset *prev,
		    struct modset *ms, struct router *rt, char *why, size_t whylen)
{
	const struct sl_module *m;
	const char *bad;
	struct stat st;
	void *h;

	if (stat(mc->path, &st) < 0) {
		snprintf(why, whylen, "cannot load: %s", strerror(errno));
		return -1;
	}
	/* RTLD_NOW: an unresolved symbol fails here, in the master. */
	h = unchanged_in(prev, &st);
	ms->shared[ms->n] = h != NULL;
	if (!h) {
		h = open_copy(mc->path, why, whylen);
		if (h && prev)
			log_msg(LOG_NOTICE, "module %s is new or changed on disk: loading it "
				"anew", mc->path);
	}
	if (!h)
		return -1;
	ms->handles[ms->n] = h;
	ms->files[ms->n].dev = st.st_dev;
	ms->files[ms->n].ino = st.st_ino;
	ms->files[ms->n].size = st.st_size;
	ms->files[ms->n].mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	ms->n++;
	m = dlsym(h, "sluice_module");
	if (!m) {
		snprintf(why, whylen, "exports no sluice_module descriptor "
			 "(define one with SLUICE_MODULE from sluice.h)");
		return -1;
	}
	bad = check_descriptor(m, why, whylen);
	if (bad) {
		if (bad != why)
			snprintf(why, whylen, "%s", bad);
		return -1;
	}
	ms->mods[ms->n - 1] = m;
	return add_routes(mc, m, ms->n - 1, rt, why, whylen);
}

int module_load_all(const struct sl_config *cfg, const struct modset *prev,
		    struct modset *ms, struct router *rt, char *err, size_t errlen)
{
	char why[512];

	memset(ms, 0, sizeof(*ms));
	for (int i = 0; i < cfg->nmodules; i++) {
		const struct module_config *mc = &cfg->modules[i];

		if (load_one(mc, prev, ms, rt, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%d: module %s: %s", cfg->file, mc->line,
				 mc->path, why);
			unload_own(ms);
			return -1;
		}
		log_msg(LOG_INFO, "module %s loaded from %s, mounted at %s",
			ms->mods[i]->name, mc->path, mc->mount);
	}
	return 0;
}

int module_init_all(struct modset *ms)
{
	active = ms;
	for (ms->ninited = 0; ms->ninited < ms->n; ms->ninited++) {
		const struct sl_module *m = ms->mods[ms->ninited];

		if (m->init && m->init() != 0) {
			log_msg(LOG_ERROR, "module %s: init failed", m->name);
			module_fini_all(ms);
			return -1;
		}
	}
	return 0;
}

void module_fini_all(struct modset *ms)
{
	while (ms->ninited > 0) {
		const struct sl_module *m = ms->mods[--ms->ninited];

		if (m->fini)
			m->fini();
	}
}

const char *module_name(int i)
{
	return active && i >= 0 && i < active->n ? active->mods[i]->name : "?";
}
