/*
 * test_log.c - the error log as its reader sees it: the line format,
 * level filtering, the ident, escaping, truncation of long messages,
 * errno left alone, and whole lines from many processes at once.
 *
 * Every test logs to a file in a private folder and reads it back.
 * Criterion runs each test in its own process, so the log's state
 * (target, level, ident) starts fresh each time.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/sluice-log-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/error.log", dir);
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

TestSuite(log, .init = setup, .fini = teardown);

/* The whole log file, malloc'ed and NUL-terminated. */
static char *slurp(size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	size_t n;

	cr_assert_not_null(fp, "no log file %s", path);
	buf = malloc(1 << 22);
	cr_assert_not_null(buf);
	n = fread(buf, 1, (1 << 22) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void assert_matches(const char *text, const char *pattern)
{
	regex_t re;

	cr_assert_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	cr_assert_eq(regexec(&re, text, 0, NULL, 0), 0, "\"%s\" does not match /%s/",
		     text, pattern);
	regfree(&re);
}

#define STAMP	"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} [+-][0-9]{4} "

Test(log, line_format)
{
	char *text;

	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	log_set_ident("worker 3 (pid 1234)");
	log_msg(LOG_NOTICE, "started, %d modules", 2);
	text = slurp(NULL);
	assert_matches(text, STAMP "\\[notice\\] worker 3 \\(pid 1234\\): started, 2 modules\n$");
	free(text);
}

Test(log, default_ident_is_sluice)
{
	char *text;

	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	log_msg(LOG_ERROR, "boom");
	text = slurp(NULL);
	assert_matches(text, STAMP "\\[error\\] sluice: boom\n$");
	free(text);
}

/*
 * The timestamp is the local time of the moment the line was written.  The
 * bounds are read from CLOCK_REALTIME, the clock the logger reads: time(2)
 * comes from the kernel's coarse clock, which can still show the last second
 * for a tick after the precise clock has turned over.
 */
Test(log, timestamp_is_now)
{
	char *text, want[32];
	struct tm tm;
	struct timespec before, after;

	clock_gettime(CLOCK_REALTIME, &before);
	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	log_msg(LOG_NOTICE, "tick");
	clock_gettime(CLOCK_REALTIME, &after);
	text = slurp(NULL);
	localtime_r(&before.tv_sec, &tm);
	strftime(want, sizeof(want), "%Y-%m-%d %H:%M:%S", &tm);
	if (strncmp(text, want, strlen(want)) != 0) {
		localtime_r(&after.tv_sec, &tm);
		strftime(want, sizeof(want), "%Y-%m-%d %H:%M:%S", &tm);
	}
	cr_assert_eq(strncmp(text, want, strlen(want)), 0, "\"%s\" is not %s", text, want);
	free(text);
}

/*
 * The stamp carries the zone's offset from UTC, in both writers: the
 * ordinary one and the signal-safe one (which takes the offset when the
 * ident is set).  A zone of +05:30 tells minutes from hours.
 */
Test(log, stamp_has_utc_offset)
{
	char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	char *text;

	setenv("TZ", "XST-5:30", 1);
	tzset();
	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	log_set_ident("master");
	log_msg(LOG_NOTICE, "plain");
	log_signal_safe(-1, LOG_ERROR, "from a handler");
	text = slurp(NULL);
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	assert_matches(text, STAMP "\\[notice\\] master: plain\n");
	cr_assert_not_null(strstr(text, " +0530 [notice] master: plain\n"),
			   "no +0530 offset: %s", text);
	cr_assert_not_null(strstr(text, " +0530 [error] master: from a handler\n"),
			   "the signal-safe line has no +0530 offset: %s", text);
	free(text);
}

Test(log, levels_filter)
{
	char *text;

	cr_assert_eq(log_open(path, LOG_WARNING), 0);
	cr_assert(log_enabled(LOG_ERROR));
	cr_assert(log_enabled(LOG_WARNING));
	cr_assert_not(log_enabled(LOG_NOTICE));
	cr_assert_not(log_enabled(LOG_DEBUG));
	log_msg(LOG_ERROR, "e");
	log_msg(LOG_WARNING, "w");
	log_msg(LOG_NOTICE, "n");
	log_msg(LOG_INFO, "i");
	log_msg(LOG_DEBUG, "d");
	text = slurp(NULL);
	cr_assert_eq(count_lines(text), 2, "%s", text);
	cr_assert_not_null(strstr(text, "[error] sluice: e\n"));
	cr_assert_not_null(strstr(text, "[warning] sluice: w\n"));
	free(text);
}

Test(log, every_level_has_its_name)
{
	static const char *const names[] = { "error", "warning", "notice", "info", "debug" };
	char *text, want[32];

	cr_assert_eq(log_open(path, LOG_DEBUG), 0);
	for (int i = LOG_ERROR; i <= LOG_DEBUG; i++)
		log_msg((enum log_level)i, "x");
	text = slurp(NULL);
	cr_assert_eq(count_lines(text), 5);
	for (int i = 0; i < 5; i++) {
		snprintf(want, sizeof(want), "[%s] sluice: x\n", names[i]);
		cr_assert_not_null(strstr(text, want), "no %s in %s", want, text);
	}
	free(text);
}

Test(log, level_parse)
{
	cr_assert_eq(log_level_parse("error"), LOG_ERROR);
	cr_assert_eq(log_level_parse("warning"), LOG_WARNING);
	cr_assert_eq(log_level_parse("notice"), LOG_NOTICE);
	cr_assert_eq(log_level_parse("info"), LOG_INFO);
	cr_assert_eq(log_level_parse("debug"), LOG_DEBUG);
	cr_assert_eq(log_level_parse("warn"), -1);
	cr_assert_eq(log_level_parse("NOTICE"), -1);
	cr_assert_eq(log_level_parse(""), -1);
}

Test(log, errno_is_preserved)
{
	cr_assert_eq(log_open(path, LOG_DEBUG), 0);
	errno = EBADMSG;
	log_msg(LOG_ERROR, "a line");
	cr_assert_eq(errno, EBADMSG);
	errno = ETIMEDOUT;
	log_msg(LOG_DEBUG, "%s", strerror(ENOENT));
	cr_assert_eq(errno, ETIMEDOUT);
}

/* Even when the write itself fails (a full disk). */
Test(log, errno_is_preserved_when_the_write_fails)
{
	cr_assert_eq(log_open("/dev/full", LOG_NOTICE), 0);
	errno = EBADMSG;
	log_msg(LOG_ERROR, "lost");
	cr_assert_eq(errno, EBADMSG);
}

/* A message longer than a line is cut and marked, never split in two. */
Test(log, long_message_is_truncated)
{
	static char big[20000];
	size_t len;
	char *text;

	memset(big, 'x', sizeof(big) - 1);
	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	log_msg(LOG_NOTICE, "%s", big);
	log_msg(LOG_NOTICE, "after");
	text = slurp(&len);
	cr_assert_eq(count_lines(text), 2, "the long message took more than one line");
	cr_assert_leq(strchr(text, '\n') - text + 1, 4096, "the line is longer than PIPE_BUF");
	cr_assert_gt(strchr(text, '\n') - text + 1, 4000, "the line was cut too short");
	cr_assert_eq(strncmp(strchr(text, '\n') - 6, "xxx...\n", 7), 0);
	cr_assert_str_eq(strrchr(text, ']'), "] sluice: after\n");
	free(text);
}

/* A message that just fits gets no ellipsis. */
Test(log, message_that_fits_is_whole)
{
	char msg[1001];
	char *text;

	memset(msg, 'y', sizeof(msg) - 1);
	msg[1000] = '\0';
	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	log_msg(LOG_NOTICE, "%s", msg);
	text = slurp(NULL);
	cr_assert_not_null(strstr(text, msg));
	cr_assert_null(strstr(text, "..."));
	free(text);
}

/* Request data cannot forge a log line: control bytes are escaped. */
Test(log, control_characters_are_escaped)
{
	char *text;

	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	log_msg(LOG_NOTICE, "GET /a\n2026-01-01 00:00:00.000 [error] master: fake\r\x1b[31m");
	text = slurp(NULL);
	cr_assert_eq(count_lines(text), 1, "%s", text);
	cr_assert_not_null(strstr(text, "GET /a\\x0a2026-01-01 00:00:00.000 [error] master: "
				  "fake\\x0d\\x1b[31m\n"), "%s", text);
	free(text);
}

/* Appends to what is there; a new file is created rw-r-----. */
Test(log, file_is_appended_and_private)
{
	struct stat st;
	char *text;
	int fd;

	umask(0);
	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0640, "mode %o", st.st_mode & 0777);
	log_msg(LOG_NOTICE, "one");

	fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "someone else\n", 13), 13);
	close(fd);

	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	log_msg(LOG_NOTICE, "two");
	text = slurp(NULL);
	cr_assert_eq(count_lines(text), 3);
	cr_assert_not_null(strstr(text, "sluice: one\nsomeone else\n"));
	cr_assert_not_null(strstr(text, "sluice: two\n"));
	free(text);
}

