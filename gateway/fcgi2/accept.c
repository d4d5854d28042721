/*
 * accept.c - a request's life in sluice-fcgi: FCGX_Init, accepting a
 * connection, keep-alive, FCGX_Accept_r and FCGX_Finish_r.
 *
 * Keep-alive without pinning.  libfcgi, asked to keep a connection
 * (FCGI_KEEP_CONN), blocks in FCGX_Accept_r reading the next request on
 * it for as long as the web server keeps it open: the process serves
 * that connection and nobody else.  Here a kept connection is closed
 * between requests, never during one, as soon as either
 *   - it has been idle for the idle deadline (FCGI2_IDLE_TIMEOUT_MS), or
 *   - another connection is waiting on the listening socket and this
 *     process took it (accept succeeded): the waiting one is served.
 * The web server sees an idle upstream connection closed, which nginx
 * and Apache handle by opening a new one.
 *
 * A threaded program (more than one FCGX_Request initialized) has its
 * connections closed after every request instead: such programs hold
 * their own mutex around FCGX_Accept_r (fcgi2's threaded.c does), so a
 * thread waiting there on its kept connection would keep every other
 * thread from reading the next request on theirs.
 *
 * The listening socket is made non-blocking and waited on with poll(2),
 * so that a process can wait on it and on its kept connection at once,
 * and so that several processes sharing it (spawn-fcgi, a pool) never
 * block in accept(2) on a connection another one took.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "fcgi2.h"

#define FCGI_LISTENSOCK_FILENO 0

static volatile sig_atomic_t shutdown_pending;
static atomic_int requests_made;	/* FCGX_InitRequest calls: above 1, threads */
static int idle_ms = FCGI2_IDLE_TIMEOUT_MS;
static int initialized;

int fcgi2_accept_idle_ms(void)
{
	return idle_ms;
}

static void on_shutdown_signal(int sig)
{
	(void)sig;
	shutdown_pending = 1;
}

/*
 * SIGTERM and SIGUSR1, if the program left them alone, ask for a
 * graceful stop as in libfcgi: the request in progress finishes, then
 * FCGX_Accept_r returns -1.  SA_RESTART, so that the program's own
 * system calls never see EINTR because of it.
 */
static void install_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGUSR1 };
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_shutdown_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			sigaction(sigs[i], &sa, NULL);
}

/* SLUICE_FCGI_IDLE_TIMEOUT_MS, when set: digits only, 1 to 3600000. */
static int read_idle_env(void)
{
	const char *v = getenv("SLUICE_FCGI_IDLE_TIMEOUT_MS");
	char *end;
	long n;

	if (!v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v < '0' || *v > '9' || *end || errno || n < 1 || n > 3600000) {
		fcgi2_wire_log("SLUICE_FCGI_IDLE_TIMEOUT_MS='%s': expected milliseconds, "
			       "1 to 3600000", v);
		return -1;
	}
	idle_ms = (int)n;
	return 0;
}

int FCGX_Init(void)
{
	if (initialized)
		return 0;
	if (read_idle_env() < 0)
		return -1;
	install_signals();
	initialized = 1;
	return 0;
}

/* fd 0 is a listening socket (getpeername fails with ENOTCONN): FastCGI; else CGI. */
int FCGX_IsCGI(void)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	return !(getpeername(FCGI_LISTENSOCK_FILENO, (struct sockaddr *)&sa, &len) != 0 &&
		 errno == ENOTCONN);
}

