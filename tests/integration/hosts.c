/*
 * hosts.c - sluice on several machines: three instances, each in a
 * network namespace of its own standing in for a host, behind nginx in a
 * fourth namespace, the front.
 *
 *	front 10.77.N.1 ──veth── host N 10.77.N.2:9000	(N = 1, 2, 3)
 *
 * nginx runs the shipped conf/nginx/sluice-upstream.conf copied whole
 * into its http {} context, as the README says, with only the example's
 * servers replaced by the three hosts (keeping the example's options) and
 * fastcgi_params named by its full path (the harness's nginx has a prefix
 * of its own).  Inside the front, nothing else listens on the example's
 * port, so its server block runs unchanged.
 *
 * Each host serves the ver fixture from a symlink, the README's rolling
 * deploy: POST /ver answers "v1 hN" or "v2 hN", the host named by the
 * worker's HOST variable.  The load is POSTs, which nginx never sends
 * twice once they have left: every failure of an instance shows.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "check.h"
#include "harness.h"
#include "load.h"
#include "logscan.h"
#include "netns.h"

#define EXAMPLE		"conf/nginx/sluice-upstream.conf"
#define EXAMPLE_A	"192.0.2.10:9000"
#define EXAMPLE_B	"192.0.2.11:9000"
#define PARAMS		"include fastcgi_params;"
#define PARAMS_FULL	"include /etc/nginx/fastcgi_params;"
#define HOSTS		3
#define HOST_PORT	9000
#define CLIENTS		6
#define BODY_LEN	2048
#define PACE_MS		5	/* a steady load, not a flood of a 2-core machine */
#define MAX_REQUESTS	200000
#define SETTLE_MS	800	/* load on every host between two deploy steps */
#define SERVES_WAIT_MS	10000

static struct netns root = { -1 }, front = { -1 };
static struct netns host_ns[HOSTS] = { { -1 }, { -1 }, { -1 } };
static struct sluice_proc hosts[HOSTS];
static struct nginx_proc np;
static char scratch[256];
static int front_port;

static void setup(void)
{
	cr_assert_eq(curl_global_init(CURL_GLOBAL_ALL), CURLE_OK);
}

static void teardown(void)
{
	harness_nginx_stop(&np);
	for (int i = 0; i < HOSTS; i++) {
		harness_sluice_stop(&hosts[i]);
		netns_close(&host_ns[i]);
	}
	netns_close(&front);
	if (root.fd >= 0)
		netns_enter(&root);
	netns_close(&root);
	if (scratch[0] != '\0')
		harness_remove_dir(scratch);
	scratch[0] = '\0';
}

TestSuite(hosts, .init = setup, .fini = teardown, .timeout = 90);

/* ---- The shipped example ------------------------------------------------ */

/* `text` with the whole line that holds `needle` replaced by `with`; `text` is freed. */
static char *replace_line(char *text, const char *needle, const char *with)
{
	char *at = strstr(text, needle), *start, *end, *out;
	size_t len;

	cr_assert_not_null(at, "%s no longer names \"%s\"", EXAMPLE, needle);
	for (start = at; start > text && start[-1] != '\n'; start--)
		;
	end = strchr(at, '\n');
	end = end != NULL ? end + 1 : at + strlen(at);
	len = (size_t)(start - text) + strlen(with) + strlen(end) + 1;
	out = malloc(len);
	cr_assert_not_null(out);
	snprintf(out, len, "%.*s%s%s", (int)(start - text), text, with, end);
	free(text);
	return out;
}

/*
 * The example's server line (address, max_fails, fail_timeout) once per
 * host, in place of its two example servers.
 */
static char *example_servers(char *text)
{
	char *at = strstr(text, EXAMPLE_A), *start, *lines = NULL, addr[64];
	size_t n;

	cr_assert_not_null(at, "%s no longer names \"%s\"", EXAMPLE, EXAMPLE_A);
	cr_assert_not_null(strstr(text, "max_fails="), "%s: no max_fails", EXAMPLE);
	for (start = at; start > text && start[-1] != '\n'; start--)
		;
	n = strcspn(start, "\n");
	for (int i = 0; i < HOSTS; i++) {
		char *line = strndup(start, n), *one, *more;
		size_t len;

		cr_assert_not_null(line);
		snprintf(addr, sizeof(addr), "10.77.%d.2:%d", i + 1, HOST_PORT);
		one = harness_replace(line, EXAMPLE_A, addr);
		cr_assert_not_null(one);
		len = (lines ? strlen(lines) : 0) + strlen(one) + 2;
		more = malloc(len);
		cr_assert_not_null(more);
		snprintf(more, len, "%s%s\n", lines ? lines : "", one);
		free(lines);
		free(one);
		free(line);
		lines = more;
	}
	text = replace_line(text, EXAMPLE_A, lines);
	free(lines);
	return replace_line(text, EXAMPLE_B, "");
}

