/*
 * modules_conf.c - module lists for test configs, as modules_conf.h says.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "modules_conf.h"

int modules_conf_path(char *out, size_t len, const char *name)
{
	char rel[PATH_MAX], abs[PATH_MAX];

	if (name[0] == '/')
		snprintf(abs, sizeof(abs), "%s", name);
	else if (strncmp(name, "apps/", 5) == 0)
		snprintf(rel, sizeof(rel), "%s/%s.so", BUILD_DIR, name);
	else
		snprintf(rel, sizeof(rel), "%s/fixtures/%s.so", BUILD_DIR, name);
	if (name[0] != '/' && realpath(rel, abs) == NULL) {
		fprintf(stderr, "module %s is not built (%s)\n", name, rel);
		return -1;
	}
	if (strlen(abs) >= len)
		return -1;
	strcpy(out, abs);
	return 0;
}

char *modules_conf(const char *settings, const char *const *mods)
{
	size_t cap = strlen(settings) + 64, n;
	char path[PATH_MAX], name[256], *text;
	const char *space;
	int count = 0;

	for (int i = 0; mods[i] != NULL; i++, count++)
		cap += PATH_MAX + strlen(mods[i]) + 32;
	text = malloc(cap);
	if (text == NULL)
		return NULL;
	n = (size_t)snprintf(text, cap, "modules = (\n");
	for (int i = 0; i < count; i++) {
		space = strchr(mods[i], ' ');
		if (space == NULL || (size_t)(space - mods[i]) >= sizeof(name)) {
			fprintf(stderr, "module entry \"%s\" is not \"NAME MOUNT\"\n", mods[i]);
			free(text);
			return NULL;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(space - mods[i]), mods[i]);
		if (modules_conf_path(path, sizeof(path), name) == -1) {
			free(text);
			return NULL;
		}
		n += (size_t)snprintf(text + n, cap - n, "  { path = \"%s\"; mount = \"%s\"; }%s\n",
				      path, space + 1, i + 1 < count ? "," : "");
	}
	snprintf(text + n, cap - n, ");\n%s\n", settings);
	return text;
}

int modules_conf_start(struct sluice_proc *sp, const char *listeners, const char *settings,
		       const char *const *mods)
{
	char *body = modules_conf(settings, mods);
	int rc;

	if (!body)
		return -1;
	rc = listeners ? harness_sluice_start_listeners(sp, listeners, body)
		       : harness_sluice_start(sp, body);
	free(body);
	return rc;
}
