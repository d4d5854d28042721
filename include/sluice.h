/*
 * sluice.h - the whole API of a sluice application module.
 *
 * A module is a shared object that exports one descriptor named
 * `sluice_module` (use the SLUICE_MODULE macro).  sluice loads it with
 * dlopen(RTLD_NOW) in the master before forking, checks `abi`, and then,
 * in every worker, calls `init` once, the handlers once per request and
 * `fini` when the worker leaves.
 *
 *	#include <sluice.h>
 *
 *	static int hello(struct sl_request *req)
 *	{
 *		return sl_printf(req, "hello, %s\n", sl_capture(req, "name"));
 *	}
 *
 *	static const struct sl_route routes[] = {
 *		{ "GET", "/hello/:name", hello },
 *		{ 0 }
 *	};
 *
 *	SLUICE_MODULE = { .abi = SLUICE_ABI_VERSION, .name = "hello",
 *			  .routes = routes };
 *
 * Build it with `cc -shared -fPIC -I include -o hello.so hello.c`.
 *
 * Everything a handler touches is reached through an opaque
 * `struct sl_request`; the pointers it hands out (parameters, headers,
 * captures, sl_alloc memory) stay valid until the handler returns and
 * no longer.  Functions that can fail return 0 on success and -1 on
 * failure with errno set, unless their comment says otherwise.
 *
 * Nothing of the wire protocol (FastCGI, uwsgi) nor of any library that
 * sluice uses appears here: the same module runs behind every front end.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The module ABI.  A descriptor says which one it was built for in `abi`;
 * sluice loads modules of this version and of every older version it
 * still lists in the README ("Module ABI"), and refuses any other at
 * start-up with a line that names both numbers.
 *
 * What bumps it: a field of struct sl_module or struct sl_route that
 * changes type, place or meaning, a function whose signature or meaning
 * changes, an enum value that changes number.
 *
 * What does not: a new function (a module that calls it fails to load on
 * an older sluice, at start-up, naming the symbol); a new descriptor field,
 * which takes the place of one of the `reserved` slots at the end of
 * struct sl_module, so that the struct keeps its size and every older
 * module, whose slots are zero, reads as "field not given".  A module
 * that gives a field this sluice does not know (a non-zero reserved slot)
 * is refused, rather than served without what it asked for.
 *
 * ABI 1 was the descriptor without init context: `int init(void)`,
 * `void fini(void)` and no reserved slots.  Modules built for it still
 * load, and their init and fini are called the old way.
 */
#define SLUICE_ABI_VERSION 2u

struct sl_request;

/*
 * A handler returns 0 when it produced its response, or -1 when it
 * failed.  On failure sluice answers 500 if nothing was sent yet, and
 * logs the failure with the request id; what the handler wrote so far
 * is discarded.  A handler that sends nothing and returns 0 gives an
 * empty 200 response.
 */
typedef int (*sl_handler)(struct sl_request *req);

/*
 * One route: an HTTP method ("GET", "POST", ...; NULL matches any
 * method) and a path pattern.  Patterns are absolute paths whose
 * segments are either literal, or `:name`, which captures one non-empty
 * segment.  A pattern whose last segment is a lone star ("*") is a
 * prefix route: it matches the path before the star and anything below
 * it, and the rest of the path is the capture "*".
 *
 *	"/"		only "/"
 *	"/users/:id"	"/users/42", not "/users" or "/users/42/x"
 *	"/files/" "*"	"/files", "/files/", "/files/a/b" (capture "*": "",
 *			"", "a/b")
 *
 * When several routes match, an exact literal route wins over one with
 * captures, which wins over a prefix route; among prefix routes the
 * longest wins; otherwise the first declared wins.  A path that matches
 * a route under another method only gets 405 with an Allow header.
 */
struct sl_route {
	const char *method;
	const char *path;
	sl_handler handler;
};

/*
 * What init and fini are given: the module's settings, name and mount
 * point.  Valid during that call only.
 */
struct sl_context;

/*
 * The descriptor.  `abi` must be SLUICE_ABI_VERSION.  `init` and `fini`
 * are optional and run in each worker after fork, in config order and in
 * reverse (init returning -1 makes the worker exit with a log line, and
 * the modules already started are finalised).  Give either `routes` (an
 * array ended by an entry whose `path` is NULL) or a single `handler`
 * that gets every request under the module's mount point.  Leave
 * `reserved` alone: it is where later fields go (see SLUICE_ABI_VERSION).
 *
 *	SLUICE_MODULE = { .abi = SLUICE_ABI_VERSION, .name = "notes",
 *			  .init = notes_init, .routes = routes };
 *
 * In C++ (g++ -std=c++20) the same designated initialisers work, in the
 * order of the fields below; g++ 12 with -Wextra wants every field named
 * (`.handler = nullptr, .reserved = {}`).  The declaration below gives
 * the descriptor C linkage and default visibility, so that dlsym finds
 * it in C++ and under -fvisibility=hidden alike.
 */
