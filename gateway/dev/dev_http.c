/*
 * dev_http.c - the development HTTP listener (dev profile only).  See
 * dev_http.h.
 *
 * A separate process, forked by the master in dev mode, accepts HTTP/1.1
 * on a loopback address with libmicrohttpd and relays every request over
 * FastCGI to sluice's own listening socket: the workers answer it exactly
 * as they answer nginx, and this process runs no app code.  It behaves
 * like nginx's fastcgi_pass with request buffering off: one FastCGI
 * connection per HTTP request (no keep-conn), the request body sent as
 * STDIN while it arrives, the response passed on while the workers write
 * it, so that memory stays bounded whatever the sizes.  This file is the
 * HTTP side; the FastCGI client it drives is dev_relay.c.
 *
 * libmicrohttpd runs a thread per connection, so the relay is written
 * with plain blocking waits (io.c's, bounded by dev_relay.c's
 * DEV_RELAY_TIMEOUT).  Each request has its own struct relay, touched
 * only by its connection's thread; nothing else is shared between
 * threads.  Only this file includes <microhttpd.h>.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <microhttpd.h>

#include "config_value.h"
#include "defaults.h"
#include "dev_http.h"
#include "dev_path.h"
#include "dev_relay.h"
#include "log.h"

/* A browser opens about six connections per host; 64 bounds the threads. */
#define DEV_HTTP_MAX_CONNS	64

/*
 * Memory libmicrohttpd gives each connection for the request head.  Its
 * default, 32 KiB, would answer 431 to heads the workers accept
 * (limits.max_params_bytes is 64 KiB by default); with 128 KiB it is the
 * workers' own limit, and its log line, that refuses a large head, as
 * behind nginx.
 */
#define DEV_HTTP_POOL_SIZE	(128 * 1024)

/* An idle browser connection is closed after a minute (nginx: 75 s). */
#define DEV_HTTP_IDLE_TIMEOUT	60

/* How much of the body libmicrohttpd asks for at a time: a whole record. */
#define DEV_HTTP_BLOCK_SIZE	FCGI_MAX_CONTENT

_Static_assert(DEV_RELAY_SIZE_UNKNOWN == MHD_SIZE_UNKNOWN, "a size the relay does not know "
	       "is one libmicrohttpd does not know");

/* What the listener process knows, set once before libmicrohttpd starts. */
struct server {
	struct dev_relay_target workers;	/* where the workers listen */
	char name[256];			/* SERVER_NAME: the host the listener was given */
};

/*
 * One HTTP request on its way through.  Made when libmicrohttpd has read
 * the request line, freed when both the connection is done with it and
 * the streamed response (if there was one) is released.  Its FastCGI
 * side is `fc`, whose `method` is libmicrohttpd's, valid until the
 * request completes.
 */
struct relay {
	const struct server *srv;
	int refs;		/* the connection's, and the streamed response's */
	int began;		/* the request's head has been handled */
	struct dev_relay fc;
};

/* ---- Addresses -------------------------------------------------------- */

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24 == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

/* The line for a result of `addr` that is not loopback. */
static void refuse(const char *addr, const struct addrinfo *ai, char *err, size_t errlen)
{
	char numeric[INET6_ADDRSTRLEN] = "?";
	char host[256], port[6];

	getnameinfo(ai->ai_addr, ai->ai_addrlen, numeric, sizeof(numeric), NULL, 0,
		    NI_NUMERICHOST);
	if (config_value_host_port(addr, host, sizeof(host), port))
		snprintf(host, sizeof(host), "%s", addr);
	if (strcmp(host, numeric) == 0)
		snprintf(err, errlen, "the development listener binds loopback addresses "
			 "only, and %s is not loopback", addr);
	else
		snprintf(err, errlen, "the development listener binds loopback addresses "
			 "only, and %s is not loopback (it resolves to %s)", addr, numeric);
}

/*
 * Resolve `addr` into `res` (the caller frees it) and require every
 * result to be loopback.  Returns 0, or -1 with the line in `err`.
 */
