/*
 * stream.c - fcgi2's FCGX_Stream functions on sluice-fcgi's records.
 *
 * A reader's bytes are the content of the record wire.c read last (its
 * buffer is the request's record buffer, so nothing is copied twice); a
 * reader is filled again only once it is empty.  A writer collects up
 * to FCGI2_WRITE_BUF bytes, then sends them as records of its type.
 * After an error a stream fails every call until FCGX_ClearError, as
 * fcgi2 documents; nothing in here ends the process.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi2.h"

void fcgi2_stream_open(struct FCGX_Stream *s, struct fcgi2_req *q, int reader, unsigned type)
{
	unsigned char *keep = reader ? NULL : s->buf;
	size_t cap = reader ? 0 : s->cap;

	memset(s, 0, sizeof(*s));
	s->req = q;
	s->reader = reader;
	s->type = (int)type;
	s->buf = keep;
	s->cap = cap;
}

void fcgi2_stream_release(struct FCGX_Stream *s)
{
	if (!s->reader)
		free(s->buf);
	s->buf = NULL;
	s->cap = s->len = s->pos = 0;
}

/* Refill an empty reader from the next record of its stream: 0, or EOF. */
static int fill(FCGX_Stream *s)
{
	int n;

	if (s->closed || s->eof || s->err)
		return EOF;
	n = fcgi2_wire_content(s->req, (unsigned)s->type);
	if (n < 0) {
		s->err = errno == EPROTO ? FCGX_PROTOCOL_ERROR : errno;
		return EOF;
	}
	if (n == 0) {
		s->eof = 1;
		return EOF;
	}
	s->buf = s->req->rec + FCGI_HEADER_LEN;
	s->pos = 0;
	s->len = (size_t)n;
	return 0;
}

/* Send what a writer holds: 0, or -1 with the stream's error set. */
static int drain(FCGX_Stream *s)
{
	if (s->err)
		return -1;
	if (s->len == 0)
		return 0;
	if (s->req->fd < 0 || fcgi2_wire_send(s->req, (unsigned)s->type, s->buf, s->len) < 0) {
		s->err = s->req->fd < 0 ? EBADF : errno;
		return -1;
	}
	s->written = 1;
	s->len = 0;
	return 0;
}

int FCGX_GetChar(FCGX_Stream *stream)
{
	if (!stream || !stream->reader)
		return EOF;
	if (stream->pos == stream->len && fill(stream) == EOF)
		return EOF;
	return stream->buf[stream->pos++];
}

/* One byte back into the buffer it came from: only what was just read. */
int FCGX_UnGetChar(int c, FCGX_Stream *stream)
{
	if (!stream || !stream->reader || c == EOF || stream->pos == 0 || stream->closed)
		return EOF;
	stream->buf[--stream->pos] = (unsigned char)c;
	stream->eof = 0;
	return c;
}

int FCGX_GetStr(char *str, int n, FCGX_Stream *stream)
{
	int got = 0;

	if (!stream || !stream->reader || n <= 0)
		return 0;
	while (got < n) {
		size_t take;

		if (stream->pos == stream->len && fill(stream) == EOF)
			break;
		take = stream->len - stream->pos;
		if (take > (size_t)(n - got))
			take = (size_t)(n - got);
		memcpy(str + got, stream->buf + stream->pos, take);
		stream->pos += take;
		got += (int)take;
	}
	return got;
}

char *FCGX_GetLine(char *str, int n, FCGX_Stream *stream)
{
	int i = 0, c;

	if (!stream || n <= 0)
		return NULL;
	while (i < n - 1 && (c = FCGX_GetChar(stream)) != EOF) {
		str[i++] = (char)c;
		if (c == '\n')
			break;
	}
	if (i == 0 && n > 1)
		return NULL;
	str[i] = '\0';
	return str;
}

int FCGX_HasSeenEOF(FCGX_Stream *stream)
{
	return !stream || stream->eof || stream->closed ? EOF : 0;
}

int FCGX_PutStr(const char *str, int n, FCGX_Stream *stream)
{
	int put = 0;

	if (!stream || stream->reader || stream->closed || stream->err || n < 0)
		return -1;
	if (!stream->buf) {
		stream->buf = malloc(FCGI2_WRITE_BUF);
		if (!stream->buf) {
			stream->err = ENOMEM;
			return -1;
		}
		stream->cap = FCGI2_WRITE_BUF;
	}
	while (put < n) {
		size_t take = stream->cap - stream->len;

		if (take == 0) {
			if (drain(stream) < 0)
				return -1;
			continue;
		}
		if (take > (size_t)(n - put))
			take = (size_t)(n - put);
		memcpy(stream->buf + stream->len, str + put, take);
		stream->len += take;
		put += (int)take;
	}
	return n;
}

