/*
 * test_multipart.c - the multipart/form-data parser: every body is fed
 * in reads of every size from 1 byte to its whole length, so that each
 * delimiter and header line is split at every position; hostile bodies
 * (delimiter-like data, a missing final delimiter, huge headers, bare
 * LFs, too many parts) and the Content-Type's boundary parameter.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

static struct arena a;

static void setup(void)
{
	cr_assert_eq(arena_init(&a, 4096, 0), 0);
}

static void teardown(void)
{
	arena_free(&a);
}

TestSuite(multipart, .init = setup, .fini = teardown);

#define TYPE "multipart/form-data; boundary=XyZ"

/* A body in memory, handed out `chunk` bytes at a time at most. */
struct src {
	const char *s;
	size_t len, off, chunk;
	int fail_err;		/* errno to fail with at the end instead of 0 */
};

static ssize_t src_read(void *arg, void *buf, size_t len)
{
	struct src *src = arg;
	size_t n = src->len - src->off;

	if (n == 0 && src->fail_err) {
		errno = src->fail_err;
		return -1;
	}
	if (n > src->chunk)
		n = src->chunk;
	if (n > len)
		n = len;
	memcpy(buf, src->s + src->off, n);
	src->off += n;
	return (ssize_t)n;
}

/* A growing string for the summary of a parse. */
struct out {
	char *s;
	size_t len;
};

