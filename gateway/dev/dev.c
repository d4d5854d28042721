/*
 * dev.c - development mode: verbose error pages, the /_sluice/ debug
 * endpoints and auto-reload of rebuilt modules.  Linked only into the dev
 * profile, active only with --dev; see dev.h for the seam and
 * dev_http.c for the direct HTTP listener.
 *
 * Nothing here executes input: the pages show what sluice knows (the
 * error, the route, the request, a backtrace, the config) and the
 * endpoints only read.  Error pages are built with the signal-safe
 * appenders, because crash.c builds them inside a signal handler.
 */
#include <ctype.h>
#include <errno.h>
#include <sanitizer/asan_interface.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "config_keys.h"
#include "crash.h"
#include "dev.h"
#include "dev_http.h"
#include "escape.h"
#include "header.h"
#include "io.h"
#include "log.h"
#include "master.h"
#include "module.h"
#include "request.h"
#include "respond.h"
#include "safefmt.h"
#include "scoreboard.h"
#include "symbols.h"

#define DEV_PREFIX "/_sluice/"
#define RELOAD_ERROR_MAX 1024
#define INIT_LOG_MAX 8192	/* what a failing init logged: its last lines */
#define SUMMARY_MAX 512

/* Shown at the top of every page, so nobody mistakes it for production. */
#define DEV_BANNER "sluice development mode (--dev): this page shows internals " \
	"and must never be reachable in production."

static struct {
	int enabled;
	const char *http_addr;
	pid_t http_pid;
	int inotify_fd;
	char *reload_error;	/* shared with the workers: the last failed reload */
	const struct generation *gen;
} dev = { .inotify_fd = -1 };

/* What each piece pending by reference held when it was written (FNV-1a). */
static uint64_t ref_sums[RESPONSE_REFS];

/* In a worker whose modules' init failed: what to say on every page. */
static struct {
	int failed;
	const char *module;
	int rc;
	char log[INIT_LOG_MAX + 1];	/* the lines logged during init */
	size_t len;
} init;

int dev_built(void)
{
	return 1;
}

static void on_sanitizer_report(const char *report);

