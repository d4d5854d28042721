/*
 * respond.c - whole answers a handler gives in one call: a redirect
 * (sl_redirect) and the standard error response (sl_error).
 *
 * The error body is chosen by the request's Accept header: an API
 * client that asks for JSON gets JSON it can parse, a browser gets a
 * page.  Either names the status and the request id, nothing else: what
 * went wrong belongs in the log, under the same id (CWE-209).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "header.h"
#include "respond.h"
#include "request.h"

int sl_redirect(struct sl_request *r, int status, const char *location)
{
	if (status != 301 && status != 302 && status != 303 && status != 307 &&
	    status != 308) {
		sl_log(r, SL_LOG_WARNING, "sl_redirect: %d is not a redirect status "
		       "(301, 302, 303, 307, 308)", status);
		errno = EINVAL;
		return -1;
	}
	if (!location || !*location) {
		sl_log(r, SL_LOG_WARNING, "sl_redirect: an empty location");
		errno = EINVAL;
		return -1;
	}
	if (sl_add_header(r, "Location", location) < 0)
		return -1;
	return sl_set_status(r, status);
}

/*
 * The q value of the media range `range` ("text/html;q=0.8"), 1 when it
 * has none; what is not a number counts as 0 (RFC 9110 section 12.4.2).
 */
static double quality(const char *range, size_t len)
{
	const char *q = range, *end = range + len;

	while ((q = memchr(q, ';', (size_t)(end - q))) != NULL) {
		q++;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if (end - q >= 2 && (q[0] == 'q' || q[0] == 'Q') && q[1] == '=')
			return strtod(q + 2, NULL);
	}
	return 1.0;
}

/* 1 if the media range at `range` names JSON: application/json or a +json type. */
static int names_json(const char *range, size_t len)
{
	size_t type = strcspn(range, ";,");

	if (type > len)
		type = len;
	while (type > 0 && (range[type - 1] == ' ' || range[type - 1] == '\t'))
		type--;
	return (type == 16 && strncasecmp(range, "application/json", 16) == 0) ||
	       (type > 5 && strncasecmp(range + type - 5, "+json", 5) == 0);
}

/*
 * 1 when `accept` prefers JSON to HTML: the best q of a JSON range is
 * above the best q of text/html.  Wildcards count for neither, so a
 * client that sends only a wildcard (or no Accept) gets the page.
 */
int respond_wants_json(const char *accept)
{
	double json = 0, html = 0;

	while (accept && *accept) {
		size_t len = strcspn(accept, ",");

		while (len > 0 && (*accept == ' ' || *accept == '\t'))
			accept++, len--;
		if (names_json(accept, len) && quality(accept, len) > json)
			json = quality(accept, len);
		else if (len >= 9 && strncasecmp(accept, "text/html", 9) == 0 &&
			 (len == 9 || strchr("; \t", accept[9])) && quality(accept, len) > html)
			html = quality(accept, len);
		accept += len;
		if (*accept == ',')
			accept++;
	}
	return json > html;
}

static int write_json_error(struct sl_request *r, int status)
{
	return sl_printf(r, "{\"status\":%d,\"error\":", status) ||
	       sl_write_json_string(r, http_reason(status)) ||
	       sl_puts(r, ",\"request_id\":") ||
	       sl_write_json_string(r, sl_request_id(r)) ||
	       sl_puts(r, "}\n") ? -1 : 0;
}

static int write_html_error(struct sl_request *r, int status)
{
	const char *reason = http_reason(status);

	return sl_printf(r, "<!DOCTYPE html>\n<html><head><title>%d ", status) ||
	       sl_write_html(r, reason) ||
	       sl_printf(r, "</title></head>\n<body><h1>%d ", status) ||
	       sl_write_html(r, reason) ||
	       sl_puts(r, "</h1>\n<p>request id: ") ||
	       sl_write_html(r, sl_request_id(r)) ||
	       sl_puts(r, "</p></body></html>\n") ? -1 : 0;
}

int sl_error(struct sl_request *r, int status)
{
	int json = respond_wants_json(sl_header(r, "Accept"));

	if (status < 400 || status > 599) {
		sl_log(r, SL_LOG_WARNING, "sl_error: %d is not an error status (400-599)", status);
		errno = EINVAL;
		return -1;
	}
	if (sl_set_status(r, status) < 0)
		return -1;
	request_drop_body(r);	/* the body so far is not sent: nothing left yet */
	r->head_only = 0;	/* nor counted, for HEAD */
	if (sl_add_header(r, "Content-Type", json ? "application/json"
			  : "text/html; charset=utf-8") < 0)
		return -1;
	return json ? write_json_error(r, status) : write_html_error(r, status);
}