static void put(struct out *o, const void *p, size_t n)
{
	o->s = realloc(o->s, o->len + n + 1);
	cr_assert(o->s);
	memcpy(o->s + o->len, p, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/*
 * Parse `body` (of `len` bytes) with content type `type` in reads of
 * `chunk` bytes, reading data `rlen` bytes at a time, into a summary:
 * "[name|filename|type]data" per part, then "END" or "ERR <errno name>".
 */
static struct out summarize(const char *type, const char *body, size_t len, size_t chunk,
			    size_t rlen)
{
	struct src src = { body, len, 0, chunk, 0 };
	struct multipart *m = malloc(sizeof(*m));
	struct multipart_part p;
	struct out o = { NULL, 0 };
	char buf[64];
	ssize_t n;
	int rc;

	cr_assert(m);
	arena_reset(&a);
	puts_(&o, "");
	if (multipart_init(m, type, &a, src_read, &src) < 0)
		goto err;
	while ((rc = multipart_next(m, &p)) > 0) {
		puts_(&o, "[");
		puts_(&o, p.name);
		puts_(&o, "|");
		puts_(&o, p.filename ? p.filename : "(none)");
		puts_(&o, "|");
		puts_(&o, p.type);
		puts_(&o, "]");
		while ((n = multipart_read(m, buf, rlen)) > 0)
			put(&o, buf, (size_t)n);
		if (n < 0)
			goto err;
	}
	if (rc < 0)
		goto err;
	puts_(&o, "END");
	free(m);
	return o;
err:
	puts_(&o, "ERR ");
	puts_(&o, strerrorname_np(errno));
	/* A failure is kept. */
	cr_expect_eq(multipart_next(m, &p), -1);
	cr_expect_eq(multipart_read(m, buf, 1), -1);
	free(m);
	return o;
}

/* The same summary whatever the read sizes: 1..len, and data in 1, 7, 64. */
static void expect_every_split(const char *type, const char *body, size_t len,
			       const char *want)
{
	static const size_t rlens[] = { 1, 7, 64 };

	for (size_t chunk = 1; chunk <= len + 1; chunk++) {
		for (size_t i = 0; i < sizeof(rlens) / sizeof(rlens[0]); i++) {
			struct out o = summarize(type, body, len, chunk, rlens[i]);

			cr_assert_str_eq(o.s, want, "reads of %zu, data in %zu: got\n%s\nwant\n%s",
					 chunk, rlens[i], o.s, want);
			free(o.s);
		}
	}
}

#define EVERY_SPLIT(type, body, want) expect_every_split(type, body, sizeof(body) - 1, want)

Test(multipart, fields_and_a_file_at_every_split)
{
	EVERY_SPLIT(TYPE,
		    "preamble, ignored\r\n"
		    "--XyZ\r\n"
		    "Content-Disposition: form-data; name=\"title\"\r\n"
		    "\r\n"
		    "hello\r\n"
		    "--XyZ  \r\n"
		    "content-disposition: Form-Data; filename=\"a b.txt\"; NAME=up\r\n"
		    "Content-Type: application/octet-stream\r\n"
		    "X-Other: ignored\r\n"
		    "\r\n"
		    "line one\r\nline two\r\n\r\n"
		    "\r\n"
		    "--XyZ\r\n"
		    "Content-Disposition: form-data; name=\"empty\"\r\n"
		    "\r\n"
		    "\r\n"
		    "--XyZ--\r\n"
		    "epilogue --XyZ garbage",
		    "[title|(none)|text/plain]hello"
		    "[up|a b.txt|application/octet-stream]line one\r\nline two\r\n\r\n"
		    "[empty|(none)|text/plain]END");
}

Test(multipart, delimiter_like_data_is_data)
{
	EVERY_SPLIT(TYPE,
		    "--XyZ\r\n"
		    "Content-Disposition: form-data; name=f; filename=x\r\n"
		    "\r\n"
		    "a\r\n--XyZx b\r\n--XyZ-c --XyZ\r\n\n--XyZ\r\r\n--Xy\r\n-\r\n--XyZ\r\n"
		    "Content-Disposition: form-data; name=g\r\n"
		    "\r\n"
		    "--XyZ--\r\n--XyZ--",
		    "[f|x|text/plain]a\r\n--XyZx b\r\n--XyZ-c --XyZ\r\n\n--XyZ\r\r\n--Xy\r\n-"
		    "[g|(none)|text/plain]--XyZ--END");
}

Test(multipart, binary_data_with_every_byte)
{
	static const char head[] = "--XyZ\r\nContent-Disposition: form-data; name=bin\r\n\r\n";
	static const char tail[] = "\r\n--XyZ--";
	char body[sizeof(head) + 512 + sizeof(tail)], want[600];
	size_t len = 0;

	memcpy(body, head, sizeof(head) - 1);
	len = sizeof(head) - 1;
	for (int i = 0; i < 512; i++)
		body[len++] = (char)(i % 256);
	memcpy(body + len, tail, sizeof(tail) - 1);
	len += sizeof(tail) - 1;
	for (size_t chunk = 1; chunk < 40; chunk++) {
		struct out o = summarize(TYPE, body, len, chunk, 13);

		snprintf(want, sizeof(want), "[bin|(none)|text/plain]");
		cr_assert_eq(o.len, strlen(want) + 512 + 3, "reads of %zu: %zu", chunk, o.len);
		cr_assert_eq(memcmp(o.s, want, strlen(want)), 0);
		for (int i = 0; i < 512; i++)
			cr_assert_eq((unsigned char)o.s[strlen(want) + (size_t)i], i % 256);
		cr_assert_str_eq(o.s + o.len - 3, "END");
		free(o.s);
	}
}

Test(multipart, missing_final_delimiter_is_refused)
{
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nabc",
		    "[a|(none)|text/plain]abcERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--XyZ",
		    "[a|(none)|text/plain]abcERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\r\n--XyZ-",
		    "[a|(none)|text/plain]abcERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n",
		    "ERR EBADMSG");
}

Test(multipart, no_parts)
{
	EVERY_SPLIT(TYPE, "--XyZ--", "END");
	EVERY_SPLIT(TYPE, "preamble\r\n--XyZ--\r\n", "END");
	EVERY_SPLIT(TYPE, "", "ERR EBADMSG");
	EVERY_SPLIT(TYPE, "no delimiter at all", "ERR EBADMSG");
}

Test(multipart, lf_only_line_ends_are_refused)
{
	/* The delimiter's own line, then a header line, then data's. */
	EVERY_SPLIT(TYPE, "--XyZ\nContent-Disposition: form-data; name=a\n\nabc\n--XyZ--\n",
		    "ERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; name=a\n\r\nabc\r\n--XyZ--",
		    "ERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nabc\n--XyZ--",
		    "[a|(none)|text/plain]abc\n--XyZ--ERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data;\r name=a\r\n\r\nx\r\n--XyZ--",
		    "ERR EBADMSG");
}

Test(multipart, malformed_part_headers)
{
	/* No Content-Disposition, no name, another disposition, two of it. */
	EVERY_SPLIT(TYPE, "--XyZ\r\n\r\nabc\r\n--XyZ--", "ERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; filename=a\r\n\r\n\r\n--XyZ--",
		    "ERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\n\r\n--XyZ--",
		    "ERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n"
		    "Content-Disposition: form-data; name=b\r\n\r\n\r\n--XyZ--", "ERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n"
		    "\r\n--XyZ--", "ERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\n\r\n--XyZ--",
		    "ERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nno colon\r\n\r\n\r\n--XyZ--", "ERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ junk\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n"
		    "--XyZ--", "ERR EBADMSG");
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n"
		    "Content-Type: a\r\nContent-Type: b\r\n\r\n\r\n--XyZ--", "ERR EBADMSG");
}

