/*
 * response.c - the response: status, head and body as handlers set and
 * write them (the sl_* calls), laid out as pieces (status line, header
 * lines, body) and handed to the connection's codec, which frames them.
 * Small responses therefore leave in one write at the end, and large
 * ones in pieces of one record as they are written, with bounded memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>

#include "config.h"
#include "conn.h"
#include "dev/dev.h"
#include "header.h"
#include "headlines.h"
#include "log.h"
#include "proto.h"
#include "request.h"
#include "response.h"
#include "safefmt.h"

/*
 * Room kept in the head for what sluice adds to the application's
 * headers: the status line, a default Content-Type, a Content-Length and
 * the blank line.
 */
#define HEAD_RESERVE 160

static const char default_type[] = "Content-Type: text/plain; charset=utf-8\r\n";

/*
 * "X-Request-Id: ID\r\n" (request_id.header) into `buf`, which has room
 * for the longest (REQUEST_ID_HEADER_MAX, REQUEST_ID_MAX); its length.
 * Every response carries it, so it is copied, not formatted.
 */
static size_t id_header(const struct sl_request *r, char *buf)
{
	size_t n = r->id_header_len, id_len = strlen(r->id);

	memcpy(buf, r->cfg->request_id_header, n);
	memcpy(buf + n, ": ", 2);
	memcpy(buf + n + 2, r->id, id_len);
	memcpy(buf + n + 2 + id_len, "\r\n", 2);
	return n + id_len + 4;
}

/* "Content-Length: N\r\n" and the blank line into `buf` (48 bytes); its length. */
static size_t length_line(char *buf, unsigned long long len)
{
	static const char name[] = "Content-Length: ";
	size_t n;

	memcpy(buf, name, sizeof(name) - 1);
	n = sf_uint(buf, 44, sizeof(name) - 1, len, 0);	/* 20 digits at most */
	memcpy(buf + n, "\r\n\r\n", 4);
	return n + 4;
}

/*
 * A 204 or a 304 has no body, nor anything that describes one (RFC 9110
 * sections 15.3.5 and 15.4.5): whatever the handler wrote or set for it
 * is dropped before the head leaves.
 */
static int bodiless(int status)
{
	return status == 204 || status == 304;
}

static void strip_body(struct sl_request *r)
{
	r->head_len = headlines_remove(r->head, r->head_len, "Content-Type");
	r->head_len = headlines_remove(r->head, r->head_len, "Content-Length");
	r->has_content_type = r->has_content_length = 0;
	r->no_body = 1;
	request_drop_body(r);
}

/*
 * Hand everything pending to the codec: the head if it has not left yet,
 * the copied body, the body written by reference, and `extra` (a large
 * write passed through without copying).  `last` ends the response.  A
 * peer that cannot be written to marks the request so that later writes
 * fail fast with EPIPE.
 */
