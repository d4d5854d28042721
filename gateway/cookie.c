/*
 * cookie.c - cookies: reading the Cookie header (sl_cookie) and setting
 * them (sl_set_cookie, sl_clear_cookie).
 *
 * A Set-Cookie line is a header the browser parses with its own rules,
 * so everything put in it is checked against RFC 6265's grammar first:
 * a ';' in a value would start an attribute the module never meant, a
 * CR or LF would start another header.  A bad cookie is refused whole,
 * with a log line, rather than repaired.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cookie.h"
#include "header.h"
#include "lazy.h"
#include "log.h"
#include "request.h"

int cookie_load(struct sl_request *r, struct kv_list *out)
{
	const char *h = sl_header(r, "Cookie");

	return kv_parse_cookies(&r->arena, h ? h : "", h ? strlen(h) : 0, out);
}

const char *sl_cookie(struct sl_request *r, const char *name)
{
	return lazy_value(r, LAZY_COOKIES, name);
}

/* RFC 6265 section 4.1.1's cookie-octet. */
static int cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
	       (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

/* An attribute value (path, domain): any byte but control characters and ';'. */
static int av_octet(unsigned char c)
{
	return c >= 0x20 && c != 0x7F && c != ';';
}

/*
 * The offset of the first byte of `s` that `ok` refuses, or -1.  For a
 * name, header_name_ok's token rule is applied byte by byte.
 */
static long first_bad(const char *s, int (*ok)(unsigned char))
{
	for (long i = 0; s[i]; i++)
		if (!ok((unsigned char)s[i]))
			return i;
	return -1;
}

static int token_octet(unsigned char c)
{
	char one[2] = { (char)c, '\0' };

	return header_name_ok(one);
}

/* "the value holds byte 0x3b at offset 4 (...)" into `why`; -1. */
static long refuse(char *why, size_t size, const char *what, const char *s, long at,
		   const char *rule)
{
	snprintf(why, size, "its %s holds byte 0x%02x at offset %ld (%s)", what,
		 (unsigned char)s[at], at, rule);
	return -1;
}

static long check(const char *name, const char *value, const struct sl_cookie_opts *o,
		  char *why, size_t size)
{
	long at;

	if (!*name) {
		snprintf(why, size, "its name is empty");
		return -1;
	}
	if ((at = first_bad(name, token_octet)) >= 0)
		return refuse(why, size, "name", name, at, "a name is an HTTP token");
	if ((at = first_bad(value, cookie_octet)) >= 0)
		return refuse(why, size, "value", value, at, "a value is printable ASCII "
			      "without space, '\"', ',', ';' or '\\'");
	if (strlen(name) + strlen(value) > COOKIE_MAX_PAIR) {
		snprintf(why, size, "its name and value are longer than %d bytes",
			 COOKIE_MAX_PAIR);
		return -1;
	}
	if (o->path && (at = first_bad(o->path, av_octet)) >= 0)
		return refuse(why, size, "path", o->path, at, "no control character nor ';'");
	if (o->domain && (at = first_bad(o->domain, av_octet)) >= 0)
		return refuse(why, size, "domain", o->domain, at, "no control character nor ';'");
	if (o->max_age < 0 || o->expires < 0) {
		snprintf(why, size, "its max_age or expires is negative");
		return -1;
	}
	if (o->same_site == SL_SAME_SITE_NONE && !o->secure) {
		snprintf(why, size, "SameSite=None without Secure, which browsers reject");
		return -1;
	}
	if ((unsigned)o->same_site > SL_SAME_SITE_NONE) {
		snprintf(why, size, "its same_site is not one of enum sl_same_site");
		return -1;
	}
	return 0;
}

size_t cookie_http_date(char *buf, size_t size, time_t t)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	int n;

	/* By hand, not strftime: %a and %b follow the locale a module may set. */
	if (!gmtime_r(&t, &tm))
		return 0;
	n = snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
		     tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		     tm.tm_sec);
	return n < 0 ? 0 : (size_t)n;
}

static const char *const same_site_names[] = { "Lax", "Strict", "None" };

long cookie_format(char *buf, size_t size, const char *name, const char *value,
		   const struct sl_cookie_opts *o, int clear, char *why, size_t why_size)
{
	static const struct sl_cookie_opts defaults;
	char date[64] = "", age[32] = "";
	int n;

	if (!o)
		o = &defaults;
	if (clear)
		value = "";
	if (check(name, value, o, why, why_size) < 0)
		return -1;
	if (clear || o->max_age)
		snprintf(age, sizeof(age), "; Max-Age=%lld", clear ? 0 : o->max_age);
	if (clear || o->expires)
		cookie_http_date(date, sizeof(date), clear ? 0 : o->expires);
	n = snprintf(buf, size, "%s=%s; Path=%s%s%s%s%s%s%s%s; SameSite=%s", name, value,
		     o->path ? o->path : "/", o->domain ? "; Domain=" : "",
		     o->domain ? o->domain : "", age, *date ? "; Expires=" : "", date,
		     o->secure ? "; Secure" : "", o->script_visible ? "" : "; HttpOnly",
		     same_site_names[o->same_site]);
	if (n < 0 || (size_t)n >= size) {
		snprintf(why, why_size, "it does not fit in %zu bytes", size);
		return -1;
	}
	return n;
}

static int set(struct sl_request *r, const char *name, const char *value,
	       const struct sl_cookie_opts *o, int clear)
{
	char line[COOKIE_MAX_PAIR + 1024], why[160];

	if (!name || (!value && !clear)) {
		errno = EINVAL;
		return -1;
	}
	if (cookie_format(line, sizeof(line), name, value, o, clear, why, sizeof(why)) < 0) {
		log_msg(LOG_WARNING, "request %s: refused to set a cookie: %s", r->id, why);
		errno = EINVAL;
		return -1;
	}
	return sl_add_header(r, "Set-Cookie", line);
}

int sl_set_cookie(struct sl_request *r, const char *name, const char *value,
		  const struct sl_cookie_opts *o)
{
	return set(r, name, value, o, 0);
}

int sl_clear_cookie(struct sl_request *r, const char *name, const struct sl_cookie_opts *o)
{
	return set(r, name, NULL, o, 1);
}