int dev_enable(const char *http_addr, char *err, size_t errlen)
{
	if (http_addr && dev_http_check(http_addr, err, errlen) < 0)
		return -1;
	/* Mapped before the first fork, so that every worker sees what the
	 * master writes into it later. */
	dev.reload_error = mmap(NULL, RELOAD_ERROR_MAX, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (dev.reload_error == MAP_FAILED) {
		snprintf(err, errlen, "cannot map shared memory: %s", strerror(errno));
		return -1;
	}
	dev.reload_error[0] = '\0';
	dev.http_addr = http_addr;
	dev.enabled = 1;
	symbols_lines_enable();
	/* Inherited by every worker: AddressSanitizer hands us its report
	 * before it ends the process. */
	__asan_set_error_report_callback(on_sanitizer_report);
	return 0;
}

/*
 * AddressSanitizer's report, whole, just before it exits the process: its
 * SUMMARY line goes to the log with the request in hand, and the whole
 * report to that request's page (crash.c answers it).
 */
static void on_sanitizer_report(const char *report)
{
	char summary[SUMMARY_MAX];
	const char *s = strstr(report, "SUMMARY: ");
	size_t n;

	if (!s)
		s = report;
	n = strcspn(s, "\n");
	if (n >= sizeof(summary))
		n = sizeof(summary) - 1;
	memcpy(summary, s, n);
	summary[n] = '\0';
	crash_last_words(summary, report);
}

/*
 * UndefinedBehaviorSanitizer's monitor interface (compiler-rt's
 * ubsan_monitor, in GCC's libubsan too): the runtime calls
 * __ubsan_on_report, a weak symbol that this definition replaces, with
 * each report before it prints it, and hands out the report's parts.
 */
void __ubsan_on_report(void);
void __ubsan_get_current_report_data(const char **kind, const char **message,
				     const char **file, unsigned *line, unsigned *column,
				     char **address);

/*
 * Kinds whose faulting instruction comes right after the report: the
 * signal is answered by crash.c, with its backtrace, as in production, so
 * the dev binary keeps the same outcome (SIGSEGV, SIGFPE on x86).
 */
static int faults_anyway(const char *kind)
{
	return strcmp(kind, "null-pointer-use") == 0 ||
	       strcmp(kind, "integer-divide-by-zero") == 0;
}

/*
 * Every other report made while a request is in hand ends the worker, as
 * AddressSanitizer's do (the runtime's own halt_on_error would also end
 * it for the two kinds above, before their signal): the summary goes to
 * the log with the request and the report ("file:line:column: runtime
 * error: ...") to that request's page, the way on_sanitizer_report
 * passes AddressSanitizer's; exit status 1 is the sanitizers' own.  The
 * dev binary without --dev halts too, with the production page: like
 * AddressSanitizer, the check is the build's, not the mode's.  Outside a
 * request (a module's init, the event loop, the master) no page can show
 * it: the runtime prints its line to the log and the process goes on.
 */
void __ubsan_on_report(void)
{
	char summary[SUMMARY_MAX], report[SUMMARY_MAX], *address;
	const char *kind = "", *message = "", *file = "";
	unsigned line = 0, column = 0;
	size_t at;

	__ubsan_get_current_report_data(&kind, &message, &file, &line, &column, &address);
	if (faults_anyway(kind) || request_current() == NULL)
		return;
	snprintf(summary, sizeof(summary), "SUMMARY: UndefinedBehaviorSanitizer: %s %s:%u:%u",
		 kind, file, line, column);
	/* As the runtime prints it: its data starts the message with a capital. */
	at = (size_t)snprintf(report, sizeof(report), "%s:%u:%u: runtime error: ", file, line,
			      column);
	if (at < sizeof(report)) {
		snprintf(report + at, sizeof(report) - at, "%s\n", message);
		report[at] = (char)tolower((unsigned char)report[at]);
	}
	crash_last_words(summary, report);
	_exit(1);
}

/* ---- Worker: a module's init that fails ------------------------------ */

/* Keep the last INIT_LOG_MAX bytes of whole lines logged during init. */
static void keep_init_line(const char *line, size_t len)
{
	if (len > INIT_LOG_MAX)
		return;
	if (init.len + len > INIT_LOG_MAX) {
		const char *cut = init.log + init.len + len - INIT_LOG_MAX;
		const char *nl = memchr(cut, '\n', (size_t)(init.log + init.len - cut));
		size_t drop = nl ? (size_t)(nl + 1 - init.log) : init.len;

		memmove(init.log, init.log + drop, init.len - drop);
		init.len -= drop;
	}
	memcpy(init.log + init.len, line, len);
	init.len += len;
}

void dev_init_begin(void)
{
	if (dev.enabled)
		log_tap(keep_init_line);
}

int dev_init_end(const struct modset *ms, int rc)
{
	log_tap(NULL);
	if (rc == 0)
		return 0;
	if (!dev.enabled)
		return -1;
	init.failed = 1;
	init.module = ms->failed >= 0 ? ms->mods[ms->failed]->name : "?";
	init.rc = ms->failed_rc;
	init.log[init.len] = '\0';
	log_msg(LOG_WARNING, "dev: module %s failed its init (returned %d): every request "
		"gets a page saying so until the module is fixed and reloads", init.module,
		init.rc);
	return 0;
}

/* ---- Master: the HTTP listener and the module watch ------------------ */

/*
 * Watch the folders of the generation's modules: a compiler or `cp`
 * replaces a .so by writing it (IN_CLOSE_WRITE) or renaming a new file
 * over it (IN_MOVED_TO); watching the folder sees both, and the file
 * itself may not exist for a moment while it is rebuilt.
 */
static void watch_modules(const struct generation *g)
{
	if (dev.inotify_fd >= 0)
		close(dev.inotify_fd);
	dev.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (dev.inotify_fd < 0) {
		log_msg(LOG_WARNING, "dev: inotify: %s; modules will not reload by themselves",
			strerror(errno));
		return;
	}
	for (int i = 0; i < g->cfg.nmodules; i++) {
		char dir[4096];
		const char *path = g->cfg.modules[i].path, *slash = strrchr(path, '/');

		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
			 slash ? path : ".");
		if (inotify_add_watch(dev.inotify_fd, dir[0] ? dir : "/",
				      IN_CLOSE_WRITE | IN_MOVED_TO) < 0)
			log_msg(LOG_WARNING, "dev: cannot watch %s: %s", dir, strerror(errno));
	}
	log_msg(LOG_NOTICE, "dev: watching %d module file(s); a rebuilt module is reloaded",
		g->cfg.nmodules);
}

