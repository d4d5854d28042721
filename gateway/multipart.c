/*
 * multipart.c - the multipart/form-data parser behind sl_multipart_*.
 *
 * The body is scanned for the delimiter "\r\n--BOUNDARY" in one fixed
 * buffer.  The buffer starts with a CRLF that the body did not send, so
 * that a delimiter on the body's first line is found like any other and
 * the preamble before it is skipped like part data.  Data is handed out
 * up to the first possible delimiter; the last few bytes of the buffer,
 * which may be the start of one split across reads, wait for the next
 * read.  Nothing outside the buffer is ever held.
 *
 * Line ends are CRLF only, as RFC 2046 and RFC 7578 require: a bare LF
 * in a delimiter line or a header is refused (EBADMSG), and a delimiter
 * preceded by a bare LF is not one.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "multipart.h"

static const char multipart_type[] = "multipart/form-data";

static int fail(struct multipart *m, int err)
{
	if (m->state != MP_FAILED) {
		m->state = MP_FAILED;
		m->err = err;
	}
	errno = m->err;
	return -1;
}

int multipart_refused(int err)
{
	return err == EBADMSG || err == E2BIG || err == EMSGSIZE || err == EMEDIUMTYPE;
}

static int ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 2046's bcharsnospace, and the space it allows but not at the end. */
static int bchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("'()+_,-./:=? ", c));
}

/* RFC 9110's tchar: what a header name and an unquoted parameter are made of. */
static int tchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *p, const char *end)
{
	while (p < end && ows(*p))
		p++;
	return p;
}

/*
 * One parameter of a header value at `p` (after its ';'): name and value
 * (the inside of a quoted string, taken as sent: browsers percent-encode
 * '"' and line breaks, and an old browser's "C:\dir\file" must keep its
 * backslashes).  Returns where the next ';' may be, or NULL if malformed.
 */
static const char *param(const char *p, const char *end, const char **name, size_t *nlen,
			 const char **val, size_t *vlen)
{
	const char *q;

	p = skip_ows(p, end);
	for (*name = p; p < end && tchar(*p); p++)
		;
	*nlen = (size_t)(p - *name);
	p = skip_ows(p, end);
	if (*nlen == 0 || p == end || *p != '=')
		return NULL;
	p = skip_ows(p + 1, end);
	if (p < end && *p == '"') {
		q = memchr(p + 1, '"', (size_t)(end - p - 1));
		if (!q)
			return NULL;
		*val = p + 1;
		*vlen = (size_t)(q - p - 1);
		return skip_ows(q + 1, end);
	}
	for (*val = p; p < end && tchar(*p); p++)
		;
	*vlen = (size_t)(p - *val);
	return skip_ows(p, end);
}

static int is_name(const char *s, size_t len, const char *want)
{
	return len == strlen(want) && strncasecmp(s, want, len) == 0;
}

int multipart_type_ok(const char *t)
{
	size_t n = sizeof(multipart_type) - 1;

	while (ows(*t))
		t++;
	return strncasecmp(t, multipart_type, n) == 0 && (!t[n] || t[n] == ';' || ows(t[n]));
}

/*
 * The boundary parameter of a multipart/form-data Content-Type into
 * m->delim, after "\r\n--".  0, or -1 with EMEDIUMTYPE or EBADMSG.
 */
static int boundary(struct multipart *m, const char *t)
{
	const char *end = t + strlen(t), *p = skip_ows(t, end), *name, *val;
	size_t nlen, vlen;

	if (!multipart_type_ok(p))
		return fail(m, EMEDIUMTYPE);
	for (p = skip_ows(p + sizeof(multipart_type) - 1, end); p < end && *p == ';';) {
		if (!(p = param(p + 1, end, &name, &nlen, &val, &vlen)))
			return fail(m, EBADMSG);
		if (is_name(name, nlen, "boundary") && m->dlen == 0) {
			if (vlen == 0 || vlen > MULTIPART_MAX_BOUNDARY || val[vlen - 1] == ' ')
				return fail(m, EBADMSG);
			for (size_t i = 0; i < vlen; i++)
				if (!bchar(val[i]))
					return fail(m, EBADMSG);
			memcpy(m->delim, "\r\n--", 4);
			memcpy(m->delim + 4, val, vlen);
			m->dlen = 4 + vlen;
		}
	}
	if (p != end || m->dlen == 0)
		return fail(m, EBADMSG);
	return 0;
}

