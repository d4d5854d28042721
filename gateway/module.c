/*
 * module.c - dlopen, check and register application modules.  See module.h.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "module.h"
#include "router.h"
#include "sluice.h"

static const struct sl_module *loaded[MAX_MODULES];
static int nloaded;
static int ninited;

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
	char why[256];

	if (m->handler)
		return router_add(rt, NULL, mc->mount, "/*", m->handler, index, err, errlen);
	for (const struct sl_route *r = m->routes; r->path; r++) {
		if (!r->handler) {
			snprintf(err, errlen, "route %s has no handler", r->path);
			return -1;
		}
		if (router_add(rt, r->method, mc->mount, r->path, r->handler, index,
			       why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
	}
	return 0;
}

/* Load one module; 0, or -1 with the reason (without the file prefix) in `why`. */
static int load_one(const struct module_config *mc, struct router *rt,
		    char *why, size_t whylen)
{
	const struct sl_module *m;
	const char *bad;
	void *h;

	/* RTLD_NOW: an unresolved symbol fails here, in the master, at start-up. */
	h = dlopen(mc->path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(why, whylen, "cannot load: %s", dlerror());
		return -1;
	}
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
	if (add_routes(mc, m, nloaded, rt, why, whylen) < 0)
		return -1;
	loaded[nloaded++] = m;
	return 0;
}

int module_load_all(const struct sl_config *cfg, struct router *rt, char *err, size_t errlen)
{
	char why[512];

	for (int i = 0; i < cfg->nmodules; i++) {
		const struct module_config *mc = &cfg->modules[i];

		if (load_one(mc, rt, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s:%d: module %s: %s", cfg->file, mc->line,
				 mc->path, why);
			return -1;
		}
		log_msg(LOG_INFO, "module %s loaded from %s, mounted at %s",
			loaded[i]->name, mc->path, mc->mount);
	}
	return 0;
}

int module_init_all(void)
{
	for (ninited = 0; ninited < nloaded; ninited++) {
		const struct sl_module *m = loaded[ninited];

		if (m->init && m->init() != 0) {
			log_msg(LOG_ERROR, "module %s: init failed", m->name);
			module_fini_all();
			return -1;
		}
	}
	return 0;
}

void module_fini_all(void)
{
	while (ninited > 0) {
		const struct sl_module *m = loaded[--ninited];

		if (m->fini)
			m->fini();
	}
}

const char *module_name(int i)
{
	return i >= 0 && i < nloaded ? loaded[i]->name : "?";
}
