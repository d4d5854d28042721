/*
 * multipart.h - a streaming parser for multipart/form-data bodies
 * (RFC 7578, with the delimiter rules of RFC 2046 section 5.1.1).
 *
 * The parser pulls the body through a reader function into one fixed
 * buffer inside struct multipart, so a body of any size costs the same
 * memory: the struct, plus the part headers it copies into the arena.
 * It is pure (no log, no request): sl_multipart_* (parts.c) and the
 * fuzz harness drive it.
 */
#ifndef SLUICE_MULTIPART_H
#define SLUICE_MULTIPART_H

#include <stddef.h>
#include <sys/types.h>

#include "arena.h"

/* RFC 2046 section 5.1.1: a boundary is 1 to 70 characters. */
#define MULTIPART_MAX_BOUNDARY	70

/*
 * The read buffer.  It must hold the longest header line a part may
 * have (MULTIPART_MAX_HEADER) and still leave room to refill; 16 KiB
 * also matches what nginx sends per FastCGI record, so one read mostly
 * fills it.
 */
#define MULTIPART_BUF_SIZE	(16 * 1024)

/*
 * Most bytes one part's header block may have, and most parts a body may
 * have (PHP's max_file_uploads is 20, its max_input_vars 1000): the
 * first bounds what one part costs, the second the whole.  Kept equal to
 * the public SL_MULTIPART_* constants, which parts.c checks.
 */
#define MULTIPART_MAX_HEADER	8192
#define MULTIPART_MAX_PARTS	1000

/* Read up to `len` body bytes: the count, 0 at the end, -1 with errno. */
typedef ssize_t (*multipart_reader)(void *arg, void *buf, size_t len);

/* What a part's headers say, copied into the arena. */
struct multipart_part {
	const char *name;	/* Content-Disposition's name; always given */
	const char *filename;	/* its filename, NULL when absent */
	const char *type;	/* Content-Type, "text/plain" when absent */
};

enum multipart_state { MP_PREAMBLE, MP_DATA, MP_DELIM, MP_DONE, MP_FAILED };

struct multipart {
	multipart_reader read;
	void *arg;
	struct arena *arena;
	enum multipart_state state;
	int err;			/* the errno of MP_FAILED */
	int eof;			/* the reader said 0 */
	size_t parts;
	char delim[4 + MULTIPART_MAX_BOUNDARY];	/* "\r\n--" boundary */
	size_t dlen;
	size_t start, end;		/* unread bytes are buf[start, end) */
	unsigned char buf[MULTIPART_BUF_SIZE];
};

/*
 * Set `m` up for a body whose Content-Type is `type`.  Returns 0, or -1
 * with errno EMEDIUMTYPE (not multipart/form-data) or EBADMSG (no
 * boundary parameter, or one that RFC 2046 does not allow); `m` is then
 * failed with that errno, so the calls below repeat it.
 */
int multipart_init(struct multipart *m, const char *type, struct arena *a,
		   multipart_reader read, void *arg);

/*
 * Move to the next part, skipping what is left of the current one (or
 * the preamble).  Returns 1 with *p set, 0 after the close delimiter
 * (the epilogue is not read), or -1 with errno: EBADMSG for a body that
 * is not well-formed, E2BIG past MULTIPART_MAX_PARTS, EMSGSIZE past
 * MULTIPART_MAX_HEADER, ENOMEM, or the reader's.  A failure is kept:
 * every later call repeats it.
 */
int multipart_next(struct multipart *m, struct multipart_part *p);

/*
 * Up to `len` bytes of the current part's data: the count, 0 at its end
 * (and before the first part, and after the last), -1 as above.
 */
ssize_t multipart_read(struct multipart *m, void *buf, size_t len);

/*
 * 1 if Content-Type `t` is multipart/form-data, case-insensitive, alone
 * or followed by parameters; else 0.
 */
int multipart_type_ok(const char *t);

/* 1 when errno `err` means the body itself was refused, not the transport. */
int multipart_refused(int err);

#endif