int dev_master_start(const struct generation *g, char *err, size_t errlen)
{
	char why[512];

	if (!dev.enabled || !dev.http_addr)
		return 0;
	dev.http_pid = dev_http_spawn(dev.http_addr, g->cfg.listen[0].address, why, sizeof(why));
	if (dev.http_pid < 0) {
		snprintf(err, errlen, "--http %s: %s", dev.http_addr, why);
		return -1;
	}
	log_msg(LOG_NOTICE, "dev: HTTP listener on http://%s/ (pid %d)", dev.http_addr,
		(int)dev.http_pid);
	return 0;
}

int dev_master_watch(const struct generation *g)
{
	if (!dev.enabled)
		return -1;
	dev.gen = g;
	watch_modules(g);
	return dev.inotify_fd;
}

/* Is `name` (a file in a watched folder) one of the generation's modules? */
static int is_module(const char *name)
{
	for (int i = 0; dev.gen && i < dev.gen->cfg.nmodules; i++) {
		const char *path = dev.gen->cfg.modules[i].path, *base = strrchr(path, '/');

		if (strcmp(base ? base + 1 : path, name) == 0)
			return 1;
	}
	return 0;
}

int dev_master_changed(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int changed = 0;

	while ((n = read(dev.inotify_fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len && is_module(ev->name)) {
				log_msg(LOG_NOTICE, "dev: module file %s changed", ev->name);
				changed = 1;
			}
			p += sizeof(*ev) + ev->len;
		}
	return changed;
}

void dev_reload_result(const char *err)
{
	if (!dev.enabled)
		return;
	snprintf(dev.reload_error, RELOAD_ERROR_MAX, "%s", err ? err : "");
}

void dev_master_stop(void)
{
	if (dev.http_pid > 0)
		kill(dev.http_pid, SIGTERM);
	dev.http_pid = 0;
}

/* ---- Pages (signal-safe) -------------------------------------------- */

static size_t html_escaped(char *buf, size_t size, size_t at, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': at = sf_str(buf, size, at, "&lt;"); break;
		case '>': at = sf_str(buf, size, at, "&gt;"); break;
		case '&': at = sf_str(buf, size, at, "&amp;"); break;
		case '"': at = sf_str(buf, size, at, "&quot;"); break;
		default: at = sf_mem(buf, size, at, s, 1);
		}
	}
	return at;
}

/* A page under construction: text or HTML, the same sections either way. */
struct page {
	char *buf;
	size_t size, at;
	int html;
};

static void put(struct page *p, const char *s)
{
	p->at = sf_str(p->buf, p->size, p->at, s);
}

static void put_text(struct page *p, const char *s)
{
	p->at = p->html ? html_escaped(p->buf, p->size, p->at, s)
			: sf_str(p->buf, p->size, p->at, s);
}

static void heading(struct page *p, const char *title)
{
	put(p, p->html ? "<h2>" : "\n== ");
	put_text(p, title);
	put(p, p->html ? "</h2>\n" : " ==\n");
}

static void row(struct page *p, const char *name, const char *value)
{
	put(p, p->html ? "<tr><th>" : "  ");
	put_text(p, name);
	put(p, p->html ? "</th><td>" : " = ");
	put_text(p, value);
	put(p, p->html ? "</td></tr>\n" : "\n");
}

static void table(struct page *p, int open)
{
	if (p->html)
		put(p, open ? "<table>\n" : "</table>\n");
}

/* The request's parameters, headers (HTTP_*) apart from the rest. */
static void params_section(struct page *p, const struct sl_request *r, int headers)
{
	heading(p, headers ? "Request headers" : "Request parameters");
	table(p, 1);
	for (size_t i = 0; i < r->nparams; i++) {
		int is_header = strncmp(r->params[i].name, "HTTP_", 5) == 0;

		if (is_header == headers)
			row(p, r->params[i].name, r->params[i].value);
	}
	table(p, 0);
}

static int wants_html(const struct sl_request *r)
{
	const char *accept = sl_header(r, "Accept");

	return accept && strstr(accept, "text/html") != NULL;
}

