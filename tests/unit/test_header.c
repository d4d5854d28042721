/*
 * test_header.c - header name and value validation, the CGI naming of
 * request headers, and reason phrases.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "header.h"

static const char TCHAR_PUNCT[] = "!#$%&'*+-.^_`|~";

static int is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* ---- Names --------------------------------------------------------------- */

Test(header, name_accepts_exactly_the_token_bytes)
{
	int c;

	for (c = 1; c < 256; c++) {
		char name[2] = { (char)c, '\0' };
		int want = is_alnum(c) || strchr(TCHAR_PUNCT, c) != NULL;

		cr_expect_eq(header_name_ok(name), want,
			     "byte 0x%02x: expected %s", c,
			     want ? "accepted" : "refused");
	}
}

Test(header, name_refuses_every_separator_anywhere)
{
	static const char separators[] = "\"(),/:;<=>?@[\\]{} \t";
	char name[8];
	size_t i;

	for (i = 0; i < sizeof separators - 1; i++) {
		snprintf(name, sizeof name, "X%cY", separators[i]);
		cr_expect_eq(header_name_ok(name), 0, "\"%s\" accepted", name);
		snprintf(name, sizeof name, "%cXY", separators[i]);
		cr_expect_eq(header_name_ok(name), 0, "\"%s\" accepted", name);
		snprintf(name, sizeof name, "XY%c", separators[i]);
		cr_expect_eq(header_name_ok(name), 0, "\"%s\" accepted", name);
	}
}

Test(header, name_edge_cases)
{
	cr_expect_eq(header_name_ok(""), 0, "empty name accepted");
	cr_expect_eq(header_name_ok(NULL), 0, "NULL name accepted");
	cr_expect_eq(header_name_ok("Content-Type"), 1);
	cr_expect_eq(header_name_ok("X-Request-Id"), 1);
	cr_expect_eq(header_name_ok("x_y.z~1"), 1);
	cr_expect_eq(header_name_ok("!#$%&'*+-.^_`|~09AZaz"), 1);
	cr_expect_eq(header_name_ok("Content-Type:"), 0);
	cr_expect_eq(header_name_ok("Set-Cookie\r\nX-Evil"), 0);
	cr_expect_eq(header_name_ok("Caf\xc3\xa9"), 0, "non-ASCII name accepted");
	cr_expect_eq(header_name_ok("A\x7f"), 0, "DEL accepted");
}

/* ---- Values -------------------------------------------------------------- */

Test(header, value_refuses_controls_but_htab)
{
	int c;

	for (c = 0; c < 256; c++) {
		char value[3] = { 'a', (char)c, 'b' };
		int want = c == '\t' || (c >= 0x20 && c != 0x7f);

		cr_expect_eq(header_value_ok(value, 3), want,
			     "byte 0x%02x: expected %s", c,
			     want ? "accepted" : "refused");
		cr_expect_eq(header_value_ok(value + 1, 1), want,
			     "lone byte 0x%02x: expected %s", c,
			     want ? "accepted" : "refused");
	}
}

Test(header, value_edge_cases)
{
	const char split[] = "ok\r\nSet-Cookie: x=1";
	const char nul[] = { 'a', '\0', 'b' };
	const char *utf8 = "attachment; filename=\"caf\xc3\xa9.txt\"";

	cr_expect_eq(header_value_ok("", 0), 1, "empty value refused");
	cr_expect_eq(header_value_ok("text/plain; charset=utf-8", 25), 1);
	cr_expect_eq(header_value_ok(" padded\t", 8), 1);
	cr_expect_eq(header_value_ok(utf8, strlen(utf8)), 1,
		     "UTF-8 (obs-text) refused");
	cr_expect_eq(header_value_ok("\x80\xff", 2), 1, "obs-text refused");
	cr_expect_eq(header_value_ok(split, sizeof split - 1), 0);
	cr_expect_eq(header_value_ok(split, 2), 1, "bytes past len were read");
	cr_expect_eq(header_value_ok(nul, 3), 0, "embedded NUL accepted");
	cr_expect_eq(header_value_ok("a\n", 2), 0);
	cr_expect_eq(header_value_ok("a\r", 2), 0);
}

