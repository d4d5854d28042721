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
#include "perm.h"
#include "router.h"
#include "sluice.h"

/* The set a worker runs, for module_name. */
static const struct modset *active;

/* The module whose init or fini runs now, for sl_log(NULL, ...); -1: none. */
static int running = -1;

/* The program's own module (sl_serve), NULL: none. */
static const struct sl_module *builtin;

void module_set_builtin(const struct sl_module *m)
{
	builtin = m;
}

/* The descriptor as ABI 1 spelled it: no context, no reserved slots. */
struct sl_module_v1 {
	unsigned abi;
	const char *name;
	int (*init)(void);
	void (*fini)(void);
	const struct sl_route *routes;
	sl_handler handler;
};

/* What init and fini are given; lives on the stack for one call. */
struct sl_context {
	const struct modset *ms;
	int index;
	int bad;		/* settings read with a getter of another type */
};

/*
 * The descriptor that dlsym found, in this ABI's shape: a current one as
 * it is, an ABI 1 one copied into slot `i` (its init and fini aside), any
 * other version as it is, for check_descriptor to refuse.  Every version
 * starts with `abi`, so reading that much is always safe.
 */
static const struct sl_module *adopt(struct modset *ms, int i, const void *sym)
{
	const struct sl_module_v1 *old = sym;

	if (old->abi != 1)
		return sym;
	ms->v1[i] = (struct sl_module){ .abi = 1, .name = old->name,
					 .routes = old->routes, .handler = old->handler };
	ms->v1_calls[i] = (struct module_v1_calls){ old->init, old->fini };
	return &ms->v1[i];
}

