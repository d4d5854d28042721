/*
 * access.c - the access log.
 *
 * The master opens the file and compiles the format before it forks;
 * every worker inherits both and writes its own lines.  A line is built
 * in a static buffer (no malloc, no stdio) and leaves in one write(2):
 * with O_APPEND each write lands whole at the end of the file, whatever
 * the other workers write at the same moment.  A line too long for the
 * buffer is cut and ends in "...", never split.
 *
 * On SIGUSR1 the master opens the path again (after logrotate moved the
 * file away) and passes the new descriptor to each worker over its
 * control pair (handoff.h): a worker may run as a user who cannot open
 * the file, and must not be interrupted by a signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "module.h"
#include "request.h"
#include "scoreboard.h"

/* The longest line; longer ones end in "...". */
#define ACCESS_LINE_MAX		PIPE_BUF

/*
 * Lines wait in a buffer of this size per worker, in memory shared with
 * the master, and leave in one write(2) of whole lines (nginx's
 * access_log buffer=): when the buffer cannot take another line, when
 * the worker is about to wait for work, and when the oldest line has
 * waited ACCESS_FLUSH_NS.  A worker that dies (crash, kill -9,
 * request_terminate_timeout) leaves its lines to the master, which
 * writes them: no line is lost with the worker.  O_APPEND writes to a
 * file are whole, so lines of different workers never interleave.
 */
#define ACCESS_BUFFER		(8 * 1024)
#define ACCESS_FLUSH_NS		1000000000LL

_Static_assert(ACCESS_BUFFER >= ACCESS_LINE_MAX, "a line must fit the buffer");

/* One worker's waiting lines.  `len` is written by the worker only, and
 * read by the master only once the worker is gone. */
struct pending {
	size_t len;		/* bytes of whole lines in data */
	long long since_ns;	/* CLOCK_MONOTONIC when the oldest of them was added */
	char data[ACCESS_BUFFER];
};

/* Fields a format may hold; a longer format is refused at start. */
#define ACCESS_MAX_OPS		64

/* Nanoseconds in a second: %t and %T are made again when the second changes. */
#define NSEC_PER_SEC		1000000000LL

/* A failing write is reported at most once per this many ms. */
#define ACCESS_ERROR_LOG_MS	10000

enum unit { UNIT_S, UNIT_MS, UNIT_US };

/*
 * A compiled format is the literal text before the first field, then one
 * op per field, each with the literal text that follows it: a line costs
 * one step per field, and the text between fields is copied as it stands
 * in the format, never looked at again.
 */
struct op {
	char field;		/* the letter; %R is compiled as %{REMOTE_ADDR}e */
	char bare;		/* %q right after %Q: an empty query is nothing, not "-" */
	enum unit unit;		/* %d and %C */
	const char *arg;	/* %{NAME}'s parameter name */
	size_t len;
	size_t hint;		/* where that parameter was found last time */
	const char *text;	/* the literal text after the field */
	size_t text_len;
};

struct format {
	const char *lead;	/* the literal text before the first field */
	size_t lead_len;
	struct op ops[ACCESS_MAX_OPS];
	int nops;
};

static struct {
	int fd;			/* -1: off */
	char *path;
	char *format;		/* a private copy: the ops point into it */
	struct format f;
	int wants_rusage;	/* %C or %M */
	struct timespec start;
	long long cpu_start_us;
	long long error_logged_ms;
	long long time_until_ns;	/* CLOCK_MONOTONIC when time_local and time_iso go stale */
	char time_local[32];
	char time_iso[32];
	size_t time_local_len, time_iso_len;
	pid_t pid;		/* this worker's, once asked for */
	unsigned char escape[256];	/* bytes put_escaped writes as \xNN */
	struct pending *slots;	/* [SCOREBOARD_SLOTS], mapped by the master; NULL: none */
	struct pending *mine;	/* a worker's own slot */
} a = { .fd = -1 };

static const char known_fields[] = "RmrqQsbldCMIfnptT%";

/* ---- The format ----------------------------------------------------- */

/* "{ms}" and friends for %d and %C; -1 when unknown. */
static int unit_of(const char *arg, size_t len, enum unit *u)
{
	if (!arg) {
		*u = UNIT_S;
		return 0;
	}
	if (len == 1 && arg[0] == 's')
		*u = UNIT_S;
	else if (len == 2 && memcmp(arg, "ms", 2) == 0)
		*u = UNIT_MS;
	else if (len == 2 && memcmp(arg, "us", 2) == 0)
		*u = UNIT_US;
	else
		return -1;
	return 0;
}