/* ---- CGI parameter names ------------------------------------------------- */

Test(header, param_carries_header)
{
	static const struct {
		const char *param, *name;
		int want;
	} cases[] = {
		{ "HTTP_USER_AGENT", "User-Agent", 1 },
		{ "HTTP_USER_AGENT", "user-agent", 1 },
		{ "HTTP_USER_AGENT", "USER_AGENT", 1 },
		{ "HTTP_USER_AGENT", "uSeR-aGeNt", 1 },
		{ "HTTP_HOST", "Host", 1 },
		{ "HTTP_X_FORWARDED_FOR", "X-Forwarded-For", 1 },
		{ "HTTP_USER_AGENTX", "User-Agent", 0 },
		{ "HTTP_USER_AGENT", "User-Agen", 0 },
		{ "HTTP_USER_AGENT", "User-AgentX", 0 },
		{ "HTTP_USER_AGENT", "User Agent", 0 },
		{ "HTTP_USER_AGENT", "UserAgent", 0 },
		{ "HTTP_", "", 0 },
		{ "HTTP_", "X", 0 },
		{ "USER_AGENT", "User-Agent", 0 },
		{ "http_user_agent", "User-Agent", 0 },
		{ "HTTPUSER_AGENT", "User-Agent", 0 },
		{ "HTTP_HOST", "HTTP_HOST", 0 },
		{ "CONTENT_TYPE", "Content-Type", 1 },
		{ "CONTENT_TYPE", "content-type", 1 },
		{ "CONTENT_LENGTH", "Content-Length", 1 },
		{ "HTTP_CONTENT_TYPE", "Content-Type", 1 },
		{ "HTTP_CONTENT_LENGTH", "Content-Length", 1 },
		{ "CONTENT_TYPE", "Content-Length", 0 },
		{ "CONTENT_LENGTH", "Content-Type", 0 },
		{ "CONTENT_TYPEX", "Content-Type", 0 },
		{ "content_type", "Content-Type", 0 },
		{ "CONTENT_ENCODING", "Content-Encoding", 0 },
		{ "REMOTE_ADDR", "Remote-Addr", 0 },
		{ "QUERY_STRING", "Query-String", 0 },
		{ "", "", 0 },
		{ "HTTP_ACCEPT", "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_expect_eq(header_param_is(cases[i].param, cases[i].name),
			     cases[i].want, "header_param_is(\"%s\", \"%s\") != %d",
			     cases[i].param, cases[i].name, cases[i].want);
}

/* ---- Reason phrases ------------------------------------------------------ */

Test(header, reason_phrases)
{
	static const struct {
		int status;
		const char *reason;
	} cases[] = {
		{ 100, "Continue" }, { 101, "Switching Protocols" },
		{ 102, "Processing" }, { 103, "Early Hints" },
		{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
		{ 203, "Non-Authoritative Information" }, { 204, "No Content" },
		{ 205, "Reset Content" }, { 206, "Partial Content" },
		{ 207, "Multi-Status" }, { 208, "Already Reported" },
		{ 226, "IM Used" },
		{ 300, "Multiple Choices" }, { 301, "Moved Permanently" },
		{ 302, "Found" }, { 303, "See Other" }, { 304, "Not Modified" },
		{ 305, "Use Proxy" }, { 307, "Temporary Redirect" },
		{ 308, "Permanent Redirect" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" },
		{ 402, "Payment Required" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 406, "Not Acceptable" }, { 407, "Proxy Authentication Required" },
		{ 408, "Request Timeout" }, { 409, "Conflict" }, { 410, "Gone" },
		{ 411, "Length Required" }, { 412, "Precondition Failed" },
		{ 413, "Content Too Large" }, { 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" }, { 416, "Range Not Satisfiable" },
		{ 417, "Expectation Failed" }, { 418, "I'm a teapot" },
		{ 421, "Misdirected Request" },
		{ 422, "Unprocessable Content" }, { 423, "Locked" },
		{ 424, "Failed Dependency" }, { 425, "Too Early" },
		{ 426, "Upgrade Required" }, { 428, "Precondition Required" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 451, "Unavailable For Legal Reasons" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" }, { 505, "HTTP Version Not Supported" },
		{ 506, "Variant Also Negotiates" }, { 507, "Insufficient Storage" },
		{ 508, "Loop Detected" }, { 510, "Not Extended" },
		{ 511, "Network Authentication Required" },
		/* Unassigned, reserved or out of range. */
		{ 0, "Unknown" }, { -1, "Unknown" }, { 99, "Unknown" },
		{ 104, "Unknown" }, { 199, "Unknown" }, { 209, "Unknown" },
		{ 299, "Unknown" }, { 306, "Unknown" },
		{ 420, "Unknown" }, { 430, "Unknown" }, { 499, "Unknown" },
		{ 509, "Unknown" }, { 512, "Unknown" }, { 599, "Unknown" },
		{ 600, "Unknown" }, { 1200, "Unknown" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_expect_str_eq(http_reason(cases[i].status), cases[i].reason,
				 "http_reason(%d)", cases[i].status);
}

Test(header, every_reason_phrase_is_a_valid_field_text)
{
	int s;

	/* What we put on a status line must be as clean as a header value. */
	for (s = 100; s <= 599; s++) {
		const char *r = http_reason(s);

		cr_expect(r && *r && header_value_ok(r, strlen(r)),
			  "http_reason(%d) is not sendable", s);
	}
}

/* ---- Status lines ---------------------------------------------------- */

Test(header, status_line_bytes)
{
	char buf[64];
	size_t n = header_status_line(buf, sizeof(buf), "Status: ", 200, "OK");

	cr_assert_eq(n, 16);
	cr_expect_str_eq(buf, "Status: 200 OK\r\n");
	n = header_status_line(buf, sizeof(buf), "HTTP/1.1 ", 431,
			       http_reason(431));
	cr_expect_str_eq(buf, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
	cr_expect_eq(n, strlen(buf));
}

/* A line cut to fit stays NUL-terminated, never past `size`. */
Test(header, status_line_cut_to_fit)
{
	char buf[16];

	for (size_t size = 0; size <= 12; size++) {
		size_t n;

		memset(buf, 'x', sizeof(buf));
		n = header_status_line(buf, size, "Status: ", 404, "Not Found");
		cr_expect_eq(n, size ? size - 1 : 0, "size %zu: length %zu", size, n);
		if (size)
			cr_expect_eq(memcmp(buf, "Status: 404 Not Found\r\n", n), 0,
				     "size %zu", size);
		if (size)
			cr_expect_eq(buf[n], '\0', "size %zu: not terminated", size);
		cr_expect_eq(buf[size], 'x', "size %zu: written past the end", size);
	}
}

/* Three digits or not, the number is written in full. */
Test(header, status_line_numbers)
{
	static const int statuses[] = { 0, 7, 99, 100, 200, 599, 999, 1000, 65535 };
	char buf[64], want[64];

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		snprintf(want, sizeof(want), "Status: %d X\r\n", statuses[i]);
		header_status_line(buf, sizeof(buf), "Status: ", statuses[i], "X");
		cr_expect_str_eq(buf, want);
	}
}

/* The kept line is the line header_status_line makes, whatever came before. */
Test(header, kept_status_line_matches_a_fresh_one)
{
	static const struct { const char *prefix; int status; const char *reason; } seq[] = {
		{ "Status: ", 200, "OK" }, { "Status: ", 200, "OK" }, { "Status: ", 404, "Not Found" },
		{ "Status: ", 200, "Fine" }, { "Status: ", 200, "OK" }, { "HTTP/1.1 ", 200, "OK" },
		{ "Status: ", 200, "a reason far too long to be kept by the status line cache" },
		{ "Status: ", 200, "a reason far too long to be kept by the status line cache" },
		{ "Status: ", 200, "OK" },
	};

	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		char want[128], got[128];
		size_t wn = header_status_line(want, sizeof(want), seq[i].prefix, seq[i].status,
					       seq[i].reason);
		size_t gn = header_status_line_kept(got, sizeof(got), seq[i].prefix, seq[i].status,
						    seq[i].reason);

		cr_assert_eq(gn, wn, "line %zu: length %zu, not %zu", i, gn, wn);
		cr_assert_str_eq(got, want, "line %zu", i);
	}
}
