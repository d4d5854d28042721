/*
 * readme.c - the README's module example is real code: it is cut out of
 * README.md, built the way the README says, loaded by sluice, and its
 * routes answered through a real FastCGI request, so the README cannot
 * drift from the API.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

static struct sluice_proc sp;
static char dir[] = "/tmp/sluice-readme-XXXXXX";

/* The first ```c block of the "Writing a module" section, into `out`. */
static void example(char *out, size_t len)
{
	char *text = harness_read_file("README.md"), *start, *end;

	cr_assert_not_null(text, "cannot read README.md");
	start = strstr(text, "## Writing a module");
	cr_assert_not_null(start, "README.md has no \"Writing a module\" section");
	start = strstr(start, "```c\n");
	cr_assert_not_null(start, "the section has no C example");
	start += 5;
	end = strstr(start, "```");
	cr_assert_not_null(end);
	cr_assert_lt((size_t)(end - start), len);
	memcpy(out, start, (size_t)(end - start));
	out[end - start] = '\0';
	free(text);
}

static void run(const char *cmd)
{
	int status = system(cmd);

	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "failed: %s", cmd);
}

static void teardown(void)
{
	char cmd[128];

	harness_sluice_stop(&sp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

Test(readme, module_example_builds_loads_and_answers, .fini = teardown, .timeout = 30)
{
	char src[8192], path[256], cmd[1024], conf[512], out[4096];
	FILE *f, *p;
	size_t n;

	cr_assert_not_null(mkdtemp(dir));
	example(src, sizeof(src));
	snprintf(path, sizeof(path), "%s/users.c", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(src, f);
	fclose(f);
	/* The README's own command line, with -Werror so a warning counts. */
	snprintf(cmd, sizeof(cmd), "cc -shared -fPIC -O2 -Wall -Werror -I include -o %s/users.so %s",
		 dir, path);
	run(cmd);
	snprintf(conf, sizeof(conf), "modules = ( { path = \"%s/users.so\"; mount = \"/api\"; } );",
		 dir);
	cr_assert_eq(harness_sluice_start(&sp, conf), 0, "sluice did not load the example");

	snprintf(cmd, sizeof(cmd), "REQUEST_METHOD=GET DOCUMENT_URI=/api/users/42 "
		 "cgi-fcgi -bind -connect %s", sp.sock);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	cr_assert(strstr(out, "Status: 200 OK"), "%s", out);
	cr_assert(strstr(out, "\r\n\r\nuser 42\n"), "%s", out);

	snprintf(cmd, sizeof(cmd), "printf abc | REQUEST_METHOD=POST DOCUMENT_URI=/api/users "
		 "CONTENT_LENGTH=3 cgi-fcgi -bind -connect %s", sp.sock);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	cr_assert(strstr(out, "Status: 201 Created"), "%s", out);
	cr_assert(strstr(out, "\r\n\r\ncreated\n"), "%s", out);
}
