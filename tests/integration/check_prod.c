/*
 * check_prod.c - the proof that the production binary holds nothing of
 * development mode, and that the proof can fail.
 *
 * tests/check-prod.sh (what `make check-prod` runs) is run on the
 * production binary, where it must pass, and on the development binary,
 * where it must find every kind of leak it looks for: that shows the
 * check is not one that cannot fail.  `make test` builds both profiles.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define DEV_OBJS BUILD_ROOT "/dev/obj/gateway/dev/dev.o " BUILD_ROOT "/dev/obj/gateway/dev/dev_http.o"

/* Run the check on `bin`; its output goes to `out`; returns its exit status. */
static int check(const char *bin, char *out, size_t len)
{
	char cmd[512];
	size_t n = 0;
	FILE *p;
	int status;

	snprintf(cmd, sizeof(cmd), "tests/check-prod.sh %s " BUILD_ROOT "/prod/obj " DEV_OBJS " 2>&1",
		 bin);
	p = popen(cmd, "r");
	cr_assert_not_null(p, "cannot run %s", cmd);
	while (n + 1 < len && !feof(p))
		n += fread(out + n, 1, len - n - 1, p);
	out[n] = '\0';
	status = pclose(p);
	cr_assert(WIFEXITED(status), "check-prod.sh did not exit normally: %s", out);
	return WEXITSTATUS(status);
}

Test(check_prod, production_binary_passes)
{
	char out[16384];

	cr_assert_eq(check(BUILD_ROOT "/prod/sluice", out, sizeof(out)), 0, "%s", out);
	cr_assert(strstr(out, "holds nothing of development mode"), "%s", out);
}

Test(check_prod, fails_on_a_binary_with_development_mode)
{
	static const char *const leaks[] = {
		"is built from sources of gateway/dev/:",
		"contains the debug endpoint prefix /_sluice/",
		"contains the development error page templates",
		"contains functions of the development sources:",
		"links libmicrohttpd",
		"does not carry the profile note \"prod\"",
	};
	char out[16384];

	cr_assert_eq(check(BUILD_ROOT "/dev/sluice", out, sizeof(out)), 1, "%s", out);
	for (size_t i = 0; i < sizeof(leaks) / sizeof(leaks[0]); i++)
		cr_assert(strstr(out, leaks[i]), "expected \"%s\" in:\n%s", leaks[i], out);
	/* A function only dev.c defines is named among the leaks. */
	cr_assert(strstr(out, "show_workers"), "%s", out);
	/* The dev folder's own files are named, the production stubs are not. */
	cr_assert(strstr(out, "gateway/dev/dev_http.c"), "%s", out);
	cr_assert_null(strstr(out, "dev_none.c"), "%s", out);
}
