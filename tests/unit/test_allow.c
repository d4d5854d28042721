/*
 * test_allow.c - listen.allowed_clients: the list's syntax and which
 * peers it admits.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "allow.h"

static struct allow_list al;
static char why[256];

static struct sockaddr_in v4(const char *a)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };

	cr_assert_eq(inet_pton(AF_INET, a, &sa.sin_addr), 1);
	return sa;
}

static struct sockaddr_in6 v6(const char *a)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };

	cr_assert_eq(inet_pton(AF_INET6, a, &sa.sin6_addr), 1);
	return sa;
}

static int admits(const char *peer)
{
	struct sockaddr_in a4;
	struct sockaddr_in6 a6;

	if (strchr(peer, ':')) {
		a6 = v6(peer);
		return allow_match(&al, (struct sockaddr *)&a6);
	}
	a4 = v4(peer);
	return allow_match(&al, (struct sockaddr *)&a4);
}

Test(allow, php_fpm_syntax)
{
	cr_assert_eq(allow_parse("127.0.0.1", &al, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(al.n, 1);
	cr_assert_eq(allow_parse(" 10.0.0.1 ,::1,[fd00::2] ", &al, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(al.n, 3);
	cr_assert_eq(al.addr[0].family, AF_INET);
	cr_assert_eq(al.addr[1].family, AF_INET6);
	cr_assert_eq(al.addr[2].family, AF_INET6);
}

Test(allow, wrong_entries_are_named)
{
	static const struct { const char *list, *needle; } bad[] = {
		{ "", "lists no address" },
		{ "  ", "lists no address" },
		{ "127.0.0.1,", "an empty entry" },
		{ ",127.0.0.1", "an empty entry" },
		{ "127.0.0.1,,::1", "an empty entry" },
		{ "10.0.0.300", "\"10.0.0.300\" is not an IPv4 or IPv6 address" },
		{ "localhost", "\"localhost\" is not an IPv4 or IPv6 address" },
		{ "10.0.0.0/8", "\"10.0.0.0/8\" is not" },
		{ "127.0.0.1, ::1::2", "\"::1::2\" is not" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(allow_parse(bad[i].list, &al, why, sizeof(why)), -1, "\"%s\" taken",
			     bad[i].list);
		cr_expect(strstr(why, bad[i].needle), "\"%s\": %s", bad[i].list, why);
	}
}

Test(allow, at_most_the_cap)
{
	char list[1024] = "";

	for (int i = 0; i <= MAX_ALLOWED_CLIENTS; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s10.0.0.%d",
			 i ? "," : "", i + 1);
	cr_assert_eq(allow_parse(list, &al, why, sizeof(why)), -1);
	cr_assert(strstr(why, "more than"), "%s", why);
}

Test(allow, only_listed_peers_are_admitted)
{
	cr_assert_eq(allow_parse("127.0.0.1, ::1", &al, why, sizeof(why)), 0);
	cr_expect(admits("127.0.0.1"));
	cr_expect(admits("::1"));
	cr_expect_not(admits("127.0.0.2"));
	cr_expect_not(admits("::2"));
	/* An IPv4 peer seen through a dual-stack socket is its IPv4 address. */
	cr_expect(admits("::ffff:127.0.0.1"));
	cr_expect_not(admits("::ffff:127.0.0.2"));
}

Test(allow, an_empty_list_admits_everyone)
{
	memset(&al, 0, sizeof(al));
	cr_expect(admits("192.0.2.7"));
	cr_expect(admits("2001:db8::7"));
}