/* The example for nginx's http {}, and the port its server listens on. */
static char *example_http(int *port)
{
	char *text = harness_read_file(EXAMPLE), *listen;

	cr_assert_neq(text[0], '\0', "cannot read %s", EXAMPLE);
	listen = strstr(text, "\tlisten ");
	cr_assert(listen != NULL && sscanf(listen, " listen %d;", port) == 1 && *port > 0,
		  "%s: no `listen PORT;` in its server block", EXAMPLE);
	text = example_servers(text);
	return example_replace(text, PARAMS, PARAMS_FULL, EXAMPLE);
}

/* ---- Hosts ---------------------------------------------------------------- */

static void host_module(char *out, size_t len, int i)
{
	snprintf(out, len, "%s/h%d/ver.so", scratch, i + 1);
}

/*
 * Point host i's module at BUILD_DIR/fixtures/`name`.so the README's way:
 * a new symlink beside the old one, renamed over it, so that a reload
 * reads either the old version or the new one, never a half-made link.
 */
static void point_module(int i, const char *name)
{
	char target[PATH_MAX], link[PATH_MAX], tmp[PATH_MAX + 8], rel[64];

	snprintf(rel, sizeof(rel), "fixtures/%s.so", name);
	assert_built(target, sizeof(target), rel);
	host_module(link, sizeof(link), i);
	snprintf(tmp, sizeof(tmp), "%s.new", link);
	unlink(tmp);
	cr_assert_eq(symlink(target, tmp), 0, "symlink %s: %s", tmp, strerror(errno));
	cr_assert_eq(rename(tmp, link), 0, "rename %s: %s", tmp, strerror(errno));
}

/* Host i: its namespace is entered, then sluice starts there on TCP. */
static void start_host(int i)
{
	char dir[PATH_MAX], mod[PATH_MAX], body[PATH_MAX + 512], listener[128];

	snprintf(dir, sizeof(dir), "%s/h%d", scratch, i + 1);
	cr_assert_eq(mkdir(dir, 0755), 0, "mkdir %s: %s", dir, strerror(errno));
	point_module(i, "ver1");
	host_module(mod, sizeof(mod), i);
	snprintf(listener, sizeof(listener), "{ address = \"10.77.%d.2:%d\"; }", i + 1,
		 HOST_PORT);
	snprintf(body, sizeof(body), "pm = { mode = \"static\"; max_children = 2; };\n"
		 "env = { HOST = \"h%d\"; };\n"
		 "modules = ( { path = \"%s\"; mount = \"/\"; } );\n", i + 1, mod);
	cr_assert_eq(netns_enter(&host_ns[i]), 0);
	cr_assert_eq(harness_sluice_start_listeners(&hosts[i], listener, body), 0,
		     "sluice did not start on host %d", i + 1);
}

/*
 * The namespaces and their links, the three hosts, and nginx in the
 * front; the calling thread is left in the front, where the load runs.
 */
static void start_all(void)
{
	char *http;

	if (geteuid() != 0)
		cr_skip_test("needs root: the hosts are network namespaces joined by veth pairs");
	cr_assert_eq(harness_make_real_dir(scratch, sizeof(scratch)), 0);
	cr_assert_eq(netns_current(&root), 0);
	cr_assert_eq(netns_make(&front), 0, "cannot make the front's network namespace");
	for (int i = 0; i < HOSTS; i++) {
		char f_if[16], f_cidr[32], h_cidr[32];

		cr_assert_eq(netns_make(&host_ns[i]), 0, "cannot make host %d's namespace", i + 1);
		snprintf(f_if, sizeof(f_if), "h%d", i + 1);
		snprintf(f_cidr, sizeof(f_cidr), "10.77.%d.1/24", i + 1);
		snprintf(h_cidr, sizeof(h_cidr), "10.77.%d.2/24", i + 1);
		cr_assert_eq(netns_link(&front, f_if, f_cidr, &host_ns[i], "eth0", h_cidr), 0,
			     "cannot link host %d to the front", i + 1);
	}
	for (int i = 0; i < HOSTS; i++)
		start_host(i);
	cr_assert_eq(netns_enter(&front), 0);
	http = example_http(&front_port);
	cr_assert_eq(harness_nginx_start_http(&np, http, ""), 0, "nginx did not start");
	free(http);
}

