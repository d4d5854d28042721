/*
 * allowed_clients.c - listen.allowed_clients on a real TCP listener:
 * a client at a listed address is served, one at another loopback
 * address (127.0.0.2, which Linux's loopback answers for) is closed
 * before it is read, logged once per interval however often it comes
 * back, and counted on the status page.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi_client.h"
#include "harness.h"
#include "logscan.h"
#include "modules_conf.h"

static struct sluice_proc sp;
static int port;

static void start(const char *allowed)
{
	static const char *const mods[] = { "apps/hello /", NULL };
	char listeners[256];

	port = harness_free_port();
	snprintf(listeners, sizeof(listeners),
		 "{ address = \"127.0.0.1:%d\"; allowed_clients = \"%s\"; }", port, allowed);
	cr_assert_eq(modules_conf_start(&sp, listeners,
					"status = { listen = \"unix:status.sock\"; mode = \"0666\"; };\n",
					mods), 0, "sluice did not start");
	cr_assert_eq(harness_wait_port(sp.pid, port), 0, "TCP listener did not come up");
}

static void start_local_only(void)
{
	start("::1, 127.0.0.1");
}

static void stop(void)
{
	harness_sluice_stop(&sp);
}

/* One GET / from source address `from`: what came back, as the client saw it. */
static void get_from(const char *from, struct fcgi_resp *rs)
{
	struct fcgi_buf params = { 0 }, req = { 0 };
	struct fcgi_conn c;

	memset(rs, 0, sizeof(*rs));
	fcgi_client_params(&params, "GET", "/", NULL);
	fcgi_client_request(&req, 1, 0, &params, NULL, 0);
	cr_assert_eq(fcgi_client_open_tcp(&c, from, port), 0, "connect from %s", from);
	fcgi_client_send(&c, req.p, req.len);
	fcgi_client_read_response(&c, 1, rs, 5000);
	fcgi_client_close(&c);
	fcgi_client_buf_free(&params);
	fcgi_client_buf_free(&req);
}

/* "refused clients" from the status page's text. */
static long long refused_count(void)
{
	char sock[256], *out = NULL, *at;
	long long n = -1;

	snprintf(sock, sizeof(sock), "%s/status.sock", sp.dir);
	if (harness_fcgi_get(sock, "/status", &out) == 0 && (at = strstr(out, "refused clients:")))
		sscanf(at + strlen("refused clients:"), "%lld", &n);
	free(out);
	return n;
}

/* sluice_refused_clients_total from /metrics. */
static long long metric_count(void)
{
	char sock[256], *out = NULL, *at;
	long long n = -1;

	snprintf(sock, sizeof(sock), "%s/status.sock", sp.dir);
	if (harness_fcgi_get(sock, "/metrics", &out) == 0 &&
	    (at = strstr(out, "\nsluice_refused_clients_total ")))
		sscanf(at + strlen("\nsluice_refused_clients_total "), "%lld", &n);
	free(out);
	return n;
}

Test(allowed_clients, listed_address_is_served, .init = start_local_only, .fini = stop)
{
	struct fcgi_resp rs;

	get_from("127.0.0.1", &rs);
	cr_assert_eq(rs.end, FC_R_END, "no END_REQUEST for an allowed client");
	cr_assert(rs.out.len > 0 && memmem(rs.out.p, rs.out.len, "Hello", 5), "no hello");
	fcgi_client_resp_free(&rs);
	cr_assert_eq(refused_count(), 0);
}

Test(allowed_clients, other_address_is_closed_logged_and_counted, .init = start_local_only,
     .fini = stop)
{
	struct fcgi_resp rs;
	char *line;

	get_from("127.0.0.2", &rs);
	cr_assert_neq(rs.end, FC_R_END, "a client not in the list was answered");
	cr_assert_neq(rs.end, FC_R_TIMEOUT, "the refused connection was held, not closed");
	cr_assert_eq(rs.out.len, 0);
	fcgi_client_resp_free(&rs);
	line = logscan_wait(&sp, "refused a connection from 127.0.0.2", "allowed_clients", 5000);
	cr_assert_not_null(line, "no log line:\n%s", logscan_tail(&sp, 4000));
	free(line);
	cr_assert_eq(refused_count(), 1);
	cr_assert_eq(metric_count(), 1);
	/* The listed address is still served alongside. */
	get_from("127.0.0.1", &rs);
	cr_assert_eq(rs.end, FC_R_END);
	fcgi_client_resp_free(&rs);
}

/* A client that keeps coming back costs a count, not a log line each time. */
Test(allowed_clients, refusals_are_logged_rate_limited, .init = start_local_only, .fini = stop)
{
	struct fcgi_resp rs;
	char *log;

	for (int i = 0; i < 50; i++) {
		get_from("127.0.0.2", &rs);
		fcgi_client_resp_free(&rs);
	}
	cr_assert_eq(refused_count(), 50);
	log = harness_sluice_log(&sp);
	/* At most one line per worker (a pool of 2 by default) in this interval. */
	cr_assert_leq(logscan_count(log, "refused a connection from 127.0.0.2", NULL), 2, "%s", log);
	cr_assert_geq(logscan_count(log, "refused a connection from 127.0.0.2", NULL), 1, "%s", log);
	free(log);
}

/* Listing 127.0.0.2 turns the same client from refused into served. */
Test(allowed_clients, the_list_decides, .fini = stop)
{
	struct fcgi_resp rs;

	start("127.0.0.2");
	get_from("127.0.0.2", &rs);
	cr_assert_eq(rs.end, FC_R_END, "listed client 127.0.0.2 not served");
	fcgi_client_resp_free(&rs);
	get_from("127.0.0.1", &rs);
	cr_assert_neq(rs.end, FC_R_END, "127.0.0.1 served though not listed");
	fcgi_client_resp_free(&rs);
}
