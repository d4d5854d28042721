/*
 * config_pools.c - a pool's keys: the top level with the pool's group laid
 * over it.  See config_pools.h.
 */
#include <stdio.h>
#include <string.h>

#include "config_pools.h"

/* The master's own keys: one error log, one level, one pid file. */
static const char *const master_keys[] = { "error_log", "log_level", "pid", NULL };

/* Keys no two pools can share: each has its own sockets and code. */
static const char *const own_keys[] = { "listen", "status", "modules", "program", NULL };

static int listed(const char *const *names, const char *name)
{
	for (; *names; names++)
		if (strcmp(*names, name) == 0)
			return 1;
	return 0;
}

/*
 * A copy of `src` added to `parent`, with the file and line it was read
 * from, so that a mistake in an inherited or merged key is still reported
 * where it was written.  libconfig has no copy of its own; its setting
 * struct is public, and `file` points into the config's own list of
 * names, which outlives the tree.  Returns 0, or -1 out of memory.
 */
static int copy(config_setting_t *parent, const config_setting_t *src)
{
	config_setting_t *d = config_setting_add(parent, src->name, src->type);
	int ok = d != NULL;

	if (!d)
		return -1;
	d->line = src->line;
	d->file = src->file;
	config_setting_set_format(d, (short)config_setting_get_format(src));
	switch (src->type) {
	case CONFIG_TYPE_INT:
		ok = config_setting_set_int(d, config_setting_get_int(src));
		break;
	case CONFIG_TYPE_INT64:
		ok = config_setting_set_int64(d, config_setting_get_int64(src));
		break;
	case CONFIG_TYPE_FLOAT:
		ok = config_setting_set_float(d, config_setting_get_float(src));
		break;
	case CONFIG_TYPE_BOOL:
		ok = config_setting_set_bool(d, config_setting_get_bool(src));
		break;
	case CONFIG_TYPE_STRING:
		ok = config_setting_set_string(d, config_setting_get_string(src));
		break;
	default:	/* a group, list or array: its elements, in order */
		for (int i = 0; ok && i < config_setting_length(src); i++)
			ok = copy(d, config_setting_get_elem(src, (unsigned)i)) == 0;
	}
	return ok ? 0 : -1;
}

/* Lay the members of group `src` over group `dst`, groups member by member. */
static int merge(config_setting_t *dst, const config_setting_t *src)
{
	for (int i = 0; i < config_setting_length(src); i++) {
		const config_setting_t *s = config_setting_get_elem(src, (unsigned)i);
		config_setting_t *d = config_setting_get_member(dst, s->name);

		if (d && config_setting_is_group(d) && config_setting_is_group(s)) {
			if (merge(d, s) < 0)
				return -1;
			continue;
		}
		if (d && !config_setting_remove(dst, s->name))
			return -1;
		if (copy(dst, s) < 0)
			return -1;
	}
	return 0;
}

/* Check one pool's group; NULL, or the setting that is wrong. */
static const config_setting_t *check_pool(const config_setting_t *p, char *why, size_t len)
{
	const char *name = config_setting_name(p);

	if (!config_setting_is_group(p)) {
		snprintf(why, len, "pools.%s: want a group of the pool's keys, e.g. %s = { "
			 "listen = \"/run/sluice/%s.sock\"; modules = ( ... ); }", name, name, name);
		return p;
	}
	if (strlen(name) > POOL_NAME_MAX || strchr(name, '*')) {
		snprintf(why, len, "pools.%s: a pool's name is at most %d letters, digits, "
			 "'-' and '_'", name, POOL_NAME_MAX);
		return p;
	}
	for (int i = 0; i < config_setting_length(p); i++) {
		const config_setting_t *s = config_setting_get_elem(p, (unsigned)i);

		if (listed(master_keys, s->name)) {
			snprintf(why, len, "pools.%s.%s: %s is the master's, one for every "
				 "pool: write it at the top level, outside pools", name,
				 s->name, s->name);
			return s;
		}
		if (strcmp(s->name, "pools") == 0) {
			snprintf(why, len, "pools.%s.pools: pools do not nest", name);
			return s;
		}
	}
	return NULL;
}

/* Each pool's group, and no key at the top that only a pool may have. */
static const config_setting_t *check_pools(const config_setting_t *root,
					   const config_setting_t *pools,
					   struct pool_names *out, char *why, size_t len)
{
	const config_setting_t *bad;
	int n = config_setting_length(pools);

	if (!config_setting_is_group(pools) || n == 0) {
		snprintf(why, len, "pools: want a group with a group per pool, e.g. pools = "
			 "{ www = { listen = \"/run/sluice/www.sock\"; modules = ( ... ); }; }");
		return pools;
	}
	if (n > MAX_POOLS) {
		snprintf(why, len, "pools: %d pools, at most %d", n, MAX_POOLS);
		return config_setting_get_elem(pools, MAX_POOLS);
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *p = config_setting_get_elem(pools, (unsigned)i);

		bad = check_pool(p, why, len);
		if (bad)
			return bad;
		snprintf(out->name[i], sizeof(out->name[i]), "%s", config_setting_name(p));
	}
	out->n = n;
	for (int i = 0; own_keys[i]; i++) {
		bad = config_setting_get_member(root, own_keys[i]);
		if (bad) {
			snprintf(why, len, "%s: with pools, each pool has its own %s: move it "
				 "into its pool, e.g. pools = { %s = { %s = ...; }; }", own_keys[i],
				 own_keys[i], out->name[0], own_keys[i]);
			return bad;
		}
	}
	return NULL;
}

void config_pool_names(const struct pool_names *names, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int i = 0; i < names->n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", names->name[i]);
}

const config_setting_t *config_pools_apply(config_setting_t *root, const char *pool,
					   struct pool_names *out, char *why, size_t whylen)
{
	config_setting_t *pools = config_setting_get_member(root, "pools");
	const config_setting_t *bad, *mine;
	char names[MAX_POOLS * (POOL_NAME_MAX + 2)];

	out->n = 0;
	if (!pools) {
		if (!pool)
			return NULL;
		snprintf(why, whylen, "has no pools, so no pool \"%s\"", pool);
		return root;
	}
	bad = check_pools(root, pools, out, why, whylen);
	if (bad)
		return bad;
	if (pool) {
		mine = config_setting_get_member(pools, pool);
		if (!mine) {
			config_pool_names(out, names, sizeof(names));
			snprintf(why, whylen, "pools: no pool \"%s\" (there are: %s)", pool, names);
			return pools;
		}
		if (merge(root, mine) < 0) {
			snprintf(why, whylen, "out of memory");
			return mine;
		}
	}
	if (!config_setting_remove(root, "pools")) {
		snprintf(why, whylen, "out of memory");
		return root;
	}
	return NULL;
}
