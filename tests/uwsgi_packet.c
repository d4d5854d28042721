/*
 * uwsgi_packet.c - the uwsgi packet builder of uwsgi_packet.h.
 */
#include <string.h>

#include "uwsgi_packet.h"

static void put16(unsigned char *p, size_t v)
{
	p[0] = (unsigned char)(v & 0xff);
	p[1] = (unsigned char)((v >> 8) & 0xff);
}

void uwsgi_packet_begin(struct uwsgi_packet *p)
{
	p->len = UWSGI_PACKET_HEADER;
	p->overflow = 0;
}

void uwsgi_packet_raw(struct uwsgi_packet *p, const void *bytes, size_t n)
{
	if (p->len + n > sizeof(p->b)) {
		p->overflow = 1;
		return;
	}
	memcpy(p->b + p->len, bytes, n);
	p->len += n;
}

void uwsgi_packet_var(struct uwsgi_packet *p, const void *key, size_t klen,
		      const void *value, size_t vlen)
{
	unsigned char size[2];

	if (klen > 65535 || vlen > 65535) {
		p->overflow = 1;
		return;
	}
	put16(size, klen);
	uwsgi_packet_raw(p, size, 2);
	uwsgi_packet_raw(p, key, klen);
	put16(size, vlen);
	uwsgi_packet_raw(p, size, 2);
	uwsgi_packet_raw(p, value, vlen);
}

void uwsgi_packet_str(struct uwsgi_packet *p, const char *key, const char *value)
{
	uwsgi_packet_var(p, key, strlen(key), value, strlen(value));
}

int uwsgi_packet_end(struct uwsgi_packet *p, unsigned mod1, unsigned mod2)
{
	size_t size = p->len - UWSGI_PACKET_HEADER;

	if (p->overflow || size > 65535)
		return -1;
	p->b[0] = (unsigned char)mod1;
	put16(p->b + 1, size);
	p->b[3] = (unsigned char)mod2;
	return 0;
}

int uwsgi_packet_request(struct uwsgi_packet *p, const char *method, const char *uri,
			 const char *length)
{
	const char *q = strchr(uri, '?');
	char path[4096];
	size_t plen = q != NULL ? (size_t)(q - uri) : strlen(uri);

	if (plen >= sizeof(path))
		return -1;
	memcpy(path, uri, plen);
	path[plen] = '\0';
	uwsgi_packet_begin(p);
	uwsgi_packet_str(p, "QUERY_STRING", q != NULL ? q + 1 : "");
	uwsgi_packet_str(p, "REQUEST_METHOD", method);
	uwsgi_packet_str(p, "CONTENT_TYPE", "");
	if (length != NULL)
		uwsgi_packet_str(p, "CONTENT_LENGTH", length);
	uwsgi_packet_str(p, "REQUEST_URI", uri);
	uwsgi_packet_str(p, "PATH_INFO", path);
	uwsgi_packet_str(p, "SERVER_PROTOCOL", "HTTP/1.1");
	uwsgi_packet_str(p, "REMOTE_ADDR", "127.0.0.1");
	uwsgi_packet_str(p, "HTTP_HOST", "localhost");
	return uwsgi_packet_end(p, 0, 0);
}
