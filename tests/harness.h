/*
 * harness.h - starting the real programs for integration suites, and
 * the helpers every suite shares: HTTP requests, time, files, and the
 * processes and sockets /proc shows.
 *
 * Every process a test starts lives in a private folder under /tmp, on
 * private sockets and loopback ports, and is stopped (and its folder
 * removed) by the matching stop call, which tests register so that it
 * runs even when an assertion fails.  Binaries come from BUILD_DIR
 * (build/prod by default), set by the Makefile.  Nothing here asserts:
 * functions return 0 / -1 (or a count) and the suites assert with their
 * own messages.
 */
#ifndef SLUICE_TEST_HARNESS_H
#define SLUICE_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

struct sluice_proc {
	pid_t pid;
	char dir[128];		/* private folder: config, socket, log */
	char sock[192];		/* dir/sluice.sock */
	char conf[192];		/* dir/sluice.conf */
	char log[192];		/* dir/error.log */
};

/*
 * Write dir/sluice.conf: a preamble with `listen` on dir/sluice.sock
 * (mode 0666) and `error_log` on dir/error.log, then `body` (more
 * settings, usually `modules` and `pm`).  Start BUILD_DIR/sluice -c on it
 * and wait (up to 5 s) until the socket accepts connections.  Returns 0,
 * or -1 when sluice exited or never listened (its log is then printed to
 * stderr for the test output).
 */
int harness_sluice_start(struct sluice_proc *sp, const char *body);

/*
 * The same, with `args` (a NULL-terminated list, or NULL) passed after
 * `-c CONF`: { "--dev", "--http", "127.0.0.1:8081", NULL }.  Ready still
 * means that the socket accepts; a listener that `args` add may come up
 * a moment later.
 */
int harness_sluice_start_args(struct sluice_proc *sp, const char *body,
			      const char *const *args);

/*
 * The same, with more listeners: `listeners` is pasted into a `listen`
 * list after the group of dir/sluice.sock (which stays the first, and the
 * one waited for), e.g. "{ address = \"unix:uwsgi.sock\"; protocol =
 * \"uwsgi\"; mode = \"0666\"; }".  A relative unix socket path is taken
 * from the private folder, like every relative path in the config.
 */
int harness_sluice_start_listeners(struct sluice_proc *sp, const char *listeners,
				   const char *body);

/* SIGTERM, wait up to 5 s, SIGKILL if needed, remove the folder. */
void harness_sluice_stop(struct sluice_proc *sp);

/*
 * Start BUILD_DIR/sluice on sp->conf again (after a test killed it), its
 * output in sp->dir/stderr-restart.log, without waiting for it.  The pid,
 * or -1.
 */
pid_t harness_sluice_respawn(const struct sluice_proc *sp);

/*
 * nginx's location for the harness's `upstream sluice` (keepalive), with
 * kept-alive connections: how conf/ tells users to deploy.
 */
#define HARNESS_KEEPALIVE_LOCATION \
	"location / {\n" \
	"  include /etc/nginx/fastcgi_params;\n" \
	"  fastcgi_pass sluice;\n" \
	"  fastcgi_keep_conn on;\n" \
	"}\n"

/* The whole error log so far, malloc'ed and NUL-terminated ("" if none). */
char *harness_sluice_log(const struct sluice_proc *sp);

/* Wait up to `ms` for `needle` to appear in the error log; 0 if it did. */
int harness_log_wait(const struct sluice_proc *sp, const char *needle, int ms);

struct nginx_proc {
	pid_t pid;
	int port;		/* loopback port nginx listens on */
	char dir[128];		/* private prefix: conf, logs, temp paths */
};

/*
 * Start the real nginx (/usr/sbin/nginx) in the foreground, with a free
 * loopback port chosen by the harness, a private prefix and error log,
 * and `locations` pasted into its one server block (the text may use
 * `%SOCK%`, replaced by `upstream_sock`).  Waits until the port accepts.
 */
int harness_nginx_start(struct nginx_proc *np, const char *upstream_sock,
			const char *locations);
void harness_nginx_stop(struct nginx_proc *np);

/*
 * The same nginx with `http` pasted into its http {} block instead of the
 * harness's `upstream sluice` (a test's own upstream blocks, for one).
 */
int harness_nginx_start_http(struct nginx_proc *np, const char *http,
			     const char *locations);