static int resolve_loopback(const char *addr, struct addrinfo **res, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	const struct addrinfo *ai;
	char host[256], port[6];
	int rc;

	if (config_value_host_port(addr, host, sizeof(host), port)) {
		snprintf(err, errlen, "the development listener binds loopback addresses only, "
			 "and \"%s\" is not a host:port such as 127.0.0.1:8081", addr);
		return -1;
	}
	rc = getaddrinfo(host, port, &hints, res);
	if (rc != 0) {
		snprintf(err, errlen, "the development listener binds loopback addresses only, "
			 "and %s does not resolve: %s", addr, gai_strerror(rc));
		return -1;
	}
	for (ai = *res; ai != NULL; ai = ai->ai_next) {
		if (!is_loopback(ai->ai_addr)) {
			refuse(addr, ai, err, errlen);
			freeaddrinfo(*res);
			return -1;
		}
	}
	return 0;
}

int dev_http_check(const char *addr, char *err, size_t errlen)
{
	struct addrinfo *res;

	if (resolve_loopback(addr, &res, err, errlen) < 0)
		return -1;
	freeaddrinfo(res);
	return 0;
}

/*
 * Bind and listen on the first address `addr` resolves to (they are all
 * loopback).  SO_REUSEADDR lets a restarted sluice bind again while the
 * last one's connections linger in TIME_WAIT.  Returns the fd, or -1
 * with the line in `err`.
 */
static int bind_listener(const char *addr, char *err, size_t errlen)
{
	struct addrinfo *res;
	int fd, one = 1;

	if (resolve_loopback(addr, &res, err, errlen) < 0)
		return -1;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (res->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, DEFAULT_BACKLOG) < 0) {
		snprintf(err, errlen, "cannot bind: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* ---- The relay's life ------------------------------------------------- */

static void relay_release(struct relay *r)
{
	if (--r->refs > 0)
		return;
	dev_relay_free(&r->fc);
	free(r);
}

/* ---- The request's parameters ----------------------------------------- */

/*
 * A name CGI carries as a header, HTTP_ + the name in upper case with
 * '-' as '_'.  Only letters, digits and '-' pass, like nginx's default
 * (ignore_invalid_headers, no underscores_in_headers): "X_User" and
 * "X-User" would otherwise both arrive as HTTP_X_USER, and a client
 * could pass one off as the other.  Proxy never passes (httpoxy: an app
 * that copies parameters into its environment would take it for
 * HTTP_PROXY), and Content-Type and Content-Length go without HTTP_.
 */
static int header_passes(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-')
			return 0;
	return len > 0 && strcasecmp(name, "Proxy") != 0 &&
	       strcasecmp(name, MHD_HTTP_HEADER_CONTENT_TYPE) != 0 &&
	       strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0;
}

static enum MHD_Result param_header(void *cls, enum MHD_ValueKind kind, const char *name,
				    size_t nlen, const char *value, size_t vlen)
{
	struct dev_relay *fc = cls;

	(void)kind;
	if (!header_passes(name, nlen)) {
		if (strcasecmp(name, MHD_HTTP_HEADER_CONTENT_TYPE) != 0 &&
		    strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
			log_msg(LOG_INFO, "%s %.200s: header \"%.100s\" not passed on", fc->method,
				fc->uri, name);
		return MHD_YES;
	}
	dev_relay_param_header(fc, name, nlen, value, vlen);
	return MHD_YES;
}

static socklen_t sockaddr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* `addr_name` and `port_name` for a socket address, numeric. */
static void param_sockaddr(struct dev_relay *fc, const char *addr_name, const char *port_name,
			   const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN], port[8];

	if (getnameinfo(sa, sockaddr_len(sa), host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	dev_relay_param(fc, addr_name, host);
	dev_relay_param(fc, port_name, port);
}

/* REMOTE_ADDR and REMOTE_PORT, SERVER_ADDR and SERVER_PORT. */
static void param_peers(struct dev_relay *fc, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL)
		param_sockaddr(fc, "REMOTE_ADDR", "REMOTE_PORT", ci->client_addr);
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL && getsockname(ci->connect_fd, (struct sockaddr *)&local, &len) == 0)
		param_sockaddr(fc, "SERVER_ADDR", "SERVER_PORT", (struct sockaddr *)&local);
}

/*
 * After BEGIN_REQUEST (dev_relay_open: a responder, without keep-conn:
 * the workers close the connection after END_REQUEST), the parameters
 * nginx's fastcgi_params sends and every header, then the empty PARAMS
 * record that ends the stream.  REQUEST_URI and QUERY_STRING are the
 * bytes the client sent; DOCUMENT_URI and SCRIPT_NAME the decoded,
 * normalized path.  CONTENT_LENGTH is sent only when the client sent
 * one: a chunked body has none, and the workers read STDIN to its end.
 */
static void send_params(struct relay *r, struct MHD_Connection *c, const char *version,
			const char *path)
{
	struct dev_relay *fc = &r->fc;
	const char *query = strchr(fc->uri, '?');
	const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_CONTENT_LENGTH);

	dev_relay_param(fc, "GATEWAY_INTERFACE", "CGI/1.1");
	dev_relay_param(fc, "SERVER_SOFTWARE", "sluice-dev");
	dev_relay_param(fc, "SERVER_PROTOCOL", version);
	dev_relay_param(fc, "SERVER_NAME", r->srv->name);
	dev_relay_param(fc, "REQUEST_SCHEME", "http");
	dev_relay_param(fc, "REQUEST_METHOD", fc->method);
	dev_relay_param(fc, "REQUEST_URI", fc->uri);
	dev_relay_param(fc, "DOCUMENT_URI", path);
	dev_relay_param(fc, "SCRIPT_NAME", path);
	dev_relay_param(fc, "QUERY_STRING", query != NULL ? query + 1 : "");
	param_peers(fc, c);
	if (type != NULL)
		dev_relay_param(fc, "CONTENT_TYPE", type);
	if (length != NULL)
		dev_relay_param(fc, "CONTENT_LENGTH", length);
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, param_header, fc);
	dev_relay_end_params(fc);
}