/* Does %{...}X take its braces? */
static int braced_ok(char field)
{
	return field == 'e' || field == 'i' || field == 'd' || field == 'C';
}

/*
 * Parse the field at `p` (just past its '%') into `op`: the position
 * after it, or NULL and the reason.
 */
static const char *parse_field(const char *p, struct op *op, char *why, size_t len)
{
	if (*p == '{') {
		const char *end = strchr(p, '}');

		if (!end || end == p + 1) {
			snprintf(why, len, "\"%%{\" without a name and \"}\"");
			return NULL;
		}
		op->arg = p + 1;
		op->len = (size_t)(end - p - 1);
		p = end + 1;
	}
	if (!*p || (!strchr(known_fields, *p) && *p != 'e' && *p != 'i')) {
		snprintf(why, len, "unknown field \"%%%.1s\" (known: %%R %%m %%r %%q %%Q "
			 "%%s %%b %%l %%d %%C %%M %%I %%f %%n %%p %%t %%T %%{NAME}e "
			 "%%{Name}i %%%%)", *p ? p : "");
		return NULL;
	}
	op->field = *p++;
	if (op->arg && !braced_ok(op->field)) {
		snprintf(why, len, "%%%c takes no {argument}", op->field);
		return NULL;
	}
	if ((op->field == 'e' || op->field == 'i') && !op->arg) {
		snprintf(why, len, "%%%c needs a name: %%{NAME}%c", op->field, op->field);
		return NULL;
	}
	if ((op->field == 'd' || op->field == 'C') && unit_of(op->arg, op->len, &op->unit) < 0) {
		snprintf(why, len, "%%{%.*s}%c: the unit is s, ms or us", (int)op->len,
			 op->arg, op->field);
		return NULL;
	}
	if (op->field == 'R') {
		/* One way to find a parameter, and it remembers where. */
		op->field = 'e';
		op->arg = "REMOTE_ADDR";
		op->len = strlen(op->arg);
	}
	return p;
}

/*
 * Compile `fmt` into `f`: 0, or -1 and the reason.  The ops point into
 * `fmt`, which must outlive them.
 */
static int compile(const char *fmt, struct format *f, char *why, size_t len)
{
	const char *p = fmt;
	size_t lit;

	memset(f, 0, sizeof(*f));
	f->lead = p;
	f->lead_len = lit = strcspn(p, "%");
	for (p += lit; *p; p += lit) {
		struct op *op = &f->ops[f->nops];

		if (f->nops == ACCESS_MAX_OPS) {
			snprintf(why, len, "more than %d fields", ACCESS_MAX_OPS);
			return -1;
		}
		memset(op, 0, sizeof(*op));
		if (!(p = parse_field(p + 1, op, why, len)))
			return -1;
		/* "%r%Q%q" rebuilds the URI: without a query, it is the path alone. */
		op->bare = op->field == 'q' && f->nops > 0 && op[-1].field == 'Q' &&
			   op[-1].text_len == 0;
		op->text = p;
		op->text_len = lit = strcspn(p, "%");
		f->nops++;
	}
	return 0;
}

int access_format_check(const char *fmt, char *why, size_t len)
{
	struct format f;

	return compile(fmt, &f, why, len);
}

/*
 * %{User-Agent}i is the parameter HTTP_USER_AGENT (CGI's rule, RFC 3875
 * section 4.1.18): the name is upper-cased, '-' made '_', in the private
 * copy of the format, and param_value matches it after "HTTP_".
 */
