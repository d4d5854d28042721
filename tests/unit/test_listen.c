/*
 * test_listen.c - opening the listening sockets: a unix socket gets
 * exactly its configured mode whatever the umask, a socket file left by
 * a dead instance is replaced, a live one or anything that is not a
 * socket is refused (and left in place), a TCP address binds; cleanup
 * removes only the socket files sluice created; and sockets passed by
 * systemd are adopted for the addresses they are bound to.
 *
 * Sockets live in a private folder under /tmp, TCP on a free loopback
 * port.  The systemd cases need the passed socket on descriptor 3, which
 * the test framework may be using, so they run in a forked child that
 * reports through a pipe.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "harness.h"
#include "listen.h"
#include "proto.h"

static char dir[64];
static struct sl_config cfg;
static struct listener ls[MAX_LISTEN];
static int nls;
static char err[512];

static void setup(void)
{
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	strcpy(dir, "/tmp/sluice-listen-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	memset(&cfg, 0, sizeof(cfg));
	cfg.file = (char *)(uintptr_t)"test.conf";
	nls = 0;
	err[0] = '\0';
}

static void teardown(void)
{
	for (int i = 0; i < nls; i++)
		if (ls[i].fd >= 0)
			close(ls[i].fd);
	harness_remove_dir(dir);
}

TestSuite(listen, .init = setup, .fini = teardown);

/* Add a listener to the config; addresses are kept in a static pool. */
static void add(const char *address, enum listen_protocol proto, mode_t mode)
{
	static char addrs[MAX_LISTEN][256];
	struct listen_config *lc = &cfg.listen[cfg.nlisten];

	cr_assert_lt(cfg.nlisten, MAX_LISTEN);
	snprintf(addrs[cfg.nlisten], sizeof(addrs[0]), "%s", address);
	*lc = (struct listen_config){ .address = addrs[cfg.nlisten], .protocol = proto,
				      .backlog = 16, .mode = mode };
	cfg.nlisten++;
}

static int open_all(void)
{
	int n = listen_open_all(&cfg, ls, err, sizeof(err));

	if (n > 0)
		nls = n;
	return n;
}

static void in_dir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* A unix socket bound at `path`; listening if `listening`. */
static int bind_unix(const char *path, int listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s", path,
		     strerror(errno));
	if (listening)
		cr_assert_eq(listen(fd, 4), 0);
	return fd;
}

/* Does something accept connections on unix socket `path`? */
static int accepts_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

static int accepts_tcp(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

static void assert_one_line_naming(const char *address, const char *what)
{
	cr_assert_not_null(strstr(err, address), "\"%s\" does not name %s", err, address);
	cr_assert_not_null(strstr(err, what), "\"%s\" does not say \"%s\"", err, what);
	cr_assert_null(strchr(err, '\n'), "more than one line: \"%s\"", err);
}

/* Open one unix listener with `mode` under `mask`; its file's permission bits. */
static mode_t mode_under_umask(mode_t mode, mode_t mask)
{
	char path[128];
	struct stat st;
	mode_t old;
	int n;

	in_dir(path, sizeof(path), "sluice.sock");
	add(path, LISTEN_FASTCGI, mode);
	old = umask(mask);
	n = open_all();
	cr_assert_eq(umask(old), mask, "listen_open_all changed the umask");
	cr_assert_eq(n, 1, "%s", err);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert(accepts_unix(path));
	return st.st_mode & 07777;
}

Test(listen, unix_mode_with_umask_0)
{
	cr_assert_eq(mode_under_umask(0660, 0), 0660);
}

Test(listen, unix_mode_with_umask_0777)
{
	cr_assert_eq(mode_under_umask(0666, 0777), 0666);
}

Test(listen, unix_mode_owner_only)
{
	cr_assert_eq(mode_under_umask(0600, 0), 0600);
}

Test(listen, unix_address_forms_and_protocols)
{
	char a[128], b[128], addr[160];

	in_dir(a, sizeof(a), "fcgi.sock");
	in_dir(b, sizeof(b), "uwsgi.sock");
	snprintf(addr, sizeof(addr), "unix:%s", b);
	add(a, LISTEN_FASTCGI, 0600);
	add(addr, LISTEN_UWSGI, 0600);
	cr_assert_eq(open_all(), 2, "%s", err);
	cr_assert_eq(ls[0].proto, &proto_fcgi);
	cr_assert_eq(ls[1].proto, &proto_uwsgi);
	cr_assert_str_eq(ls[1].address, addr);
	cr_assert(accepts_unix(a));
	cr_assert(accepts_unix(b), "the unix: prefix was not taken off");
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(ls[i].owns_path, 1);
		cr_assert_eq(ls[i].from_systemd, 0);
		cr_assert(fcntl(ls[i].fd, F_GETFL) & O_NONBLOCK);
		cr_assert(fcntl(ls[i].fd, F_GETFD) & FD_CLOEXEC);
	}
}