Test(multipart, filename_forms)
{
	EVERY_SPLIT(TYPE, "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\r\n"
		    "\r\n\r\n--XyZ\r\n"
		    "Content-Disposition: form-data; name=\"g\"; filename*=UTF-8''%E2%82%AC; "
		    "filename=\"C:\\dir\\x%22y.txt\";\r\n\r\nz\r\n--XyZ--",
		    "[f||text/plain][g|C:\\dir\\x%22y.txt|text/plain]zEND");
}

/* A body with one part whose header block is `hlen` bytes of filler headers. */
static char *with_headers(size_t hlen, size_t line, size_t *len)
{
	static const char head[] = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n";
	static const char tail[] = "\r\nv\r\n--XyZ--";
	char *b = malloc(sizeof(head) + hlen + sizeof(tail) + line), *p;

	cr_assert(b);
	p = b + sprintf(b, "%s", head);
	hlen -= sizeof(head) - 1 - 7;	/* the Content-Disposition line counts */
	while (hlen >= 6) {
		size_t n = hlen < line ? hlen : line;

		p += sprintf(p, "X:");
		memset(p, 'h', n - 4);
		p += n - 4;
		p += sprintf(p, "\r\n");
		hlen -= n;
	}
	p += sprintf(p, "%s", tail);
	*len = (size_t)(p - b);
	return b;
}

static void expect_headers(size_t hlen, size_t line, const char *want)
{
	size_t len;
	char *b = with_headers(hlen, line, &len);

	for (size_t chunk = 1; chunk < 3000; chunk += 997) {
		struct out o = summarize(TYPE, b, len, chunk, 64);

		cr_assert_str_eq(o.s, want, "%zu bytes of headers in lines of %zu, reads of %zu",
				 hlen, line, chunk);
		free(o.s);
	}
	free(b);
}

Test(multipart, huge_part_headers_are_refused)
{
	expect_headers(MULTIPART_MAX_HEADER, MULTIPART_MAX_HEADER, "[a|(none)|text/plain]vEND");
	expect_headers(MULTIPART_MAX_HEADER, 100, "[a|(none)|text/plain]vEND");
	expect_headers(MULTIPART_MAX_HEADER + 6, MULTIPART_MAX_HEADER + 6, "ERR EMSGSIZE");
	expect_headers(MULTIPART_MAX_HEADER + 6, 100, "ERR EMSGSIZE");
	expect_headers(100000, 50000, "ERR EMSGSIZE");
}

static char *parts_body(int n, size_t *len)
{
	static const char part[] = "--XyZ\r\nContent-Disposition: form-data; name=p\r\n\r\nv\r\n";
	char *b = malloc((size_t)n * (sizeof(part) - 1) + 8);

	cr_assert(b);
	*len = 0;
	for (int i = 0; i < n; i++, *len += sizeof(part) - 1)
		memcpy(b + *len, part, sizeof(part) - 1);
	memcpy(b + *len, "--XyZ--", 7);
	*len += 7;
	return b;
}

