/*
 * harness.c - starting the real sluice and nginx for integration suites,
 * a small libcurl client, and what every suite needs around them: time,
 * files, the processes and sockets /proc shows.
 *
 * Each process gets a private folder made by mkdtemp under /tmp and runs
 * in its own process group, so that stopping it also reaps whatever it
 * forked (sluice's workers, nginx's worker).  The child asks the kernel
 * for SIGTERM when the test process dies (PR_SET_PDEATHSIG), so a test
 * that crashes before its fini leaves no sluice or nginx behind: both
 * stop their own workers on SIGTERM.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <curl/curl.h>

#include "harness.h"

#ifndef BUILD_DIR
#define BUILD_DIR "build/prod"
#endif

#define START_TIMEOUT_MS	5000
#define STOP_TIMEOUT_MS		5000
#define POLL_MS			20
#define HTTP_TIMEOUT_S		10L
#define SLUICE_MAX_ARGS		16	/* extra arguments harness_sluice_start_args passes */

/* ---- Time and files --------------------------------------------------- */

long harness_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

long long harness_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

void harness_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

char *harness_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;
	size_t cap = 0;
	size_t n;

	if (f != NULL) {
		do {
			if (cap - len < 4096) {
				cap = cap ? cap * 2 : 8192;
				buf = realloc(buf, cap);
				if (buf == NULL)
					abort();
			}
			n = fread(buf + len, 1, cap - len - 1, f);
			len += n;
		} while (n > 0);
		fclose(f);
	}
	if (buf == NULL) {
		buf = malloc(1);
		if (buf == NULL)
			abort();
	}
	buf[len] = '\0';
	return buf;
}

char *harness_replace(const char *text, const char *from, const char *to)
{
	size_t flen = strlen(from), n = 0;
	const char *p;
	char *out, *o;

	for (p = strstr(text, from); p != NULL; p = strstr(p + flen, from))
		n++;
	out = malloc(strlen(text) + n * strlen(to) + 1);
	if (out == NULL)
		return NULL;
	for (o = out; (p = strstr(text, from)) != NULL; text = p + flen) {
		memcpy(o, text, (size_t)(p - text));
		o = stpcpy(o + (p - text), to);
	}
	strcpy(o, text);
	return out;
}

