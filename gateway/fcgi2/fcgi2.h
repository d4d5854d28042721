/*
 * fcgi2.h - sluice-fcgi's internals: fcgi2's API (include/fcgi2/) on
 * sluice's FastCGI reader.  Shared by the library's files only:
 *
 *	wire.c		records on one connection: reading them under a
 *			deadline, answering management records, gathering
 *			and decoding PARAMS under sluice's caps
 *	accept.c	FCGX_Init, FCGX_Accept_r and the rest of a request's
 *			life: accepting, keep-alive, finishing
 *	stream.c	the FCGX_Stream functions
 *	stdio.c		fcgi_stdio.h's FCGI_* functions and the CGI fallback
 *
 * Names here are fcgi2_<file>_<verb>; the public ones are fcgi2's own.
 */
#ifndef SLUICE_FCGI2_H
#define SLUICE_FCGI2_H

#include <stddef.h>

#include "fcgi.h"
#include "fcgiapp.h"

/*
 * The caps and deadlines are sluice's shipped defaults (defaults.h says
 * why each number), so that a relinked program refuses what sluice
 * refuses.
 */
#define FCGI2_MAX_PARAMS_BYTES	DEFAULT_MAX_PARAMS_BYTES
#define FCGI2_MAX_PARAMS	DEFAULT_MAX_PARAMS
#define FCGI2_READ_TIMEOUT_MS	(DEFAULT_READ_TIMEOUT * 1000)
#define FCGI2_WRITE_TIMEOUT_MS	(DEFAULT_WRITE_TIMEOUT * 1000)

/*
 * How long a kept-alive connection may sit idle between requests before
 * it is closed: a process waiting there serves nobody else, so this is
 * much shorter than the daemon's idle_timeout (which costs it nothing).
 * SLUICE_FCGI_IDLE_TIMEOUT_MS in the environment changes it.
 */
#define FCGI2_IDLE_TIMEOUT_MS	5000

/* What a writer collects before it sends a record: nginx reads 32 KiB at a time. */
#define FCGI2_WRITE_BUF		32768

/* The whole of one record: header, the largest content, the largest padding. */
#define FCGI2_RECORD_MAX	(FCGI_HEADER_LEN + FCGI_MAX_CONTENT + FCGI_MAX_PADDING)

struct fcgi2_req;

struct FCGX_Stream {
	unsigned char *buf;
	size_t pos, len, cap;	/* reader: [pos, len) unread; writer: [0, len) pending */
	int reader;
	int type;		/* the record type it reads or writes */
	int closed;
	int eof;
	int err;		/* 0, an errno value, or an FCGX_* code */
	int written;		/* a writer has sent content */
	struct fcgi2_req *req;
};

/* One request's connection and state, behind FCGX_Request.priv. */
struct fcgi2_req {
	int fd;			/* the connection, -1 when none */
	unsigned id;
	int role;
	int keep;		/* FCGI_KEEP_CONN: the web server may send another */
	int app_status;
	int active;		/* begun, END_REQUEST not sent yet */
	int broken;		/* the connection cannot carry another request */
	int detached;		/* FCGX_Detach: the program owns the connection */
	unsigned char *rec;	/* the last record read, FCGI2_RECORD_MAX bytes */
	unsigned char *params;
	size_t params_len;
	char **envp;
	int write_ms, read_ms;
	struct FCGX_Stream in, out, err;
};

/* The record wire.c last read: its content is at req->rec + FCGI_HEADER_LEN. */
struct fcgi2_rec {
	unsigned type, id;
	size_t len;
};

/* accept.c */
int fcgi2_accept_idle_ms(void);

/* wire.c */
int fcgi2_wire_begin(struct fcgi2_req *q);
int fcgi2_wire_content(struct fcgi2_req *q, unsigned type);
int fcgi2_wire_send(struct fcgi2_req *q, unsigned type, const void *data, size_t len);
int fcgi2_wire_end(struct fcgi2_req *q, unsigned proto_status);
void fcgi2_wire_release(struct fcgi2_req *q);
void fcgi2_wire_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* stream.c */
void fcgi2_stream_open(struct FCGX_Stream *s, struct fcgi2_req *q, int reader, unsigned type);
int fcgi2_stream_close(struct FCGX_Stream *s);
void fcgi2_stream_release(struct FCGX_Stream *s);

#endif
