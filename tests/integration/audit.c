/*
 * audit.c - `sluice audit`: each rule against a deployment that trips it
 * and one that does not, the packaged deployment clean, and every rule
 * firing on a deployment made of every mistake.
 *
 * A deployment is the packaged conf/sluice.conf and conf/systemd's unit
 * as installed, with its paths moved into a private folder (the module
 * copied there, owned by root, mode 0644), then changed one mistake at
 * a time.  The audit is run by the production binary (a development
 * binary is itself a finding), which the suite skips without.  The
 * package manager is asked through a stand-in apt-cache first in PATH,
 * which reports each package's installed version as the newest, or with
 * SHIM_NEWER set, a newer one: what apt says depends on the day.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "modules_conf.h"

#define PROD_SLUICE	BUILD_ROOT "/prod/sluice"
#define DEV_SLUICE	BUILD_ROOT "/dev/sluice"

static char dir[128], conf[192], unit[192], module[192];

/* The installed unit's path and conf/sluice.conf's, moved into `dir`. */
static char *packaged_conf(void)
{
	char *text = harness_read_file("conf/sluice.conf"), *a, *b, *c, sock[192];

	snprintf(sock, sizeof(sock), "%s/run/sluice.sock", dir);
	a = harness_replace(text, "/usr/local/lib/sluice/hello.so", module);
	b = harness_replace(a, "/run/sluice/sluice.sock", sock);
	c = harness_replace(b, "/var/log/sluice", dir);
	free(text);
	free(a);
	free(b);
	return c;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* `from` replaced by `to` in the deployment's config. */
static void change_conf(const char *from, const char *to)
{
	char *text = harness_read_file(conf), *changed = harness_replace(text, from, to);

	cr_assert(strstr(text, from), "\"%s\" is not in the config", from);
	write_file(conf, changed, 0644);
	free(text);
	free(changed);
}

static void copy_module(const char *from)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "install -m 0644 %s %s", from, module);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void deploy(void)
{
	char path[256], *text;

	if (access(PROD_SLUICE, X_OK) != 0 || access(BUILD_ROOT "/prod/apps/hello.so", R_OK) != 0)
		cr_skip_test("needs the production build (make)");
	if (geteuid() != 0)
		cr_skip_test("the packaged deployment's files belong to root");
	cr_assert_eq(harness_make_real_dir(dir, sizeof(dir)), 0);
	chmod(dir, 0755);
	snprintf(conf, sizeof(conf), "%s/sluice.conf", dir);
	snprintf(unit, sizeof(unit), "%s/sluice.service", dir);
	snprintf(module, sizeof(module), "%s/hello.so", dir);
	snprintf(path, sizeof(path), "%s/run", dir);
	cr_assert_eq(mkdir(path, 0750), 0);
	copy_module(BUILD_ROOT "/prod/apps/hello.so");
	text = packaged_conf();
	write_file(conf, text, 0644);
	free(text);
	text = harness_read_file("conf/systemd/sluice.service");
	write_file(unit, text, 0644);
	free(text);
	/* The stand-in apt-cache: "policy PKG..." answered from dpkg's versions. */
	snprintf(path, sizeof(path), "%s/bin", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/bin/apt-cache", dir);
	write_file(path, "#!/bin/sh\nshift\nfor p; do\n"
		   "  v=$(dpkg-query -W -f '${Version}' \"$p\" 2>/dev/null | head -n1)\n"
		   "  echo \"$p:\"; echo \"  Installed: $v\"; echo \"  Candidate: ${SHIM_NEWER:+99:}$v\"\n"
		   "done\n", 0755);
}

static void undeploy(void)
{
	if (dir[0])
		harness_remove_dir(dir);
	dir[0] = '\0';
}

/*
 * Run `bin audit -c CONF --json ARGS` (ARGS pasted into a shell line,
 * with "%U" standing for the unit); the JSON, malloc'ed, and the exit
 * status in *rc.
 */
static char *audit_with(const char *bin, const char *args, int *rc)
{
	char cmd[1024], *out = NULL, *a;
	size_t cap = 0, len = 0, n;
	FILE *p;
	int status;

	a = harness_replace(args, "%U", unit);
	snprintf(cmd, sizeof(cmd), "PATH=%s/bin:$PATH %s audit -c %s --json %s", dir, bin, conf, a);
	free(a);
	p = popen(cmd, "r");
	cr_assert_not_null(p, "%s", cmd);
	do {
		if (len + 4096 + 1 > cap)
			out = realloc(out, cap = 2 * cap + 8192);
		n = fread(out + len, 1, 4096, p);
		len += n;
	} while (n > 0);
	out[len] = '\0';
	status = pclose(p);
	cr_assert(WIFEXITED(status), "%s", cmd);
	*rc = WEXITSTATUS(status);
	return out;
}

static char *audit(const char *args, int *rc)
{
	return audit_with(PROD_SLUICE, args, rc);
}

/* Whether the JSON has a finding of `rule` at `severity` (NULL: any). */
static int has(const char *json, const char *rule, const char *severity)
{
	char needle[128];

	if (severity)
		snprintf(needle, sizeof(needle), "\"rule\":\"%s\",\"severity\":\"%s\"", rule,
			 severity);
	else
		snprintf(needle, sizeof(needle), "\"rule\":\"%s\",", rule);
	return strstr(json, needle) != NULL;
}

/* The finding `rule` at `severity`, and the exit status at least `worst`. */
static void trips(const char *args, const char *rule, const char *severity, int worst)
{
	int rc;
	char *out = audit(args, &rc);

	cr_expect(has(out, rule, severity), "no %s finding of %s:\n%s", severity, rule, out);
	cr_expect_geq(rc, worst, "exit status %d:\n%s", rc, out);
	free(out);
}

/* No finding of `rule` above info. */
static void passes(const char *args, const char *rule)
{
	int rc;
	char *out = audit(args, &rc);

	cr_expect(!has(out, rule, "low") && !has(out, rule, "medium") && !has(out, rule, "high"),
		  "%s fired:\n%s", rule, out);
	free(out);
}

TestSuite(audit, .init = deploy, .fini = undeploy, .timeout = 120);

Test(audit, packaged_deployment_has_nothing_above_info)
{
	int rc;
	char *out = audit("--unit %U", &rc);

	cr_expect_eq(rc, 0, "exit status %d:\n%s", rc, out);
	cr_expect(strstr(out, "\"worst\":\"info\""), "%s", out);
	/* The libraries were looked at: libconfig and libc at least. */
	cr_expect(strstr(out, "libconfig.so.9") && strstr(out, "package libc6 "), "%s", out);
	free(out);
}

Test(audit, dev_build)
{
	int rc;
	char *out;

	passes("--no-packages --unit %U", "dev-build");
	write_file(unit, "[Service]\nUser=sluice\nExecStart=/usr/sbin/sluice --dev -c x\n", 0644);
	trips("--no-packages --unit %U", "dev-build", "high", 3);
	if (access(DEV_SLUICE, X_OK) == 0) {
		out = audit_with(DEV_SLUICE, "--no-packages", &rc);
		cr_expect(has(out, "dev-build", "high") && rc == 3, "%d %s", rc, out);
		free(out);
	}
}

Test(audit, root_workers)
{
	passes("--no-packages --unit %U", "root-workers");
	change_conf("log_level = \"notice\";", "log_level = \"notice\"; user = \"root\";");
	trips("--no-packages --unit %U", "root-workers", "high", 3);
}

Test(audit, root_workers_from_the_unit)
{
	write_file(unit, "[Service]\nExecStart=/usr/sbin/sluice -c x\n", 0644);
	trips("--no-packages --unit %U", "root-workers", "high", 3);
}

Test(audit, tcp_listener_without_allowed_clients)
{
	char *text = harness_read_file(conf);
	char *at = strstr(text, "listen = {");

	cr_assert_not_null(at);
	change_conf("address = \"", "address = \"127.0.0.1:9000\"; #");
	passes("--no-packages --unit %U", "tcp-open");
	change_conf("127.0.0.1:9000", "0.0.0.0:9000");
	trips("--no-packages --unit %U", "tcp-open", "high", 3);
	change_conf("address = \"0.0.0.0:9000\";",
		    "address = \"0.0.0.0:9000\"; allowed_clients = \"10.0.0.5\";");
	passes("--no-packages --unit %U", "tcp-open");
	free(text);
}

Test(audit, world_writable_socket)
{
	char path[256];

	passes("--no-packages --unit %U", "world-writable-socket");
	change_conf("mode = \"0660\";", "mode = \"0666\";");
	trips("--no-packages --unit %U", "world-writable-socket", "medium", 2);
	change_conf("mode = \"0666\";", "mode = \"0660\";");
	snprintf(path, sizeof(path), "%s/run", dir);
	chmod(path, 0777);
	trips("--no-packages --unit %U", "world-writable-socket", "high", 3);
}

Test(audit, no_terminate_timeout)
{
	passes("--no-packages --unit %U", "no-terminate-timeout");
	change_conf("request_terminate_timeout = 60;", "request_terminate_timeout = 0;");
	trips("--no-packages --unit %U", "no-terminate-timeout", "medium", 2);
}

Test(audit, no_recycling)
{
	passes("--no-packages --unit %U", "no-recycling");
	change_conf("max_requests = 10000;", "max_requests = 0;");
	trips("--no-packages --unit %U", "no-recycling", "low", 1);
}

Test(audit, core_dumps)
{
	passes("--no-packages --unit %U", "core-dumps");
	change_conf("log_level = \"notice\";", "log_level = \"notice\"; rlimit_core = \"unlimited\";");
	trips("--no-packages --unit %U", "core-dumps", "medium", 2);
}

Test(audit, module_hardening)
{
	passes("--no-packages --unit %U", "module-hardening");
	copy_module(BUILD_ROOT "/prod/fixtures/unhardened.so");
	trips("--no-packages --unit %U", "module-hardening", "medium", 2);
}

Test(audit, module_writable)
{
	passes("--no-packages --unit %U", "module-writable");
	cr_assert_eq(chown(module, 65534, 65534), 0);
	trips("--no-packages --unit %U", "module-writable", "high", 3);
	cr_assert_eq(chown(module, 0, 0), 0);
	chmod(module, 0666);
	trips("--no-packages --unit %U", "module-writable", "high", 3);
}

Test(audit, outdated_library)
{
	passes("--unit %U", "outdated-library");
	trips("--unit %U", "outdated-library", "info", 0);
	setenv("SHIM_NEWER", "1", 1);
	trips("--unit %U", "outdated-library", "medium", 2);
	unsetenv("SHIM_NEWER");
}

/* A master started by this test, not a process manager, is one. */
Test(audit, no_process_manager)
{
	static struct sluice_proc sp;
	static const char *const mods[] = { "apps/hello /", NULL };
	char args[64];

	passes("--no-packages --unit %U", "no-process-manager");
	cr_assert_eq(modules_conf_start(&sp, NULL, "", mods), 0);
	snprintf(args, sizeof(args), "--no-packages --pid %d", (int)sp.pid);
	trips(args, "no-process-manager", "low", 1);
	harness_sluice_stop(&sp);
}

/* Without --pid, the master is found through the status socket the config names. */
Test(audit, running_instance_found_through_the_status_socket)
{
	static struct sluice_proc sp;
	static const char *const mods[] = { "apps/hello /", NULL };
	char master[64];
	char *out;
	int rc;

	cr_assert_eq(modules_conf_start(&sp, NULL, "status = { listen = \"unix:status.sock\"; };\n",
					mods), 0);
	snprintf(conf, sizeof(conf), "%s", sp.conf);
	snprintf(master, sizeof(master), "master %d was started by", (int)sp.pid);
	out = audit("--no-packages", &rc);
	harness_sluice_stop(&sp);
	cr_expect(has(out, "no-process-manager", "low") && strstr(out, master), "%s", out);
	free(out);
}

/*
 * Every mistake at once, and every rule fires.  The running instance is
 * started from the same config but for its listener (a unix socket in
 * its own folder: the suites bind loopback only), as root with core
 * dumps on, by this test rather than a process manager.
 */
Test(audit, every_rule_fires_on_every_mistake)
{
	static const char *const rules[] = {
		"dev-build", "root-workers", "tcp-open", "world-writable-socket",
		"no-terminate-timeout", "no-recycling", "no-process-manager",
		"module-hardening", "module-writable", "core-dumps", "outdated-library",
	};
	static const char *const mods[] = { "apps/hello /", NULL };
	static struct sluice_proc sp;
	char args[128], path[256];
	char *out;
	int rc;

	cr_assert_eq(modules_conf_start(&sp, NULL, "user = \"root\"; rlimit_core = \"unlimited\";\n",
					mods), 0);
	write_file(unit, "[Service]\nExecStart=/usr/sbin/sluice --dev -c x\n", 0644);
	change_conf("log_level = \"notice\";", "log_level = \"notice\"; user = \"root\"; "
		    "rlimit_core = \"unlimited\";");
	change_conf("request_terminate_timeout = 60;", "request_terminate_timeout = 0;");
	change_conf("max_requests = 10000;", "max_requests = 0;");
	/* The listen group becomes the second of a list, after a TCP listener. */
	change_conf("listen = {", "listen = ( \"0.0.0.0:9000\", {");
	change_conf("is served).\n};", "is served).\n} );");
	change_conf("mode = \"0660\";", "mode = \"0666\";");
	snprintf(path, sizeof(path), "%s/run", dir);
	chmod(path, 0777);
	copy_module(BUILD_ROOT "/prod/fixtures/unhardened.so");
	cr_assert_eq(chown(module, 65534, 65534), 0);
	setenv("SHIM_NEWER", "1", 1);
	snprintf(args, sizeof(args), "--unit %%U --pid %d", (int)sp.pid);
	out = audit(args, &rc);
	unsetenv("SHIM_NEWER");
	harness_sluice_stop(&sp);
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		cr_expect(has(out, rules[i], "low") || has(out, rules[i], "medium") ||
			  has(out, rules[i], "high"), "%s did not fire:\n%s", rules[i], out);
	cr_expect_eq(rc, 3, "exit status %d", rc);
	free(out);
}

/* Text is the default, with the why and the fix under each finding. */
Test(audit, text_output)
{
	char cmd[512];
	char *out;
	FILE *p;
	size_t n;

	change_conf("request_terminate_timeout = 60;", "request_terminate_timeout = 0;");
	snprintf(cmd, sizeof(cmd), "%s audit -c %s --no-packages --unit %s", PROD_SLUICE, conf, unit);
	p = popen(cmd, "r");
	out = calloc(1, 65536);
	n = fread(out, 1, 65535, p);
	out[n] = '\0';
	cr_expect_eq(WEXITSTATUS(pclose(p)), 2);
	cr_expect(strstr(out, "medium no-terminate-timeout: request_terminate_timeout is 0"), "%s", out);
	cr_expect(strstr(out, "       fix: set request_terminate_timeout"), "%s", out);
	cr_expect(strstr(out, "worst: medium"), "%s", out);
	free(out);
}

/* A config that does not load is an audit that failed, not a clean one. */
Test(audit, bad_config_fails)
{
	int rc;
	char *out;

	change_conf("request_terminate_timeout = 60;", "request_terminate_timeout = ;");
	out = audit("--no-packages", &rc);
	cr_expect_eq(rc, 4, "%s", out);
	free(out);
}