static void begin_page(struct page *p, const char *title)
{
	if (p->html) {
		put(p, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>");
		put_text(p, title);
		put(p, "</title><style>body{font-family:sans-serif;margin:2em}"
		       "pre{background:#f4f4f4;padding:1em;white-space:pre-wrap}"
		       "th{text-align:left;padding-right:1em;vertical-align:top}"
		       ".dev{background:#fde68a;padding:.5em}</style></head><body>\n"
		       "<p class=\"dev\">");
		put_text(p, DEV_BANNER);
		put(p, "</p>\n<h1>");
		put_text(p, title);
		put(p, "</h1>\n");
	} else {
		put(p, title);
		put(p, "\n");
		put(p, DEV_BANNER);
		put(p, "\n");
	}
}

/* `n` bytes of `s`, escaped for the page; " < " becomes a line break when `frames`. */
static void put_span(struct page *p, const char *s, size_t n, int frames)
{
	for (size_t i = 0; i < n; i++) {
		char c[2] = { s[i], 0 };

		if (frames && n - i >= 3 && strncmp(s + i, " < ", 3) == 0) {
			put(p, "\n");
			i += 2;
			continue;
		}
		put_text(p, c);
	}
}

static void preformatted(struct page *p, const char *s)
{
	put(p, p->html ? "<pre>" : "");
	put_text(p, s);
	put(p, p->html ? "</pre>\n" : "\n");
}

/*
 * A backtrace arrives inside `detail` as "...; backtrace: a < b < c":
 * shown one frame a line, innermost first.
 */
static void detail_section(struct page *p, const char *detail)
{
	static const char mark[] = "; backtrace: ";
	const char *bt = strstr(detail, mark);

	heading(p, "Error");
	put(p, p->html ? "<pre>" : "");
	put_span(p, detail, bt ? (size_t)(bt - detail) : strlen(detail), 0);
	put(p, p->html ? "</pre>\n" : "\n");
	if (!bt)
		return;
	heading(p, "Backtrace (innermost first)");
	put(p, p->html ? "<pre>" : "");
	bt += sizeof(mark) - 1;
	put_span(p, bt, strlen(bt), 1);
	put(p, p->html ? "</pre>\n" : "\n");
}

static void route_section(struct page *p, const struct sl_request *r)
{
	const struct route *rt = r->match.route;

	heading(p, "Route");
	table(p, 1);
	row(p, "request id", r->id);
	row(p, "method", r->method);
	row(p, "path", r->path);
	row(p, "query", r->query);
	if (rt) {
		row(p, "route", rt->pattern);
		row(p, "route method", rt->method ? rt->method : "(any)");
		row(p, "module", module_name(rt->module));
	} else {
		row(p, "route", "(none matched)");
	}
	table(p, 0);
}

size_t dev_error_page(const struct sl_request *r, int status, const char *detail,
		      char *buf, size_t cap, const char **content_type)
{
	struct page p = { buf, cap, 0, 0 };
	char title[64];
	size_t n;

	if (!dev.enabled || cap == 0)
		return 0;
	p.html = wants_html(r);
	n = sf_uint(title, sizeof(title), 0, (unsigned)status, 0);
	n = sf_str(title, sizeof(title), n, " ");
	sf_str(title, sizeof(title), n, http_reason(status));
	begin_page(&p, title);
	detail_section(&p, detail ? detail : "(no detail)");
	route_section(&p, r);
	params_section(&p, r, 1);
	params_section(&p, r, 0);
	if (dev.reload_error[0]) {
		heading(&p, "Last reload failed: the previous modules still serve");
		preformatted(&p, dev.reload_error);
	}
	if (p.html)
		put(&p, "</body></html>\n");
	*content_type = p.html ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
	return p.at;
}

/* ---- Debug endpoints ------------------------------------------------ */

static const char *state_name(int state)
{
	static const char *const names[] = { "free", "starting", "idle", "busy", "stopping" };

	return state >= 0 && state <= SCORE_STOPPING ? names[state] : "?";
}

static void show_workers(struct page *p)
{
	long long now = io_now_ms();
	char line[256];

	heading(p, "Workers");
	put(p, p->html ? "<pre>" : "");
	for (int i = 0; i < SCOREBOARD_SLOTS; i++) {
		const struct score *sc = scoreboard_slot(i);

		if (!sc->pid)
			continue;
		snprintf(line, sizeof(line), "worker %d  pid %d  %-8s  %llu requests", i + 1,
			 (int)sc->pid, state_name(sc->state), sc->requests);
		put_text(p, line);
		if (sc->state == SCORE_BUSY) {
			snprintf(line, sizeof(line), "  request %s running %lld ms",
				 sc->request_id, now - sc->req_start_ms);
			put_text(p, line);
		}
		put(p, "\n");
	}
	put(p, p->html ? "</pre>\n" : "");
}

static void show_modules(struct page *p, const struct sl_request *r)
{
	static const char *const kinds[] = { "exact", "captures", "prefix" };
	char line[512];

	heading(p, "Routes (in matching order of kind: exact, captures, prefix)");
	put(p, p->html ? "<pre>" : "");
	for (int i = 0; i < r->router->nroutes; i++) {
		const struct route *rt = &r->router->routes[i];

		snprintf(line, sizeof(line), "%-7s %-40s %-9s module %s\n",
			 rt->method ? rt->method : "*", rt->pattern,
			 rt->kind >= 0 && rt->kind <= 2 ? kinds[rt->kind] : "?",
			 module_name(rt->module));
		put_text(p, line);
	}
	put(p, p->html ? "</pre>\n" : "");
}

/* One line of config_keys_show, escaped for the page. */
static void config_line(void *arg, const char *text)
{
	struct page *p = arg;

	put_text(p, text);
	put(p, "\n");
}

/*
 * Every key the config table knows (config_keys.h), with the value this
 * sluice runs with, written or default: the table drives the page, so a
 * new key shows up here without a line of this file.
 */
static void show_config(struct page *p, const struct sl_config *c)
{
	heading(p, "Effective configuration");
	put(p, p->html ? "<pre>" : "");
	config_keys_show(c, config_line, p);
	put(p, p->html ? "</pre>\n" : "");
}

/* The request as sluice parsed it, with the body's length (read to its end). */
static void show_echo(struct page *p, struct sl_request *r)
{
	char buf[4096], line[64];
	long long total = 0;
	ssize_t n;

	route_section(p, r);
	params_section(p, r, 1);
	params_section(p, r, 0);
	while ((n = sl_read(r, buf, sizeof(buf))) > 0)
		total += n;
	heading(p, "Body");
	snprintf(line, sizeof(line), "%lld bytes%s", total, n < 0 ? " (read failed)" : "");
	preformatted(p, line);
}

static void show_index(struct page *p)
{
	static const char *const links[][2] = {
		{ DEV_PREFIX "config", "the effective configuration" },
		{ DEV_PREFIX "workers", "the workers and what they do" },
		{ DEV_PREFIX "modules", "the loaded modules and their routes" },
		{ DEV_PREFIX "echo", "this request, as sluice parsed it" },
	};

	heading(p, "Debug endpoints");
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (p->html) {
			put(p, "<p><a href=\"");
			put(p, links[i][0]);
			put(p, "\">");
			put(p, links[i][0]);
			put(p, "</a> ");
			put_text(p, links[i][1]);
			put(p, "</p>\n");
		} else {
			put(p, links[i][0]);
			put(p, "  ");
			put(p, links[i][1]);
			put(p, "\n");
		}
	}
	if (dev.reload_error[0]) {
		heading(p, "Last reload failed: the previous modules still serve");
		preformatted(p, dev.reload_error);
	}
}