/* Check the descriptor's shape; NULL when fine, else what is wrong. */
static const char *check_descriptor(const struct sl_module *m, char *buf, size_t len)
{
	if (m->abi != SLUICE_ABI_VERSION && m->abi != 1) {
		snprintf(buf, len, "built for module ABI %u, this sluice has ABI %u "
			 "(rebuild it against this sluice's include/sluice.h)",
			 m->abi, SLUICE_ABI_VERSION);
		return buf;
	}
	for (size_t i = 0; m->abi != 1 && i < sizeof(m->reserved) / sizeof(m->reserved[0]); i++)
		if (m->reserved[i]) {
			snprintf(buf, len, "its descriptor gives a field this sluice does not "
				 "know (reserved slot %zu): it was built against a newer "
				 "include/sluice.h", i);
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
		if (file_id_same(&prev->files[i], st))
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

/*
 * The program's own module into slot ms->n: linked in, so there is
 * nothing to open, and nothing for unload_own to close (it counts as
 * shared).  It was compiled against this very header, so only the
 * current ABI is its own.
 */
static int take_builtin(const struct module_config *mc, struct modset *ms,
			struct router *rt, char *why, size_t whylen)
{
	const char *bad;

	ms->shared[ms->n] = 1;
	ms->conf[ms->n] = mc;
	ms->n++;
	if (!builtin || builtin->abi != SLUICE_ABI_VERSION) {
		snprintf(why, whylen, "the program's own module must say .abi = "
			 "SLUICE_ABI_VERSION (%u)", SLUICE_ABI_VERSION);
		return -1;
	}
	bad = check_descriptor(builtin, why, whylen);
	if (bad) {
		if (bad != why)
			snprintf(why, whylen, "%s", bad);
		return -1;
	}
	ms->mods[ms->n - 1] = builtin;
	return add_routes(mc, builtin, ms->n - 1, rt, why, whylen);
}

/* Load one module into slot ms->n; 0, or -1 with the reason in `why`. */
static int load_one(const struct module_config *mc, const struct modset *prev,
		    struct modset *ms, struct router *rt, char *why, size_t whylen)
{
	const struct sl_module *m;
	const char *bad;
	struct stat st;
	void *h, *sym;

	if (mc->builtin)
		return take_builtin(mc, ms, rt, why, whylen);
	if (stat(mc->path, &st) < 0) {
		snprintf(why, whylen, "cannot load: %s", strerror(errno));
		return -1;
	}
	/* The master maps the module and runs its constructors as root: a
	 * file that others could rewrite or replace would run their code. */
	if (perm_check_file(mc->path, &st, why, whylen)
	    || perm_check_folders(mc->path, why, whylen))
		return -1;
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
	ms->files[ms->n] = file_id_of(&st);
	ms->n++;
	sym = dlsym(h, "sluice_module");
	if (!sym) {
		snprintf(why, whylen, "exports no sluice_module descriptor "
			 "(define one with SLUICE_MODULE from sluice.h)");
		return -1;
	}
	m = adopt(ms, ms->n - 1, sym);
	ms->conf[ms->n - 1] = mc;
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
	char why[1024];

	memset(ms, 0, sizeof(*ms));
	for (int i = 0; i < cfg->nmodules; i++) {
		const struct module_config *mc = &cfg->modules[i];

		if (load_one(mc, prev, ms, rt, why, sizeof(why)) < 0) {
			/* The built-in module alone has no entry, hence no line. */
			if (mc->line > 0)
				snprintf(err, errlen, "%s:%d: module %s: %s", cfg->file,
					 mc->line, mc->path, why);
			else
				snprintf(err, errlen, "%s: module built into %s: %s",
					 cfg->file, mc->path, why);
			unload_own(ms);
			return -1;
		}
		log_msg(LOG_INFO, "module %s %s %s, mounted at %s", ms->mods[i]->name,
			mc->builtin ? "built into" : "loaded from", mc->path, mc->mount);
	}
	return 0;
}

/* Run module i's init, whichever ABI it was built for; its result. */
static int call_init(struct modset *ms, int i, struct sl_context *ctx)
{
	const struct sl_module *m = ms->mods[i];
	int rc = 0;

	running = i;
	if (m->abi == 1 && ms->v1_calls[i].init)
		rc = ms->v1_calls[i].init();
	else if (m->abi != 1 && m->init)
		rc = m->init(ctx);
	running = -1;
	return rc;
}

/*
 * A module whose init read a setting with a getter of another type
 * fails like one whose init returned -1, after its own fini (its init
 * did succeed): the getters logged which settings, with their lines.
 */
int module_init_all(struct modset *ms)
{
	active = ms;
	ms->failed = -1;
	for (ms->ninited = 0; ms->ninited < ms->n; ms->ninited++) {
		struct sl_context ctx = { .ms = ms, .index = ms->ninited };
		const char *name = ms->mods[ms->ninited]->name;
		int rc = call_init(ms, ms->ninited, &ctx);

		if (rc != 0 || ctx.bad) {
			ms->failed = ms->ninited;
			ms->failed_rc = rc;
		}
		if (rc != 0) {
			log_msg(LOG_ERROR, "module %s: init failed", name);
			module_fini_all(ms);
			return -1;
		}
		if (ctx.bad) {
			log_msg(LOG_ERROR, "module %s: init failed: %d of its settings %s "
				"the wrong type (see above)", name, ctx.bad,
				ctx.bad == 1 ? "has" : "have");
			ms->ninited++;
			module_fini_all(ms);
			return -1;
		}
	}
	return 0;
}

void module_fini_all(struct modset *ms)
{
	while (ms->ninited > 0) {
		int i = --ms->ninited;
		const struct sl_module *m = ms->mods[i];
		struct sl_context ctx = { .ms = ms, .index = i };

		running = i;
		if (m->abi == 1 && ms->v1_calls[i].fini)
			ms->v1_calls[i].fini();
		else if (m->abi != 1 && m->fini)
			m->fini(&ctx);
		running = -1;
	}
}

const char *module_name(int i)
{
	return active && i >= 0 && i < active->n ? active->mods[i]->name : "?";
}

const char *module_mount(int i)
{
	return active && i >= 0 && i < active->n ? active->conf[i]->mount : "/";
}

const char *module_running(void)
{
	return running >= 0 ? module_name(running) : NULL;
}

/* ---- The init context: the public API ------------------------------- */

static const char *const type_names[] = {
	[SETTING_STRING] = "a string", [SETTING_INT] = "an integer",
	[SETTING_DOUBLE] = "a fraction", [SETTING_BOOL] = "a boolean",
};

/*
 * The setting `name` of the module, or NULL when it is absent or of
 * another type than `want` (an integer does for a fraction).  The second
 * is the operator's mistake: it is logged with the setting's FILE:LINE
 * and counted, to fail the init.
 */
static const struct module_setting *lookup(struct sl_context *ctx, const char *name,
					   enum setting_type want, const char *getter)
{
	const struct module_config *mc = ctx->ms->conf[ctx->index];

	for (int i = 0; i < mc->nsettings; i++) {
		const struct module_setting *s = &mc->settings[i];

		if (strcmp(s->name, name) != 0)
			continue;
		if (s->type == want || (want == SETTING_DOUBLE && s->type == SETTING_INT))
			return s;
		log_msg(LOG_ERROR, "%s:%d: modules[%d].settings.%s must be %s, not %s "
			"(module %s reads it with %s)", s->file, s->line, ctx->index, name,
			type_names[want], type_names[s->type], ctx->ms->mods[ctx->index]->name,
			getter);
		ctx->bad++;
		return NULL;
	}
	return NULL;
}

const char *sl_setting_str(struct sl_context *ctx, const char *name, const char *def)
{
	const struct module_setting *s = lookup(ctx, name, SETTING_STRING, __func__);

	return s ? s->v.str : def;
}

long long sl_setting_int(struct sl_context *ctx, const char *name, long long def)
{
	const struct module_setting *s = lookup(ctx, name, SETTING_INT, __func__);

	return s ? s->v.i : def;
}

double sl_setting_double(struct sl_context *ctx, const char *name, double def)
{
	const struct module_setting *s = lookup(ctx, name, SETTING_DOUBLE, __func__);

	if (!s)
		return def;
	return s->type == SETTING_INT ? (double)s->v.i : s->v.d;
}

int sl_setting_bool(struct sl_context *ctx, const char *name, int def)
{
	const struct module_setting *s = lookup(ctx, name, SETTING_BOOL, __func__);

	return s ? s->v.b : def;
}

const char *sl_context_name(const struct sl_context *ctx)
{
	return ctx->ms->mods[ctx->index]->name;
}

const char *sl_context_mount(const struct sl_context *ctx)
{
	return ctx->ms->conf[ctx->index]->mount;
}
