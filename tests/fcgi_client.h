/*
 * fcgi_client.h - a raw FastCGI client for integration suites, built
 * byte by byte so that it can send what a web server sends and what no
 * web server would: records of any type, id, version and padding,
 * name-value pairs in either length form, streams cut anywhere.
 *
 * Requests are built in a growing byte buffer, sent on a non-blocking
 * connection to sluice's unix socket, and read back record by record
 * with a deadline, so that a test can tell an answer from a close from
 * silence.  Nothing here asserts: functions return 0 / -1 (or how a read
 * ended) and the suites assert with their own messages.
 */
#ifndef SLUICE_TEST_FCGI_CLIENT_H
#define SLUICE_TEST_FCGI_CLIENT_H

#include <stddef.h>

/* Record types, roles, flags and protocol statuses (spec section 8). */
enum {
	FC_BEGIN = 1, FC_ABORT = 2, FC_END = 3, FC_PARAMS = 4, FC_STDIN = 5,
	FC_STDOUT = 6, FC_STDERR = 7, FC_DATA = 8, FC_GET_VALUES = 9,
	FC_GET_VALUES_RESULT = 10, FC_UNKNOWN_TYPE = 11,
};
enum { FC_RESPONDER = 1, FC_AUTHORIZER = 2, FC_FILTER = 3 };
enum { FC_KEEP_CONN = 1 };
enum { FC_COMPLETE = 0, FC_CANT_MPX = 1, FC_OVERLOADED = 2, FC_UNKNOWN_ROLE = 3 };

/* How a read of records ended. */
enum { FC_R_END = 1, FC_R_CLOSED = 0, FC_R_TIMEOUT = -1, FC_R_TORN = -2 };

/* A request id no record can carry: fcgi_client_read_response then only collects. */
#define FC_NO_REQUEST	0x10000u

/* ---- Byte buffers ------------------------------------------------------ */

/* A growing byte buffer; { 0 } is an empty one.  Allocation failure aborts. */
struct fcgi_buf {
	unsigned char *p;
	size_t len, cap;
};

void fcgi_client_buf_add(struct fcgi_buf *b, const void *data, size_t n);
void fcgi_client_buf_byte(struct fcgi_buf *b, unsigned v);
void fcgi_client_buf_str(struct fcgi_buf *b, const char *s);
void fcgi_client_buf_free(struct fcgi_buf *b);

/* ---- Building records -------------------------------------------------- */

/* A record header as given, however wrong: any version, type, id and lengths. */
void fcgi_client_header(struct fcgi_buf *b, unsigned version, unsigned type,
			unsigned id, size_t clen, size_t plen);

/*
 * A record with `plen` bytes of padding.  The padding is 0xa5, not zero,
 * so that a reader that takes padding for content or for the next header
 * is caught.
 */
void fcgi_client_record_pad(struct fcgi_buf *b, unsigned type, unsigned id,
			    const void *content, size_t clen, size_t plen);

/* A record padded to a multiple of 8, as web servers send them. */
void fcgi_client_record(struct fcgi_buf *b, unsigned type, unsigned id,
			const void *content, size_t clen);

/* BEGIN_REQUEST for `id` with `role` and `flags` (FC_KEEP_CONN). */
void fcgi_client_begin(struct fcgi_buf *b, unsigned id, unsigned role, unsigned flags);

/* A name-value pair length: 1 byte below 128 unless `long_form`, else 4. */
void fcgi_client_len(struct fcgi_buf *b, size_t n, int long_form);

/* One name-value pair, each length in the shortest form. */
void fcgi_client_pair(struct fcgi_buf *b, const char *name, const char *value);

/* `len` bytes of `data` as records of at most `chunk`, then the empty record. */
void fcgi_client_stream(struct fcgi_buf *b, unsigned type, unsigned id,
			const void *data, size_t len, size_t chunk);

