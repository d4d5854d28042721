/*
 * log.c - the error log.
 *
 * The master opens the target once, before it forks; every worker inherits
 * the descriptor and only changes its ident.  Each line is formatted into
 * a stack buffer and leaves in a single write(2): no stdio buffer that a
 * fork could duplicate or a crash could lose, and no line made of two
 * writes that another process could cut in half.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "safefmt.h"

/*
 * A write of at most PIPE_BUF bytes to a pipe is atomic, so lines stay
 * whole even when stderr is a pipe to a journal shared by the master and
 * every worker; O_APPEND makes each write atomic on a file as well.
 * Longer messages are cut and end in "...".
 */
#define LOG_LINE_MAX	PIPE_BUF
#define LOG_IDENT_MAX	64

static int log_fd = STDERR_FILENO;
static char log_path[PATH_MAX];		/* "" while the log is stderr */
static enum log_level log_level = LOG_NOTICE;
static char log_ident[LOG_IDENT_MAX] = "sluice";
static void (*log_tap_fn)(const char *line, size_t len);

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

#define NLEVELS	(sizeof(level_names) / sizeof(level_names[0]))

/*
 * Open `target` and make it the log from now on.  "stderr" keeps the
 * inherited descriptor 2; anything else is a file opened for appending
 * (created 0640, close-on-exec so that nothing we exec inherits it).
 * On failure the previous target stays in use and errno says why.
 */
int log_open(const char *target, enum log_level level)
{
	int fd = STDERR_FILENO;

	if (strcmp(target, "stderr") != 0) {
		fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return -1;
	}
	if (log_fd != STDERR_FILENO && log_fd != fd)
		close(log_fd);
	log_fd = fd;
	log_level = level;
	snprintf(log_path, sizeof(log_path), "%s", fd == STDERR_FILENO ? "" : target);
	return 0;
}

/*
 * Open the file again under the same descriptor number (dup3 replaces it
 * in one step), so that a signal handler writing to it meanwhile meets
 * the old file or the new one, never a closed descriptor.
 */