/* ---- The load --------------------------------------------------------------- */

/* POSTs to the example's server, from the front, until load_stop. */
static void post_load(struct load *l, long timeout_ms)
{
	struct load_opts o = {
		.method = "POST", .body_len = BODY_LEN, .clients = CLIENTS,
		.duration_ms = 60000, .max_requests = MAX_REQUESTS,
		.timeout_ms = timeout_ms, .pace_ms = PACE_MS,
	};
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ver", front_port);
	o.url = url;
	cr_assert_eq(load_start(l, &o), 0, "the load did not start");
}

/*
 * The version (1 or 2) and host index of an answer "vV hN", or -1 when
 * it is no such answer.
 */
static int parse_answer(const struct load_sample *s, int *version, int *host)
{
	char v, h;

	if (s->status != 200 || sscanf(s->head, "v%c h%c\n", &v, &h) != 2)
		return -1;
	*version = v - '0';
	*host = h - '1';
	return (*version == 1 || *version == 2) && *host >= 0 && *host < HOSTS ? 0 : -1;
}

/* ---- A rolling deploy ------------------------------------------------------ */

/*
 * What the package's `systemctl reload sluice` runs (ExecReload), on the
 * host: `sluice -t` on the config, which must pass, then SIGHUP to the
 * master.  The
 * step ends when the host's log says that generation 2 serves.
 */
static void reload_host(int i, long long *sent_us, long long *serves_us)
{
	char bin[PATH_MAX], conf[sizeof(hosts[i].conf)], out[PATH_MAX], opt_t[] = "-t",
	     opt_c[] = "-c", *line;
	char *argv[] = { bin, opt_t, opt_c, conf, NULL };
	int status;
	pid_t pid;

	assert_built(bin, sizeof(bin), "sluice");
	snprintf(conf, sizeof(conf), "%s", hosts[i].conf);
	snprintf(out, sizeof(out), "%s/h%d/check.log", scratch, i + 1);
	pid = netns_spawn(&host_ns[i], argv, out);
	cr_assert_gt(pid, 0);
	status = harness_wait_exit(pid, 10000);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "sluice -t on host %d (wait status %#x):\n%s", i + 1, status,
		  harness_read_file(out));
	*sent_us = harness_now_us();
	cr_assert_eq(kill(hosts[i].pid, SIGHUP), 0);
	line = logscan_wait(&hosts[i], "generation 2 serves", NULL, SERVES_WAIT_MS);
	*serves_us = harness_now_us();
	cr_assert_not_null(line, "host %d: generation 2 never served:\n%s", i + 1,
			   logscan_tail(&hosts[i], 4000));
	free(line);
}

/*
 * Host by host, under POST load: ver2 linked in, reloaded, and the next
 * host only once this one serves the new version.  No request fails;
 * each host answers v1 until it is told to reload and v2 to every request
 * that starts once its log says generation 2 serves; and each host
 * answered before and after its step, so the load was on it throughout.
 */