int multipart_init(struct multipart *m, const char *type, struct arena *a,
		   multipart_reader read, void *arg)
{
	m->read = read;
	m->arg = arg;
	m->arena = a;
	m->state = MP_PREAMBLE;
	m->err = 0;
	m->eof = 0;
	m->parts = 0;
	m->dlen = 0;
	/* The CRLF the first delimiter lacks (see the top of this file). */
	memcpy(m->buf, "\r\n", 2);
	m->start = 0;
	m->end = 2;
	return boundary(m, type);
}

/*
 * Read once more into the buffer, after moving what is unread to its
 * front.  0 (m->eof set at the end of the body), or -1 failed.
 */
static int fill(struct multipart *m)
{
	ssize_t n;

	if (m->eof)
		return fail(m, EBADMSG);	/* the caller needed bytes that never came */
	if (m->start) {
		memmove(m->buf, m->buf + m->start, m->end - m->start);
		m->end -= m->start;
		m->start = 0;
	}
	n = m->read(m->arg, m->buf + m->end, sizeof(m->buf) - m->end);
	if (n < 0)
		return fail(m, errno);
	if (n == 0)
		m->eof = 1;
	m->end += (size_t)n;
	return 0;
}

/*
 * Is the delimiter match at `q` (of `avail` buffered bytes) a real one?
 * It is when "--" or a space, a tab or a CR follows (Go's mime/multipart
 * reads the same way): "\r\n--BOUNDARYx" inside a file is data.  1 yes,
 * 0 no, -1 when the bytes that decide have not come yet.
 */
static int delimiter_at(const struct multipart *m, size_t q, size_t avail)
{
	const unsigned char *after = m->buf + m->start + q + m->dlen;
	size_t left = avail - q - m->dlen;

	if (left == 0)
		return m->eof ? 1 : -1;
	if (after[0] == ' ' || after[0] == '\t' || after[0] == '\r')
		return 1;
	if (after[0] != '-')
		return 0;
	if (left == 1)
		return m->eof ? 1 : -1;
	return after[1] == '-';
}

/*
 * How many buffered bytes are surely data: *at_delim set when a
 * delimiter follows them.  Reads more only when none are.  0, or -1.
 */
static int scan(struct multipart *m, size_t *data, int *at_delim)
{
	for (;;) {
		const unsigned char *b = m->buf + m->start;
		size_t avail = m->end - m->start, off = 0;
		const unsigned char *q;
		int real = 0;

		while ((q = memmem(b + off, avail - off, m->delim, m->dlen))) {
			real = delimiter_at(m, (size_t)(q - b), avail);
			if (real != 0)
				break;
			off = (size_t)(q - b) + 1;
		}
		*at_delim = q && real == 1;
		if (q)
			*data = (size_t)(q - b);
		else if (m->eof)
			*data = avail;	/* no delimiter can come: all data, then EBADMSG */
		else
			*data = avail >= m->dlen ? avail - (m->dlen - 1) : 0;
		if (*data || *at_delim)
			return 0;
		if (fill(m) < 0)
			return -1;
	}
}

/* Skip the rest of the preamble or of the current part's data. */
static int skip_data(struct multipart *m)
{
	size_t data;
	int at_delim;

	while (m->state == MP_PREAMBLE || m->state == MP_DATA) {
		if (scan(m, &data, &at_delim) < 0)
			return -1;
		m->start += data;
		if (at_delim) {
			m->start += m->dlen;
			m->state = MP_DELIM;
		}
	}
	return 0;
}

ssize_t multipart_read(struct multipart *m, void *buf, size_t len)
{
	size_t data;
	int at_delim;

	if (m->state == MP_FAILED)
		return fail(m, m->err);
	if (m->state != MP_DATA || len == 0)
		return 0;
	if (scan(m, &data, &at_delim) < 0)
		return -1;
	if (data == 0) {
		m->start += m->dlen;
		m->state = MP_DELIM;
		return 0;
	}
	if (data > len)
		data = len;
	memcpy(buf, m->buf + m->start, data);
	m->start += data;
	return (ssize_t)data;
}

/*
 * The next line, without its CRLF, into *line and *len; the buffer holds
 * it until the next fill.  `room` is how long it may be: EMSGSIZE past
 * it.  EBADMSG for a bare CR or LF, a NUL, or the body ending first.
 */