int log_reopen_onto(int target, const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return -1;
	if (dup3(fd, target, O_CLOEXEC) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

int log_reopen(void)
{
	return log_path[0] ? log_reopen_onto(log_fd, log_path) : 0;
}

int log_file_fd(void)
{
	return log_path[0] ? log_fd : -1;
}

/*
 * A worker whose stderr becomes a pipe to the master (output.c): a log
 * that is stderr keeps writing where stderr went before, on a copy of
 * the descriptor, instead of coming back through the pipe.
 */
void log_keep_stderr(void)
{
	int fd;

	if (log_path[0] || log_fd != STDERR_FILENO)
		return;
	fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fd >= 0)
		log_fd = fd;
}

void log_adopt(int fd)
{
	if (log_path[0] && fd != log_fd)
		dup3(fd, log_fd, O_CLOEXEC);
	close(fd);
}

/*
 * Local time's offset from UTC, taken when a process sets its ident: a
 * signal handler cannot call localtime_r, so log_signal_safe applies this
 * instead (a change of daylight saving time shows only after a restart).
 */
static long tz_offset;

void log_set_ident(const char *ident)
{
	time_t now = time(NULL);
	struct tm tm;

	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	if (localtime_r(&now, &tm))
		tz_offset = tm.tm_gmtoff;
}

int log_level_parse(const char *name)
{
	for (size_t i = 0; i < NLEVELS; i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

int log_enabled(enum log_level level)
{
	return level <= log_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/*
 * "2026-11-29 04:50:00.123 +0100 [notice] IDENT: " into buf; returns its
 * length.  The offset from UTC makes lines from machines in other zones,
 * or from either side of a daylight saving change, comparable.
 */
static size_t format_prefix(char *buf, size_t size, enum log_level level)
{
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	r = snprintf(buf + n, size - n, ".%03ld %c%02ld%02ld [%s] %s: ",
		     ts.tv_nsec / 1000000, tm.tm_gmtoff < 0 ? '-' : '+',
		     labs(tm.tm_gmtoff) / 3600, labs(tm.tm_gmtoff) / 60 % 60,
		     level_names[level], log_ident);
	if (r < 0)
		return n;
	n += (size_t)r;
	return n < size ? n : size - 1;
}

/*
 * Copy `msg` to `out` (room for `size` bytes), writing control characters
 * as \xNN so that a message carrying request data (a path, a header) can
 * never forge a second line.  Returns the bytes written; *cut is set when
 * the message did not fit whole.
 */
static size_t escape(char *out, size_t size, const char *msg, int *cut)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t n = 0;

	for (p = (const unsigned char *)msg; *p; p++) {
		if (*p >= 0x20 && *p != 0x7f) {
			if (n + 1 > size)
				break;
			out[n++] = (char)*p;
			continue;
		}
		if (n + 4 > size)
			break;
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = hex[*p >> 4];
		out[n++] = hex[*p & 0xf];
	}
	*cut = *p != '\0';
	return n;
}

/*
 * Format one line and write it with one write(2).  A message too long for
 * LOG_LINE_MAX is cut and ends in "..." rather than split over two lines.
 * errno is the same on return as on entry, so callers may log and then
 * report errno, and a failing log target changes nothing for them.
 */
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	static const char ellipsis[] = "...";
	char msg[LOG_LINE_MAX];
	char line[LOG_LINE_MAX];
	size_t n;
	ssize_t w;
	int saved = errno;
	int cut, r;

	if ((size_t)level >= NLEVELS || !log_enabled(level))
		return;
	r = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (r < 0)
		snprintf(msg, sizeof(msg), "(unprintable message: %s)", fmt);

	/* Keep room for the ellipsis and the newline whatever happens. */
	n = format_prefix(line, sizeof(line), level);
	n += escape(line + n, sizeof(line) - n - sizeof(ellipsis), msg, &cut);
	if (cut || (r >= 0 && (size_t)r >= sizeof(msg))) {
		memcpy(line + n, ellipsis, sizeof(ellipsis) - 1);
		n += sizeof(ellipsis) - 1;
	}
	line[n++] = '\n';

	do
		w = write(log_fd, line, n);
	while (w < 0 && errno == EINTR);
	if (log_tap_fn)
		log_tap_fn(line, n);
	errno = saved;
}

void log_tap(void (*fn)(const char *line, size_t len))
{
	log_tap_fn = fn;
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm): pure arithmetic. */
static void civil(long long days, long long *y, unsigned *m, unsigned *d)
{
	long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long long)yoe + era * 400 + (*m <= 2);
}

/*
 * The same line as log_msg, built with the signal-safe appenders: no
 * stdio, no localtime, no allocation.  Control characters in `msg` are
 * written as '?' so that the line stays one line.
 */
void log_signal_safe(int fd, enum log_level level, const char *msg)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	long long t, y;
	unsigned mo, d;
	size_t n, start;
	int saved = errno;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = (long long)ts.tv_sec + tz_offset;
	civil(t >= 0 ? t / 86400 : (t - 86399) / 86400, &y, &mo, &d);
	t = ((t % 86400) + 86400) % 86400;
	n = sf_uint(line, sizeof(line), 0, (unsigned long long)y, 4);
	n = sf_str(line, sizeof(line), n, "-");
	n = sf_uint(line, sizeof(line), n, mo, 2);
	n = sf_str(line, sizeof(line), n, "-");
	n = sf_uint(line, sizeof(line), n, d, 2);
	n = sf_str(line, sizeof(line), n, " ");
	n = sf_uint(line, sizeof(line), n, (unsigned long long)(t / 3600), 2);
	n = sf_str(line, sizeof(line), n, ":");
	n = sf_uint(line, sizeof(line), n, (unsigned long long)(t / 60 % 60), 2);
	n = sf_str(line, sizeof(line), n, ":");
	n = sf_uint(line, sizeof(line), n, (unsigned long long)(t % 60), 2);
	n = sf_str(line, sizeof(line), n, ".");
	n = sf_uint(line, sizeof(line), n, (unsigned long long)(ts.tv_nsec / 1000000), 3);
	n = sf_str(line, sizeof(line), n, tz_offset < 0 ? " -" : " +");
	n = sf_uint(line, sizeof(line), n, (unsigned long long)(labs(tz_offset) / 3600), 2);
	n = sf_uint(line, sizeof(line), n, (unsigned long long)(labs(tz_offset) / 60 % 60), 2);
	n = sf_str(line, sizeof(line), n, " [");
	n = sf_str(line, sizeof(line), n, level_names[level]);
	n = sf_str(line, sizeof(line), n, "] ");
	n = sf_str(line, sizeof(line), n, log_ident);
	n = sf_str(line, sizeof(line), n, ": ");
	start = n;
	n = sf_str(line, sizeof(line) - 1, n, msg);
	for (size_t i = start; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[n++] = '\n';
	if (write(fd >= 0 ? fd : log_fd, line, n) < 0) {
		/* Nowhere left to report it. */
	}
	errno = saved;
}
