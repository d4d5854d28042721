/*
 * listen.c - binding the listening sockets, or adopting systemd's.  See listen.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/inet_diag.h>

#include "config.h"
#include "config_value.h"
#include "listen.h"
#include "perm.h"
#include "proto.h"
#include "systemd.h"

/* The unix socket path of an address, or NULL for a TCP address. */
static const char *unix_path(const char *addr)
{
	if (strncmp(addr, "unix:", 5) == 0)
		return addr + 5;
	return addr[0] == '/' ? addr : NULL;
}

/*
 * A socket file already at `path`: if something accepts on it, another
 * instance is running and we must not steal its address; if not, it is
 * left over from one that died and is removed.  A file that is not a
 * socket is never removed.
 */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "listen %s: a file that is not a socket is in the way", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "listen %s: another process is serving on this socket", path);
		return -1;
	}
	return unlink(path);
}

/*
 * The socket's owner and group, set on the name itself and never on
 * what a symlink there points to (AT_SYMLINK_NOFOLLOW): the master is
 * root, and a chown that followed a link raced into the folder would
 * hand any file on the system to the socket's owner.
 */
static int set_owner(const struct listen_config *lc, const char *path, char *err, size_t errlen)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;

	if (lc->owner) {
		struct passwd *pw = getpwnam(lc->owner);

		if (!pw) {
			snprintf(err, errlen, "listen %s: no user \"%s\"", path, lc->owner);
			return -1;
		}
		uid = pw->pw_uid;
	}
	if (lc->group) {
		struct group *gr = getgrnam(lc->group);

		if (!gr) {
			snprintf(err, errlen, "listen %s: no group \"%s\"", path, lc->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if ((lc->owner || lc->group) &&
	    fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, errlen, "listen %s: chown: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int open_unix(const struct listen_config *lc, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char why[1024];
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "listen %s: path longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		return -1;
	}
	if (perm_check_folders(path, why, sizeof(why))) {
		snprintf(err, errlen, "listen %s: %s", path, why);
		return -1;
	}
	if (clear_stale(path, err, errlen) < 0) {
		if (!*err)
			snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* Created with the configured mode by the umask, not by a chmod
	 * after bind: a chmod follows a symlink that another user could
	 * have put in the socket's place by then (Linux ignores fchmod on a
	 * socket's descriptor for the file's mode). */
	old = umask(~lc->mode & 0777);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0)
		goto fail;
	if (set_owner(lc, path, err, errlen) < 0 || listen(fd, lc->backlog) < 0) {
		if (!*err)
			goto fail;
		close(fd);
		return -1;
	}
	return fd;
fail:
	snprintf(err, errlen, "listen %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int open_tcp(const struct listen_config *lc, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res;
	char host[256], port[6];
	const char *bad = config_value_host_port(lc->address, host, sizeof(host), port);
	int fd, one = 1, rc;

	if (bad) {
		snprintf(err, errlen, "listen %s: %s", lc->address, bad);
		return -1;
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "listen %s: %s", lc->address, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (res->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, lc->backlog) < 0) {
		snprintf(err, errlen, "listen %s: %s", lc->address, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Bind one configured listener; the fd, or -1 with `err`. */
static int open_one(const struct listen_config *lc, char *err, size_t errlen)
{
	const char *path = unix_path(lc->address);

	*err = '\0';
	return path ? open_unix(lc, path, err, errlen) : open_tcp(lc, err, errlen);
}

/* Is socket `fd` bound to the configured address? */
static int bound_to(int fd, const struct listen_config *lc)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *path = unix_path(lc->address);
	char host[256], want[256], port[6];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res, *r;
	int match = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_UNIX)
		return path && strcmp(((struct sockaddr_un *)&ss)->sun_path, path) == 0;
	if (path || config_value_host_port(lc->address, host, sizeof(host), port) ||
	    getaddrinfo(host, port, &hints, &res) != 0)
		return 0;
	for (r = res; r && !match; r = r->ai_next) {
		char got[256], want_serv[8], got_serv[8];

		/* Compared as numeric host and port strings: one way for v4 and v6. */
		if (r->ai_family != ss.ss_family || r->ai_addrlen != len)
			continue;
		match = getnameinfo(r->ai_addr, r->ai_addrlen, want, sizeof(want), want_serv,
				    sizeof(want_serv), NI_NUMERICHOST | NI_NUMERICSERV) == 0 &&
			getnameinfo((struct sockaddr *)&ss, len, got, sizeof(got), got_serv,
				    sizeof(got_serv), NI_NUMERICHOST | NI_NUMERICSERV) == 0 &&
			strcmp(want, got) == 0 && strcmp(want_serv, got_serv) == 0;
	}
	freeaddrinfo(res);
	return match;
}

static const struct proto *proto_for(enum listen_protocol p)
{
	return p == LISTEN_UWSGI ? &proto_uwsgi : &proto_fcgi;
}

/* A listener failed: let go of the `n` opened before it; returns -1. */
static int give_back(struct listener *ls, int n)
{
	listen_cleanup(ls, n);
	for (int i = 0; i < n; i++)
		if (!ls[i].from_systemd)
			close(ls[i].fd);
	return -1;
}

/*
 * The sockets this process was handed: by systemd (socket activation), or,
 * in a pool's own master, by the master of all pools (pools.c), which
 * binds each pool's sockets once so that they outlive a restart of the
 * pool's master.  Read once; each is adopted at most once.
 */
static struct {
	int read;
	int n;			/* -1: malformed */
	int from_master;
	int fd[MAX_LISTEN + 1];
	int used[MAX_LISTEN + 1];
} passed;

static int read_passed(void)
{
	if (!passed.read) {
		passed.read = 1;
		passed.n = systemd_listen_fds(passed.fd, MAX_LISTEN + 1);
	}
	return passed.n;
}

void listen_take_from_master(const struct listener *ls, int n)
{
	memset(&passed, 0, sizeof(passed));
	passed.read = 1;
	passed.from_master = 1;
	for (int i = 0; i < n && i < MAX_LISTEN + 1; i++)
		passed.fd[passed.n++] = ls[i].fd;
}

/* Adopt the handed-over socket bound to `lc`'s address, if there is one. */
static int adopt(const struct listen_config *lc, struct listener *l)
{
	for (int j = 0; j < passed.n; j++)
		if (!passed.used[j] && bound_to(passed.fd[j], lc)) {
			passed.used[j] = 1;
			l->fd = passed.fd[j];
			l->from_systemd = 1;
			fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK);
			fcntl(l->fd, F_SETFD, FD_CLOEXEC);
			return 1;
		}
	return 0;
}

static void start_listener(const struct listen_config *lc, struct listener *l)
{
	snprintf(l->address, sizeof(l->address), "%s", lc->address);
	l->proto = proto_for(lc->protocol);
	l->fd = -1;
	l->owns_path = 0;
	l->from_systemd = 0;
}

int listen_open_all(const struct sl_config *cfg, struct listener *out, char *err,
		    size_t errlen)
{
	if (read_passed() < 0) {
		snprintf(err, errlen, "LISTEN_FDS from systemd is malformed");
		return -1;
	}
	for (int i = 0; i < cfg->nlisten; i++) {
		const struct listen_config *lc = &cfg->listen[i];
		struct listener *l = &out[i];

		start_listener(lc, l);
		if (adopt(lc, l))
			continue;
		if (passed.n > 0) {
			snprintf(err, errlen, "listen %s: %s passed %d socket(s), none bound "
				 "to this address%s", lc->address,
				 passed.from_master ? "the master" : "systemd", passed.n,
				 passed.from_master ? "" : " (check the socket unit's ListenStream=)");
			return give_back(out, i);
		}
		l->fd = open_one(lc, err, errlen);
		if (l->fd < 0)
			return give_back(out, i);
		l->owns_path = unix_path(lc->address) != NULL;
	}
	return cfg->nlisten;
}

int listen_passed_by_master(void)
{
	read_passed();
	return passed.from_master;
}

void listen_cleanup(const struct listener *ls, int n)
{
	for (int i = 0; i < n; i++) {
		const char *path = unix_path(ls[i].address);
		struct stat st;

		if (ls[i].owns_path && path && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
	}
}

int listen_open_one(const struct listen_config *lc, struct listener *out, char *err,
		    size_t errlen)
{
	start_listener(lc, out);
	if (read_passed() > 0 && adopt(lc, out))
		return 0;
	out->fd = open_one(lc, err, errlen);
	out->owns_path = out->fd >= 0 && unix_path(lc->address) != NULL;
	return out->fd < 0 ? -1 : 0;
}

/*
 * A listening unix socket's queue, from the kernel's sock_diag interface:
 * one request for the socket's inode with UDIAG_SHOW_RQLEN, whose answer
 * carries the connections waiting (rqueue) and the backlog (wqueue).
 */
static int unix_queue(int fd, unsigned *queued, unsigned *backlog)
{
	struct {
		struct nlmsghdr nh;
		struct unix_diag_req req;
	} q = {
		.nh = { .nlmsg_len = sizeof(q), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST },
		.req = { .sdiag_family = AF_UNIX, .udiag_states = 1 << TCP_LISTEN,
			 .udiag_show = UDIAG_SHOW_RQLEN,
			 .udiag_cookie = { INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE } },
	};
	union { struct nlmsghdr nh; char buf[1024]; } a;
	struct stat st;
	ssize_t n;
	int nl, rc = -1;

	if (fstat(fd, &st) < 0)
		return -1;
	q.req.udiag_ino = (unsigned)st.st_ino;
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -1;
	if (send(nl, &q, sizeof(q), 0) == (ssize_t)sizeof(q) &&
	    (n = recv(nl, &a, sizeof(a), 0)) > 0 && NLMSG_OK(&a.nh, (size_t)n) &&
	    a.nh.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
		struct unix_diag_msg *msg = NLMSG_DATA(&a.nh);
		struct rtattr *at = (struct rtattr *)(msg + 1);
		int left = (int)a.nh.nlmsg_len - (int)NLMSG_LENGTH(sizeof(*msg));

		for (; RTA_OK(at, left); at = RTA_NEXT(at, left))
			if (at->rta_type == UNIX_DIAG_RQLEN) {
				struct unix_diag_rqlen *rq = RTA_DATA(at);

				*queued = rq->udiag_rqueue;
				*backlog = rq->udiag_wqueue;
				rc = 0;
			}
	}
	close(nl);
	return rc;
}

int listen_queue(int fd, unsigned *queued, unsigned *backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct tcp_info ti;
	socklen_t tlen = sizeof(ti);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_UNIX)
		return unix_queue(fd, queued, backlog);
	/* On a listening TCP socket the kernel reports the accept queue in
	 * tcpi_unacked and its limit in tcpi_sacked. */
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tlen) < 0)
		return -1;
	*queued = ti.tcpi_unacked;
	*backlog = ti.tcpi_sacked;
	return 0;
}