static int open_tcp(const char *host, const char *port, int backlog)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM }, *ai;
	int fd = -1, one = 1, rc;

	rc = getaddrinfo(*host ? host : NULL, port, &hints, &ai);
	if (rc != 0) {
		fcgi2_wire_log("FCGX_OpenSocket: %s:%s: %s", host, port, gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
			bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0)) {
		fcgi2_wire_log("FCGX_OpenSocket: %s:%s: %s", host, port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static int open_unix(const char *path, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fcgi2_wire_log("FCGX_OpenSocket: %s: path longer than %zu bytes", path,
			       sizeof(sa.sun_path) - 1);
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
			listen(fd, backlog) < 0)) {
		fcgi2_wire_log("FCGX_OpenSocket: %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A listening socket as fcgi2 names it: ":PORT" or "HOST:PORT" for TCP,
 * anything else a unix socket path (made with the process's umask, as
 * libfcgi does: set the umask for who may connect).
 */
int FCGX_OpenSocket(const char *path, int backlog)
{
	const char *colon = strrchr(path, ':');
	char host[256];

	if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
	    (size_t)(colon - path) < sizeof(host)) {
		memcpy(host, path, (size_t)(colon - path));
		host[colon - path] = '\0';
		return open_tcp(host, colon + 1, backlog);
	}
	return open_unix(path, backlog);
}

int FCGX_InitRequest(FCGX_Request *request, int sock, int flags)
{
	struct fcgi2_req *q = calloc(1, sizeof(*q));

	memset(request, 0, sizeof(*request));
	if (!q)
		return -1;
	q->fd = -1;
	q->read_ms = FCGI2_READ_TIMEOUT_MS;
	q->write_ms = FCGI2_WRITE_TIMEOUT_MS;
	atomic_fetch_add(&requests_made, 1);
	request->priv = q;
	request->listen_sock = sock;
	request->flags = flags;
	return 0;
}

/*
 * FCGI_WEB_SERVER_ADDRS, as in libfcgi: when set, a TCP peer whose
 * address is not in this comma-separated list is refused.
 */
static int peer_allowed(int fd)
{
	const char *list = getenv("FCGI_WEB_SERVER_ADDRS");
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char addr[INET6_ADDRSTRLEN];
	size_t n;

	if (!list || getpeername(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
		return 1;
	if (!inet_ntop(sa.ss_family, sa.ss_family == AF_INET
		       ? (void *)&((struct sockaddr_in *)&sa)->sin_addr
		       : (void *)&((struct sockaddr_in6 *)&sa)->sin6_addr, addr, sizeof(addr)))
		return 0;
	n = strlen(addr);
	for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
		if (strncmp(p, addr, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
		if (!p[strcspn(p, ",")])
			break;
	}
	fcgi2_wire_log("refusing a connection from %s, not in FCGI_WEB_SERVER_ADDRS", addr);
	return 0;
}

/* A signal interrupted a wait: go on, unless the program or a stop says otherwise. */
static int interrupted(const FCGX_Request *rq)
{
	return shutdown_pending || (rq->flags & FCGI_FAIL_ACCEPT_ON_INTR);
}

/*
 * A non-blocking accepted connection, or -1: the listener failed, a
 * signal asked to stop, or (`wait` 0) no connection was waiting.
 */
static int accept_one(FCGX_Request *rq, int wait)
{
	struct pollfd p = { .fd = rq->listen_sock, .events = POLLIN };
	int fl = fcntl(rq->listen_sock, F_GETFL);

	if (fl < 0 || (!(fl & O_NONBLOCK) &&
		       fcntl(rq->listen_sock, F_SETFL, fl | O_NONBLOCK) < 0))
		return -1;
	for (;;) {
		int fd = accept4(rq->listen_sock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			if (peer_allowed(fd))
				return fd;
			close(fd);
		} else if (errno == EAGAIN || errno == ECONNABORTED) {
			if (!wait)
				return -1;
			if (poll(&p, 1, -1) < 0 && (errno != EINTR || interrupted(rq)))
				return -1;
			if (shutdown_pending)
				return -1;
		} else if (errno != EINTR || interrupted(rq)) {
			return -1;
		}
	}
}

static void close_conn(struct fcgi2_req *q)
{
	if (q->fd >= 0 && !q->detached)
		close(q->fd);
	q->fd = -1;
	q->broken = 0;
	q->detached = 0;
}

/*
 * Between requests on a kept connection: 1 when the web server sent the
 * next record; 0 when the connection was closed instead (idle deadline,
 * or another connection accepted into q->fd); -1 on shutdown.
 */
static int wait_kept(FCGX_Request *rq, struct fcgi2_req *q)
{
	struct pollfd p[2] = { { .fd = q->fd, .events = POLLIN },
			       { .fd = rq->listen_sock, .events = POLLIN } };
	int rc = poll(p, 2, idle_ms);

	if (shutdown_pending)
		return -1;
	if (rc < 0)
		return errno == EINTR ? 1 : -1;
	if (rc == 0) {
		close_conn(q);
		return 0;
	}
	if (p[0].revents)
		return 1;
	rc = accept_one(rq, 0);
	if (rc < 0)
		return 1;	/* another process took it: go on waiting here */
	close_conn(q);
	q->fd = rc;
	return 0;
}

/* The request's streams and fields, once its parameters are in. */
static void start(FCGX_Request *rq, struct fcgi2_req *q)
{
	fcgi2_stream_open(&q->in, q, 1, FCGI_STDIN);
	fcgi2_stream_open(&q->out, q, 0, FCGI_STDOUT);
	fcgi2_stream_open(&q->err, q, 0, FCGI_STDERR);
	if (q->role == FCGI_AUTHORIZER)
		q->in.eof = 1;	/* an Authorizer gets no body (section 6.3) */
	q->active = 1;
	rq->requestId = (int)q->id;
	rq->role = q->role;
	rq->in = &q->in;
	rq->out = &q->out;
	rq->err = &q->err;
	rq->envp = q->envp;
}

static int ensure_record_buffer(struct fcgi2_req *q)
{
	if (!q->rec)
		q->rec = malloc(FCGI2_RECORD_MAX);
	return q->rec ? 0 : -1;
}

/*
 * Finish the previous request, then wait for the next one: on the kept
 * connection (see the top of this file) or on a newly accepted one.  0
 * with the request's streams and parameters set, -1 when the listening
 * socket fails, a signal asks to stop, or memory runs out.  A connection
 * whose peer breaks the protocol is closed (with a line on stderr) and
 * the next one is waited for: the program never sees it.
 */
int FCGX_Accept_r(FCGX_Request *rq)
{
	struct fcgi2_req *q = rq->priv;

	if (!q || (!initialized && FCGX_Init() < 0))
		return -1;
	FCGX_Finish_r(rq);
	if (ensure_record_buffer(q) < 0)
		return -1;
	for (;;) {
		int rc;

		if (shutdown_pending)
			return -1;
		if (q->fd >= 0) {
			rc = wait_kept(rq, q);
			if (rc < 0)
				return -1;
		} else {
			q->fd = accept_one(rq, 1);
			if (q->fd < 0)
				return -1;
		}
		rc = fcgi2_wire_begin(q);
		if (rc == 1) {
			start(rq, q);
			return 0;
		}
		fcgi2_wire_release(q);
		close_conn(q);
	}
}

/*
 * The rest of a body the program did not read, so that a kept
 * connection is at a record boundary between requests: what waits on it
 * then is the next request, not leftovers that would make it look busy.
 * The web server sends the whole body anyway; each record has the read
 * deadline, and a failure marks the connection broken.
 */
static void skip_body(struct fcgi2_req *q)
{
	if (!q->keep || atomic_load(&requests_made) > 1 || q->broken || q->in.eof || q->in.err || q->in.type != FCGI_STDIN)
		return;
	while (fcgi2_wire_content(q, FCGI_STDIN) > 0)
		;
}

/*
 * End the request: the output and error streams are closed (their
 * buffered bytes and end records sent), END_REQUEST carries the exit
 * status, and the connection is kept only if the web server asked for
 * that and nothing broke it.
 */
void FCGX_Finish_r(FCGX_Request *rq)
{
	struct fcgi2_req *q = rq->priv;

	if (!q || !q->active)
		return;
	q->active = 0;
	if (!q->detached && q->fd >= 0) {
		int rc = fcgi2_stream_close(&q->err);

		rc |= fcgi2_stream_close(&q->out);
		if (rc < 0 || fcgi2_wire_end(q, FCGI_REQUEST_COMPLETE) < 0)
			q->broken = 1;
		skip_body(q);
	}
	FCGX_Free(rq, !q->keep || q->broken || q->detached || atomic_load(&requests_made) > 1);
}

/* Let go of the request's parameters and streams; `close`: of its connection too. */
void FCGX_Free(FCGX_Request *request, int close)
{
	struct fcgi2_req *q = request->priv;

	if (!q)
		return;
	fcgi2_wire_release(q);
	fcgi2_stream_release(&q->out);
	fcgi2_stream_release(&q->err);
	request->in = request->out = request->err = NULL;
	request->envp = NULL;
	if (close)
		close_conn(q);
}

/* fcgi2's single-request interface: one request on fd 0. */
static FCGX_Request the_request;

int FCGX_Accept(FCGX_Stream **in, FCGX_Stream **out, FCGX_Stream **err, FCGX_ParamArray *envp)
{
	if (!the_request.priv &&
	    FCGX_InitRequest(&the_request, FCGI_LISTENSOCK_FILENO, 0) < 0)
		return -1;
	if (FCGX_Accept_r(&the_request) < 0)
		return -1;
	*in = the_request.in;
	*out = the_request.out;
	*err = the_request.err;
	*envp = the_request.envp;
	return 0;
}

void FCGX_Finish(void)
{
	FCGX_Finish_r(&the_request);
}

char *FCGX_GetParam(const char *name, FCGX_ParamArray envp)
{
	size_t n;

	if (!name || !envp)
		return NULL;
	n = strlen(name);
	for (; *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

void FCGX_ShutdownPending(void)
{
	shutdown_pending = 1;
}

/*
 * FCGX_Detach: the program keeps the request's connection (to hand it
 * to another process, say); FCGX_Finish_r then neither writes to it nor
 * closes it.  FCGX_Attach undoes that.
 */
int FCGX_Detach(FCGX_Request *r)
{
	if (!r->priv || r->priv->fd < 0)
		return -1;
	r->priv->detached = 1;
	return 0;
}

int FCGX_Attach(FCGX_Request *r)
{
	if (!r->priv || r->priv->fd < 0)
		return -1;
	r->priv->detached = 0;
	return 0;
}