struct apache_proc {
	pid_t pid;		/* Apache's main process, leader of its group */
	int exited;		/* harness_apache_signal saw it exit */
	int port;		/* loopback port Apache listens on */
	char dir[128];		/* private folder: httpd.conf, error.log, www/ */
	char run[160];		/* dir/run, writable by Apache's children */
};

/*
 * Make an Apache's private folder, so that a test can put its files in
 * it before the start: `dir`, readable by the user Apache's children run
 * as (www-data when the tests run as root), holding an empty DocumentRoot
 * dir/www and `run`, owned by that user, for what the children write
 * (mod_fcgid's sockets and process table, the logs of the programs
 * mod_fcgid starts).
 */
int harness_apache_prepare(struct apache_proc *ap);

/*
 * Start the real Apache, `/usr/sbin/apache2 -f dir/httpd.conf
 * -DFOREGROUND`, on a free loopback port, with a self-contained config:
 * modules loaded by full path (mpm_event, authz_core, mime, proxy,
 * proxy_fcgi, fcgid), LogLevel info, the error log, pid file, mutexes
 * and mod_fcgid's FcgidIPCDir and FcgidProcessTableFile in the private
 * folder, and `directives` appended at server level.  Waits until the
 * port accepts.  After harness_apache_prepare only.
 */
int harness_apache_start(struct apache_proc *ap, const char *directives);

/*
 * Send `sig` to Apache's main process (SIGTERM: stop; SIGWINCH:
 * graceful-stop) and wait up to `ms` for it to exit: 0 if it did.  What
 * its children and mod_fcgid's programs do is left for the test to see.
 */
int harness_apache_signal(struct apache_proc *ap, int sig, int ms);

/* Apache's whole error log so far, malloc'ed ("" if none). */
char *harness_apache_log(const struct apache_proc *ap);

/*
 * SIGTERM (unless it already exited), then SIGKILL to whatever is left of
 * its process group, mod_fcgid's programs included; remove the folder.
 */
void harness_apache_stop(struct apache_proc *ap);

/* Result of one HTTP request made with libcurl. */
struct http_reply {
	long status;
	char *headers;		/* raw header block, malloc'ed */
	char *body;		/* malloc'ed, NUL-terminated */
	size_t body_len;
};

/*
 * `method` `url` with optional request body and extra header lines
 * (NULL-terminated array of "Name: value").  Returns 0 when an HTTP
 * response was received (any status), -1 on transport failure.
 */
int http_request(const char *method, const char *url, const char *body,
		 size_t body_len, const char *const *headers, struct http_reply *out);
void http_reply_free(struct http_reply *r);

/* 1 if a raw header block has a line that starts with `line`, in any case. */
int harness_has_header_line(const char *headers, const char *line);

/*
 * A libcurl write callback: appends to the malloc'ed, NUL-terminated
 * string whose address is `arg` (a char **, NULL to start with).
 */
size_t harness_http_append(char *ptr, size_t size, size_t nmemb, void *arg);

/*
 * POST `total` bytes ('A' + offset % 26) to `url` as a chunked upload
 * (Transfer-Encoding: chunked, no length), in pieces of at most 7000
 * bytes, within 10 s.  *status gets the HTTP status and *body the
 * response body (malloc'ed, NUL-terminated; NULL if none came).
 * Returns 0 when a response was received, -1 on transport failure.
 */
int harness_http_chunked_post(const char *url, size_t total, long *status, char **body);

/*
 * A download that checks every byte against big.c's pattern, ('a' +
 * (offset % 65536) % 26), without keeping the body, and calls `sample`
 * (when not NULL) each time the count of bytes received passes another
 * multiple of `every`: how a suite watches a process's memory while a
 * large response streams.
 */
struct harness_download {
	long long every;
	void (*sample)(void *arg);
	void *arg;
	long long received;	/* out: bytes received */
	long long bad_at;	/* out: first byte out of the pattern, -1 if none */
	long status;		/* out: the HTTP status */
};

/* GET `url` into `d` within `timeout_s`: 0, or -1 on transport failure. */
int harness_http_download(const char *url, long timeout_s, struct harness_download *d);

/* A free loopback TCP port (bound to 127.0.0.1:0 and released). */
int harness_free_port(void);