int FCGX_PutChar(int c, FCGX_Stream *stream)
{
	char b = (char)c;

	if (stream && !stream->reader && stream->len < stream->cap && !stream->err &&
	    !stream->closed) {
		stream->buf[stream->len++] = (unsigned char)b;
		return c & 0xff;
	}
	return FCGX_PutStr(&b, 1, stream) == 1 ? c & 0xff : EOF;
}

int FCGX_PutS(const char *str, FCGX_Stream *stream)
{
	return FCGX_PutStr(str, (int)strlen(str), stream);
}

int FCGX_VFPrintF(FCGX_Stream *stream, const char *format, va_list arg)
{
	char small[1024], *p = small;
	va_list again;
	int n, rc;

	va_copy(again, arg);
	n = vsnprintf(small, sizeof(small), format, arg);
	if (n >= (int)sizeof(small)) {
		p = malloc((size_t)n + 1);
		if (p)
			vsnprintf(p, (size_t)n + 1, format, again);
	}
	va_end(again);
	if (n < 0 || !p)
		return -1;
	rc = FCGX_PutStr(p, n, stream);
	if (p != small)
		free(p);
	return rc;
}

int FCGX_FPrintF(FCGX_Stream *stream, const char *format, ...)
{
	va_list ap;
	int n;

	va_start(ap, format);
	n = FCGX_VFPrintF(stream, format, ap);
	va_end(ap);
	return n;
}

int FCGX_FFlush(FCGX_Stream *stream)
{
	if (!stream || stream->reader)
		return 0;
	if (stream->closed)
		return -1;
	return drain(stream);
}

/*
 * Close a stream: a writer sends what it holds and the empty record that
 * ends it (STDERR's only when something was written to it, as libfcgi
 * does); a reader just stops reading.
 */
int fcgi2_stream_close(FCGX_Stream *s)
{
	int rc = 0;

	if (s->closed)
		return 0;
	if (!s->reader) {
		if (drain(s) < 0)
			rc = -1;
		else if ((s->type != FCGI_STDERR || s->written) && s->req->fd >= 0 &&
			 fcgi2_wire_send(s->req, (unsigned)s->type, NULL, 0) < 0) {
			s->err = errno;
			rc = -1;
		}
	}
	s->closed = 1;
	return rc;
}

int FCGX_FClose(FCGX_Stream *stream)
{
	return stream ? fcgi2_stream_close(stream) : -1;
}

int FCGX_GetError(FCGX_Stream *stream)
{
	return stream ? stream->err : 0;
}

void FCGX_ClearError(FCGX_Stream *stream)
{
	if (stream) {
		stream->err = 0;
		stream->eof = 0;
	}
}

/*
 * Switch a Filter's input from STDIN to DATA (section 6.4): only once
 * STDIN has been read to its end, as the web server sends the two in
 * that order.
 */
int FCGX_StartFilterData(FCGX_Stream *stream)
{
	if (!stream || !stream->reader || stream->req->role != FCGI_FILTER ||
	    stream->type != FCGI_STDIN || !stream->eof) {
		if (stream)
			stream->err = FCGX_CALL_SEQ_ERROR;
		return -1;
	}
	stream->type = FCGI_DATA;
	stream->eof = 0;
	stream->pos = stream->len = 0;
	return 0;
}

void FCGX_SetExitStatus(int status, FCGX_Stream *stream)
{
	if (stream && stream->req)
		stream->req->app_status = status;
}

/*
 * A writer on its own (fcgi2 uses it for its own protocol tools): records
 * of `streamType` for `requestId` on `socket`, which stays the caller's.
 * bufflen is taken as a hint only; the writer's buffer is always
 * FCGI2_WRITE_BUF.
 */
FCGX_Stream *FCGX_CreateWriter(int socket, int requestId, int bufflen, int streamType)
{
	struct fcgi2_req *q = calloc(1, sizeof(*q));

	(void)bufflen;
	if (!q)
		return NULL;
	q->fd = socket;
	q->id = (unsigned)requestId;
	q->write_ms = FCGI2_WRITE_TIMEOUT_MS;
	q->read_ms = FCGI2_READ_TIMEOUT_MS;
	fcgi2_stream_open(&q->out, q, 0, (unsigned)streamType);
	return &q->out;
}

/* Free a stream made by FCGX_CreateWriter, without sending or closing anything. */
void FCGX_FreeStream(FCGX_Stream **stream)
{
	struct fcgi2_req *q;

	if (!stream || !*stream)
		return;
	q = (*stream)->req;
	fcgi2_stream_release(*stream);
	if (*stream == &q->out && q->fd >= 0 && !q->rec)
		free(q);
	*stream = NULL;
}