static void header_to_param(struct op *op)
{
	char *s = (char *)(uintptr_t)op->arg;

	for (size_t i = 0; i < op->len; i++)
		s[i] = s[i] == '-' ? '_' : (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
}

/*
 * The waiting lines of every worker, in one shared mapping made before
 * the first fork.  Pages are only touched by workers that log, so the
 * mapping's size is address space, not memory.
 */
static int map_slots(void)
{
	void *p = mmap(NULL, SCOREBOARD_SLOTS * sizeof(struct pending), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	a.slots = p;
	return 0;
}

/* ---- Opening -------------------------------------------------------- */

static int open_path(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int access_open(const struct sl_config *cfg)
{
	char why[256], *format, *path = NULL;
	struct format f;
	int fd = -1, n;

	format = strdup(cfg->access_format);
	if (!format || (cfg->access_log && !(path = strdup(cfg->access_log))))
		goto fail;
	if (compile(format, &f, why, sizeof(why)) < 0) {
		errno = EINVAL;
		goto fail;
	}
	if (path && !a.slots && map_slots() < 0)
		goto fail;
	if (path && (fd = open_path(path)) < 0)
		goto fail;
	if (a.fd >= 0)
		close(a.fd);
	free(a.path);
	free(a.format);
	a.fd = fd;
	a.path = path;
	a.format = format;
	a.f = f;
	a.wants_rusage = 0;
	a.time_until_ns = 0;
	for (int c = 0; c < 256; c++)
		a.escape[c] = c < 0x20 || c > 0x7e || c == '"' || c == '\\';	/* NUL too */
	for (int i = 0; i < f.nops; i++) {
		if (a.f.ops[i].field == 'i')
			header_to_param(&a.f.ops[i]);
		if (a.f.ops[i].field == 'C' || a.f.ops[i].field == 'M')
			a.wants_rusage = 1;
	}
	return 0;
fail:
	n = errno;
	free(format);
	free(path);
	errno = n;
	return -1;
}

/*
 * Open the path again and put the new file under the same descriptor
 * number, so that nothing holding the number needs telling.
 */
int access_reopen(void)
{
	return a.fd < 0 ? 0 : log_reopen_onto(a.fd, a.path);
}

int access_fd(void)
{
	return a.fd;
}

void access_adopt(int fd)
{
	access_flush();		/* what came before the rotation goes to the old file */
	if (a.fd >= 0 && fd != a.fd)
		dup3(fd, a.fd, O_CLOEXEC);
	close(fd);
}

/* ---- A line --------------------------------------------------------- */

static long long cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
	       ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

void access_start(void)
{
	if (a.fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &a.start);
	if (a.wants_rusage)
		a.cpu_start_us = cpu_us();
}

/*
 * The appenders below write into a line buffer of `size` bytes at `at`,
 * never past size - 1, and return the new length.  The access log's whole
 * cost is in them, so each makes one pass over its bytes and calls
 * nothing but memcpy.
 */
static size_t put_mem(char *buf, size_t size, size_t at, const char *s, size_t n)
{
	if (n > size - 1 - at)
		n = size - 1 - at;
	if (n == 1)
		buf[at] = *s;	/* the text between fields is mostly one space */
	else if (n)
		memcpy(buf + at, s, n);
	return at + n;
}

/*
 * Unsigned decimal, zero-padded to `width` digits, written in place: the
 * digits are counted against powers of ten (a comparison each, where a
 * division would cost a multiplication), then made from the right.
 */
static size_t put_uint(char *buf, size_t size, size_t at, unsigned long long v, int width)
{
	static const unsigned long long pow10[] = {
		1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
		100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL,
		1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
		1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
		1000000000000000000ULL, 10000000000000000000ULL,
	};
	const size_t max = sizeof(pow10) / sizeof(pow10[0]);
	size_t digits = 1;

	while (digits < max && v >= pow10[digits])
		digits++;
	if (digits < (size_t)width)
		digits = (size_t)width;
	if (digits > size - 1 - at)
		return at;	/* cut rather than show a wrong number */
	for (char *o = buf + at + digits; o > buf + at; v /= 10)
		*--o = (char)('0' + v % 10);
	return at + digits;
}

/*
 * Append the C string `s` escaped: control characters, '"', '\\' and bytes
 * past 0x7e as \xNN (nginx's escaping), so that request data can neither
 * end the line nor close a quoted field.  Empty or NULL is "-", or nothing
 * when `bare`.  Each run of bytes that need no escape is found with one
 * test a byte and copied whole; escape[0] is set, so the NUL ends a run.
 */
static size_t put_str(char *buf, size_t size, size_t at, const char *s, int bare)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *esc = a.escape, *p = (const unsigned char *)s;

	if (!s || !*s)
		return bare ? at : put_mem(buf, size, at, "-", 1);
	for (;;) {
		size_t run = 0;

		while (!esc[p[run]])
			run++;
		at = put_mem(buf, size, at, (const char *)p, run);
		p += run;
		if (!*p || at + 4 >= size)
			return at;
		buf[at++] = '\\';
		buf[at++] = 'x';
		buf[at++] = hex[*p >> 4];
		buf[at++] = hex[*p++ & 15];
	}
}

/* A span of microseconds in `u`: "0.012" seconds, "12.345" ms or "12345" us. */
static size_t put_span(char *buf, size_t size, size_t at, long long us, enum unit u)
{
	unsigned long long v = us < 0 ? 0 : (unsigned long long)us;

	if (u == UNIT_US)
		return put_uint(buf, size, at, v, 0);
	if (u == UNIT_S)
		v /= 1000;	/* milliseconds: the three decimals of a second */
	at = put_uint(buf, size, at, v / 1000, 0);
	at = put_mem(buf, size, at, ".", 1);
	return put_uint(buf, size, at, v % 1000, 3);
}

/*
 * The request id needs no escaping: request.c makes it, or takes the web
 * server's only when it is letters, digits and "-_.:".
 */
static size_t put_id(char *buf, size_t size, size_t at, const char *id, size_t max)
{
	size_t n = strnlen(id, max);

	return n ? put_mem(buf, size, at, id, n) : put_mem(buf, size, at, "-", 1);
}

/*
 * The parameter `op` names (after "HTTP_" for a header), or NULL.  A web
 * server sends its parameters in the same order every time, so the place
 * it was found last is looked at first.
 */
static int param_is(const struct param *p, const struct op *op)
{
	if (op->field == 'i')
		return p->name_len == op->len + 5 && memcmp(p->name, "HTTP_", 5) == 0 &&
		       memcmp(p->name + 5, op->arg, op->len) == 0;
	return p->name_len == op->len && memcmp(p->name, op->arg, op->len) == 0;
}

static const char *param_value(const struct sl_request *r, struct op *op)
{
	if (op->hint < r->nparams && param_is(&r->params[op->hint], op))
		return r->params[op->hint].value;
	for (size_t i = 0; i < r->nparams; i++)
		if (param_is(&r->params[i], op)) {
			op->hint = i;
			return r->params[i].value;
		}
	return NULL;
}

/*
 * The times of %t and %T, made when the second changes.  The line's end
 * was read on the monotonic clock; the wall clock is read only when the
 * second those strings were made for is over, so a line costs one clock
 * read.  A step of the wall clock shows from the next second on.
 */
static void refresh_time(const struct timespec *mono)
{
	long long now_ns = mono->tv_sec * NSEC_PER_SEC + mono->tv_nsec;
	struct timespec wall;
	struct tm tm;

	if (now_ns < a.time_until_ns)
		return;
	clock_gettime(CLOCK_REALTIME, &wall);
	a.time_until_ns = now_ns + NSEC_PER_SEC - wall.tv_nsec;
	localtime_r(&wall.tv_sec, &tm);
	a.time_local_len = strftime(a.time_local, sizeof(a.time_local), "%d/%b/%Y:%H:%M:%S %z",
				    &tm);
	a.time_iso_len = strftime(a.time_iso, sizeof(a.time_iso), "%Y-%m-%dT%H:%M:%S%z", &tm);
}

/* What a line's fields are made of besides the request. */
struct line_ctx {
	struct timespec end;	/* CLOCK_MONOTONIC when the response was handed over */
	long long span_us, cpu_us;
};

static size_t put_field(char *buf, size_t size, size_t at, struct op *op,
			const struct sl_request *r, const struct line_ctx *x)
{
	const struct route *rt = r->match.route;

	switch (op->field) {
	case '%': return put_mem(buf, size, at, "%", 1);
	case 'm': return put_str(buf, size, at, r->method, 0);
	case 'r': return put_str(buf, size, at, r->path, 0);
	case 'q': return put_str(buf, size, at, r->query, op->bare);
	case 'Q': return put_mem(buf, size, at, "?", r->query && *r->query ? 1 : 0);
	case 's': return put_uint(buf, size, at, (unsigned long long)r->status, 0);
	case 'b': return put_uint(buf, size, at, r->body_bytes, 0);
	case 'l':
		if (r->content_length < 0)
			return put_mem(buf, size, at, "-", 1);
		return put_uint(buf, size, at, (unsigned long long)r->content_length, 0);
	case 'd': return put_span(buf, size, at, x->span_us, op->unit);
	case 'C': return put_span(buf, size, at, x->cpu_us, op->unit);
	case 'M': {
		struct rusage ru;

		if (getrusage(RUSAGE_SELF, &ru) < 0)
			return put_mem(buf, size, at, "-", 1);
		return put_uint(buf, size, at, (unsigned long long)ru.ru_maxrss, 0);
	}
	case 'I': return put_id(buf, size, at, r->id, sizeof(r->id));
	case 'f': return put_str(buf, size, at, rt ? rt->pattern : NULL, 0);
	case 'n': return put_str(buf, size, at, rt ? module_name(rt->module) : NULL, 0);
	case 'p':
		/* getpid(2) is a system call: once per worker (the master writes no line). */
		if (!a.pid)
			a.pid = getpid();
		return put_uint(buf, size, at, (unsigned long long)a.pid, 0);
	case 't':
		refresh_time(&x->end);
		return put_mem(buf, size, at, a.time_local, a.time_local_len);
	case 'T':
		refresh_time(&x->end);
		return put_mem(buf, size, at, a.time_iso, a.time_iso_len);
	case 'e':
	case 'i': return put_str(buf, size, at, param_value(r, op), 0);
	default: return at;
	}
}

static void write_failed(void)
{
	long long now = io_now_ms();

	if (now - a.error_logged_ms < ACCESS_ERROR_LOG_MS)
		return;
	a.error_logged_ms = now;
	log_msg(LOG_ERROR, "access_log %s: write failed: %s; lines are being lost",
		a.path, strerror(errno));
}

/* Whole lines to the log: one write(2), unless the kernel takes part. */
static void write_lines(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(a.fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			write_failed();
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void access_worker(int index)
{
	a.mine = a.slots && a.fd >= 0 ? &a.slots[index] : NULL;
	if (a.mine)
		a.mine->len = 0;
}

int access_pending(void)
{
	return a.mine && a.mine->len > 0;
}

void access_flush(void)
{
	if (!access_pending())
		return;
	write_lines(a.mine->data, a.mine->len);
	a.mine->len = 0;
}

void access_salvage(int index)
{
	struct pending *p = a.slots ? &a.slots[index] : NULL;

	if (!p || !p->len)
		return;
	if (a.fd >= 0)
		write_lines(p->data, p->len > sizeof(p->data) ? sizeof(p->data) : p->len);
	p->len = 0;
}

/*
 * One line for the request just answered, made in place at the end of
 * the worker's waiting lines (or, without them, in a static buffer: a
 * page of stack is left to the handlers).
 */
void access_write(const struct sl_request *r)
{
	static const char ellipsis[] = "...";
	static char spare[ACCESS_LINE_MAX];
	const size_t room = ACCESS_LINE_MAX - sizeof(ellipsis);	/* keeps "...\n" possible */
	struct line_ctx x = { .cpu_us = 0 };
	char *line = spare;
	long long now_ns;
	size_t n;

	if (a.fd < 0)
		return;
	if (a.mine) {
		if (sizeof(a.mine->data) - a.mine->len < ACCESS_LINE_MAX)
			access_flush();
		line = a.mine->data + a.mine->len;
	}
	clock_gettime(CLOCK_MONOTONIC, &x.end);
	x.span_us = (x.end.tv_sec - a.start.tv_sec) * 1000000LL +
		    (x.end.tv_nsec - a.start.tv_nsec) / 1000;
	if (a.wants_rusage)
		x.cpu_us = cpu_us() - a.cpu_start_us;
	n = put_mem(line, room, 0, a.f.lead, a.f.lead_len);
	for (int i = 0; i < a.f.nops && n + 1 < room; i++) {
		struct op *op = &a.f.ops[i];

		n = put_field(line, room, n, op, r, &x);
		n = put_mem(line, room, n, op->text, op->text_len);
	}
	if (n + 1 >= room) {
		memcpy(line + n, ellipsis, sizeof(ellipsis) - 1);
		n += sizeof(ellipsis) - 1;
	}
	line[n++] = '\n';
	if (!a.mine) {
		write_lines(line, n);
		return;
	}
	now_ns = x.end.tv_sec * NSEC_PER_SEC + x.end.tv_nsec;
	if (a.mine->len == 0)
		a.mine->since_ns = now_ns;
	a.mine->len += n;	/* the line counts once it is whole */
	if (now_ns - a.mine->since_ns >= ACCESS_FLUSH_NS)
		access_flush();
}