struct sl_module {
	unsigned abi;
	const char *name;
	int (*init)(struct sl_context *ctx);
	void (*fini)(struct sl_context *ctx);
	const struct sl_route *routes;
	sl_handler handler;
	void *reserved[8];
};

extern const struct sl_module sluice_module __attribute__((visibility("default")));

#define SLUICE_MODULE const struct sl_module sluice_module

/* ---- In init and fini ------------------------------------------------ */

/*
 * The module's settings, from the `settings` group of its entry in
 * sluice.conf:
 *
 *	{ path = "notes.so"; mount = "/notes";
 *	  settings = { db = "/var/lib/notes.db"; page_size = 20; }; }
 *
 * Each getter returns `def` when the setting is absent.  A setting of
 * another type (page_size = "20" read with sl_setting_int) is a mistake
 * in the config: the getter logs an error that names the setting and its
 * FILE:LINE and returns `def`, and the module's init then fails as if it
 * had returned -1, so that a worker never serves with a value the
 * operator did not write.  sl_setting_double also takes an integer.
 * Strings stay valid until fini returns.  Only from init and fini.
 */
const char *sl_setting_str(struct sl_context *ctx, const char *name, const char *def);
long long sl_setting_int(struct sl_context *ctx, const char *name, long long def);
double sl_setting_double(struct sl_context *ctx, const char *name, double def);
int sl_setting_bool(struct sl_context *ctx, const char *name, int def);

/* The descriptor's name, and the mount point from the config ("/", "/notes"). */
const char *sl_context_name(const struct sl_context *ctx);
const char *sl_context_mount(const struct sl_context *ctx);

/* ---- Reading the request ------------------------------------------- */

/* The request method, e.g. "GET".  Never NULL. */
const char *sl_method(const struct sl_request *req);

/*
 * The decoded path that routing used, mount point included: for a module
 * mounted at "/api", "/api/users/42".  Never NULL.
 */
const char *sl_path(const struct sl_request *req);

/*
 * The mount point of the module that serves the request ("/" or "/api"),
 * and the path below it ("/users/42"; "" for "/api" itself).  For the
 * mount "/", sl_path_info is the whole path; for any other, sl_mount
 * followed by sl_path_info is sl_path.  Never NULL.
 */
const char *sl_mount(const struct sl_request *req);
const char *sl_path_info(const struct sl_request *req);

/*
 * A path under the module's mount, for links and Location headers: the
 * mount (nothing for "/") followed by `fmt` formatted as printf does,
 * in per-request memory.  Mounted at /notes, sl_link(req, "/notes/%lld",
 * id) is "/notes/notes/7"; mounted at /, "/notes/7".  Nothing is
 * escaped: pass a segment that may hold any byte through sl_url_encode.
 * NULL (ENOMEM) when memory is short.
 */