/* The log descriptor is close-on-exec: programs we exec do not inherit it. */
Test(log, file_is_close_on_exec)
{
	char link[256], fdpath[300];
	struct dirent *de;
	DIR *d;
	int found = 0;
	ssize_t n;

	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%s", de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, path) != 0)
			continue;
		found = 1;
		cr_assert(fcntl(atoi(de->d_name), F_GETFD) & FD_CLOEXEC);
	}
	closedir(d);
	cr_assert(found, "no descriptor open on %s", path);
}

/* A failed open leaves the previous target in use. */
Test(log, failed_open_keeps_the_old_target)
{
	char *text;

	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	cr_assert_eq(log_open("/nonexistent/folder/error.log", LOG_DEBUG), -1);
	cr_assert_eq(errno, ENOENT);
	log_msg(LOG_NOTICE, "still here");
	text = slurp(NULL);
	cr_assert_not_null(strstr(text, "sluice: still here\n"));
	free(text);
}

/* Children inherit the log and write to it with no re-open. */
Test(log, usable_after_fork)
{
	char *text;
	pid_t pid;
	int status;

	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	log_set_ident("master");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		log_set_ident("worker 1 (pid 42)");
		log_msg(LOG_NOTICE, "child here");
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	log_msg(LOG_NOTICE, "parent here");
	text = slurp(NULL);
	cr_assert_not_null(strstr(text, "] worker 1 (pid 42): child here\n"), "%s", text);
	cr_assert_not_null(strstr(text, "] master: parent here\n"), "%s", text);
	free(text);
}