/* ---- After a failed init: the same answer to every request ----------- */

static void json_string(struct page *p, const char *s)
{
	size_t used, n = strlen(s);

	put(p, "\"");
	if (p->at < p->size)
		p->at += json_escape(p->buf + p->at, p->size - p->at - 1, s, n, &used);
	put(p, "\"");
}

/* {"error": ..., "module": ..., "returned": N, "log": "..."} for tools. */
static void init_failed_json(struct page *p)
{
	char rc[32];

	snprintf(rc, sizeof(rc), "%d", init.rc);
	put(p, "{\"error\": \"module init failed\", \"module\": ");
	json_string(p, init.module);
	put(p, ", \"returned\": ");
	put(p, rc);
	put(p, ", \"log\": ");
	json_string(p, init.log);
	put(p, "}\n");
}

static void init_failed_text(struct page *p, const struct sl_request *r)
{
	char line[256];

	begin_page(p, "500 Module init failed");
	heading(p, "Error");
	snprintf(line, sizeof(line), "module %s: init failed (it returned %d); no request "
		 "is served until the module is fixed: a rebuilt file is reloaded", init.module,
		 init.rc);
	preformatted(p, line);
	heading(p, "What the init logged");
	preformatted(p, init.len ? init.log : "(nothing)");
	route_section(p, r);
	if (dev.reload_error[0]) {
		heading(p, "Last reload failed: the previous modules still serve");
		preformatted(p, dev.reload_error);
	}
	if (p->html)
		put(p, "</body></html>\n");
}