/*
 * What nginx's fastcgi_params send for `method uri` ("/path?query"),
 * minus the connection details: REQUEST_METHOD, REQUEST_URI,
 * DOCUMENT_URI and SCRIPT_NAME (the path), QUERY_STRING,
 * SERVER_PROTOCOL, in that order, and CONTENT_LENGTH last when `clen`
 * is not NULL.  Six pairs, seven with the length.
 */
void fcgi_client_params(struct fcgi_buf *pb, const char *method, const char *uri,
			const char *clen);

/*
 * A whole request the way nginx sends it: BEGIN_REQUEST (responder),
 * `params` in one PARAMS record (up to 64 KiB), the empty PARAMS, the
 * body in STDIN records of 32 KiB, the empty STDIN.
 */
void fcgi_client_request(struct fcgi_buf *b, unsigned id, unsigned flags,
			 const struct fcgi_buf *params, const void *body, size_t body_len);

/* ---- The connection ---------------------------------------------------- */

/* A non-blocking socket and what it has delivered but was not parsed yet. */
struct fcgi_conn {
	int fd;
	struct fcgi_buf in;
	size_t off;
	int closed;		/* the peer closed (EOF or reset) */
};

/* Connect to unix socket `path`, non-blocking: 0, or -1 with errno set. */
int fcgi_client_open(struct fcgi_conn *c, const char *path);
void fcgi_client_close(struct fcgi_conn *c);

/*
 * Connect to loopback TCP `port` on 127.0.0.1 from source address `from`
 * (any 127.x.y.z works on Linux's loopback), non-blocking: 0, or -1 with
 * errno set.  How a suite plays a client at another address.
 */
int fcgi_client_open_tcp(struct fcgi_conn *c, const char *from, int port);

/*
 * Wait up to `ms` for bytes from the peer.  Returns 1 when some came,
 * 0 when the peer closed, -1 when nothing came in time.
 */
int fcgi_client_fill(struct fcgi_conn *c, int ms);

/*
 * Send all `n` bytes, reading whatever the peer sends meanwhile so that
 * neither side can block the other.  Returns 0, or -1 when the peer
 * closed or stopped reading for 5 s.
 */
int fcgi_client_send(struct fcgi_conn *c, const void *data, size_t n);

/* ---- Reading records --------------------------------------------------- */

struct fcgi_rec {
	unsigned version, type, id;
	size_t clen, plen;
	unsigned char c[65536];
};

/*
 * The next record, waiting up to `ms`.  FC_R_END (1) with a record,
 * FC_R_CLOSED when the peer closed between records, FC_R_TORN when it
 * closed inside one, FC_R_TIMEOUT.
 */
int fcgi_client_read_record(struct fcgi_conn *c, struct fcgi_rec *r, int ms);

#define FC_MAX_OTHER 16

/* What came back for one request. */
struct fcgi_resp {
	int end;		/* FC_R_END: END_REQUEST for the id came; else how reading ended */
	struct fcgi_buf out;	/* STDOUT content, concatenated */
	int nstdout;		/* non-empty STDOUT records */
	int stdout_ended;	/* the empty STDOUT came */
	int stdout_after_end;	/* STDOUT content after the empty one */
	int nstderr;
	int bad_version;	/* records whose version byte is not 1 */
	unsigned app_status;
	int proto_status;
	size_t end_clen;
	int nother;		/* records for another id, or of another type */
	struct {
		unsigned type, id;
		size_t clen;
		unsigned char c[8];
	} other[FC_MAX_OTHER];
};

/*
 * Read records until END_REQUEST for `id`, the peer closing, or `ms`
 * passing.  Records of other ids and types are counted in `nother` and
 * the first FC_MAX_OTHER kept in `other`.  Free with
 * fcgi_client_resp_free.
 */
void fcgi_client_read_response(struct fcgi_conn *c, unsigned id, struct fcgi_resp *rs,
			       int ms);
void fcgi_client_resp_free(struct fcgi_resp *rs);

#endif
