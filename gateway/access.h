/*
 * access.h - the access log: one line per request served, off unless
 * access_log names a file.
 *
 * The format is php-fpm's access.format with nginx's log_format in mind:
 * literal text and %-fields, php-fpm's letters where php-fpm has one.
 *
 *	%%		a percent sign
 *	%R		the client's address (REMOTE_ADDR)
 *	%m		the method
 *	%r		the path, as routed (without the query string)
 *	%q		the query string; %Q: "?" when there is one (and
 *			%q right after %Q writes nothing for no query, so
 *			that "%r%Q%q" is the URI)
 *	%s		the status
 *	%b		bytes of response body
 *	%l		the request body's announced length (CONTENT_LENGTH)
 *	%d		how long the request took (from its parameters to its
 *			response handed to the peer): seconds with three
 *			decimals; %{ms}d milliseconds, %{us}d microseconds
 *	%C		CPU time the worker spent on it, same units as %d
 *	%M		the worker's peak resident memory in KiB
 *	%I		the request id
 *	%f		the route that served it ("/notes/:id"), php-fpm's script
 *	%n		the module of that route
 *	%p		the worker's pid
 *	%t		the local time, nginx's $time_local; %T ISO 8601
 *	%{NAME}e	any request parameter, e.g. %{HTTP_HOST}e
 *	%{Name}i	a request header, e.g. %{User-Agent}i
 *
 * A field with no value is "-".  Request data is escaped (control
 * characters, '"', '\' and bytes past 0x7e as \xNN) so that a line is
 * always one line and its quoted fields can be split.  Lines wait in a
 * small per-worker buffer shared with the master and leave in one
 * write(2) of whole lines on a descriptor opened with O_APPEND, so lines
 * of all workers never interleave; they leave when the buffer is full,
 * when the worker has nothing else to do, and at most a second late, and
 * the master writes those of a worker that died.  %C and %M
 * cost a getrusage(2) each side of the request; every other field costs
 * no system call, and a line reads the clock once (%t and %T read the
 * wall clock once a second).
 */
#ifndef SLUICE_ACCESS_H
#define SLUICE_ACCESS_H

#include <stddef.h>

struct sl_config;
struct sl_request;

/* Is `fmt` a format?  0, or -1 with the reason in `why`. */
int access_format_check(const char *fmt, char *why, size_t len);

/*
 * The master, before forking and again on a reload: open cfg->access_log
 * (or close it when unset) and compile the format, for the workers to
 * inherit.  0, or -1 with errno (the previous log stays).
 */
int access_open(const struct sl_config *cfg);

/* The master, on SIGUSR1: open the same path again.  0, or -1 with errno. */
int access_reopen(void);

/* The current descriptor, -1: no access log. */
int access_fd(void);

/* A worker: the master reopened the log; `fd` replaces ours. */
void access_adopt(int fd);

/*
 * A worker, when a request starts (its parameters and buffered body are
 * in) and when its response has been handed to the codec: the line.
 */
void access_start(void);
void access_write(const struct sl_request *r);

/* A new worker, with its scoreboard index: its lines wait in its own buffer. */
void access_worker(int index);

/* A worker: are lines waiting?  Write them (before it waits for work, or leaves). */
int access_pending(void);
void access_flush(void);

/* The master, once worker `index` is gone: write the lines it left. */
void access_salvage(int index);

#endif