/*
 * Several processes logging long lines at once: every line comes out
 * whole, none interleaved with another.
 */
Test(log, lines_from_many_processes_stay_whole)
{
	enum { PROCS = 4, LINES = 200, PAYLOAD = 3000 };
	char payload[PROCS][PAYLOAD + 1];
	char *text, *line, *end;
	int count[PROCS] = { 0 };
	int status;

	cr_assert_eq(log_open(path, LOG_NOTICE), 0);
	for (int p = 0; p < PROCS; p++) {
		memset(payload[p], 'a' + p, PAYLOAD);
		payload[p][PAYLOAD] = '\0';
	}
	for (int p = 0; p < PROCS; p++) {
		pid_t pid = fork();

		cr_assert_geq(pid, 0);
		if (pid == 0) {
			for (int i = 0; i < LINES; i++)
				log_msg(LOG_NOTICE, "%d %s", p, payload[p]);
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		cr_assert_gt(wait(&status), 0);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}

	text = slurp(NULL);
	cr_assert_eq(count_lines(text), PROCS * LINES);
	for (line = text; *line; line = end + 1) {
		int p;

		end = strchr(line, '\n');
		line = strstr(line, "sluice: ");
		cr_assert(line && line < end, "a line without its prefix");
		p = line[8] - '0';
		cr_assert(p >= 0 && p < PROCS);
		cr_assert_eq(end - (line + 10), PAYLOAD, "line of process %d cut", p);
		cr_assert_eq(strncmp(line + 10, payload[p], PAYLOAD), 0,
			     "line of process %d mixed with another", p);
		count[p]++;
	}
	for (int p = 0; p < PROCS; p++)
		cr_assert_eq(count[p], LINES);
	free(text);
}

Test(log, stderr_target)
{
	int fds[2];
	char buf[256];
	ssize_t n;

	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(dup2(fds[1], STDERR_FILENO), STDERR_FILENO);
	close(fds[1]);
	cr_assert_eq(log_open("stderr", LOG_INFO), 0);
	log_msg(LOG_INFO, "to stderr");
	n = read(fds[0], buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	assert_matches(buf, STAMP "\\[info\\] sluice: to stderr\n$");
}
