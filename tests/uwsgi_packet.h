/*
 * uwsgi_packet.h - building uwsgi request packets byte by byte, for
 * suites that talk to sluice's uwsgi listener without nginx: the 4-byte
 * header (modifier1, the vars block's size as 16-bit little-endian,
 * modifier2) and the vars block (16-bit LE key size, key, 16-bit LE
 * value size, value).  Nothing here asserts: a packet that would not fit
 * is reported by uwsgi_packet_end.
 *
 * The unit suite uwsgi and the suite nginx_uwsgi each carry a private
 * copy of this builder from before it was shared; new suites use this one.
 */
#ifndef SLUICE_TEST_UWSGI_PACKET_H
#define SLUICE_TEST_UWSGI_PACKET_H

#include <stddef.h>

#define UWSGI_PACKET_HEADER	4

struct uwsgi_packet {
	unsigned char b[UWSGI_PACKET_HEADER + 65535 + 64];
	size_t len;
	int overflow;		/* a var did not fit: the packet is unusable */
};

/* Start an empty vars block after room for the header. */
void uwsgi_packet_begin(struct uwsgi_packet *p);

/* Append raw bytes (a var cut short, garbage, a body after the block). */
void uwsgi_packet_raw(struct uwsgi_packet *p, const void *bytes, size_t n);

/* One var with explicit sizes (binary keys and values). */
void uwsgi_packet_var(struct uwsgi_packet *p, const void *key, size_t klen,
		      const void *value, size_t vlen);

/* One var from two strings. */
void uwsgi_packet_str(struct uwsgi_packet *p, const char *key, const char *value);

/*
 * Write the header for everything appended since uwsgi_packet_begin:
 * 0, or -1 when the block is larger than 65535 bytes or a var overflowed.
 */
int uwsgi_packet_end(struct uwsgi_packet *p, unsigned mod1, unsigned mod2);

/*
 * A whole head as nginx's uwsgi_params sends it for `method` `uri`
 * ("/path?query"): QUERY_STRING, REQUEST_METHOD, CONTENT_TYPE,
 * CONTENT_LENGTH (only when `length` is not NULL), REQUEST_URI,
 * PATH_INFO, SERVER_PROTOCOL, REMOTE_ADDR, HTTP_HOST; header included
 * (modifier1 0).  0, or -1 as uwsgi_packet_end.
 */
int uwsgi_packet_request(struct uwsgi_packet *p, const char *method, const char *uri,
			 const char *length);

#endif