static void dump_file(const char *what, const char *path)
{
	char *text = harness_read_file(path);

	fprintf(stderr, "---- %s (%s) ----\n%s---- end ----\n", what, path, text);
	free(text);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int make_dir(char *dir, size_t len)
{
	char tmpl[] = "/tmp/sluice-test-XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return -1;
	snprintf(dir, len, "%s", tmpl);
	return 0;
}

/* ---- Processes -------------------------------------------------------- */

/*
 * Fork and exec `argv`, with stdin on /dev/null and stdout and stderr
 * appended to `out`.  The child leads its own process group, so that
 * kill(-pid) reaches everything it forks, and gets SIGTERM if the test
 * process dies first.  `in_child`, when not NULL, runs in the child just
 * before exec, after the redirections, so that it may put a listening
 * socket on fd 0 as spawn-fcgi does.  Returns the child's pid, or -1.
 */
pid_t harness_spawn(char *const argv[], const char *out,
		    void (*in_child)(void *), void *arg)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	int fd;

	if (pid != 0)
		return pid;
	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0)
		dup2(fd, 0);
	fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	if (in_child != NULL)
		in_child(arg);
	execv(argv[0], argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static pid_t spawn(char *const argv[], const char *out)
{
	return harness_spawn(argv, out, NULL, NULL);
}

/* 1 while `pid` runs, 0 once it has exited (and is reaped). */
static int alive(pid_t pid)
{
	return waitpid(pid, NULL, WNOHANG) == 0;
}

/*
 * Wait up to `ms` for our child `pid` to exit, reaping it: 1 with its
 * wait status in *status, 0 when it still runs, -1 when it is not (or
 * no longer) a child of ours to wait for.
 */
static int reap(pid_t pid, int ms, int *status)
{
	int waited = 0;
	pid_t rc;

	for (;;) {
		rc = waitpid(pid, status, WNOHANG);
		if (rc == pid)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
		if (waited >= ms)
			return 0;
		harness_sleep_ms(POLL_MS);
		waited += POLL_MS;
	}
}

int harness_wait_exit(pid_t pid, int ms)
{
	int status;

	return reap(pid, ms, &status) == 1 ? status : -1;
}

/*
 * Stop a process group led by `pid`: `sig` to the leader, up to
 * STOP_TIMEOUT_MS for it to exit, then SIGKILL.  Whatever is left of the
 * group afterwards (a worker that outlived its master) is killed too.
 * A child that leads no group of its own (one a test forked itself) is
 * stopped the same way: the SIGKILL goes to `pid` as well as to the
 * group, which then does not exist.  Returns the leader's wait status,
 * or -1 when it had to be killed.
 */
static int stop_group(pid_t pid, int sig)
{
	int status, exited;

	if (pid <= 0)
		return -1;
	kill(pid, sig);
	exited = reap(pid, STOP_TIMEOUT_MS, &status);
	if (exited == 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	kill(-pid, SIGKILL);
	return exited == 1 ? status : -1;
}

int harness_connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

int harness_probe_port(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd;
	int rc;

	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc;
}

/*
 * Wait until `ready(arg)` connects, while `pid` still runs.  0 when it
 * did, -1 when the process exited or START_TIMEOUT_MS passed.
 */
static int wait_ready(pid_t pid, int (*ready)(const void *), const void *arg)
{
	int waited;

	for (waited = 0; waited < START_TIMEOUT_MS; waited += POLL_MS) {
		if (ready(arg) == 0)
			return 0;
		if (!alive(pid))
			return -1;
		harness_sleep_ms(POLL_MS);
	}
	return -1;
}

static int unix_ready(const void *path)
{
	int fd = harness_connect_unix(path);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int port_ready(const void *port)
{
	return harness_probe_port(*(const int *)port);
}

/* ---- sluice ----------------------------------------------------------- */

/*
 * The preamble every test config starts with: the private socket,
 * readable by the web server whatever user its workers run as, and the
 * private error log at the level that shows worker start-up and
 * request failures.
 */
static const char sluice_preamble[] =
	"listen = {\n"
	"  address = \"%s\";\n"
	"  mode = \"0666\";\n"
	"};\n"
	"error_log = \"%s\";\n"
	"log_level = \"info\";\n";

/* The same preamble with more listeners after the private socket's. */
static const char sluice_preamble_list[] =
	"listen = (\n"
	"  { address = \"%s\"; mode = \"0666\"; },\n"
	"  %s\n"
	");\n"
	"error_log = \"%s\";\n"
	"log_level = \"info\";\n";

static int sluice_write_conf(struct sluice_proc *sp, const char *listeners,
			     const char *body)
{
	size_t len = sizeof(sluice_preamble_list) + strlen(sp->sock) +
		     (listeners ? strlen(listeners) : 0) + strlen(sp->log) +
		     strlen(body) + 2;
	char *text = malloc(len);
	int n;
	int rc;

	if (text == NULL)
		return -1;
	if (listeners != NULL)
		n = snprintf(text, len, sluice_preamble_list, sp->sock, listeners, sp->log);
	else
		n = snprintf(text, len, sluice_preamble, sp->sock, sp->log);
	snprintf(text + n, len - (size_t)n, "%s\n", body);
	rc = write_file(sp->conf, text);
	free(text);
	return rc;
}

static int sluice_start(struct sluice_proc *sp, const char *listeners, const char *body,
			const char *const *args)
{
	char bin[] = BUILD_DIR "/sluice";
	char opt[] = "-c";
	char out[256];
	char *argv[SLUICE_MAX_ARGS + 4] = { bin, opt, sp->conf, NULL };
	int n = 3;

	memset(sp, 0, sizeof(*sp));
	for (; args != NULL && *args != NULL; args++) {
		if (n == SLUICE_MAX_ARGS + 3)
			return -1;
		argv[n++] = (char *)(uintptr_t)*args;
	}
	argv[n] = NULL;
	if (make_dir(sp->dir, sizeof(sp->dir)) == -1)
		return -1;
	snprintf(sp->sock, sizeof(sp->sock), "%s/sluice.sock", sp->dir);
	snprintf(sp->conf, sizeof(sp->conf), "%s/sluice.conf", sp->dir);
	snprintf(sp->log, sizeof(sp->log), "%s/error.log", sp->dir);
	snprintf(out, sizeof(out), "%s/stderr.log", sp->dir);
	if (sluice_write_conf(sp, listeners, body) == -1)
		return -1;
	sp->pid = spawn(argv, out);
	if (sp->pid > 0 && wait_ready(sp->pid, unix_ready, sp->sock) == 0)
		return 0;
	fprintf(stderr, "sluice did not start listening on %s\n", sp->sock);
	dump_file("sluice config", sp->conf);
	dump_file("sluice stderr", out);
	dump_file("sluice error log", sp->log);
	return -1;
}

int harness_sluice_start_args(struct sluice_proc *sp, const char *body,
			      const char *const *args)
{
	return sluice_start(sp, NULL, body, args);
}

int harness_sluice_start_listeners(struct sluice_proc *sp, const char *listeners,
				   const char *body)
{
	return sluice_start(sp, listeners, body, NULL);
}

int harness_sluice_start(struct sluice_proc *sp, const char *body)
{
	return harness_sluice_start_args(sp, body, NULL);
}

void harness_sluice_stop(struct sluice_proc *sp)
{
	stop_group(sp->pid, SIGTERM);
	sp->pid = 0;
	remove_tree(sp->dir);
	sp->dir[0] = '\0';
}

char *harness_sluice_log(const struct sluice_proc *sp)
{
	return harness_read_file(sp->log);
}

int harness_log_wait(const struct sluice_proc *sp, const char *needle, int ms)
{
	int waited = 0;
	int found;
	char *text;

	for (;;) {
		text = harness_read_file(sp->log);
		found = strstr(text, needle) != NULL;
		free(text);
		if (found)
			return 0;
		if (waited >= ms)
			return -1;
		harness_sleep_ms(POLL_MS);
		waited += POLL_MS;
	}
}

/* ---- nginx ------------------------------------------------------------ */

/*
 * When the tests run as root, nginx's workers would drop to `nobody`,
 * which cannot enter the 0700 folder holding sluice's socket; `user
 * root` keeps them able to.  Any other user runs the workers as itself
 * (and nginx warns if `user` is given), so the line is left out then.
 *
 * An `upstream sluice` with idle connections kept is declared for the
 * socket, so a location may use either `fastcgi_pass unix:%SOCK%` (a new
 * connection per request) or `fastcgi_pass sluice` with
 * `fastcgi_keep_conn on` (connections reused).
 */
static const char nginx_conf[] =
	"%s"
	"worker_processes 1;\n"
	"error_log %s/error.log info;\n"
	"pid %s/nginx.pid;\n"
	"events { worker_connections 256; }\n"
	"http {\n"
	"  access_log off;\n"
	"  client_body_temp_path %s/client_body_temp;\n"
	"  fastcgi_temp_path %s/fastcgi_temp;\n"
	"  uwsgi_temp_path %s/uwsgi_temp;\n"
	"  proxy_temp_path %s/proxy_temp;\n"
	"  scgi_temp_path %s/scgi_temp;\n"
	"  client_max_body_size 64m;\n"
	"%s"
	"  server {\n"
	"    listen 127.0.0.1:%d;\n"
	"    server_name localhost;\n"
	"%s\n"
	"  }\n"
	"}\n";

static const char nginx_upstream[] =
	"  upstream sluice {\n"
	"    server unix:%s;\n"
	"    keepalive 8;\n"
	"  }\n";

static int nginx_write_conf(const struct nginx_proc *np, const char *sock,
			    const char *http, const char *locations)
{
	char upstream[512] = "";
	char path[256];
	char *locs = harness_replace(locations, "%SOCK%", sock ? sock : "");
	char *text;
	size_t len;
	int rc;

	if (locs == NULL)
		return -1;
	if (sock != NULL)
		snprintf(upstream, sizeof(upstream), nginx_upstream, sock);
	if (http == NULL)
		http = upstream;
	len = sizeof(nginx_conf) + 8 * strlen(np->dir) + strlen(http) +
	      strlen(locs) + 64;
	text = malloc(len);
	if (text == NULL) {
		free(locs);
		return -1;
	}
	snprintf(text, len, nginx_conf, getuid() == 0 ? "user root;\n" : "",
		 np->dir, np->dir, np->dir, np->dir, np->dir, np->dir, np->dir,
		 http, np->port, locs);
	snprintf(path, sizeof(path), "%s/nginx.conf", np->dir);
	rc = write_file(path, text);
	free(text);
	free(locs);
	return rc;
}

/*
 * One attempt on one port.  nginx's -e sends the messages it prints
 * before reading the config to the private log too, instead of the
 * system's /var/log/nginx.
 */
static int nginx_try(struct nginx_proc *np, const char *sock, const char *http,
		     const char *locations)
{
	char bin[] = "/usr/sbin/nginx";
	char o_p[] = "-p", o_c[] = "-c", o_e[] = "-e", o_g[] = "-g";
	char daemon_off[] = "daemon off;";
	char conf[256], log[256], out[256];
	char *argv[] = { bin, o_p, np->dir, o_c, conf, o_e, log, o_g,
			 daemon_off, NULL };

	np->port = harness_free_port();
	if (np->port <= 0 || nginx_write_conf(np, sock, http, locations) == -1)
		return -1;
	snprintf(conf, sizeof(conf), "%s/nginx.conf", np->dir);
	snprintf(log, sizeof(log), "%s/error.log", np->dir);
	snprintf(out, sizeof(out), "%s/stderr.log", np->dir);
	np->pid = spawn(argv, out);
	if (np->pid > 0 && wait_ready(np->pid, port_ready, &np->port) == 0)
		return 0;
	stop_group(np->pid, SIGTERM);
	np->pid = 0;
	return -1;
}

/*
 * The port is free when chosen but could be taken by a parallel test
 * before nginx binds it, so a failed start is retried on another port.
 */
static int nginx_start(struct nginx_proc *np, const char *upstream_sock,
		       const char *http, const char *locations)
{
	char path[256];
	int attempt;

	memset(np, 0, sizeof(*np));
	if (make_dir(np->dir, sizeof(np->dir)) == -1)
		return -1;
	for (attempt = 0; attempt < 3; attempt++)
		if (nginx_try(np, upstream_sock, http, locations) == 0)
			return 0;
	fprintf(stderr, "nginx did not start\n");
	snprintf(path, sizeof(path), "%s/nginx.conf", np->dir);
	dump_file("nginx config", path);
	snprintf(path, sizeof(path), "%s/error.log", np->dir);
	dump_file("nginx error log", path);
	snprintf(path, sizeof(path), "%s/stderr.log", np->dir);
	dump_file("nginx stderr", path);
	return -1;
}

int harness_nginx_start(struct nginx_proc *np, const char *upstream_sock,
			const char *locations)
{
	return nginx_start(np, upstream_sock, NULL, locations);
}

int harness_nginx_start_http(struct nginx_proc *np, const char *http,
			     const char *locations)
{
	return nginx_start(np, NULL, http, locations);
}

void harness_nginx_stop(struct nginx_proc *np)
{
	stop_group(np->pid, SIGTERM);
	np->pid = 0;
	remove_tree(np->dir);
	np->dir[0] = '\0';
}

int harness_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port = -1;

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* ---- Apache ----------------------------------------------------------- */

#define APACHE_BIN	"/usr/sbin/apache2"
#define APACHE_MODULES	"/usr/lib/apache2/modules"
/* Who Apache's children run as when the tests run as root. */
#define APACHE_USER	"www-data"

/*
 * A self-contained config: nothing from /etc/apache2.  The modules are
 * loaded by full path (mod_unixd is built into Debian's apache2, the
 * IfModule covers builds where it is not), mime.types is the system's
 * (Apache looks for it under ServerRoot otherwise), and the mutexes are
 * lock files in the private folder, so that an Apache killed by the
 * harness leaves no semaphore behind.  One child process of 16 threads
 * is plenty for a test, and makes the connections Apache keeps open to a
 * backend countable.  LogLevel info makes mod_fcgid log each process it
 * starts and how each one ended.
 */
static const char apache_conf[] =
	"ServerRoot \"%s\"\n"
	"ServerName localhost\n"
	"DefaultRuntimeDir \"%s\"\n"
	"PidFile \"%s/httpd.pid\"\n"
	"ErrorLog \"%s/error.log\"\n"
	"LogLevel info\n"
	"Listen 127.0.0.1:%d\n"
	"StartServers 1\n"
	"ServerLimit 1\n"
	"ThreadsPerChild 16\n"
	"MaxRequestWorkers 16\n"
	"MinSpareThreads 1\n"
	"MaxSpareThreads 16\n"
	"LoadModule mpm_event_module " APACHE_MODULES "/mod_mpm_event.so\n"
	"<IfModule !unixd_module>\n"
	"  LoadModule unixd_module " APACHE_MODULES "/mod_unixd.so\n"
	"</IfModule>\n"
	"LoadModule authz_core_module " APACHE_MODULES "/mod_authz_core.so\n"
	"LoadModule mime_module " APACHE_MODULES "/mod_mime.so\n"
	"LoadModule proxy_module " APACHE_MODULES "/mod_proxy.so\n"
	"LoadModule proxy_fcgi_module " APACHE_MODULES "/mod_proxy_fcgi.so\n"
	"LoadModule fcgid_module " APACHE_MODULES "/mod_fcgid.so\n"
	"%s"
	"Mutex file:%s default\n"
	"TypesConfig /etc/mime.types\n"
	"FcgidIPCDir \"%s\"\n"
	"FcgidProcessTableFile \"%s/fcgid_shm\"\n"
	"DocumentRoot \"%s/www\"\n"
	"%s\n";

/*
 * Apache refuses to serve as root: started as root, its children become
 * APACHE_USER, and what they must reach is made reachable to it.  Any
 * other user runs them as itself (the User line is then ignored).
 */
static int apache_user(uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	*uid = getuid();
	*gid = getgid();
	if (*uid != 0)
		return 0;
	pw = getpwnam(APACHE_USER);
	if (pw == NULL) {
		fprintf(stderr, "no user %s to run Apache's children as\n", APACHE_USER);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int harness_apache_prepare(struct apache_proc *ap)
{
	char www[256];
	uid_t uid;
	gid_t gid;

	memset(ap, 0, sizeof(*ap));
	if (apache_user(&uid, &gid) == -1 || make_dir(ap->dir, sizeof(ap->dir)) == -1)
		return -1;
	snprintf(ap->run, sizeof(ap->run), "%s/run", ap->dir);
	snprintf(www, sizeof(www), "%s/www", ap->dir);
	if (chmod(ap->dir, 0755) == -1 || mkdir(ap->run, 0755) == -1 ||
	    mkdir(www, 0755) == -1 || chown(ap->run, uid, gid) == -1)
		return -1;
	return 0;
}

static int apache_write_conf(const struct apache_proc *ap, const char *directives)
{
	const char *user = getuid() == 0 ? "User " APACHE_USER "\nGroup " APACHE_USER "\n" : "";
	size_t len = sizeof(apache_conf) + 6 * strlen(ap->dir) + 2 * strlen(ap->run) +
		     strlen(user) + strlen(directives) + 16;
	char path[256];
	char *text = malloc(len);
	int rc;

	if (text == NULL)
		return -1;
	snprintf(text, len, apache_conf, ap->dir, ap->dir, ap->dir, ap->dir, ap->port,
		 user, ap->run, ap->run, ap->run, ap->dir, directives);
	snprintf(path, sizeof(path), "%s/httpd.conf", ap->dir);
	rc = write_file(path, text);
	free(text);
	return rc;
}

/* One attempt on one port, like nginx_try. */
static int apache_try(struct apache_proc *ap, const char *directives)
{
	char bin[] = APACHE_BIN;
	char o_f[] = "-f", o_d[] = "-DFOREGROUND";
	char conf[256], out[256];
	char *argv[] = { bin, o_f, conf, o_d, NULL };

	ap->port = harness_free_port();
	if (ap->port <= 0 || apache_write_conf(ap, directives) == -1)
		return -1;
	snprintf(conf, sizeof(conf), "%s/httpd.conf", ap->dir);
	snprintf(out, sizeof(out), "%s/stderr.log", ap->dir);
	ap->pid = spawn(argv, out);
	if (ap->pid > 0 && wait_ready(ap->pid, port_ready, &ap->port) == 0)
		return 0;
	stop_group(ap->pid, SIGTERM);
	ap->pid = 0;
	return -1;
}

int harness_apache_start(struct apache_proc *ap, const char *directives)
{
	char path[256];
	int attempt;

	for (attempt = 0; attempt < 3; attempt++)
		if (apache_try(ap, directives) == 0)
			return 0;
	fprintf(stderr, "Apache did not start\n");
	snprintf(path, sizeof(path), "%s/httpd.conf", ap->dir);
	dump_file("Apache config", path);
	snprintf(path, sizeof(path), "%s/error.log", ap->dir);
	dump_file("Apache error log", path);
	snprintf(path, sizeof(path), "%s/stderr.log", ap->dir);
	dump_file("Apache stderr", path);
	return -1;
}

int harness_apache_signal(struct apache_proc *ap, int sig, int ms)
{
	int waited = 0;

	if (ap->pid <= 0 || ap->exited || kill(ap->pid, sig) == -1)
		return -1;
	while (alive(ap->pid)) {
		if (waited >= ms)
			return -1;
		harness_sleep_ms(POLL_MS);
		waited += POLL_MS;
	}
	ap->exited = 1;
	return 0;
}

char *harness_apache_log(const struct apache_proc *ap)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/error.log", ap->dir);
	return harness_read_file(path);
}

void harness_apache_stop(struct apache_proc *ap)
{
	if (!ap->exited)
		stop_group(ap->pid, SIGTERM);
	else if (ap->pid > 0)
		kill(-ap->pid, SIGKILL);
	ap->pid = 0;
	ap->exited = 0;
	remove_tree(ap->dir);
	ap->dir[0] = '\0';
}

/* ---- Programs a suite starts itself ----------------------------------- */

int harness_make_dir(char *dir, size_t len)
{
	return make_dir(dir, len);
}

int harness_make_real_dir(char *dir, size_t len)
{
	char *real;

	if (make_dir(dir, len) < 0)
		return -1;
	real = realpath(dir, NULL);
	if (!real) {
		remove_tree(dir);
		return -1;
	}
	snprintf(dir, len, "%s", real);
	free(real);
	return 0;
}

void harness_remove_dir(const char *dir)
{
	remove_tree(dir);
}

int harness_stop_pid(pid_t pid, int sig)
{
	return stop_group(pid, sig);
}

int harness_wait_socket(pid_t pid, const char *path)
{
	return wait_ready(pid, unix_ready, path);
}

int harness_wait_port(pid_t pid, int port)
{
	return wait_ready(pid, port_ready, &port);
}

int harness_sockets_on(const char *path)
{
	FILE *f = fopen("/proc/net/unix", "r");
	char line[1024];
	size_t plen = strlen(path), len;
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		len = strcspn(line, "\n");
		if (len > plen && line[len - plen - 1] == ' ' &&
		    strncmp(line + len - plen, path, plen) == 0)
			n++;
	}
	fclose(f);
	return n;
}

/* ---- Processes, from /proc -------------------------------------------- */

char harness_proc_state(pid_t pid, pid_t *ppid)
{
	char path[64], line[512], state = 0;
	const char *rp;
	int parent = 0;
	size_t k;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	k = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[k] = '\0';
	rp = strrchr(line, ')');	/* the command may hold spaces and parens */
	if (rp == NULL || sscanf(rp + 1, " %c %d", &state, &parent) != 2)
		return 0;
	if (ppid != NULL)
		*ppid = (pid_t)parent;
	return state;
}

int harness_proc_gone(pid_t pid)
{
	char st = harness_proc_state(pid, NULL);

	return st == 0 || st == 'Z' || st == 'X';
}

int harness_wait_gone(pid_t pid, long ms)
{
	long deadline = harness_now_ms() + ms;

	while (!harness_proc_gone(pid) && harness_now_ms() < deadline)
		harness_sleep_ms(10);
	return harness_proc_gone(pid);
}

static void sort_pids(pid_t *set, int n)
{
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && set[k - 1] > set[k]; k--) {
			pid_t t = set[k];

			set[k] = set[k - 1];
			set[k - 1] = t;
		}
}

int harness_children(pid_t parent, pid_t *out, int max, int zombies)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while (n < max && (e = readdir(d)) != NULL) {
		pid_t pid, ppid = 0;
		char st;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid = (pid_t)atoi(e->d_name);
		st = harness_proc_state(pid, &ppid);
		if (st == 0 || ppid != parent || (!zombies && (st == 'Z' || st == 'X')))
			continue;
		out[n++] = pid;
	}
	closedir(d);
	sort_pids(out, n);
	return n;
}

int harness_has_pid(const pid_t *set, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (set[i] == pid)
			return 1;
	return 0;
}

long harness_rss_kb(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

long harness_cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* Fields after the name: state is 3rd; utime and stime are 14th, 15th. */
	if (!p || !(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

#define CGI_FCGI		"/usr/bin/cgi-fcgi"
#define FCGI_TIMEOUT_MS		10000

/*
 * Read fd `in` into *out (malloc'ed, NUL-terminated) until EOF: 0, or
 * until FCGI_TIMEOUT_MS after `start`: -1.
 */
static int gather(int in, struct timespec start, char **out)
{
	struct pollfd p = { in, POLLIN, 0 };
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	struct timespec now;
	long left;
	ssize_t n;

	if (buf == NULL)
		abort();
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = FCGI_TIMEOUT_MS - ((now.tv_sec - start.tv_sec) * 1000L +
					  (now.tv_nsec - start.tv_nsec) / 1000000L);
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if (cap - len < 2048) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
		n = read(in, buf + len, cap - len - 1);
		if (n <= 0) {
			buf[len] = '\0';
			*out = buf;
			return 0;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	return -1;
}

int harness_fcgi_get(const char *addr, const char *uri, char **out)
{
	char bin[] = CGI_FCGI, o_b[] = "-bind", o_c[] = "-connect";
	char conn[256], script[600], doc[600], query[600], req[600];
	char method[] = "REQUEST_METHOD=GET", proto[] = "SERVER_PROTOCOL=HTTP/1.1";
	char gw[] = "GATEWAY_INTERFACE=CGI/1.1";
	char *argv[] = { bin, o_b, o_c, conn, NULL };
	char *envp[] = { method, proto, gw, script, doc, query, req, NULL };
	const char *q = strchr(uri, '?');
	int len = q ? (int)(q - uri) : (int)strlen(uri);
	struct timespec start;
	int p[2], status, timed_out;
	pid_t pid;

	*out = NULL;
	snprintf(conn, sizeof(conn), "%s", addr);
	snprintf(script, sizeof(script), "SCRIPT_NAME=%.*s", len, uri);
	snprintf(doc, sizeof(doc), "DOCUMENT_URI=%.*s", len, uri);
	snprintf(query, sizeof(query), "QUERY_STRING=%s", q ? q + 1 : "");
	snprintf(req, sizeof(req), "REQUEST_URI=%s", uri);
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	timed_out = gather(p[0], start, out);
	close(p[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- HTTP client ------------------------------------------------------ */

struct growbuf {
	char *data;
	size_t len;
	size_t cap;
};

static size_t growbuf_append(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct growbuf *b = arg;
	size_t n = size * nmemb;

	if (b->cap - b->len < n + 1) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap - b->len < n + 1)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (b->data == NULL)
			return 0;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static char *growbuf_take(struct growbuf *b)
{
	if (b->data == NULL)
		b->data = calloc(1, 1);
	if (b->data == NULL)
		abort();
	return b->data;
}

/*
 * A handle for `url` with what every request here has: no proxy (the
 * servers are all on loopback) and `timeout_s` for the whole transfer.
 */
static CURL *easy_for(const char *url, long timeout_s)
{
	CURL *c = curl_easy_init();

	if (c != NULL) {
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	}
	return c;
}

/*
 * Method and body: GET and HEAD without a body use curl's own requests;
 * anything else is sent as a custom method with the body (if any) as
 * POST data, which curl sends with a Content-Length.
 */
static void set_method(CURL *c, const char *method, const char *body,
		       size_t body_len)
{
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)body_len);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	    !(strcmp(method, "POST") == 0 && body != NULL))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

int http_request(const char *method, const char *url, const char *body,
		 size_t body_len, const char *const *headers, struct http_reply *out)
{
	struct growbuf hbuf = { 0 }, bbuf = { 0 };
	struct curl_slist *list = NULL;
	CURL *c = easy_for(url, HTTP_TIMEOUT_S);
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	if (c == NULL)
		return -1;
	/* An empty Expect stops curl from waiting for 100-continue. */
	list = curl_slist_append(list, "Expect:");
	for (; headers != NULL && *headers != NULL; headers++)
		list = curl_slist_append(list, *headers);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, HTTP_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, growbuf_append);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &hbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, growbuf_append);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &bbuf);
	set_method(c, method, body, body_len);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	else
		fprintf(stderr, "%s %s: %s\n", method, url, curl_easy_strerror(rc));
	curl_easy_cleanup(c);
	curl_slist_free_all(list);
	out->headers = growbuf_take(&hbuf);
	out->body_len = bbuf.len;
	out->body = growbuf_take(&bbuf);
	return rc == CURLE_OK ? 0 : -1;
}

void http_reply_free(struct http_reply *r)
{
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int harness_has_header_line(const char *headers, const char *line)
{
	const char *p = headers;

	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, line, strlen(line)) == 0)
			return 1;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return 0;
}

size_t harness_http_append(char *ptr, size_t size, size_t nmemb, void *arg)
{
	char **buf = arg;
	size_t old = *buf != NULL ? strlen(*buf) : 0, n = size * nmemb;
	char *grown = realloc(*buf, old + n + 1);

	if (grown == NULL)
		return 0;
	*buf = grown;
	memcpy(*buf + old, ptr, n);
	(*buf)[old + n] = '\0';
	return n;
}

/* What a chunked upload has sent of its pattern so far. */
struct upload {
	size_t sent, total;
};

/*
 * curl's read callback: the next piece of the pattern, never more than
 * 7000 bytes, so that the body arrives in uneven chunks.
 */
static size_t upload_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct upload *u = arg;
	size_t n = size * nmemb;

	if (n > 7000)
		n = 7000;
	if (n > u->total - u->sent)
		n = u->total - u->sent;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('A' + (u->sent + i) % 26);
	u->sent += n;
	return n;
}

int harness_http_chunked_post(const char *url, size_t total, long *status, char **body)
{
	struct upload u = { 0, total };
	struct curl_slist *hdrs = curl_slist_append(NULL, "Transfer-Encoding: chunked");
	CURL *c = easy_for(url, HTTP_TIMEOUT_S);
	CURLcode rc = CURLE_FAILED_INIT;

	*status = 0;
	*body = NULL;
	/* An empty Expect stops curl from waiting for 100-continue. */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (c != NULL && hdrs != NULL) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &u);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, harness_http_append);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return rc == CURLE_OK ? 0 : -1;
}

