/*
 * test_config_value.c - the host:port splitter that the config, the
 * listeners and the development listener share: "localhost" and the
 * names under it are loopback without a resolver (RFC 6761, 6.3), and no
 * other name is taken for one.  The config suite covers the rest of the
 * address syntax through whole config files.
 */
#include <criterion/criterion.h>

#include "config_value.h"

static void split(const char *addr, const char *want_host, const char *want_port)
{
	char host[256], port[6];
	const char *bad = config_value_host_port(addr, host, sizeof(host), port);

	cr_assert_null(bad, "\"%s\" refused: %s", addr, bad);
	cr_expect_str_eq(host, want_host, "host of \"%s\"", addr);
	cr_expect_str_eq(port, want_port, "port of \"%s\"", addr);
}

Test(config_value, localhost_is_loopback)
{
	split("localhost:8081", "127.0.0.1", "8081");
	split("LocalHost:1", "127.0.0.1", "1");
	split("app.localhost:9000", "127.0.0.1", "9000");
	split("a.b.LOCALHOST:65535", "127.0.0.1", "65535");
}

Test(config_value, other_names_are_left_to_the_resolver)
{
	split("localhost.example:80", "localhost.example", "80");
	split("mylocalhost:80", "mylocalhost", "80");
	split(".localhost:80", ".localhost", "80");
	split("127.0.0.1:80", "127.0.0.1", "80");
	split("[::1]:80", "::1", "80");
	split("example.org:443", "example.org", "443");
}

Test(config_value, localhost_needs_a_port)
{
	char host[256], port[6];

	cr_expect_not_null(config_value_host_port("localhost", host, sizeof(host), port));
	cr_expect_not_null(config_value_host_port("localhost:0", host, sizeof(host), port));
}
