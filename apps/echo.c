/*
 * echo.c - answers with the request it received, as JSON.
 *
 *	{"method":"POST","path":"/echo","query":"a=1","request_id":"...",
 *	 "params":{...every CGI parameter...},
 *	 "headers":{"user-agent":"curl/8.0",...},
 *	 "body":"..."}
 *
 * It shows the reading half of the API: parameters by iteration, the
 * body with sl_read, and memory from sl_alloc that is released with the
 * request.
 *
 * The whole body is read before anything is written.  sluice sends the
 * response head as soon as its output buffer fills, and nginx stops
 * sending the request body once the response has begun, so a handler
 * that answered while still reading would wait for the rest of a large
 * body forever (until the read timeout).
 *
 * Strings are escaped as JSON requires: '"', '\\' and the control
 * characters below 0x20 (as \n, \t, ... or \u00XX).  Bytes from 0x80 up
 * are passed through unchanged: UTF-8 text stays readable, and a client
 * that sent invalid UTF-8 gets the same bytes back rather than a
 * \u00XX, which would stand for a different character.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sluice.h>

/* The escape for `c`, written into `esc`, or NULL when `c` needs none. */
static const char *json_escape(unsigned char c, char esc[8])
{
	switch (c) {
	case '"':  return "\\\"";
	case '\\': return "\\\\";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	case '\b': return "\\b";
	case '\f': return "\\f";
	}
	if (c >= 0x20)
		return NULL;
	snprintf(esc, 8, "\\u%04x", c);
	return esc;
}

/*
 * Write `len` bytes of `s` escaped, without the surrounding quotes, so
 * that a long string can be written in several calls.  Runs of bytes
 * that need no escape go out in one sl_write.
 */
static int json_chars(struct sl_request *req, const char *s, size_t len)
{
	size_t run = 0;
	size_t i;
	char buf[8];
	const char *esc;

	for (i = 0; i < len; i++) {
		esc = json_escape((unsigned char)s[i], buf);
		if (esc == NULL)
			continue;
		if (i > run && sl_write(req, s + run, i - run) == -1)
			return -1;
		if (sl_puts(req, esc) == -1)
			return -1;
		run = i + 1;
	}
	return len > run ? sl_write(req, s + run, len - run) : 0;
}

static int json_string(struct sl_request *req, const char *s)
{
	if (sl_puts(req, "\"") == -1 || json_chars(req, s, strlen(s)) == -1)
		return -1;
	return sl_puts(req, "\"");
}

/* `"key":"value"`, preceded by a comma unless it is the first member. */
static int json_member(struct sl_request *req, int first, const char *key,
		       const char *value)
{
	if (!first && sl_puts(req, ",") == -1)
		return -1;
	if (json_string(req, key) == -1 || sl_puts(req, ":") == -1)
		return -1;
	return json_string(req, value);
}

static int write_params(struct sl_request *req)
{
	const char *name, *value;
	size_t i;

	if (sl_puts(req, "\"params\":{") == -1)
		return -1;
	for (i = 0; i < sl_param_count(req); i++) {
		if (sl_param_at(req, i, &name, &value) == -1 ||
		    json_member(req, i == 0, name, value) == -1)
			return -1;
	}
	return sl_puts(req, "},");
}

/*
 * The HTTP header a CGI parameter carries, as its lower-case name in
 * memory from sl_alloc ("HTTP_USER_AGENT" gives "user-agent"), or NULL
 * when the parameter is not a header.  CGI passes Content-Type and
 * Content-Length without the HTTP_ prefix; nginx sends both even when
 * the request had neither, empty, so empty ones are left out, and also
 * as HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH, which are skipped so
 * that each header appears once.
 */
static char *header_name(struct sl_request *req, const char *param,
			 const char *value)
{
	const char *src;
	char *name, *p;

	if (strcmp(param, "HTTP_CONTENT_TYPE") == 0 ||
	    strcmp(param, "HTTP_CONTENT_LENGTH") == 0)
		return NULL;
	if (strncmp(param, "HTTP_", 5) == 0)
		src = param + 5;
	else if ((strcmp(param, "CONTENT_TYPE") == 0 ||
		  strcmp(param, "CONTENT_LENGTH") == 0) && value[0] != '\0')
		src = param;
	else
		return NULL;
	name = sl_alloc(req, strlen(src) + 1);
	if (name == NULL)
		return NULL;
	for (p = name; *src != '\0'; src++, p++)
		*p = *src == '_' ? '-' : (char)tolower((unsigned char)*src);
	*p = '\0';
	return name;
}

static int write_headers(struct sl_request *req)
{
	const char *param, *value;
	char *name;
	int first = 1;
	size_t i;

	if (sl_puts(req, "\"headers\":{") == -1)
		return -1;
	for (i = 0; i < sl_param_count(req); i++) {
		if (sl_param_at(req, i, &param, &value) == -1)
			return -1;
		name = header_name(req, param, value);
		if (name == NULL)
			continue;
		if (json_member(req, first, name, value) == -1)
			return -1;
		first = 0;
	}
	return sl_puts(req, "},");
}

/* A block twice as large holding the `len` bytes of `old`; NULL past the limit. */
static char *grow(struct sl_request *req, const char *old, size_t len,
		  size_t *cap)
{
	char *buf = sl_alloc(req, *cap * 2);

	if (buf != NULL)
		memcpy(buf, old, len);
	*cap *= 2;
	return buf;
}

/*
 * Read the whole body into memory from sl_alloc.  When the client
 * announced its length, one block of that size (plus one byte, so that
 * the read that finds the end has room) is enough; a chunked upload has
 * no length, and its block doubles as it fills.  sl_read returns 0 at the
 * end of the body and -1 past limits.max_body_bytes or on a stalled or
 * vanished client.
 */
static int read_body(struct sl_request *req, char **body, size_t *len)
{
	long long announced = sl_content_length(req);
	size_t cap = announced >= 0 ? (size_t)announced + 1 : 16384;
	char *buf = sl_alloc(req, cap);
	ssize_t n = 1;

	*len = 0;
	while (buf != NULL && n > 0) {
		if (*len == cap)
			buf = grow(req, buf, *len, &cap);
		else if ((n = sl_read(req, buf + *len, cap - *len)) > 0)
			*len += (size_t)n;
	}
	if (buf == NULL || n == -1) {
		sl_log(req, SL_LOG_WARNING, "echo: reading the body: %s",
		       strerror(errno));
		return -1;
	}
	*body = buf;
	return 0;
}

static int write_body(struct sl_request *req, const char *body, size_t len)
{
	if (sl_puts(req, "\"body\":\"") == -1 || json_chars(req, body, len) == -1)
		return -1;
	return sl_puts(req, "\"");
}

static int echo(struct sl_request *req)
{
	char *body;
	size_t len;

	if (read_body(req, &body, &len) == -1)
		return -1;
	if (sl_add_header(req, "Content-Type", "application/json") == -1 ||
	    sl_puts(req, "{") == -1 ||
	    json_member(req, 1, "method", sl_method(req)) == -1 ||
	    json_member(req, 0, "path", sl_path(req)) == -1 ||
	    json_member(req, 0, "query", sl_query(req)) == -1 ||
	    json_member(req, 0, "request_id", sl_request_id(req)) == -1 ||
	    sl_puts(req, ",") == -1 ||
	    write_params(req) == -1 ||
	    write_headers(req) == -1 ||
	    write_body(req, body, len) == -1)
		return -1;
	return sl_puts(req, "}\n");
}

SLUICE_MODULE = {
	.abi = SLUICE_ABI_VERSION,
	.name = "echo",
	.handler = echo,
};
