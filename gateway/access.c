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
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "module.h"
#include "request.h"

/* One write(2) per line: PIPE_BUF is what O_APPEND is trusted with. */
#define ACCESS_LINE_MAX		PIPE_BUF

/* Fields a format may hold; a longer format is refused at start. */
#define ACCESS_MAX_OPS		64

/* A failing write is reported at most once per this many ms. */
#define ACCESS_ERROR_LOG_MS	10000

enum unit { UNIT_S, UNIT_MS, UNIT_US };

/* One piece of a compiled format: literal text, or a field. */
struct op {
	char field;		/* 0: literal text; else the letter */
	enum unit unit;		/* %d and %C */
	const char *arg;	/* the text, or %{NAME}'s parameter name */
	size_t len;
};

static struct {
	int fd;			/* -1: off */
	char *path;
	char *format;		/* a private copy: ops point into it */
	struct op ops[ACCESS_MAX_OPS];
	int nops;
	int wants_rusage;	/* %C or %M */
	struct timespec start;
	long long cpu_start_us;
	long long error_logged_ms;
	time_t time_sec;	/* the second time_local and time_iso were made for */
	char time_local[32];
	char time_iso[32];
	size_t time_local_len, time_iso_len;
	pid_t pid;		/* this worker's, once asked for */
	unsigned char escape[256];	/* bytes put_escaped writes as \xNN */
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
 * Compile `fmt` into `ops`: 0 with *nops set, or -1 and the reason.  The
 * ops point into `fmt`, which must outlive them.
 */
static int compile(const char *fmt, struct op *ops, int *nops, char *why, size_t len)
{
	const char *p = fmt;
	int n = 0;

	while (*p) {
		struct op op = { 0 };

		if (n == ACCESS_MAX_OPS) {
			snprintf(why, len, "more than %d fields and pieces of text", ACCESS_MAX_OPS);
			return -1;
		}
		if (*p != '%') {
			op.arg = p;
			op.len = strcspn(p, "%");
			p += op.len;
			ops[n++] = op;
			continue;
		}
		p++;
		if (*p == '{') {
			const char *end = strchr(p, '}');

			if (!end || end == p + 1) {
				snprintf(why, len, "\"%%{\" without a name and \"}\"");
				return -1;
			}
			op.arg = p + 1;
			op.len = (size_t)(end - p - 1);
			p = end + 1;
		}
		if (!*p || (!strchr(known_fields, *p) && *p != 'e' && *p != 'i')) {
			snprintf(why, len, "unknown field \"%%%.1s\" (known: %%R %%m %%r %%q %%Q "
				 "%%s %%b %%l %%d %%C %%M %%I %%f %%n %%p %%t %%T %%{NAME}e "
				 "%%{Name}i %%%%)", *p ? p : "");
			return -1;
		}
		op.field = *p++;
		if (op.arg && !braced_ok(op.field)) {
			snprintf(why, len, "%%%c takes no {argument}", op.field);
			return -1;
		}
		if ((op.field == 'e' || op.field == 'i') && !op.arg) {
			snprintf(why, len, "%%%c needs a name: %%{NAME}%c", op.field, op.field);
			return -1;
		}
		if ((op.field == 'd' || op.field == 'C') && unit_of(op.arg, op.len, &op.unit) < 0) {
			snprintf(why, len, "%%{%.*s}%c: the unit is s, ms or us", (int)op.len,
				 op.arg, op.field);
			return -1;
		}
		ops[n++] = op;
	}
	*nops = n;
	return 0;
}

int access_format_check(const char *fmt, char *why, size_t len)
{
	struct op ops[ACCESS_MAX_OPS];
	int n;

	return compile(fmt, ops, &n, why, len);
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

/* ---- Opening -------------------------------------------------------- */

static int open_path(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int access_open(const struct sl_config *cfg)
{
	char why[256], *format, *path = NULL;
	struct op ops[ACCESS_MAX_OPS];
	int fd = -1, n;

	format = strdup(cfg->access_format);
	if (!format || (cfg->access_log && !(path = strdup(cfg->access_log))))
		goto fail;
	if (compile(format, ops, &n, why, sizeof(why)) < 0) {
		errno = EINVAL;
		goto fail;
	}
	if (path && (fd = open_path(path)) < 0)
		goto fail;
	if (a.fd >= 0)
		close(a.fd);
	free(a.path);
	free(a.format);
	a.fd = fd;
	a.path = path;
	a.format = format;
	memcpy(a.ops, ops, sizeof(ops));
	a.nops = n;
	a.wants_rusage = 0;
	for (int c = 0; c < 256; c++)
		a.escape[c] = c < 0x20 || c > 0x7e || c == '"' || c == '\\';	/* NUL too */
	for (int i = 0; i < n; i++) {
		if (a.ops[i].field == 'i')
			header_to_param(&a.ops[i]);
		if (a.ops[i].field == 'C' || a.ops[i].field == 'M')
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
 * never past size - 1, and return the new length.  They copy with memcpy
 * rather than byte by byte: the access log's whole cost is these copies.
 */
static size_t put_mem(char *buf, size_t size, size_t at, const char *s, size_t n)
{
	if (n > size - 1 - at)
		n = size - 1 - at;
	memcpy(buf + at, s, n);
	return at + n;
}

/* Unsigned decimal, zero-padded to `width` digits, written in place. */
static size_t put_uint(char *buf, size_t size, size_t at, unsigned long long v, int width)
{
	unsigned long long t = v;
	size_t digits = 1, end;

	while (t >= 10) {
		t /= 10;
		digits++;
	}
	if (digits < (size_t)width)
		digits = (size_t)width;
	if (digits > size - 1 - at)
		return at;	/* cut rather than show a wrong number */
	end = at + digits;
	for (size_t i = end; i > at; v /= 10)
		buf[--i] = (char)('0' + v % 10);
	return end;
}

/*
 * Append the C string `s` escaped: control characters, '"', '\\' and bytes
 * past 0x7e as \xNN (nginx's escaping), so that request data can neither
 * end the line nor close a quoted field.  Empty or NULL is "-".  One pass
 * that copies as it checks (no strlen, no memcpy call for a handful of
 * bytes); escape[0] is set, so the NUL stops it.
 */
static size_t put_str(char *buf, size_t size, size_t at, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	if (!s || !*s)
		return put_mem(buf, size, at, "-", 1);
	for (;; p++) {
		unsigned char c = *p;

		if (!a.escape[c]) {
			if (at + 1 >= size)
				return at;
			buf[at++] = (char)c;
			continue;
		}
		if (c == '\0' || at + 4 >= size)
			return at;
		buf[at++] = '\\';
		buf[at++] = 'x';
		buf[at++] = hex[c >> 4];
		buf[at++] = hex[c & 15];
	}
}

/* A span of microseconds in `u`: "0.012" seconds, "12.345" ms or "12345" us. */
static size_t put_span(char *buf, size_t size, size_t at, long long us, enum unit u)
{
	if (us < 0)
		us = 0;
	if (u == UNIT_US)
		return put_uint(buf, size, at, (unsigned long long)us, 0);
	if (u == UNIT_MS) {
		at = put_uint(buf, size, at, (unsigned long long)(us / 1000), 0);
		at = put_mem(buf, size, at, ".", 1);
		return put_uint(buf, size, at, (unsigned long long)(us % 1000), 3);
	}
	at = put_uint(buf, size, at, (unsigned long long)(us / 1000000), 0);
	at = put_mem(buf, size, at, ".", 1);
	return put_uint(buf, size, at, (unsigned long long)(us / 1000 % 1000), 3);
}

/* REMOTE_ADDR, found with a comparison the compiler unrolls: %R is in most formats. */
static const char *remote_addr(const struct sl_request *r)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (r->params[i].name_len == 11 && memcmp(r->params[i].name, "REMOTE_ADDR", 11) == 0)
			return r->params[i].value;
	return NULL;
}

/* The parameter named by op (exactly), or NULL. */
static const char *param_value(const struct sl_request *r, const char *name, size_t len,
			       int header)
{
	for (size_t i = 0; i < r->nparams; i++) {
		const struct param *p = &r->params[i];

		if (header) {
			if (p->name_len == len + 5 && memcmp(p->name, "HTTP_", 5) == 0 &&
			    memcmp(p->name + 5, name, len) == 0)
				return p->value;
		} else if (p->name_len == len && memcmp(p->name, name, len) == 0) {
			return p->value;
		}
	}
	return NULL;
}

/* The times of %t and %T, made once a second. */
static void refresh_time(void)
{
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec == a.time_sec && a.time_local[0])
		return;
	a.time_sec = now.tv_sec;
	localtime_r(&now.tv_sec, &tm);
	a.time_local_len = strftime(a.time_local, sizeof(a.time_local), "%d/%b/%Y:%H:%M:%S %z",
				    &tm);
	a.time_iso_len = strftime(a.time_iso, sizeof(a.time_iso), "%Y-%m-%dT%H:%M:%S%z", &tm);
}

static size_t put_field(char *buf, size_t size, size_t at, const struct op *op,
			const struct sl_request *r, long long span_us, long long cpu)
{
	const struct route *rt = r->match.route;

	switch (op->field) {
	case '%': return put_mem(buf, size, at, "%", 1);
	case 'R': return put_str(buf, size, at, remote_addr(r));
	case 'm': return put_str(buf, size, at, r->method);
	case 'r': return put_str(buf, size, at, r->path);
	case 'q': return put_str(buf, size, at, r->query);
	case 'Q': return put_mem(buf, size, at, "?", r->query && *r->query ? 1 : 0);
	case 's': return put_uint(buf, size, at, (unsigned long long)r->status, 0);
	case 'b': return put_uint(buf, size, at, r->body_bytes, 0);
	case 'l':
		if (r->content_length < 0)
			return put_mem(buf, size, at, "-", 1);
		return put_uint(buf, size, at, (unsigned long long)r->content_length, 0);
	case 'd': return put_span(buf, size, at, span_us, op->unit);
	case 'C': return put_span(buf, size, at, cpu, op->unit);
	case 'M': {
		struct rusage ru;

		if (getrusage(RUSAGE_SELF, &ru) < 0)
			return put_mem(buf, size, at, "-", 1);
		return put_uint(buf, size, at, (unsigned long long)ru.ru_maxrss, 0);
	}
	case 'I': return put_str(buf, size, at, r->id);
	case 'f': return put_str(buf, size, at, rt ? rt->pattern : NULL);
	case 'n': return put_str(buf, size, at, rt ? module_name(rt->module) : NULL);
	case 'p':
		/* getpid(2) is a system call: once per worker (the master writes no line). */
		if (!a.pid)
			a.pid = getpid();
		return put_uint(buf, size, at, (unsigned long long)a.pid, 0);
	case 't': refresh_time(); return put_mem(buf, size, at, a.time_local, a.time_local_len);
	case 'T': refresh_time(); return put_mem(buf, size, at, a.time_iso, a.time_iso_len);
	case 'e': return put_str(buf, size, at, param_value(r, op->arg, op->len, 0));
	case 'i': return put_str(buf, size, at, param_value(r, op->arg, op->len, 1));
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

/*
 * One line for the request just answered.  The buffer is static: a
 * worker writes one line at a time, and a page of stack is left to the
 * handlers.
 */
void access_write(const struct sl_request *r)
{
	static const char ellipsis[] = "...";
	static char line[ACCESS_LINE_MAX];
	const size_t room = sizeof(line) - sizeof(ellipsis);	/* keeps "...\n" possible */
	struct timespec end;
	long long span_us, cpu = 0;
	size_t n = 0;
	ssize_t w;

	if (a.fd < 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	span_us = (end.tv_sec - a.start.tv_sec) * 1000000LL +
		  (end.tv_nsec - a.start.tv_nsec) / 1000;
	if (a.wants_rusage)
		cpu = cpu_us() - a.cpu_start_us;
	for (int i = 0; i < a.nops && n + 1 < room; i++) {
		const struct op *op = &a.ops[i];

		if (op->field)
			n = put_field(line, room, n, op, r, span_us, cpu);
		else
			n = put_mem(line, room, n, op->arg, op->len);
	}
	if (n + 1 >= room) {
		memcpy(line + n, ellipsis, sizeof(ellipsis) - 1);
		n += sizeof(ellipsis) - 1;
	}
	line[n++] = '\n';
	do
		w = write(a.fd, line, n);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)n)
		write_failed();
}