/* A socket file whose owner died (bound, closed, never removed) is replaced. */
Test(listen, stale_socket_is_replaced)
{
	char path[128];
	struct stat st;

	in_dir(path, sizeof(path), "sluice.sock");
	close(bind_unix(path, 1));
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_not(accepts_unix(path));
	add(path, LISTEN_FASTCGI, 0600);
	cr_assert_eq(open_all(), 1, "%s", err);
	cr_assert(accepts_unix(path), "nothing listens where the stale socket was");
}

/* Something is serving on the socket: another instance; its address is not taken. */
Test(listen, live_socket_is_refused)
{
	char path[128];
	int other;

	in_dir(path, sizeof(path), "sluice.sock");
	other = bind_unix(path, 1);
	add(path, LISTEN_FASTCGI, 0600);
	cr_assert_eq(open_all(), -1, "took over a live socket");
	assert_one_line_naming(path, "another process");
	cr_assert(accepts_unix(path), "the other process lost its socket");
	close(other);
}

Test(listen, regular_file_in_the_way_is_refused_and_kept)
{
	char path[128], text[32] = "";
	FILE *fp;

	in_dir(path, sizeof(path), "sluice.sock");
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs("precious\n", fp);
	fclose(fp);
	add(path, LISTEN_FASTCGI, 0600);
	cr_assert_eq(open_all(), -1);
	assert_one_line_naming(path, "not a socket");
	fp = fopen(path, "r");
	cr_assert_not_null(fp, "the file in the way was removed");
	cr_assert_not_null(fgets(text, sizeof(text), fp));
	fclose(fp);
	cr_assert_str_eq(text, "precious\n");
}

Test(listen, directory_in_the_way_is_refused)
{
	char path[128];
	struct stat st;

	in_dir(path, sizeof(path), "sluice.sock");
	cr_assert_eq(mkdir(path, 0700), 0);
	add(path, LISTEN_FASTCGI, 0600);
	cr_assert_eq(open_all(), -1);
	assert_one_line_naming(path, "not a socket");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
}

Test(listen, too_long_path_is_refused)
{
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path) + 32];
	size_t at;

	at = (size_t)snprintf(path, sizeof(path), "%s/", dir);
	memset(path + at, 's', sizeof(path) - at - 1);
	path[sizeof(path) - 1] = '\0';
	add(path, LISTEN_FASTCGI, 0600);
	cr_assert_eq(open_all(), -1);
	assert_one_line_naming(path, "path longer than");
}

/* A unix socket in a folder that does not exist: the error says so. */
Test(listen, missing_folder_is_refused)
{
	char path[128];

	in_dir(path, sizeof(path), "no/such/dir/sluice.sock");
	add(path, LISTEN_FASTCGI, 0600);
	cr_assert_eq(open_all(), -1);
	assert_one_line_naming(path, "No such file or directory");
}