/* curl's write callback for harness_http_download: check, count, sample. */
static size_t download_bytes(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct harness_download *d = arg;
	size_t n = size * nmemb;

	for (size_t i = 0; i < n && d->bad_at < 0; i++) {
		long long pos = d->received + (long long)i;

		if (ptr[i] != (char)('a' + (pos % 65536) % 26))
			d->bad_at = pos;
	}
	if (d->sample != NULL && d->every > 0 &&
	    d->received / d->every != (d->received + (long long)n) / d->every)
		d->sample(d->arg);
	d->received += (long long)n;
	return n;
}

int harness_http_download(const char *url, long timeout_s, struct harness_download *d)
{
	CURL *c = easy_for(url, timeout_s);
	CURLcode rc;

	d->received = 0;
	d->bad_at = -1;
	d->status = 0;
	if (c == NULL)
		return -1;
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, download_bytes);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, d);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &d->status);
	curl_easy_cleanup(c);
	return rc == CURLE_OK ? 0 : -1;
}

pid_t harness_sluice_respawn(const struct sluice_proc *sp)
{
	char bin[] = BUILD_DIR "/sluice", opt[] = "-c", conf[sizeof(sp->conf)], out[256];
	char *argv[] = { bin, opt, conf, NULL };

	snprintf(conf, sizeof(conf), "%s", sp->conf);
	snprintf(out, sizeof(out), "%s/stderr-restart.log", sp->dir);
	return harness_spawn(argv, out, NULL, NULL);
}
