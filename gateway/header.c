/*
 * header.c - HTTP header and status facts: token and field-value
 * syntax (RFC 9110 sections 5.1, 5.5 and 5.6.2), the CGI naming of
 * request headers (RFC 3875 section 4.1.18) and reason phrases.
 *
 * Everything here is ASCII by definition, so nothing depends on the
 * locale (no ctype.h).
 */
#include <string.h>

#include "header.h"
#include "safefmt.h"

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *	   "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA  (RFC 9110 5.6.2) */
static int is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int header_name_ok(const char *name)
{
	if (!name || *name == '\0')
		return 0;
	for (; *name; name++)
		if (!is_tchar((unsigned char)*name))
			return 0;
	return 1;
}

/*
 * RFC 9110 section 5.5 forbids CR, LF and NUL in a field value; those
 * are what would let a value split the response head, so they are the
 * hard rule.  We also refuse the other C0 controls and DEL: the grammar
 * (field-vchar = VCHAR / obs-text, plus SP and HTAB inside) has no room
 * for them, no legitimate header carries them, and some proxies reject
 * or mangle a response that does.  HTAB and SP are allowed, and so is
 * obs-text (0x80-0xFF), which real applications send (UTF-8 file names
 * in Content-Disposition, for one).  An empty value is valid.
 */
int header_value_ok(const char *value, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

/* ASCII upper case, with '-' folded to '_' as CGI does for header names. */
static unsigned char cgi_fold(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return (unsigned char)(c - 'a' + 'A');
	return c == '-' ? '_' : c;
}

/* 1 if `a` and `b` are the same name under cgi_fold, whole length. */
static int cgi_name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (cgi_fold((unsigned char)*a) != cgi_fold((unsigned char)*b))
			return 0;
	return *a == *b;
}

/*
 * The web server names a request header "HTTP_" + the name in upper
 * case with '-' turned into '_'.  Content-Type and Content-Length also
 * come as CONTENT_TYPE and CONTENT_LENGTH (and nginx sends both forms).
 * The prefixes and those two names are matched exactly, since parameter
 * names are case-sensitive; the header name part is not.
 */
int header_param_is(const char *param, const char *name)
{
	if (!param || !name || *name == '\0')
		return 0;
	if (strncmp(param, "HTTP_", 5) == 0)
		return cgi_name_eq(param + 5, name);
	if (strcmp(param, "CONTENT_TYPE") == 0 ||
	    strcmp(param, "CONTENT_LENGTH") == 0)
		return cgi_name_eq(param, name);
	return 0;
}

/*
 * The IANA HTTP Status Code Registry's phrases, with the names RFC 9110
 * gives (413 Content Too Large, 422 Unprocessable Content).  418 is
 * reserved there (RFC 9110 section 15.5.19) because RFC 2324's "I'm a
 * teapot" is deployed too widely to reuse the code: applications send
 * it, so it goes out with that phrase.  306 is reserved as unused and
 * 104 is only a temporary registration, so they get "Unknown" like any
 * unregistered code.
 */
const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 102: return "Processing";
	case 103: return "Early Hints";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 203: return "Non-Authoritative Information";
	case 204: return "No Content";
	case 205: return "Reset Content";
	case 206: return "Partial Content";
	case 207: return "Multi-Status";
	case 208: return "Already Reported";
	case 226: return "IM Used";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 305: return "Use Proxy";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 418: return "I'm a teapot";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 424: return "Failed Dependency";
	case 425: return "Too Early";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 451: return "Unavailable For Legal Reasons";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 506: return "Variant Also Negotiates";
	case 507: return "Insufficient Storage";
	case 508: return "Loop Detected";
	case 510: return "Not Extended";
	case 511: return "Network Authentication Required";
	default: return "Unknown";
	}
}

/*
 * Append `n` bytes of `s` as sf_str does (cut to fit, NUL-terminated),
 * but with memcpy: every response's status line is built here.  memcpy
 * and strlen are async-signal-safe (POSIX.1-2008 TC2), as the crash
 * handlers need.
 */
static size_t put(char *buf, size_t size, size_t at, const char *s, size_t n)
{
	if (at >= size)
		return at;
	if (n > size - 1 - at)
		n = size - 1 - at;
	memcpy(buf + at, s, n);
	buf[at + n] = '\0';
	return at + n;
}

size_t header_status_line(char *buf, size_t size, const char *prefix, int status,
			  const char *reason)
{
	size_t n = put(buf, size, 0, prefix, strlen(prefix));

	if (status >= 100 && status <= 999) {
		char d[4] = { (char)('0' + status / 100), (char)('0' + status / 10 % 10),
			      (char)('0' + status % 10), ' ' };

		n = put(buf, size, n, d, sizeof(d));
	} else {
		n = sf_uint(buf, size, n, (unsigned)status, 0);
		n = put(buf, size, n, " ", 1);
	}
	n = put(buf, size, n, reason, strlen(reason));
	return put(buf, size, n, "\r\n", 2);
}

size_t header_status_line_kept(char *buf, size_t size, const char *prefix, int status,
			       const char *reason)
{
	static struct {
		const char *prefix;
		int status;
		char reason[40];
		char line[64];
		size_t len;
	} kept;

	if (prefix == kept.prefix && status == kept.status && kept.len < size &&
	    strcmp(reason, kept.reason) == 0) {
		memcpy(buf, kept.line, kept.len + 1);
		return kept.len;
	}
	kept.prefix = NULL;	/* a reason too long to keep is made each time */
	if (strlen(reason) < sizeof(kept.reason)) {
		strcpy(kept.reason, reason);
		kept.len = header_status_line(kept.line, sizeof(kept.line), prefix, status, reason);
		kept.prefix = prefix;
		kept.status = status;
	}
	return header_status_line(buf, size, prefix, status, reason);
}

size_t header_canned_head(char *buf, size_t size, const char *prefix, int status,
			  const char *reason, const char *type, size_t body_len)
{
	size_t n = header_status_line(buf, size, prefix, status, reason);

	n = sf_str(buf, size, n, "Content-Type: ");
	n = sf_str(buf, size, n, type);
	n = sf_str(buf, size, n, "\r\nContent-Length: ");
	n = sf_uint(buf, size, n, body_len, 0);
	n = sf_str(buf, size, n, "\r\n\r\n");
	return n + 1 < size ? n : 0;
}
