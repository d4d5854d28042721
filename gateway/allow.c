/*
 * allow.c - listen.allowed_clients.  See allow.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "allow.h"
#include "io.h"
#include "log.h"

/* One entry, already trimmed: a dotted IPv4, or IPv6 bare or in brackets. */
static int parse_one(const char *s, size_t len, struct allow_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 2];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']')
		s++, len -= 2;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, a->addr) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, a->addr) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	return -1;
}

int allow_parse(const char *list, struct allow_list *out, char *why, size_t whylen)
{
	const char *p = list;

	out->n = 0;
	for (;;) {
		size_t len;

		p += strspn(p, " \t");
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0 && (*p == ',' || out->n > 0)) {
			snprintf(why, whylen, "an empty entry in \"%s\": separate addresses "
				 "with one comma", list);
			return -1;
		}
		if (len == 0) {
			snprintf(why, whylen, "lists no address; leave the key out to serve "
				 "every client");
			return -1;
		}
		if (out->n == MAX_ALLOWED_CLIENTS) {
			snprintf(why, whylen, "lists more than %d addresses", MAX_ALLOWED_CLIENTS);
			return -1;
		}
		if (parse_one(p, len, &out->addr[out->n]) < 0) {
			snprintf(why, whylen, "\"%.*s\" is not an IPv4 or IPv6 address (names "
				 "and networks are not taken)", (int)len, p);
			return -1;
		}
		out->n++;
		p += strcspn(p, ",");
		if (*p == '\0')
			return 0;
		p++;
	}
}

int allow_match(const struct allow_list *al, const struct sockaddr *sa)
{
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const unsigned char *addr;
	sa_family_t family = sa->sa_family;

	if (al->n == 0)
		return 1;
	if (family == AF_INET) {
		addr = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		addr = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0)
			family = AF_INET, addr += 12;
	} else {
		return 0;
	}
	for (int i = 0; i < al->n; i++)
		if (al->addr[i].family == family &&
		    memcmp(al->addr[i].addr, addr, family == AF_INET ? 4 : 16) == 0)
			return 1;
	return 0;
}

/* The peer's address as text, for the log line. */
static void peer_name(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *addr = sa->sa_family == AF_INET
		? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
		: (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    !inet_ntop(sa->sa_family, addr, buf, (socklen_t)size))
		snprintf(buf, size, "an address of family %d", sa->sa_family);
}

void allow_log_refused(const char *address, const struct sockaddr *sa)
{
	static long long last_ms;
	static int logged;
	static unsigned long long unlogged;
	long long now = io_now_ms();
	char peer[INET6_ADDRSTRLEN];

	if (logged && now - last_ms < REFUSED_LOG_MS) {
		unlogged++;
		return;
	}
	peer_name(sa, peer, sizeof(peer));
	if (unlogged)
		log_msg(LOG_WARNING, "listen %s: refused a connection from %s, not in "
			"listen.allowed_clients (and %llu more since the last such line)",
			address, peer, unlogged);
	else
		log_msg(LOG_WARNING, "listen %s: refused a connection from %s, not in "
			"listen.allowed_clients", address, peer);
	last_ms = now;
	logged = 1;
	unlogged = 0;
}