int response_emit(struct sl_request *r, const void *extra, size_t extra_len, int last)
{
	struct iovec iov[7 + RESPONSE_REFS];
	char status[64], length[48], idline[REQUEST_ID_HEADER_MAX + REQUEST_ID_SIZE + 4];
	size_t total = 0, pending = r->out_len + r->refs_len + extra_len;
	int n = 0;

	if (r->client_gone) {
		errno = EPIPE;
		return -1;
	}
	if (!r->head_sent) {
		const char *reason = http_reason(r->status);
		int sl = r->conn->proto->status_line(status, sizeof(status), r->status, reason);

		if (bodiless(r->status)) {
			strip_body(r);
			extra_len = 0;
		}

		iov[n++] = (struct iovec){ status, (size_t)sl };
		iov[n++] = (struct iovec){ r->head, r->head_len };
		if (r->cfg->request_id_header && !r->has_id_header)
			iov[n++] = (struct iovec){ idline, id_header(r, idline) };
		if (!r->has_content_type && !bodiless(r->status))
			iov[n++] = (struct iovec){ (char *)(uintptr_t)default_type,
						   sizeof(default_type) - 1 };
		/* A response that ends before its first byte leaves has a
		 * known length: say it, so nginx need not chunk it.  A HEAD
		 * response says the length the GET's content would have had
		 * (RFC 9110 sections 8.6 and 9.3.2). */
		if (last && !r->has_content_length && !bodiless(r->status)) {
			iov[n++] = (struct iovec){ length, length_line(length, r->no_body ? r->head_only
								: pending) };
		} else {
			iov[n++] = (struct iovec){ (char *)(uintptr_t)"\r\n", 2 };
		}
		r->head_sent = 1;
	}
	if (!r->no_body)
		r->body_bytes += pending;
	if (r->out_len)
		iov[n++] = (struct iovec){ r->out, r->out_len };
	if (r->nrefs)
		dev_refs_leaving(r);
	for (int i = 0; i < r->nrefs; i++)
		iov[n++] = r->refs[i];
	if (extra_len)
		iov[n++] = (struct iovec){ (void *)(uintptr_t)extra, extra_len };
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	request_drop_body(r);
	r->ended = last;
	if (r->conn->proto->send(r->conn, r, iov, n, total, last) < 0) {
		if (errno == ETIMEDOUT)
			log_msg(LOG_WARNING, "request %s: response taken slower than "
				"limits.min_rate with limits.max_temp_file_size (%lld bytes) "
				"queued; closing the connection", r->id,
				r->conn->cfg->limits.max_temp_file_size);
		else
			log_msg(LOG_INFO, "request %s: client gone while sending the response "
				"(%s)", r->id, strerror(errno));
		r->client_gone = 1;
		r->must_close = 1;
		errno = EPIPE;
		return -1;
	}
	return 0;
}

/* response.h: terse in production, the dev seam's page in development. */
void response_error(struct sl_request *r, int status, const char *allow,
		    const char *detail)
{
	const char *type = NULL;
	size_t len;

	r->status = status;
	r->head_len = 0;
	request_drop_body(r);
	r->has_content_type = r->has_content_length = r->has_id_header = 0;
	if (allow)
		sl_add_header(r, "Allow", allow);
	len = dev_error_page(r, status, detail, (char *)r->out, OUTBUF_SIZE, &type);
	if (len > 0)
		sl_add_header(r, "Content-Type", type);
	else
		len = (size_t)snprintf((char *)r->out, OUTBUF_SIZE, "%d %s\nrequest id: %s\n",
				       status, http_reason(status), r->id);
	r->out_len = r->no_body ? 0 : len;
	r->head_only = r->no_body ? len : 0;
}

/* ---- The public API ------------------------------------------------- */

int sl_set_status(struct sl_request *r, int status)
{
	if (status < 100 || status > 599) {
		errno = EINVAL;
		return -1;
	}
	if (r->head_sent) {
		errno = EALREADY;
		return -1;
	}
	r->status = status;
	return 0;
}

int sl_add_header(struct sl_request *r, const char *name, const char *value)
{
	size_t nlen, vlen, old = 0;

	if (!name || !value || !header_name_ok(name) ||
	    !header_value_ok(value, vlen = strlen(value))) {
		log_msg(LOG_WARNING, "request %s: refused an invalid response header "
			"(the name must be a token, the value free of CR, LF and NUL)", r->id);
		errno = EINVAL;
		return -1;
	}
	if (headlines_reserved(name)) {
		log_msg(LOG_WARNING, "request %s: refused response header %s: sluice and the "
			"web server write it themselves (set the status with sl_set_status)",
			r->id, name);
		errno = EINVAL;
		return -1;
	}
	if (r->head_sent) {
		errno = EALREADY;
		return -1;
	}
	nlen = strlen(name);
	if (headlines_single(name))
		headlines_find(r->head, r->head_len, name, &old);	/* the line replaced */
	if (r->head_len - old + nlen + vlen + 4 + HEAD_RESERVE > r->cfg->limits.max_header_bytes) {
		log_msg(LOG_WARNING, "request %s: response head exceeds limits.max_header_bytes "
			"(%zu); header %s dropped", r->id, r->cfg->limits.max_header_bytes, name);
		errno = ENOSPC;
		return -1;
	}
	if (old)
		r->head_len = headlines_remove(r->head, r->head_len, name);
	if (strcasecmp(name, "Content-Type") == 0)
		r->has_content_type = 1;
	if (strcasecmp(name, "Content-Length") == 0)
		r->has_content_length = 1;
	if (r->cfg->request_id_header && strcasecmp(name, r->cfg->request_id_header) == 0)
		r->has_id_header = 1;	/* the module's own: ours is not added */
	memcpy(r->head + r->head_len, name, nlen);
	r->head_len += nlen;
	memcpy(r->head + r->head_len, ": ", 2);
	memcpy(r->head + r->head_len + 2, value, vlen);
	r->head_len += 2 + vlen;
	memcpy(r->head + r->head_len, "\r\n", 2);
	r->head_len += 2;
	return 0;
}