Test(hosts, rolling_deploy_under_post_load_loses_no_request)
{
	long long sent_us[HOSTS], serves_us[HOSTS];
	long before[HOSTS] = { 0 }, after[HOSTS] = { 0 }, bad = 0;
	char summary[512];
	struct load l;

	start_all();
	post_load(&l, 10000);
	harness_sleep_ms(SETTLE_MS);
	for (int i = 0; i < HOSTS; i++) {
		point_module(i, "ver2");
		reload_host(i, &sent_us[i], &serves_us[i]);
		harness_sleep_ms(SETTLE_MS);
	}
	/* The last host's "after" gets as much time as the first's "before". */
	harness_sleep_ms(SETTLE_MS);
	load_stop(&l);
	cr_log_info("rolling deploy over %d hosts: %s", HOSTS,
		    load_summary(&l, summary, sizeof(summary)));
	cr_assert_eq(load_failed(&l), 0, "%ld of %ld POSTs failed during the rolling deploy: %s",
		     load_failed(&l), l.n, summary);
	for (long k = 0; k < l.n; k++) {
		const struct load_sample *s = &l.samples[k];
		int v, h;

		cr_assert_eq(parse_answer(s, &v, &h), 0, "answer %ld: \"%s\"", k, s->head);
		if (s->end_us < sent_us[h]) {
			before[h]++;
			bad += v != 1;
		} else if (s->start_us > serves_us[h]) {
			after[h]++;
			cr_assert_eq(v, 2, "host %d answered v%d to a request that started %lld ms "
				     "after its generation 2 served", h + 1, v,
				     (s->start_us - serves_us[h]) / 1000);
		}
	}
	cr_assert_eq(bad, 0, "%ld answers of the new version before the reload", bad);
	for (int i = 0; i < HOSTS; i++) {
		cr_log_info("host %d: %ld answers before its reload, %ld after; reload took %lld ms",
			    i + 1, before[i], after[i], (serves_us[i] - sent_us[i]) / 1000);
		cr_assert_geq(before[i], 20, "host %d answered only %ld requests before its "
			      "reload: the load did not reach it", i + 1, before[i]);
		cr_assert_geq(after[i], 20, "host %d answered only %ld requests after its reload",
			      i + 1, after[i]);
		expect_sluice_clean(&hosts[i]);
	}
	expect_nginx_clean(&np);
	load_free(&l);
}

/* ---- A host cut off -------------------------------------------------------- */

#define CUT_AT_MS	1500
#define AFTER_CUT_MS	3000
#define CUT_TIMEOUT_MS	8000	/* a request to the cut host waits this long, then fails;
				 * one retried after fastcgi_connect_timeout (2 s)
				 * must finish well within it on a loaded machine */

/*
 * Under POST load, host 2's side of its link goes down, as a machine that
 * loses its network: nothing answers, nothing is refused.  A request
 * nginx has written to host 2 can only time out (and a POST that has
 * left is never sent again), so the requests that may fail are those on
 * nginx's connections to host 2: the ones in flight, and at most one on
 * each connection that sat idle in nginx's keepalive cache (FastCGI
 * carries one request at a time on a connection).  A new connection to
 * host 2 times out in fastcgi_connect_timeout, before anything was sent,
 * so nginx takes the request to another host and counts a failure of
 * host 2 against max_fails.  The bound asserted is the count of
 * established connections from the front to host 2 at the cut; every
 * request that does not fail is answered by a host.
 */
Test(hosts, a_host_cut_off_fails_only_what_was_in_flight_to_it)
{
	long failed, answered_after = 0, in_flight = 0;
	int to_host2;
	long long cut_us;
	char summary[512];
	struct load l;

	start_all();
	post_load(&l, CUT_TIMEOUT_MS);
	harness_sleep_ms(CUT_AT_MS);
	cr_assert_eq(netns_ip(&host_ns[1], "link set eth0 down"), 0);
	cut_us = harness_now_us();
	to_host2 = netns_tcp_established("10.77.2.2", HOST_PORT);
	cr_assert_geq(to_host2, 0, "cannot read the front's TCP table");
	harness_sleep_ms(AFTER_CUT_MS);
	load_stop(&l);

	failed = load_failed(&l);
	for (long k = 0; k < l.n; k++) {
		const struct load_sample *s = &l.samples[k];
		int v, h;

		if (s->start_us <= cut_us && (s->end_us >= cut_us || s->status == 0))
			in_flight++;
		if (parse_answer(s, &v, &h) == -1) {
			cr_assert(s->status == 0 || s->status >= 500, "answer %ld: %ld \"%s\"", k,
				  s->status, s->head);
			continue;
		}
		cr_assert_eq(v, 1, "answer %ld: \"%s\"", k, s->head);
		if (s->start_us > cut_us) {
			answered_after++;
			cr_assert_neq(h, 1, "host 2 answered a request sent after its link went "
				      "down");
		}
	}
	cr_log_info("host 2 cut off: %d connections to it, %ld requests in flight (all hosts), "
		    "%ld failed, %ld answered after the cut; %s", to_host2, in_flight, failed,
		    answered_after, load_summary(&l, summary, sizeof(summary)));
	cr_assert_leq(failed, to_host2, "%ld POSTs failed; at most the %d on connections to the "
		      "host cut off may", failed, to_host2);
	cr_assert_geq(answered_after, 100, "only %ld requests answered after the cut",
		      answered_after);
	for (int i = 0; i < HOSTS; i++)
		expect_sluice_clean(&hosts[i]);
	load_free(&l);
}
