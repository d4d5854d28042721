/*
 * log.h - the error log.
 *
 * One line per event, written with a single write(2) so that lines from
 * the master and all workers never interleave:
 *
 *	2026-11-29 04:50:00.123 [notice] worker 3 (pid 1234): started
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Same order and numbers as enum sl_log_level in sluice.h. */
enum log_level { LOG_ERROR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };

/* Open the log target ("stderr" or a file, appended); -1 with errno on failure. */
int log_open(const char *target, enum log_level level);

/*
 * Log rotation.  The master opens the file again (log_reopen: 0, or -1
 * with errno) and hands the descriptor (log_file_fd: -1 while the log is
 * stderr) to each worker, which puts it in place of its own (log_adopt,
 * which closes `fd`).  Workers never open the file: they may run as a
 * user who cannot.
 */
int log_reopen(void);
int log_file_fd(void);

/*
 * Open `path` (appended, created 0640) and put it under descriptor
 * `target` in one step (dup3): whoever holds the number, a signal
 * handler included, meets the old file or the new one, never a closed
 * descriptor.  0, or -1 with errno.  Every log that rotates uses it.
 */
int log_reopen_onto(int target, const char *path);
void log_adopt(int fd);

/* Before a worker's stderr is replaced: a log that is stderr keeps the original. */
void log_keep_stderr(void);

/* Who is speaking: "master" or "worker 3 (pid 1234)". Set once per process. */
void log_set_ident(const char *ident);

/* Parse "error", "warning", "notice", "info", "debug"; -1 when unknown. */
int log_level_parse(const char *name);

int log_enabled(enum log_level level);

/*
 * Write one log line from a signal handler: async-signal-safe, to `fd`
 * (-1: the error log).  Used by the crash and timeout handlers, and by the
 * master for the slow log, the one line that may go elsewhere.
 */
void log_signal_safe(int fd, enum log_level level, const char *msg);
/*
 * Also hand every line this process logs to `fn` (NULL: stop), as
 * written, newline included.  Development mode keeps what a module's init
 * logged this way, to show it on the page that says the init failed.
 */
void log_tap(void (*fn)(const char *line, size_t len));

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#endif