/*
 * Copied bytes go after any pending by reference: those leave first, so
 * that the body keeps the order it was written in.
 */
static int after_refs(struct sl_request *r)
{
	return r->nrefs > 0 ? response_emit(r, NULL, 0, 0) : 0;
}

int sl_write(struct sl_request *r, const void *data, size_t len)
{
	if (r->client_gone) {
		errno = EPIPE;
		return -1;
	}
	if (r->no_body) {
		r->head_only += len;	/* counted for HEAD's Content-Length, not sent */
		return 0;
	}
	/* Too big to copy: it leaves now, uncopied, after all that is pending. */
	if (len > OUTBUF_SIZE - r->out_len)
		return response_emit(r, data, len, 0);
	if (after_refs(r) < 0)
		return -1;
	memcpy(r->out + r->out_len, data, len);
	r->out_len += len;
	return 0;
}

int sl_write_ref(struct sl_request *r, const void *data, size_t len)
{
	/* A small piece costs less copied than as one more vector entry. */
	if (r->nrefs == 0 && len <= RESPONSE_REF_COPY)
		return sl_write(r, data, len);
	if (r->client_gone) {
		errno = EPIPE;
		return -1;
	}
	if (r->no_body) {
		r->head_only += len;
		return 0;
	}
	if (len == 0)
		return 0;
	if (r->nrefs == RESPONSE_REFS && response_emit(r, NULL, 0, 0) < 0)
		return -1;
	r->refs[r->nrefs++] = (struct iovec){ (void *)(uintptr_t)data, len };
	r->refs_len += len;
	dev_ref_written(r, r->nrefs - 1);
	if (r->out_len + r->refs_len >= RESPONSE_REF_BATCH)
		return response_emit(r, NULL, 0, 0);
	return 0;
}

int sl_puts(struct sl_request *r, const char *s)
{
	return sl_write(r, s, strlen(s));
}

int sl_vprintf(struct sl_request *r, const char *fmt, va_list ap)
{
	size_t room = OUTBUF_SIZE - r->out_len;
	va_list copy;
	char *big;
	int n;

	if (r->client_gone) {
		errno = EPIPE;
		return -1;
	}
	if (!r->no_body && after_refs(r) < 0)
		return -1;
	/* Format straight into the output buffer when it fits: the usual case. */
	va_copy(copy, ap);
	n = vsnprintf((char *)r->out + r->out_len, room, fmt, copy);
	va_end(copy);
	if (n < 0)
		return -1;
	if ((size_t)n < room) {
		if (!r->no_body)
			r->out_len += (size_t)n;
		else
			r->head_only += (size_t)n;
		return 0;
	}
	big = arena_alloc(&r->arena, (size_t)n + 1);
	if (!big)
		return -1;
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	return sl_write(r, big, (size_t)n);
}

int sl_printf(struct sl_request *r, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = sl_vprintf(r, fmt, ap);
	va_end(ap);
	return rc;
}

int sl_flush(struct sl_request *r)
{
	if (r->no_body && r->head_sent)
		return 0;
	return response_emit(r, NULL, 0, 0);
}
