/*
 * routes.c - a module with a route table.
 *
 * Mounted at "/demo", the routes below answer /demo/users, /demo/users/2,
 * /demo/files/a/b and so on.  A path that matches no route gets 404 from
 * sluice, and one that matches under another method only (PUT
 * /demo/users) gets 405 with an Allow header, without any code here,
 * unless another module catches it (a single-handler module mounted at
 * "/", like hello in `make run`, gets every request no route took).
 *
 *	GET	/users		the list of users
 *	POST	/users		"creates" a user named by the request body
 *	GET	/users/:id	one user; :id captures one path segment
 *	DELETE	/users/:id	"deletes" one
 *	GET	/files/...	anything below /files; the rest is capture "*"
 *	GET	/stats		what this worker has served
 *
 * The data is a constant table: every worker is a separate process, so
 * a real application keeps what it changes in a database, not in
 * module globals.
 */
#define _POSIX_C_SOURCE 200809L	/* strdup under -std=c11 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sluice.h>

struct user {
	const char *id;
	const char *name;
};

static const struct user users[] = {
	{ "1", "alice" },
	{ "2", "bob" },
	{ "3", "carol" },
};

#define NUSERS (sizeof(users) / sizeof(users[0]))

/* Longest user name POST /users accepts. */
#define MAX_NAME 64

/*
 * Per-worker state, set up by init after the worker is forked and
 * released by fini when it leaves.  init runs outside any request: it
 * logs with sl_log(NULL, ...); returning -1 would make the worker exit
 * with a log line saying so.
 */
static char *worker_name;
static unsigned long served;

static int demo_init(struct sl_context *ctx)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "worker pid %ld", (long)getpid());
	worker_name = strdup(buf);
	served = 0;
	sl_log(NULL, SL_LOG_DEBUG, "mounted at %s, serving as %s", sl_context_mount(ctx), buf);
	return worker_name != NULL ? 0 : -1;
}

static void demo_fini(struct sl_context *ctx)
{
	(void)ctx;
	free(worker_name);
	worker_name = NULL;
}

static const struct user *user_find(const char *id)
{
	size_t i;

	for (i = 0; i < NUSERS; i++)
		if (strcmp(users[i].id, id) == 0)
			return &users[i];
	return NULL;
}

static int not_found(struct sl_request *req, const char *id)
{
	if (sl_set_status(req, 404) == -1)
		return -1;
	return sl_printf(req, "no user %s\n", id);
}

static int list_users(struct sl_request *req)
{
	size_t i;

	served++;
	for (i = 0; i < NUSERS; i++)
		if (sl_printf(req, "%s %s\n", users[i].id, users[i].name) == -1)
			return -1;
	return 0;
}

static int get_user(struct sl_request *req)
{
	const char *id = sl_capture(req, "id");
	const struct user *u = user_find(id);

	served++;
	if (u == NULL)
		return not_found(req, id);
	return sl_printf(req, "user %s: %s\n", u->id, u->name);
}

static int delete_user(struct sl_request *req)
{
	const char *id = sl_capture(req, "id");

	served++;
	if (user_find(id) == NULL)
		return not_found(req, id);
	sl_log(req, SL_LOG_NOTICE, "routes: deleting user %s", id);
	return sl_printf(req, "deleted user %s\n", id);
}

/*
 * Read the whole body, up to `max` bytes, into memory from sl_alloc
 * (released with the request).  sl_read may return fewer bytes than
 * asked, so it is called until it returns 0.  NULL on a read error or
 * a body longer than `max`.
 */
static char *read_body(struct sl_request *req, size_t max)
{
	char *buf = sl_alloc(req, max + 1);
	size_t len = 0;
	ssize_t n;

	if (buf == NULL)
		return NULL;
	while ((n = sl_read(req, buf + len, max + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > max)
			return NULL;
	}
	if (n == -1)
		return NULL;
	buf[len] = '\0';
	return buf;
}

static int create_user(struct sl_request *req)
{
	char *name = read_body(req, MAX_NAME);

	served++;
	if (name == NULL || name[0] == '\0') {
		if (sl_set_status(req, 400) == -1)
			return -1;
		return sl_printf(req, "the body must be a name of 1 to %d bytes\n",
				 MAX_NAME);
	}
	if (sl_set_status(req, 201) == -1 ||
	    sl_add_header(req, "Location", "/demo/users/4") == -1)
		return -1;
	return sl_printf(req, "created user 4: %s\n", name);
}

static int get_file(struct sl_request *req)
{
	served++;
	return sl_printf(req, "file: %s\n", sl_capture(req, "*"));
}

static int stats(struct sl_request *req)
{
	served++;
	return sl_printf(req, "%s served %lu requests\n", worker_name, served);
}

/*
 * What a failing handler gets: return -1 (errno saying why, if it
 * helps) and sluice answers 500 with a request id, and logs the route
 * under that id; whatever was written is dropped.  With `sluice --dev`
 * the page shows the route, the request and errno instead.
 */
static int broken(struct sl_request *req)
{
	served++;
	sl_puts(req, "this text is never sent\n");
	errno = ENOENT;
	return -1;
}

static const struct sl_route routes[] = {
	{ "GET",    "/users",     list_users },
	{ "POST",   "/users",     create_user },
	{ "GET",    "/users/:id", get_user },
	{ "DELETE", "/users/:id", delete_user },
	{ "GET",    "/files/*",   get_file },
	{ "GET",    "/stats",     stats },
	{ "GET",    "/broken",    broken },
	{ NULL,     NULL,         NULL },
};

SLUICE_MODULE = {
	.abi = SLUICE_ABI_VERSION,
	.name = "routes",
	.init = demo_init,
	.fini = demo_fini,
	.routes = routes,
};
