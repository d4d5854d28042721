/*
 * helpers.c - fuzz the request helpers as a module calls them: the query
 * (gateway/query.c, lazy.c), form (form.c), cookie (cookie.c), whole-body
 * and multipart (parts.c) getters, on a request that came through the
 * FastCGI codec and the worker's read path (codec.h).
 *
 * Input: byte 0 says which helpers the handler calls, in which order
 * (bits below); then QUERY_STRING, HTTP_COOKIE and CONTENT_TYPE, each
 * ended by a LF; the rest is the body.  The request is framed as nginx
 * frames a POST.  Whatever the input: every listed name is found again
 * by name, and no part or read claims more bytes than the body has.
 */
#include <stdio.h>

#include "codec.h"
#include "fcgi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	USE_QUERY = 1, USE_COOKIES = 2, USE_FORM = 4, USE_PARTS = 8, USE_BODY = 16,
	PARTS_AS_TEXT = 32,	/* sl_multipart_text, not sl_multipart_read */
	BODY_FIRST = 64,	/* the whole body before the parsers */
};

static unsigned use;
static size_t body_len;

/* Each (name, value) that `at` lists is what `get` gives for the name. */
static void check_pairs(struct sl_request *r, size_t count,
			int (*at)(struct sl_request *, size_t, const char **, const char **),
			const char *(*get)(struct sl_request *, const char *))
{
	for (size_t i = 0; i < count; i++) {
		const char *name, *value;

		if (at(r, i, &name, &value) < 0 || !name || !value || !get(r, name))
			abort();
	}
}

static void use_query(struct sl_request *r)
{
	check_pairs(r, sl_query_count(r), sl_query_at, sl_query_get);
	(void)sl_query_int(r, "n", -1);
	(void)sl_query_parse(r);
}

/* Cookies are asked for by the query's names, as an app would by its own. */
static void use_cookies(struct sl_request *r)
{
	const char *name, *value;

	(void)sl_cookie(r, "session");
	for (size_t i = 0; sl_query_at(r, i, &name, &value) == 0 && i < 8; i++)
		(void)sl_cookie(r, name);
}

static void use_form(struct sl_request *r)
{
	check_pairs(r, sl_form_count(r), sl_form_at, sl_form_get);
	(void)sl_form_int(r, "n", -1);
	(void)sl_form_parse(r);
}

static void use_parts(struct sl_request *r)
{
	struct sl_part part;
	size_t total = 0, len;
	char buf[97];
	ssize_t n;

	while (sl_multipart_next(r, &part) == SL_PART_NEXT) {
		if (!part.name || !part.content_type)
			abort();
		if (use & PARTS_AS_TEXT) {
			if (sl_multipart_text(r, 256, &len))
				total += len;
			continue;
		}
		while ((n = sl_multipart_read(r, buf, sizeof(buf))) > 0)
			total += (size_t)n;
	}
	if (total > body_len)
		abort();
}

static void use_body(struct sl_request *r)
{
	size_t len;

	if (sl_read_body(r, SL_FORM_MAX_BYTES, &len) && len > body_len)
		abort();
}

static int helpers_handler(struct sl_request *r)
{
	if (use & BODY_FIRST)
		use_body(r);
	if (use & USE_QUERY)
		use_query(r);
	if (use & USE_COOKIES)
		use_cookies(r);
	if (use & USE_FORM)
		use_form(r);
	if (use & USE_PARTS)
		use_parts(r);
	if (use & USE_BODY)
		use_body(r);
	return sl_write(r, "ok\n", 3);
}

/* ---- Framing the request as nginx does --------------------------------- */

struct out {
	uint8_t *p;
	size_t len;
};

static void put(struct out *o, const void *data, size_t n)
{
	if (n == 0)
		return;
	memcpy(o->p + o->len, data, n);
	o->len += n;
}

static void record(struct out *o, unsigned type, const void *content, size_t n)
{
	unsigned char h[FCGI_HEADER_LEN];

	fcgi_put_header(h, type, 1, n, 0);
	put(o, h, sizeof(h));
	put(o, content, n);
}

static void pair(struct out *pb, const char *name, const char *value, size_t vlen)
{
	unsigned char len[8];
	size_t n = fcgi_put_len(len, strlen(name));

	n += fcgi_put_len(len + n, vlen);
	put(pb, len, n);
	put(pb, name, strlen(name));
	put(pb, value, vlen);
}

/* The next LF-ended field of the input, or what is left of it. */
static const char *next_field(const uint8_t **data, size_t *size, size_t *len)
{
	const char *s = (const char *)*data;
	const char *nl = memchr(s, '\n', *size);

	*len = nl ? (size_t)(nl - s) : *size;
	*data += *len + (nl != NULL);
	*size -= *len + (nl != NULL);
	return s;
}

/* The chunk prefix of codec.h: one size, 256-byte chunks. */
static const uint8_t whole_chunks[2] = { 0, 255 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char begin[8] = { 0, FCGI_RESPONDER, 0 };
	const char *query, *cookie, *type;
	size_t qlen, clen, tlen;
	char slen[24];
	struct out o, pb;
	int rc;

	if (size < 1 || size > 60000)
		return 0;
	use = data[0];
	data++;
	size--;
	query = next_field(&data, &size, &qlen);
	cookie = next_field(&data, &size, &clen);
	type = next_field(&data, &size, &tlen);
	body_len = size;
	snprintf(slen, sizeof(slen), "%zu", size);
	pb.p = malloc(qlen + clen + tlen + 256);
	o.p = malloc(size + qlen + clen + tlen + 512);
	if (!pb.p || !o.p)
		abort();
	pb.len = o.len = 0;
	pair(&pb, "REQUEST_METHOD", "POST", 4);
	pair(&pb, "DOCUMENT_URI", "/fuzz", 5);
	pair(&pb, "QUERY_STRING", query, qlen);
	pair(&pb, "HTTP_COOKIE", cookie, clen);
	pair(&pb, "CONTENT_TYPE", type, tlen);
	pair(&pb, "CONTENT_LENGTH", slen, strlen(slen));
	put(&o, whole_chunks, sizeof(whole_chunks));
	record(&o, FCGI_BEGIN_REQUEST, begin, sizeof(begin));
	record(&o, FCGI_PARAMS, pb.p, pb.len);
	record(&o, FCGI_PARAMS, NULL, 0);
	if (size)
		record(&o, FCGI_STDIN, data, size);
	record(&o, FCGI_STDIN, NULL, 0);
	rc = fuzz_codec_input(&proto_fcgi, helpers_handler, o.p, o.len);
	free(pb.p);
	free(o.p);
	return rc;
}