/*
 * What follows the debug prefix in `path`: "" for "/_sluice" and
 * "/_sluice/", NULL when the path is not under it ("/_sluiceconfig" is
 * a module's path, not the config page).
 */
static const char *under_prefix(const char *path)
{
	size_t n = strlen(DEV_PREFIX) - 1;	/* "/_sluice" */

	if (strncmp(path, DEV_PREFIX, n) != 0)
		return NULL;
	if (path[n] == '\0')
		return path + n;
	return path[n] == '/' ? path + n + 1 : NULL;
}

/*
 * Every request, the debug endpoints included, learns that the init
 * failed and why: JSON under /_sluice/ and for clients that ask for it,
 * a page for the rest.  Nothing of the modules runs.
 */
static int init_failed_page(struct sl_request *r)
{
	static char body[INIT_LOG_MAX * 2];
	struct page p = { body, sizeof(body), 0, 0 };
	int json = under_prefix(r->path) || respond_wants_json(sl_header(r, "Accept"));

	p.html = !json && wants_html(r);
	if (json)
		init_failed_json(&p);
	else
		init_failed_text(&p, r);
	sl_set_status(r, 500);
	sl_add_header(r, "Content-Type", json ? "application/json" : p.html
		      ? "text/html; charset=utf-8" : "text/plain; charset=utf-8");
	sl_add_header(r, "Cache-Control", "no-store");
	sl_write(r, body, p.at);
	return 1;
}

int dev_route(struct sl_request *r)
{
	static char body[65536];
	struct page p = { body, sizeof(body), 0, 0 };
	const char *what;

	if (init.failed)
		return init_failed_page(r);
	if (!dev.enabled || !(what = under_prefix(r->path)))
		return 0;
	p.html = wants_html(r);
	begin_page(&p, r->path);
	if (!*what)
		show_index(&p);
	else if (strcmp(what, "config") == 0)
		show_config(&p, r->cfg);
	else if (strcmp(what, "workers") == 0)
		show_workers(&p);
	else if (strcmp(what, "modules") == 0)
		show_modules(&p, r);
	else if (strcmp(what, "echo") == 0)
		show_echo(&p, r);
	else {
		sl_set_status(r, 404);
		heading(&p, "No such debug endpoint");
		show_index(&p);
	}
	if (p.html)
		put(&p, "</body></html>\n");
	sl_add_header(r, "Content-Type", p.html ? "text/html; charset=utf-8"
						: "text/plain; charset=utf-8");
	sl_add_header(r, "Cache-Control", "no-store");
	sl_write(r, body, p.at);
	return 1;
}

/* ---- Pieces written by reference ------------------------------------ */

static uint64_t fnv1a(const struct iovec *v)
{
	const unsigned char *p = v->iov_base;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < v->iov_len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

void dev_ref_written(const struct sl_request *r, int i)
{
	if (dev.enabled)
		ref_sums[i] = fnv1a(&r->refs[i]);
}

void dev_refs_leaving(const struct sl_request *r)
{
	if (!dev.enabled)
		return;
	for (int i = 0; i < r->nrefs; i++)
		if (fnv1a(&r->refs[i]) != ref_sums[i])
			log_msg(LOG_ERROR, "request %s: %zu bytes written with sl_write_ref changed "
				"before they were sent; the client got the new bytes. Memory "
				"passed to sl_write_ref must stay unchanged until the handler "
				"returns: write a buffer that is reused, or on the stack, with "
				"sl_write", r->id, r->refs[i].iov_len);
}
