/*
 * listen.c - binding the listening socket.  See listen.h.
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

#include "config.h"
#include "listen.h"

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
	if ((lc->owner || lc->group) && chown(path, uid, gid) < 0) {
		snprintf(err, errlen, "listen %s: chown: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int open_unix(const struct listen_config *lc, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "listen %s: path longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
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
	/* Created owner-only, then opened up to the configured mode: never
	 * world-connectable in between, whatever the umask. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(path, lc->mode) < 0)
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

/* Split "host:port" or "[v6]:port" into its parts. */
static int split_host_port(const char *addr, char *host, size_t hostlen, const char **port)
{
	const char *colon;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			return -1;
		snprintf(host, hostlen, "%.*s", (int)(close - addr - 1), addr + 1);
		*port = close + 2;
		return 0;
	}
	colon = strrchr(addr, ':');
	if (!colon)
		return -1;
	snprintf(host, hostlen, "%.*s", (int)(colon - addr), addr);
	*port = colon + 1;
	return 0;
}

static int open_tcp(const struct listen_config *lc, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res;
	char host[256];
	const char *port;
	int fd, one = 1, rc;

	if (split_host_port(lc->address, host, sizeof(host), &port) < 0) {
		snprintf(err, errlen, "listen %s: expected host:port or a socket path", lc->address);
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

int listen_open(const struct listen_config *lc, char *err, size_t errlen)
{
	const char *path = unix_path(lc->address);

	*err = '\0';
	return path ? open_unix(lc, path, err, errlen) : open_tcp(lc, err, errlen);
}

void listen_cleanup(const struct listen_config *lc)
{
	const char *path = unix_path(lc->address);
	struct stat st;

	if (path && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
}