Test(listen, tcp_binds_and_listens)
{
	char addr[64];
	int port = harness_free_port();

	cr_assert_gt(port, 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	add(addr, LISTEN_FASTCGI, 0);
	cr_assert_eq(open_all(), 1, "%s", err);
	cr_assert_eq(ls[0].owns_path, 0);
	cr_assert_eq(ls[0].from_systemd, 0);
	cr_assert(accepts_tcp(port));
	listen_cleanup(ls, nls);
	cr_assert(accepts_tcp(port), "cleanup closed a TCP listener");
}

Test(listen, tcp_port_in_use_is_refused)
{
	char addr[64];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int other = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(other, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(other, 4), 0);
	cr_assert_eq(getsockname(other, (struct sockaddr *)&sa, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
	add(addr, LISTEN_FASTCGI, 0);
	cr_assert_eq(open_all(), -1);
	assert_one_line_naming(addr, "Address already in use");
	close(other);
}

Test(listen, cleanup_removes_the_sockets_it_created)
{
	char a[128], b[128];

	in_dir(a, sizeof(a), "a.sock");
	in_dir(b, sizeof(b), "b.sock");
	add(a, LISTEN_FASTCGI, 0600);
	add(b, LISTEN_UWSGI, 0600);
	cr_assert_eq(open_all(), 2, "%s", err);
	listen_cleanup(ls, nls);
	cr_assert_neq(access(a, F_OK), 0, "%s is still there", a);
	cr_assert_neq(access(b, F_OK), 0, "%s is still there", b);
}

/* What took a socket's place after sluice bound it is not sluice's to remove. */
Test(listen, cleanup_leaves_what_replaced_its_socket)
{
	char path[128];
	FILE *fp;

	in_dir(path, sizeof(path), "sluice.sock");
	add(path, LISTEN_FASTCGI, 0600);
	cr_assert_eq(open_all(), 1, "%s", err);
	cr_assert_eq(unlink(path), 0);
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fclose(fp);
	listen_cleanup(ls, nls);
	cr_assert_eq(access(path, F_OK), 0, "a regular file was removed");
}

/* A listener whose socket it did not create (owns_path 0) is left alone. */
Test(listen, cleanup_leaves_sockets_it_did_not_create)
{
	char path[128];

	in_dir(path, sizeof(path), "sluice.sock");
	add(path, LISTEN_FASTCGI, 0600);
	cr_assert_eq(open_all(), 1, "%s", err);
	ls[0].owns_path = 0;
	listen_cleanup(ls, nls);
	cr_assert_eq(access(path, F_OK), 0, "a socket sluice did not create was removed");
}

/* ---- Socket activation ---------------------------------------------- */

/*
 * Run `check` in a child that holds `fd` as descriptor 3 and has
 * LISTEN_FDS=1 and LISTEN_PID set to its own pid, as systemd starts a
 * service.  `check` returns NULL when all is well, else what is wrong,
 * which comes back through a pipe and fails the test.
 */
static void as_activated(int fd, const char *(*check)(void))
{
	int p[2], status;
	char report[512] = "";
	ssize_t n;
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		const char *bad;
		char pidbuf[32];

		close(p[0]);
		if (p[1] == 3)
			p[1] = dup(p[1]);
		if (dup2(fd, 3) != 3)
			_exit(2);
		if (fd != 3)
			close(fd);
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", pidbuf, 1);
		bad = check();
		if (bad && write(p[1], bad, strlen(bad)) < 0)
			_exit(3);
		_exit(bad ? 1 : 0);
	}
	close(p[1]);
	n = read(p[0], report, sizeof(report) - 1);
	report[n > 0 ? n : 0] = '\0';
	close(p[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %s (status 0x%x)",
		  report[0] ? report : "no report", status);
}

static char why[600];

/* What is wrong, for as_activated's report. */
static __attribute__((format(printf, 1, 2))) const char *wrong(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return why;
}

static const char *adopts_socket_on_fd_3(void)
{
	struct stat st;

	if (open_all() != 1)
		return wrong("not adopted: %s", err);
	if (ls[0].fd != 3 || ls[0].from_systemd != 1 || ls[0].owns_path != 0)
		return wrong("fd %d, from_systemd %d, owns_path %d", ls[0].fd,
			     ls[0].from_systemd, ls[0].owns_path);
	if (getenv("LISTEN_FDS") || getenv("LISTEN_PID"))
		return "LISTEN_FDS/LISTEN_PID left for the workers to see";
	if (!(fcntl(3, F_GETFL) & O_NONBLOCK) || !(fcntl(3, F_GETFD) & FD_CLOEXEC))
		return "the adopted socket is not non-blocking and close-on-exec";
	listen_cleanup(ls, nls);
	if (cfg.listen[0].address[0] == '/' && stat(cfg.listen[0].address, &st) != 0)
		return "cleanup removed systemd's socket file";
	return NULL;
}

static const char *refuses_other_address(void)
{
	if (open_all() != -1)
		return "a config address systemd did not pass was accepted";
	if (!strstr(err, cfg.listen[0].address) || !strstr(err, "none bound to this address"))
		return wrong("wrong error: %s", err);
	return NULL;
}

Test(listen, systemd_unix_socket_is_adopted)
{
	char path[128];
	int fd;

	in_dir(path, sizeof(path), "activated.sock");
	fd = bind_unix(path, 1);
	add(path, LISTEN_FASTCGI, 0600);
	as_activated(fd, adopts_socket_on_fd_3);
	close(fd);
}

Test(listen, systemd_tcp_socket_is_adopted)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char addr[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
	add(addr, LISTEN_FASTCGI, 0);
	as_activated(fd, adopts_socket_on_fd_3);
	close(fd);
}

Test(listen, systemd_socket_for_another_address_is_an_error)
{
	char path[128], other[128];
	int fd;

	in_dir(path, sizeof(path), "activated.sock");
	in_dir(other, sizeof(other), "configured.sock");
	fd = bind_unix(path, 1);
	add(other, LISTEN_FASTCGI, 0600);
	as_activated(fd, refuses_other_address);
	close(fd);
	cr_assert_neq(access(other, F_OK), 0, "bound the address itself");
}

Test(listen, systemd_tcp_socket_on_another_port_is_an_error)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char addr[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 4), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	/* Drawn while fd holds its port, so the two can never be the same. */
	port = harness_free_port();
	cr_assert_neq(port, ntohs(sa.sin_port));
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	add(addr, LISTEN_FASTCGI, 0);
	as_activated(fd, refuses_other_address);
	close(fd);
}

/* ---- Who may write the socket's folder ------------------------------- */

/*
 * Another user who can write to the socket's folder swaps the socket
 * for a symlink to someone else's file, over and over, while the master
 * binds: neither the socket's mode nor its owner may reach that file.
 */
static volatile int swapping;
static char victim[128], swapped[128];

static void *swap_in_links(void *arg)
{
	char tmp[160];

	(void)arg;
	snprintf(tmp, sizeof(tmp), "%s.new", swapped);
	while (swapping) {
		unlink(tmp);
		if (symlink(victim, tmp) == 0)
			rename(tmp, swapped);
	}
	unlink(tmp);
	return NULL;
}

Test(listen, mode_and_owner_never_follow_a_symlink, .timeout = 60)
{
	struct passwd *nobody = getpwnam("nobody");
	long until = harness_now_ms() + 3000;
	pthread_t t;
	struct stat st;
	int fd;

	in_dir(victim, sizeof(victim), "victim");
	in_dir(swapped, sizeof(swapped), "sluice.sock");
	fd = open(victim, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(chmod(victim, 0600), 0);
	add(swapped, LISTEN_FASTCGI, 0666);
	if (geteuid() == 0 && nobody)
		cfg.listen[0].owner = (char *)(uintptr_t)"nobody";
	swapping = 1;
	cr_assert_eq(pthread_create(&t, NULL, swap_in_links, NULL), 0);
	while (harness_now_ms() < until) {
		if (listen_open_all(&cfg, ls, err, sizeof(err)) == 1)
			close(ls[0].fd);
		unlink(swapped);
	}
	swapping = 0;
	pthread_join(t, NULL);
	cr_assert_eq(lstat(victim, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "the socket's mode reached %s: %04o", victim,
		     (unsigned)(st.st_mode & 07777));
	cr_assert_eq(st.st_uid, geteuid(), "the socket's owner reached %s: uid %d", victim,
		     (int)st.st_uid);
}

/* A folder others can write to, without the sticky bit: refused, naming it and its mode. */
Test(listen, socket_folder_others_can_write_is_refused)
{
	char path[128], needle[160];

	in_dir(path, sizeof(path), "sluice.sock");
	add(path, LISTEN_FASTCGI, 0660);
	cr_assert_eq(chmod(dir, 0777), 0);
	cr_assert_eq(open_all(), -1, "a socket in a folder anyone can write to was bound");
	snprintf(needle, sizeof(needle), "the folder %s (mode 0777) can be written by anyone", dir);
	assert_one_line_naming(path, needle);
	cr_assert_eq(chmod(dir, 0770), 0);
	cr_assert_eq(open_all(), -1, "a socket in a folder its group can write to was bound");
	assert_one_line_naming(path, "can be written by its group");
	cr_assert_eq(chmod(dir, 01777), 0);
	cr_assert_eq(open_all(), 1, "a sticky folder (as /tmp) was refused: %s", err);
	cr_assert_eq(chmod(dir, 0700), 0);
}