/*
 * For suites that start a program themselves (a process manager, a
 * wrapper): fork and exec `argv` in its own process group, stdin on
 * /dev/null, stdout and stderr appended to `out`, with SIGTERM when the
 * test process dies; `in_child` (if not NULL) runs in the child just
 * before exec, after those redirections, to set its environment or its
 * fd 0 (a listening socket, as spawn-fcgi gives one).  Returns the pid, or -1.
 */
pid_t harness_spawn(char *const argv[], const char *out,
		    void (*in_child)(void *), void *arg);

/*
 * `sig` to `pid`, up to 5 s for it to exit, then SIGKILL to it and its
 * group.  Returns its wait status, or -1 when it had to be killed (or
 * was not our child to wait for).
 */
int harness_stop_pid(pid_t pid, int sig);

/* Wait up to `ms` for our child `pid` to exit: its wait status, or -1. */
int harness_wait_exit(pid_t pid, int ms);

/* Wait up to 5 s, while `pid` runs, until unix socket `path` accepts: 0. */
int harness_wait_socket(pid_t pid, const char *path);

/* Wait up to 5 s, while `pid` runs, until loopback TCP `port` accepts: 0. */
int harness_wait_port(pid_t pid, int port);

/* 0 when something accepts on loopback TCP `port` now, -1 when not. */
int harness_probe_port(int port);

/*
 * A blocking stream socket connected to unix socket `path`, or -1 with
 * errno set (ENAMETOOLONG for a path that does not fit sun_path).
 */
int harness_connect_unix(const char *path);

/*
 * Open unix stream sockets that carry `path`, from /proc/net/unix: the
 * listening one plus every accepted connection still open (an accepted
 * socket shows its listener's address).  -1 when /proc cannot be read.
 */
int harness_sockets_on(const char *path);

/* A private folder under /tmp (mkdtemp), and its removal with all in it. */
int harness_make_dir(char *dir, size_t len);
/* The same, named as realpath(3) names it (paths a config resolves compare equal). */
int harness_make_real_dir(char *dir, size_t len);
void harness_remove_dir(const char *dir);

/* The whole of `path`, malloc'ed and NUL-terminated; "" when unreadable. */
char *harness_read_file(const char *path);

/* `text` with every `from` replaced by `to`, malloc'ed; NULL if out of memory. */
char *harness_replace(const char *text, const char *from, const char *to);

/*
 * GET `uri` ("/path?query") over FastCGI with fcgi2's `cgi-fcgi -bind
 * -connect ADDR` (a socket path or host:port), with a minimal CGI
 * environment.  *out gets what it printed (the CGI response, or its error
 * message), malloc'ed.  0 when cgi-fcgi exited with status 0 within 10 s.
 */
int harness_fcgi_get(const char *addr, const char *uri, char **out);

/* ---- Time --------------------------------------------------------------- */

/* CLOCK_MONOTONIC in milliseconds, and in microseconds (systemd's clock). */
long harness_now_ms(void);
long long harness_now_us(void);

/* Sleep `ms` milliseconds, whatever signals arrive meanwhile. */
void harness_sleep_ms(long ms);

/* ---- Processes, from /proc ---------------------------------------------- */

/*
 * The state letter of `pid` ('R', 'S', 'Z', ...) and, when `ppid` is not
 * NULL, its parent, from /proc/PID/stat; 0 when there is no such process.
 */
char harness_proc_state(pid_t pid, pid_t *ppid);

/*
 * 1 once `pid` no longer runs: no such process, or only its zombie left
 * for a parent (or the system's reaper) to collect.
 */
int harness_proc_gone(pid_t pid);

/* Wait up to `ms` for harness_proc_gone(pid): 1 if it went, 0 if not. */
int harness_wait_gone(pid_t pid, long ms);

/*
 * The children of `parent` (zombies too when `zombies`), at most `max`
 * of them, into `out` sorted by pid; how many.
 */
int harness_children(pid_t parent, pid_t *out, int max, int zombies);

/* 1 if `pid` is one of the `n` pids of `set`. */
int harness_has_pid(const pid_t *set, int n, pid_t pid);

/* VmRSS of `pid` in kB, from /proc/PID/status; -1 when it is gone. */
long harness_rss_kb(pid_t pid);

/* CPU time (utime + stime) of `pid` in clock ticks, from /proc/PID/stat; -1 when it is gone. */
long harness_cpu_ticks(pid_t pid);

#endif