Test(multipart, part_count_limit)
{
	size_t len;
	char *b = parts_body(MULTIPART_MAX_PARTS, &len);
	struct out o = summarize(TYPE, b, len, 4096, 64);

	cr_expect_str_eq(o.s + o.len - 3, "END");
	cr_expect_eq(o.len, MULTIPART_MAX_PARTS * strlen("[p|(none)|text/plain]v") + 3);
	free(o.s);
	free(b);
	b = parts_body(MULTIPART_MAX_PARTS + 1, &len);
	o = summarize(TYPE, b, len, 4096, 64);
	cr_expect_str_eq(o.s + o.len - 9, "ERR E2BIG", "%s", o.s + o.len - 20);
	free(o.s);
	free(b);
}

static const char one[] = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--b--";

static void expect_type(const char *type, const char *want)
{
	struct out o = summarize(type, one, sizeof(one) - 1, 100, 64);

	cr_expect_str_eq(o.s, want, "Content-Type: %s", type);
	free(o.s);
}

Test(multipart, content_type_and_boundary)
{
	char longest[128], too_long[128];

	expect_type("multipart/form-data; boundary=b", "[a|(none)|text/plain]vEND");
	expect_type("  Multipart/Form-Data ;charset=x;  BOUNDARY = \"b\" ",
		    "[a|(none)|text/plain]vEND");
	expect_type("multipart/form-data; boundary=b; boundary=c", "[a|(none)|text/plain]vEND");
	expect_type("multipart/form-data", "ERR EBADMSG");
	expect_type("multipart/form-data; boundary=", "ERR EBADMSG");
	expect_type("multipart/form-data; boundary=\"b \"", "ERR EBADMSG");
	expect_type("multipart/form-data; boundary=\"b\"junk", "ERR EBADMSG");
	expect_type("multipart/form-data; boundary=\"b", "ERR EBADMSG");
	expect_type("multipart/form-data; boundary=\"b\x01\"", "ERR EBADMSG");
	expect_type("multipart/mixed; boundary=b", "ERR EMEDIUMTYPE");
	expect_type("multipart/form-datax; boundary=b", "ERR EMEDIUMTYPE");
	expect_type("application/x-www-form-urlencoded", "ERR EMEDIUMTYPE");
	expect_type("", "ERR EMEDIUMTYPE");
	snprintf(longest, sizeof(longest), "multipart/form-data; boundary=\"%070d\"", 0);
	expect_type(longest, "ERR EBADMSG");	/* a valid boundary the body lacks */
	snprintf(too_long, sizeof(too_long), "multipart/form-data; boundary=\"%071d\"", 0);
	expect_type(too_long, "ERR EBADMSG");
	cr_expect(multipart_type_ok("multipart/form-data"));
	cr_expect(!multipart_type_ok("multipart/form"));
}

Test(multipart, the_longest_boundary_at_every_split)
{
	char type[128], body[512];
	int n;

	snprintf(type, sizeof(type), "multipart/form-data; boundary=\"%070d\"", 7);
	n = snprintf(body, sizeof(body), "--%070d\r\nContent-Disposition: form-data; name=a\r\n\r\n"
		     "\r\n--%069d\r\n--%070d--", 7, 7, 7);
	expect_every_split(type, body, (size_t)n, "[a|(none)|text/plain]\r\n--"
			   "000000000000000000000000000000000000000000000000000000000000000000007END");
}

Test(multipart, reader_errors_are_kept)
{
	static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nabc";
	struct src src = { body, sizeof(body) - 1, 0, 5, ETIMEDOUT };
	struct multipart *m = malloc(sizeof(*m));
	struct multipart_part p;
	char buf[16];

	cr_assert(m);
	cr_assert_eq(multipart_init(m, TYPE, &a, src_read, &src), 0);
	cr_assert_eq(multipart_next(m, &p), 1);
	/* "abc" is shorter than a delimiter: nothing is data until more comes. */
	cr_expect_eq(multipart_read(m, buf, sizeof(buf)), -1);
	cr_expect_eq(errno, ETIMEDOUT);
	cr_expect_eq(multipart_next(m, &p), -1);
	cr_expect_eq(errno, ETIMEDOUT);
	cr_expect(!multipart_refused(ETIMEDOUT));
	cr_expect(multipart_refused(EBADMSG));
	free(m);
}