/* ---- The request's framing (its path and Host: dev_path.c) ----------- */

struct framing {
	int lengths;		/* Content-Length headers */
	int transfer;		/* a Transfer-Encoding header */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *name,
				     size_t nlen, const char *value, size_t vlen)
{
	struct framing *f = cls;

	(void)kind;
	(void)nlen;
	(void)value;
	(void)vlen;
	f->lengths += strcasecmp(name, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0;
	f->transfer |= strcasecmp(name, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0;
	return MHD_YES;
}

/*
 * One length, one source: two Content-Length headers, or one beside a
 * Transfer-Encoding, could make the workers read a body of another
 * length than the one libmicrohttpd read (request smuggling).  Refused,
 * as nginx refuses them: -1.
 */
static int check_framing(struct MHD_Connection *c)
{
	struct framing f = { 0, 0 };

	MHD_get_connection_values_n(c, MHD_HEADER_KIND, count_framing, &f);
	return f.lengths > 1 || (f.lengths == 1 && f.transfer) ? -1 : 0;
}

/*
 * The request's head is in: refuse what the relay refuses itself, else
 * connect and send the head.  A failure sets r->fc.status; the body is
 * then read and dropped and the error answered once it is in, since
 * libmicrohttpd takes a response only before or after the body.
 */
static void relay_begin(struct relay *r, struct MHD_Connection *c, const char *version)
{
	char *path = malloc(strlen(r->fc.uri) + 1);

	if (!dev_path_loopback_host(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host")))
		dev_relay_fail(&r->fc, 421, "this listener answers loopback names only "
			       "(localhost, 127.0.0.1, [::1]), not the Host this request names");
	else if (path == NULL)
		dev_relay_fail(&r->fc, 502, "out of memory");
	else if (dev_path_decode(r->fc.uri, path) < 0 || dev_path_normalize(path) < 0)
		dev_relay_fail(&r->fc, 400, "malformed path, or one that climbs above the root");
	else if (check_framing(c) < 0)
		dev_relay_fail(&r->fc, 400, "Content-Length twice, or beside Transfer-Encoding");
	else if (dev_relay_open(&r->fc) == 0)
		send_params(r, c, version, path);
	free(path);
}

/* ---- The response ----------------------------------------------------- */

/*
 * libmicrohttpd asks for more of the body: first what came with the
 * head, then STDOUT content read straight into its buffer, until
 * END_REQUEST (dev_relay_read_body).  It never returns 0, which would
 * make libmicrohttpd's thread spin: it waits for the workers instead.  A
 * broken stream ends the response with an error (libmicrohttpd then cuts
 * the connection, so that the client cannot take a truncated body for a
 * whole one).
 */
static ssize_t read_body(void *cls, uint64_t offset, char *out, size_t max)
{
	struct relay *r = cls;
	ssize_t n;

	(void)offset;
	n = dev_relay_read_body(&r->fc, out, max);
	if (n > 0)
		return n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The streamed response holds a reference to the relay until libmicrohttpd drops it. */
static void response_freed(void *cls)
{
	relay_release(cls);
}

/* The workers' response, streamed by read_body; NULL when out of memory. */
static struct MHD_Response *response_new(struct relay *r, const struct dev_relay_head *h)
{
	struct MHD_Response *resp;
	const char *p = h->headers;
	size_t i;

	resp = MHD_create_response_from_callback(h->size, DEV_HTTP_BLOCK_SIZE, read_body, r,
						 response_freed);
	if (resp == NULL)
		return NULL;
	r->refs++;
	/* libmicrohttpd 0.9.75 chunks a HEAD response of unknown length and
	 * sends the last chunk, a body HEAD must not have; unchunked, it
	 * sends the head alone and closes the connection. */
	if (h->size == MHD_SIZE_UNKNOWN && strcmp(r->fc.method, "HEAD") == 0)
		MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
	for (i = 0; i < h->nheaders; i++) {
		const char *value = p + strlen(p) + 1;

		if (MHD_add_response_header(resp, p, value) == MHD_NO)
			log_msg(LOG_WARNING, "%s %.200s: response header \"%.100s\" refused by "
				"libmicrohttpd", r->fc.method, r->fc.uri, p);
		p = value + strlen(value) + 1;
	}
	return resp;
}

/* The relay's own short answer: 400, 502 or 504, as text. */
static enum MHD_Result answer_error(struct MHD_Connection *c, int status)
{
	const char *text = status == 400 ? "400 Bad Request\n" :
			   status == 421 ? "421 Misdirected Request: loopback names only\n" :
			   status == 504 ? "504 Gateway Timeout\n" : "502 Bad Gateway\n";
	struct MHD_Response *resp;
	enum MHD_Result rc;

	resp = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
					       MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	rc = MHD_queue_response(c, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/*
 * The whole body is in: end STDIN, read the response head and hand the
 * response to libmicrohttpd, or answer the error set on the way.
 */
static enum MHD_Result relay_answer(struct relay *r, struct MHD_Connection *c)
{
	struct MHD_Response *resp;
	struct dev_relay_head h;
	enum MHD_Result rc;

	if (r->fc.status == 0)
		dev_relay_end_stdin(&r->fc);
	if (r->fc.status == 0 && dev_relay_read_head(&r->fc, &h) == 0) {
		resp = response_new(r, &h);
		if (resp != NULL) {
			rc = MHD_queue_response(c, (unsigned int)h.status, resp);
			MHD_destroy_response(resp);
			return rc;
		}
		dev_relay_fail(&r->fc, 502, "out of memory");
	}
	return answer_error(c, r->fc.status);
}

/* ---- libmicrohttpd's callbacks ---------------------------------------- */

/*
 * Called once per request, with the request target as the client sent
 * it (libmicrohttpd decodes its own copy later): the relay starts here,
 * and libmicrohttpd passes it to every later callback of the request.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct relay *r = calloc(1, sizeof(*r));

	(void)c;
	if (r == NULL)
		return NULL;
	r->srv = cls;
	r->refs = 1;
	if (dev_relay_init(&r->fc, &r->srv->workers, uri) < 0) {
		free(r);
		return NULL;
	}
	return r;
}

/*
 * The access handler: first with the head (connect and send it), then
 * once per piece of body (send it as STDIN, or drop it after an error),
 * then once more with nothing (answer).
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_len, void **ctx)
{
	struct relay *r = *ctx;

	(void)cls;
	(void)url;
	if (r == NULL)
		return MHD_NO;
	if (!r->began) {
		r->began = 1;
		r->fc.method = method;
		relay_begin(r, c, version);
		return MHD_YES;
	}
	if (*upload_len > 0) {
		if (r->fc.status == 0)
			dev_relay_stdin(&r->fc, upload, *upload_len);
		*upload_len = 0;
		return MHD_YES;
	}
	return relay_answer(r, c);
}

/*
 * The request is over, answered or not.  Closing the FastCGI connection
 * now tells the workers when the client left early.
 */
static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
			 enum MHD_RequestTerminationCode toe)
{
	struct relay *r = *ctx;

	(void)cls;
	(void)c;
	(void)toe;
	if (r == NULL)
		return;
	*ctx = NULL;
	dev_relay_close(&r->fc);
	relay_release(r);
}

__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	log_msg(LOG_WARNING, "libmicrohttpd: %s", line);
}

/* libmicrohttpd on the bound socket `fd`; its own messages go to our log (the logger option must come first). */
static struct MHD_Daemon *server_start(struct server *srv, int fd)
{
	return MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, srv,
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
				MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)DEV_HTTP_MAX_CONNS,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)DEV_HTTP_POOL_SIZE,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)DEV_HTTP_IDLE_TIMEOUT,
				MHD_OPTION_END);
}

/* ---- The listener process --------------------------------------------- */

/*
 * The handlers inherited from the master would write to the master's
 * self-pipe, so they are reset.  The master's SIGHUP and SIGUSR1/2 mean
 * nothing here and are ignored; SIGPIPE too, as io.c writes with
 * writev.  The stop signals are blocked before libmicrohttpd starts its
 * threads (which inherit the mask), for wait_stop to take: no handler
 * runs in this process at all.
 */
static void signals_setup(sigset_t *stop)
{
	static const int reset[] = { SIGINT, SIGQUIT, SIGTERM, SIGCHLD, SIGALRM };
	static const int ignored[] = { SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE };
	struct sigaction sa = { .sa_handler = SIG_DFL };
	size_t i;

	for (i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		sigaction(reset[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		sigaction(ignored[i], &sa, NULL);
	sigemptyset(stop);
	sigaddset(stop, SIGTERM);
	sigaddset(stop, SIGINT);
	sigaddset(stop, SIGQUIT);
	sigprocmask(SIG_SETMASK, stop, NULL);
}

/*
 * Wait for a stop signal, then leave at once: a relay thread may be
 * waiting on the workers, and the kernel closes every socket anyway.
 */
__attribute__((noreturn))
static void wait_stop(const sigset_t *stop)
{
	siginfo_t si;

	while (sigwaitinfo(stop, &si) < 0)
		;
	log_msg(LOG_INFO, "stopping on signal %d", si.si_signo);
	_exit(0);
}

/*
 * The child's side of dev_http_spawn.  It asks for SIGTERM when the
 * master dies (and leaves if that already happened), starts serving on
 * the inherited socket `fd`, and tells the parent through `report`: an
 * empty line when it serves, else the reason.
 */
__attribute__((noreturn))
static void listener_main(int fd, int report, const char *http_addr, const char *fcgi_addr,
			  pid_t parent)
{
	static struct server srv;
	char err[512] = "", port[6], ident[64];
	sigset_t stop;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	signals_setup(&stop);
	snprintf(ident, sizeof(ident), "http listener (pid %d)", (int)getpid());
	log_set_ident(ident);
	if (config_value_host_port(http_addr, srv.name, sizeof(srv.name), port))
		snprintf(srv.name, sizeof(srv.name), "localhost");
	if (dev_relay_resolve(&srv.workers, fcgi_addr, err, sizeof(err)) == 0 &&
	    server_start(&srv, fd) == NULL)
		snprintf(err, sizeof(err), "libmicrohttpd did not start (its reason is in the log)");
	dprintf(report, "%s\n", err);
	close(report);
	if (err[0] != '\0')
		_exit(1);
	wait_stop(&stop);
}

/*
 * The parent's side: read the child's line until it closes the pipe.  A
 * child that did not start is reaped here.  Returns 0, or -1 with `err`.
 */
static int wait_started(int fd, pid_t pid, char *err, size_t errlen)
{
	char line[512];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(line) - 1) {
		n = read(fd, line + len, sizeof(line) - 1 - len);
		if (n == 0 || (n < 0 && errno != EINTR))
			break;
		len += n > 0 ? (size_t)n : 0;
	}
	close(fd);
	line[len] = '\0';
	if (len == 1 && line[0] == '\n')
		return 0;
	if (len <= 1)
		snprintf(err, errlen, "the listener process exited while starting");
	else
		snprintf(err, errlen, "%.*s", (int)strcspn(line, "\n"), line);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return -1;
}

pid_t dev_http_spawn(const char *http_addr, const char *fcgi_addr, char *err, size_t errlen)
{
	pid_t parent = getpid(), pid;
	int fd, report[2];

	*err = '\0';
	fd = bind_listener(http_addr, err, errlen);
	if (fd < 0)
		return -1;
	if (pipe2(report, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(fd);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		close(report[0]);
		listener_main(fd, report[1], http_addr, fcgi_addr, parent);
	}
	if (pid < 0)
		snprintf(err, errlen, "fork: %s", strerror(errno));
	close(fd);
	close(report[1]);
	if (pid < 0) {
		close(report[0]);
		return -1;
	}
	return wait_started(report[0], pid, err, errlen) < 0 ? -1 : pid;
}
