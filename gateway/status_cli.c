/*
 * status_cli.c - `sluice status` and the asking half of `sluice top`: one
 * FastCGI request to the running status responder, its answer's body
 * written to a stream.  See status_cli.h.
 *
 * The request is what nginx would send for `GET PATH`: BEGIN_REQUEST
 * (responder, no keep-conn), the parameters routing reads, empty PARAMS
 * and STDIN.  The answer's STDOUT records carry a CGI head and the body.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "config_value.h"
#include "fcgi.h"
#include "io.h"
#include "status.h"
#include "status_cli.h"

/* The whole exchange must end within this. */
#define CLI_TIMEOUT_MS 5000

static int connect_to(const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *r;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char host[256], port[6];
	int fd = -1;

	if (addr[0] == '/') {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", addr);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if (config_value_host_port(addr, host, sizeof(host), port) ||
	    getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	for (r = res; r && fd < 0; r = r->ai_next) {
		fd = socket(r->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, r->ai_addr, r->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

/* One name-value pair, both shorter than 128 bytes (FastCGI 1.0, 3.4). */
static size_t put_pair(unsigned char *w, const char *name, const char *value)
{
	size_t n = strlen(name), v = strlen(value);

	w[0] = (unsigned char)n;
	w[1] = (unsigned char)v;
	memcpy(w + 2, name, n);
	memcpy(w + 2 + n, value, v);
	return 2 + n + v;
}

static int send_request(int fd, const char *path, const char *query)
{
	unsigned char buf[1024], *p = buf;
	size_t plen;

	fcgi_put_header(p, FCGI_BEGIN_REQUEST, 1, 8, 0);
	memset(p + 8, 0, 8);
	p[9] = FCGI_RESPONDER;
	p += 16;
	plen = put_pair(p + 8, "REQUEST_METHOD", "GET");
	plen += put_pair(p + 8 + plen, "DOCUMENT_URI", path);
	plen += put_pair(p + 8 + plen, "REQUEST_URI", path);
	plen += put_pair(p + 8 + plen, "QUERY_STRING", query);
	fcgi_put_header(p, FCGI_PARAMS, 1, plen, 0);
	p += 8 + plen;
	fcgi_put_header(p, FCGI_PARAMS, 1, 0, 0);
	fcgi_put_header(p + 8, FCGI_STDIN, 1, 0, 0);
	p += 16;
	struct iovec iov = { buf, (size_t)(p - buf) };
	return io_writev_all(fd, &iov, 1, CLI_TIMEOUT_MS);
}

/*
 * Read records until END_REQUEST, writing STDOUT content past the CGI
 * head to `out`.  Returns the HTTP status, or -1.
 */
static int read_answer(int fd, FILE *out)
{
	unsigned char h[8], body[65536 + 256];
	long long deadline = io_now_ms() + CLI_TIMEOUT_MS;
	int status = 200, in_head = 1;
	char head[8192];
	size_t hlen = 0;

	for (;;) {
		size_t len, pad;

		if (io_read_wait(fd, h, 8, deadline) != 8)
			return -1;
		len = (size_t)h[4] << 8 | h[5];
		pad = h[6];
		for (size_t got = 0; got < len + pad;) {
			ssize_t n = io_read_wait(fd, body + got, len + pad - got, deadline);

			if (n <= 0)
				return -1;
			got += (size_t)n;
		}
		if (h[1] == FCGI_END_REQUEST)
			return status;
		if (h[1] != FCGI_STDOUT)
			continue;
		if (!in_head) {
			fwrite(body, 1, len, out);
			continue;
		}
		/* The head may span records: gather it up to the blank line. */
		for (size_t i = 0; i < len; i++) {
			if (!in_head) {
				fwrite(body + i, 1, len - i, out);
				break;
			}
			if (hlen < sizeof(head) - 1)
				head[hlen++] = (char)body[i];
			head[hlen] = '\0';
			if (hlen >= 4 && strcmp(head + hlen - 4, "\r\n\r\n") == 0) {
				in_head = 0;
				if (strncmp(head, "Status: ", 8) == 0)
					sscanf(head + 8, "%d", &status);
			}
		}
	}
}

int status_ask(const char *address, const char *target, FILE *out, char *err, size_t errlen)
{
	char path[128];
	const char *q = strchr(target, '?');
	int fd, status;

	snprintf(path, sizeof(path), "%.*s", q ? (int)(q - target) : (int)strlen(target), target);
	errno = 0;
	fd = connect_to(address);
	if (fd < 0) {
		snprintf(err, errlen, "status %s: cannot connect: %s (is sluice running?)",
			 address, strerror(errno ? errno : ECONNREFUSED));
		return -1;
	}
	errno = 0;
	if (send_request(fd, path, q ? q + 1 : "") < 0 || (status = read_answer(fd, out)) < 0) {
		snprintf(err, errlen, "status %s: no answer: %s", address,
			 strerror(errno ? errno : EPROTO));
		close(fd);
		return -1;
	}
	close(fd);
	return status;
}

int status_print(const struct sl_config *cfg, const char *target)
{
	char err[512];
	int status;

	if (!cfg->status.address) {
		fprintf(stderr, "sluice: %s has no status.listen: the status responder is off\n",
			cfg->file);
		return 1;
	}
	status = status_ask(cfg->status.address, target, stdout, err, sizeof(err));
	if (status < 0)
		fprintf(stderr, "sluice: %s\n", err);
	return status == 200 ? 0 : 1;
}