char *sl_link(struct sl_request *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The raw query string without '?', "" when there is none. */
const char *sl_query(const struct sl_request *req);

/*
 * Any CGI parameter the web server sent ("REMOTE_ADDR", "SERVER_NAME",
 * "HTTP_USER_AGENT", ...) or NULL.  Names are case-sensitive.
 */
const char *sl_param(const struct sl_request *req, const char *name);

/* The number of parameters, and the i-th one (0-based) for iteration. */
size_t sl_param_count(const struct sl_request *req);
int sl_param_at(const struct sl_request *req, size_t i, const char **name,
		const char **value);

/*
 * A request header by its HTTP name, case-insensitive ("User-Agent",
 * "content-type"), or NULL.  Content-Type and Content-Length are found
 * here too.
 */
const char *sl_header(const struct sl_request *req, const char *name);

/* The value a `:name` (or `*`) segment of the route captured, or NULL. */
const char *sl_capture(const struct sl_request *req, const char *name);

/* The request id that sluice's log lines and error pages carry. */
const char *sl_request_id(const struct sl_request *req);

/*
 * The body length the client announced, or -1 when it is not known in
 * advance (a chunked upload passed through unbuffered).
 */
long long sl_content_length(const struct sl_request *req);

/*
 * Read up to `len` bytes of the body into `buf`.  Returns the number of
 * bytes read, 0 at the end of the body, or -1 on failure: ETIMEDOUT when
 * the client stalls past the read timeout, EFBIG past the body size
 * limit, ECONNABORTED when the client went away.  The body is streamed:
 * sluice holds at most one record of it.
 *
 * Read the body before writing a large response: once the head of the
 * response leaves (when more than about 256 KiB has been written, or at
 * sl_flush), nginx stops sending the rest of the request body, and a
 * handler still waiting for it would stall until the read timeout.
 */
ssize_t sl_read(struct sl_request *req, void *buf, size_t len);

/* ---- Per-request memory --------------------------------------------- */

/*
 * Memory that lives until the response is finished and is then released
 * in one step.  Aligned for any type.  NULL (ENOMEM) past the per-request
 * memory limit.
 */
void *sl_alloc(struct sl_request *req, size_t size);

/* ---- Writing the response ------------------------------------------- */

/*
 * Set the status (100-599).  Fails with EINVAL for a code out of range
 * and EALREADY once the head has been sent.  The default is 200.
 */
int sl_set_status(struct sl_request *req, int status);

/*
 * Add a response header.  The name must be an HTTP token and the value
 * must not contain CR, LF, NUL or another control character but tab;
 * anything else fails with EINVAL and is never sent.  Names that sluice
 * and the web server write themselves (Status, Transfer-Encoding,
 * Connection, Keep-Alive, Upgrade) fail with EINVAL and a log line: use
 * sl_set_status for the status.
 *
 * A header that a response carries once (Content-Type, Content-Length,
 * Content-Encoding, Content-Disposition, Content-Location, Content-Range,
 * Location, ETag, Last-Modified, Expires, Retry-After, Age,
 * Access-Control-Allow-Origin, Access-Control-Max-Age, Referrer-Policy,
 * Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options)
 * replaces an earlier one of the same name, case-insensitive; any other
 * (Set-Cookie, Vary, Link, ...) is added once per call.  Content-Type
 * replaces the default "text/plain; charset=utf-8".  A 204 or 304
 * response leaves without Content-Type, Content-Length or body, whatever
 * was set or written.  Fails with EALREADY once the head has been sent,
 * and with ENOSPC past the head size limit.
 */
int sl_add_header(struct sl_request *req, const char *name, const char *value);

/*
 * Append to the body.  The head is sent with the first bytes that leave
 * sluice; the body leaves in pieces as it grows, so a response of any
 * size needs bounded memory.  Fails with EPIPE once the client is gone:
 * a handler may stop writing then.
 */
int sl_write(struct sl_request *req, const void *data, size_t len);
int sl_puts(struct sl_request *req, const char *s);
int sl_printf(struct sl_request *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int sl_vprintf(struct sl_request *req, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/*
 * Append `len` bytes to the body without copying them: sluice keeps the
 * pointer and sends the bytes with what follows, a megabyte at a time,
 * and at the latest when the handler returns.  So `data` must stay valid
 * and unchanged until the handler has returned: static or global data,
 * memory from sl_alloc, a mapping the module keeps.  A buffer on the
 * stack, or one the handler reuses for the next piece, must go through
 * sl_write.  Worth it for big bodies (a file mapped once, a table built
 * at init): a 1 MB response sent this way costs no copy in sluice.  In
 * development mode (--dev), a piece whose bytes changed before it left is
 * logged as an error with its request id.
 */
int sl_write_ref(struct sl_request *req, const void *data, size_t len);

/* Send what has been written so far now, instead of when the buffer fills. */
int sl_flush(struct sl_request *req);

/* ---- Logging -------------------------------------------------------- */

enum sl_log_level { SL_LOG_ERROR, SL_LOG_WARNING, SL_LOG_NOTICE,
		    SL_LOG_INFO, SL_LOG_DEBUG };

/*
 * A line in sluice's error log, tagged with the worker and the request
 * id.  With a NULL request it may be called from anywhere in the worker:
 * in a handler the line carries the request being served, in init and
 * fini the module's name ("module notes: ..."), elsewhere "module ?".
 */
void sl_log(const struct sl_request *req, enum sl_log_level level,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- Request helpers: query and form fields ------------------------- */

/*
 * The fields of the query string and of an
 * application/x-www-form-urlencoded body, decoded as browsers encode
 * them: pairs split at '&', name and value at the first '=', '+' is a
 * space, %XX is a byte, and a '%' without two hex digits after it is
 * kept as it is.  Empty pieces ("a&&b") are skipped; a pair without
 * '=', with an empty name, or holding a NUL byte once decoded (%00) is
 * left out, with an info line in the log.  A name may repeat: the
 * getters give the first, sl_*_at gives each in order.
 *
 * Nothing is parsed until a handler first asks; then the list is parsed
 * once, into per-request memory, and every string handed out stays
 * valid until the handler returns.  Names are case-sensitive.
 *
 * A list that cannot be parsed behaves as empty for the getters (NULL,
 * the default, a count of 0) and the reason is logged once under the
 * request id; sl_query_parse and sl_form_parse tell it to the handler.
 */

/* Most fields a query string or a form may have; past it, none are read. */
#define SL_MAX_FIELDS 1000

/* The largest form body sl_form_* reads (1 MiB). */
#define SL_FORM_MAX_BYTES 1048576

/*
 * The first value of query field `name`, decoded, or NULL when it is
 * absent ("?a" has no field; "?a=" has "a" with value "").
 */
const char *sl_query_get(struct sl_request *req, const char *name);

/*
 * Query field `name` as a whole decimal number (an optional sign and
 * digits, within long long), or `def` when it is absent, empty or
 * anything else ("12abc", " 12", "0x10", an overflow).
 */
long long sl_query_int(struct sl_request *req, const char *name, long long def);

/* The number of query fields, and the i-th (0-based): -1 with ERANGE past the end. */
size_t sl_query_count(struct sl_request *req);
int sl_query_at(struct sl_request *req, size_t i, const char **name, const char **value);

/*
 * Parse the query string now: 0, or -1 with errno E2BIG (more than
 * SL_MAX_FIELDS fields) or ENOMEM (per-request memory exhausted).
 */
int sl_query_parse(struct sl_request *req);

/*
 * The same for a form body.  The first call reads the whole body (as
 * sl_read_body with SL_FORM_MAX_BYTES), so read it with these or with
 * sl_read, not both.  A request without a body has an empty form.  A
 * multipart/form-data body gives its text fields (see "multipart/form-data
 * uploads" below).  sl_form_parse fails with EMEDIUMTYPE when the body's
 * Content-Type is neither application/x-www-form-urlencoded (parameters
 * such as "; charset=utf-8" are fine) nor multipart/form-data, EFBIG past
 * SL_FORM_MAX_BYTES, E2BIG past SL_MAX_FIELDS, EBADMSG for a multipart
 * body that is not well-formed, or an error of sl_read (ETIMEDOUT,
 * ECONNABORTED, ...).
 */
const char *sl_form_get(struct sl_request *req, const char *name);
long long sl_form_int(struct sl_request *req, const char *name, long long def);
size_t sl_form_count(struct sl_request *req);
int sl_form_at(struct sl_request *req, size_t i, const char **name, const char **value);
int sl_form_parse(struct sl_request *req);

/* ---- Request helpers: the whole body -------------------------------- */

/*
 * Read the rest of the body into per-request memory, NUL-terminated
 * (the body itself may hold NUL bytes: use *len).  Returns the body, or
 * NULL with errno: EFBIG when it is longer than `limit` (at once, without
 * reading, when the client announced such a length; answer it with
 * sl_error(req, 413)), or sl_read's errors.  Whatever is left unread is
 * discarded by sluice after the handler.  The first outcome is kept:
 * calling it again gives the same body or the same error.  Bytes already
 * taken with sl_read are not in it.
 */
const char *sl_read_body(struct sl_request *req, size_t limit, size_t *len);

/* ---- Request helpers: cookies --------------------------------------- */

/*
 * The value of cookie `name` from the Cookie header, or NULL.  Values
 * are given as the browser sent them (one pair of double quotes
 * removed, nothing decoded); when a name repeats, the first wins (the
 * browser sends the most specific path first).
 */
const char *sl_cookie(struct sl_request *req, const char *name);

enum sl_same_site {
	SL_SAME_SITE_LAX = 0,	/* the default: sent on top-level navigations */
	SL_SAME_SITE_STRICT,	/* never sent from another site */
	SL_SAME_SITE_NONE,	/* sent everywhere; browsers require Secure with it */
};

/*
 * Attributes of a cookie being set.  A zeroed struct (or NULL) gives the
 * safe defaults: Path=/, host-only (no Domain), a session cookie (no
 * Max-Age nor Expires), HttpOnly, SameSite=Lax, and not Secure.
 *
 * Secure is opt-in because sluice cannot know whether the client reached
 * the web server over HTTPS; set it whenever the site is served over
 * HTTPS, which a browser requires for SameSite=None.
 */
struct sl_cookie_opts {
	const char *path;		/* NULL: "/" */
	const char *domain;		/* NULL: the host that set it, only */
	long long max_age;		/* seconds, > 0; 0: not sent */
	time_t expires;			/* Unix time, > 0; 0: not sent */
	int secure;			/* 1: Secure */
	int script_visible;		/* 1: leave out HttpOnly (JavaScript may read it) */
	enum sl_same_site same_site;
};

/*
 * Add a Set-Cookie header (one per call; many cookies may be set).  The
 * name must be an HTTP token (no separator such as ';', ',', '=' or a
 * space, no control character), the value cookie-octets (printable
 * ASCII but space, '"', ',', ';' and '\\'; encode anything else, e.g.
 * with sl_url_encode), path and domain free of control characters and
 * ';', name and value together at most 4096 bytes, and max_age and
 * expires not negative.  Anything else fails with EINVAL and a log line
 * naming what is wrong and where, and nothing is sent.  Otherwise fails
 * as sl_add_header does.
 */
int sl_set_cookie(struct sl_request *req, const char *name, const char *value,
		  const struct sl_cookie_opts *opts);

/*
 * Tell the browser to drop cookie `name`: an empty value with Max-Age=0
 * and an Expires in the past.  `opts` must give the same path and domain
 * as when it was set (NULL for the defaults).  Errors as sl_set_cookie.
 */
int sl_clear_cookie(struct sl_request *req, const char *name,
		    const struct sl_cookie_opts *opts);

/* ---- Request helpers: redirects and error responses ----------------- */

/*
 * Answer with a redirect to `location` (a path like "/notes" or an
 * absolute URL, sent as given: encode what needs it).  `status` must be
 * 301, 302, 303, 307 or 308 (303 after a POST: the browser follows with
 * a GET).  Fails with EINVAL for another status or a location that is
 * empty or holds a control character, EALREADY once the head was sent.
 */
int sl_redirect(struct sl_request *req, int status, const char *location);

/*
 * Answer with the standard error response for `status` (400-599): the
 * status, and a small body that names it and carries the request id,
 * JSON ({"status":404,"error":"Not Found","request_id":"..."}) when the
 * Accept header prefers application/json (or a +json type) to
 * text/html, else HTML.  What the handler had written to the body and
 * not yet sent is discarded; its headers stay (Content-Type is
 * replaced).  Returns 0, so that a handler may `return sl_error(req,
 * 404);`, or -1 with EINVAL for a status out of range, EALREADY once
 * the head was sent, EPIPE when the client is gone.
 */
int sl_error(struct sl_request *req, int status);

/* ---- Request helpers: encoding and escaping ------------------------- */

/*
 * Every function of this part fails with EINVAL when `s` is NULL, so
 * that another helper's NULL (memory was short) is passed on as an
 * error, not a crash: sl_write_html(req, sl_link(req, "/x")) is safe.
 */

/* For sl_url_decode and sl_url_encode: '+' stands for a space (forms). */
#define SL_URL_PLUS 1u

/*
 * Percent-decode `s` into per-request memory.  Returns the decoded
 * string, or NULL with errno: EILSEQ for a '%' not followed by two hex
 * digits or for a %00 (it would end the C string early), ENOMEM.
 */
char *sl_url_decode(struct sl_request *req, const char *s, unsigned flags);

/*
 * Percent-encode `s` into per-request memory: every byte but the
 * unreserved A-Z a-z 0-9 - . _ ~ becomes %XX (so '/' too: encode a path
 * segment by segment); with SL_URL_PLUS a space becomes '+'.  NULL
 * (ENOMEM) when memory is short.
 */
char *sl_url_encode(struct sl_request *req, const char *s, unsigned flags);

/*
 * Escape `s` for the inside of a JSON string (without the quotes):
 * '"', '\\' and control characters escaped, '<', '>', '&', U+2028 and
 * U+2029 as \uXXXX (safe inside an HTML <script> too), and bytes that
 * are not well-formed UTF-8 replaced by U+FFFD, so the result is always
 * valid JSON.  Into per-request memory; NULL (ENOMEM) when it is short.
 */
char *sl_json_escape(struct sl_request *req, const char *s);

/*
 * Escape `s` for HTML text or a quoted attribute value: & < > " ' as
 * entities.  Into per-request memory; NULL (ENOMEM) when it is short.
 */
char *sl_html_escape(struct sl_request *req, const char *s);

/*
 * Write `s` to the body as a JSON string, quotes included, or escaped
 * for HTML; streamed, so any length takes no per-request memory.
 * Errors as sl_write.
 */
int sl_write_json_string(struct sl_request *req, const char *s);
int sl_write_html(struct sl_request *req, const char *s);

/* ---- Request helpers: multipart/form-data uploads ------------------ */

/*
 * A multipart/form-data body (RFC 7578: what a browser sends for a form
 * with a file input) read part by part, each part's data streamed: a
 * file of any size passes through a fixed buffer of 16 KiB and is never
 * held whole, so a handler may hash it, store it or refuse it as it
 * comes.  The boundary comes from the request's Content-Type, quoted or
 * not.
 *
 *	struct sl_part part;
 *	enum sl_part_status rc;
 *	char buf[8192];
 *	ssize_t n;
 *
 *	while ((rc = sl_multipart_next(req, &part)) == SL_PART_NEXT)
 *		while ((n = sl_multipart_read(req, buf, sizeof(buf))) > 0)
 *			consume(part.name, buf, n);
 *	if (rc == SL_PART_BAD)
 *		return sl_error(req, 400);
 *	return rc == SL_PART_END ? 0 : -1;
 *
 * (A failed sl_multipart_read fails the next sl_multipart_next the same
 * way, so the loop above needs no other check.)
 *
 * The body must be well-formed: lines end with CRLF (a bare LF is
 * refused), each part has a Content-Disposition of form-data with a
 * name, and the body ends with the close delimiter.  Text that looks
 * like a delimiter but is not followed by "--", a space, a tab or a CR
 * is data.  The preamble and the epilogue are ignored.
 *
 * sl_form_* read such a body too, when only its fields matter: each
 * part without a filename becomes a field (within SL_FORM_MAX_BYTES of
 * values in all), file parts are skipped unread.  Read the body with
 * sl_multipart_*, with sl_form_* or with sl_read, not two of them.
 */

/* Most parts a body may have, and most bytes one part's headers may have. */
#define SL_MULTIPART_MAX_PARTS 1000
#define SL_MULTIPART_MAX_HEADER_BYTES 8192

/*
 * A part, as its headers describe it.  The strings stay valid until the
 * handler returns.  `name` and `filename` are given as sent, without the
 * quotes and undecoded (browsers send '"' as %22); `filename` is NULL for
 * a field that is not a file ("" for a file input left empty);
 * `content_type` is "text/plain" when the part has none.  filename* is
 * ignored.
 */
struct sl_part {
	const char *name;
	const char *filename;
	const char *content_type;
};

enum sl_part_status {
	SL_PART_BAD = -2,	/* the body was refused: errno as below */
	SL_PART_ERROR = -1,	/* it could not be read: errno as sl_read's */
	SL_PART_END = 0,	/* no more parts */
	SL_PART_NEXT = 1,	/* *part is the next part */
};

/*
 * Move to the next part, skipping whatever of the current part was not
 * read.  SL_PART_BAD comes with errno EMEDIUMTYPE (the Content-Type is
 * not multipart/form-data), EBADMSG (no usable boundary, or a body that
 * is not well-formed, the final delimiter missing included), E2BIG (more
 * than SL_MULTIPART_MAX_PARTS parts) or EMSGSIZE (a part's headers
 * longer than SL_MULTIPART_MAX_HEADER_BYTES); answer it with
 * sl_error(req, 400).  SL_PART_ERROR comes with sl_read's errors or
 * ENOMEM.  An outcome of BAD or ERROR is kept, logged once at info, and
 * every later call gives it again.
 */
enum sl_part_status sl_multipart_next(struct sl_request *req, struct sl_part *part);

/*
 * Up to `len` bytes of the current part's data.  Returns the count, 0
 * at the end of the part (or when there is no current part), or -1 with
 * the errno of sl_multipart_next's failures (EBADMSG: the body ended
 * before the part did).
 */
ssize_t sl_multipart_read(struct sl_request *req, void *buf, size_t len);

/*
 * The rest of the current part's data in per-request memory,
 * NUL-terminated (use *len for data that holds NUL bytes): for the small
 * text fields of a form.  NULL with errno EFBIG when it is longer than
 * `limit` (what was read of it is then gone), or sl_multipart_read's.
 */
const char *sl_multipart_text(struct sl_request *req, size_t limit, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_H */