static int next_line(struct multipart *m, size_t room, const char **line, size_t *len)
{
	const unsigned char *b, *lf;
	size_t avail;

	for (;;) {
		b = m->buf + m->start;
		avail = m->end - m->start;
		lf = memchr(b, '\n', avail < room + 2 ? avail : room + 2);
		if (lf)
			break;
		if (avail >= room + 2)
			return fail(m, EMSGSIZE);
		if (fill(m) < 0)
			return -1;
	}
	*len = (size_t)(lf - b);
	if (*len == 0 || b[*len - 1] != '\r')
		return fail(m, EBADMSG);
	(*len)--;
	if (memchr(b, '\r', *len) || memchr(b, '\0', *len))
		return fail(m, EBADMSG);
	*line = (const char *)b;
	m->start += *len + 2;
	return 0;
}

static int set_once(struct multipart *m, const char **dst, const char *s, size_t len)
{
	if (*dst)
		return fail(m, EBADMSG);	/* two readers could pick different ones */
	if (!(*dst = arena_strndup(m->arena, s, len)))
		return fail(m, ENOMEM);
	return 0;
}

/* `form-data; name="..."; filename="..."` (RFC 7578 section 4.2). */
static int disposition(struct multipart *m, struct multipart_part *p, const char *s,
		       const char *end)
{
	const char *t = s, *name, *val;
	size_t nlen, vlen;

	while (t < end && tchar(*t))
		t++;
	if (!is_name(s, (size_t)(t - s), "form-data"))
		return fail(m, EBADMSG);
	for (t = skip_ows(t, end); t < end && *t == ';';) {
		if ((t = skip_ows(t + 1, end)) == end)
			break;		/* a trailing ';', as some clients send */
		if (!(t = param(t, end, &name, &nlen, &val, &vlen)))
			return fail(m, EBADMSG);
		if (is_name(name, nlen, "name") && set_once(m, &p->name, val, vlen) < 0)
			return -1;
		/* filename* is left out: RFC 7578 section 4.2 says not to send it. */
		if (is_name(name, nlen, "filename") && set_once(m, &p->filename, val, vlen) < 0)
			return -1;
	}
	return t == end ? 0 : fail(m, EBADMSG);
}

/* One header line; only Content-Disposition and Content-Type matter. */
static int header(struct multipart *m, struct multipart_part *p, const char *s, size_t len)
{
	const char *end = s + len, *colon = memchr(s, ':', len), *v;
	size_t nlen;

	if (!colon || colon == s)
		return fail(m, EBADMSG);
	nlen = (size_t)(colon - s);
	for (size_t i = 0; i < nlen; i++)
		if (!tchar(s[i]))
			return fail(m, EBADMSG);
	v = skip_ows(colon + 1, end);
	while (end > v && ows(end[-1]))
		end--;
	if (is_name(s, nlen, "Content-Disposition")) {
		if (p->name)
			return fail(m, EBADMSG);	/* a second one */
		return disposition(m, p, v, end);
	}
	if (is_name(s, nlen, "Content-Type"))
		return set_once(m, &p->type, v, (size_t)(end - v));
	return 0;
}

/*
 * After a delimiter: "--" ends the body; else transport padding, CRLF,
 * and the part's header lines up to an empty one.
 */
static int part_head(struct multipart *m, struct multipart_part *p)
{
	size_t used = 0, len;
	const char *line;

	while (m->end - m->start < 2)
		if (fill(m) < 0)
			return -1;
	if (memcmp(m->buf + m->start, "--", 2) == 0) {
		m->state = MP_DONE;
		return 0;
	}
	if (++m->parts > MULTIPART_MAX_PARTS)
		return fail(m, E2BIG);
	if (next_line(m, MULTIPART_MAX_HEADER, &line, &len) < 0)
		return -1;
	if (skip_ows(line, line + len) != line + len)
		return fail(m, EBADMSG);
	memset(p, 0, sizeof(*p));
	for (;;) {
		if (next_line(m, used < MULTIPART_MAX_HEADER ? MULTIPART_MAX_HEADER - used : 0,
			      &line, &len) < 0)
			return -1;
		if (len == 0)
			break;
		used += len + 2;
		if (header(m, p, line, len) < 0)
			return -1;
	}
	if (!p->name)
		return fail(m, EBADMSG);	/* RFC 7578 section 4.2: a name is a must */
	if (!p->type)
		p->type = "text/plain";		/* RFC 7578 section 4.4 */
	m->state = MP_DATA;
	return 1;
}

int multipart_next(struct multipart *m, struct multipart_part *p)
{
	if (m->state == MP_FAILED)
		return fail(m, m->err);
	if (skip_data(m) < 0)
		return -1;
	if (m->state == MP_DONE)
		return 0;
	return part_head(m, p);
}
