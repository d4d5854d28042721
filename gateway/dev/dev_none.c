/*
 * dev_none.c - the production side of the development seam (dev.h).
 *
 * Every function says "no".  This file must stay free of any development
 * code or text: it is what the production binary links instead of dev.c,
 * and `make check-prod` verifies that nothing of dev.c got in.
 */
#include <stdio.h>

#include "dev.h"

int dev_built(void)
{
	return 0;
}

int dev_enable(const char *http_addr, char *err, size_t errlen)
{
	(void)http_addr;
	snprintf(err, errlen, "this build has no development mode (it is the production "
		 "profile); build one with `make PROFILE=dev`");
	return -1;
}

int dev_master_start(const struct generation *g, char *err, size_t errlen)
{
	(void)g;
	(void)err;
	(void)errlen;
	return 0;
}

int dev_master_watch(const struct generation *g)
{
	(void)g;
	return -1;
}

int dev_master_changed(void)
{
	return 0;
}

void dev_reload_result(const char *err)
{
	(void)err;
}

void dev_master_stop(void)
{
}

void dev_init_begin(void)
{
}

int dev_init_end(const struct modset *ms, int rc)
{
	(void)ms;
	return rc;
}

int dev_route(struct sl_request *r)
{
	(void)r;
	return 0;
}

void dev_ref_written(const struct sl_request *r, int i)
{
	(void)r;
	(void)i;
}

void dev_refs_leaving(const struct sl_request *r)
{
	(void)r;
}

size_t dev_error_page(const struct sl_request *r, int status, const char *detail,
		      char *buf, size_t cap, const char **content_type)
{
	(void)r;
	(void)status;
	(void)detail;
	(void)buf;
	(void)cap;
	(void)content_type;
	return 0;
}
