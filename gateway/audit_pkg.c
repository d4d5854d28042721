/*
 * audit_pkg.c - `sluice audit`'s question to the package manager: which
 * Debian package each library of sluice and of every module comes from,
 * its installed version, and whether apt knows a newer one.  See audit.h.
 *
 * It asks what apt already knows (`apt-cache policy` reads the package
 * lists of the last `apt-get update`), so it works offline and changes
 * nothing.  Programs run with fork and exec and fixed arguments, never
 * through a shell: library names come from files on disk.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit.h"
#include "elf.h"

#define MAX_LIBS	64
#define RUN_OUTPUT	(256 * 1024)

struct lib {
	char name[64];		/* libconfig.so.9 */
	char user[256];		/* the first object that needs it */
	char pkg[96];		/* libconfig9, "" when no package has it */
	char installed[64], candidate[64];
};

struct libs {
	struct lib l[MAX_LIBS];
	int n;
};

/*
 * Run `argv` (looked up in PATH) with stdin and stderr on /dev/null; its
 * stdout, up to RUN_OUTPUT bytes, malloc'ed and NUL-terminated, and its
 * exit status in *rc.  NULL when it could not run.
 */
static char *run(const char *const argv[], int *rc)
{
	char *args[MAX_LIBS + 4];
	char *out = malloc(RUN_OUTPUT + 1);
	size_t len = 0;
	ssize_t n;
	int p[2], status;
	pid_t pid;

	size_t count = 0;

	while (argv[count] && count < MAX_LIBS + 3)
		count++;
	/* execvp's prototype predates const; it does not write the strings. */
	memcpy(args, argv, count * sizeof(*args));
	args[count] = NULL;
	if (!out || pipe2(p, O_CLOEXEC) < 0) {
		free(out);
		return NULL;
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(p[1], 1);
		dup2(null, 2);
		execvp(args[0], args);
		_exit(127);
	}
	close(p[1]);
	while (pid > 0 && (n = read(p[0], out + len, RUN_OUTPUT - len)) > 0)
		len += (size_t)n;
	close(p[0]);
	out[len] = '\0';
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == 127) {
		free(out);
		return NULL;
	}
	*rc = WEXITSTATUS(status);
	return out;
}

static void add_needed(struct libs *ls, const char *user)
{
	struct elf_facts f;
	char err[256];

	if (elf_inspect(user, &f, err, sizeof(err)) < 0)
		return;
	for (int i = 0; i < f.nneeded; i++) {
		int k = 0;

		while (k < ls->n && strcmp(ls->l[k].name, f.needed[i]) != 0)
			k++;
		if (k < ls->n || ls->n == MAX_LIBS)
			continue;
		snprintf(ls->l[k].name, sizeof(ls->l[k].name), "%s", f.needed[i]);
		snprintf(ls->l[k].user, sizeof(ls->l[k].user), "%s", user);
		ls->n++;
	}
}

/*
 * From `dpkg -S` lines "pkg[:arch]: /path/NAME", the package of each
 * library: the machine's own architecture first, else one without an
 * architecture.
 */
static void take_owners(struct libs *ls, const char *out, const char *arch)
{
	for (int k = 0; k < ls->n; k++) {
		struct lib *l = &ls->l[k];
		int best = 0;

		for (const char *line = out; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
			size_t len = strcspn(line, "\n"), nl = strlen(l->name), pl;
			const char *sep = memmem(line, len, ": /", 3);
			char pkg[96];
			int score;

			if (!sep || len < nl + 1 || line[len - nl - 1] != '/' ||
			    memcmp(line + len - nl, l->name, nl) != 0)
				continue;
			pl = (size_t)(sep - line);
			snprintf(pkg, sizeof(pkg), "%.*s", (int)pl, line);
			score = strchr(pkg, ':') ? 0 : 1;
			if (strchr(pkg, ':') && strcmp(strchr(pkg, ':') + 1, arch) == 0) {
				*strchr(pkg, ':') = '\0';
				score = 2;
			}
			if (score > best) {
				best = score;
				snprintf(l->pkg, sizeof(l->pkg), "%s", pkg);
			}
		}
	}
}

/* "Installed:" and "Candidate:" of each package, from `apt-cache policy`. */
static void take_policy(struct libs *ls, const char *out)
{
	const char *cur = NULL;

	for (const char *line = out; *line; line += strcspn(line, "\n") + (line[strcspn(line, "\n")] != 0)) {
		size_t len = strcspn(line, "\n");

		if (line[0] != ' ' && len > 1 && line[len - 1] == ':') {
			cur = line;
			continue;
		}
		for (int k = 0; cur && k < ls->n; k++) {
			struct lib *l = &ls->l[k];
			size_t pl = strlen(l->pkg);
			const char *v = line + strspn(line, " ");

			if (!pl || strncmp(cur, l->pkg, pl) != 0 || cur[pl] != ':')
				continue;
			if (strncmp(v, "Installed: ", 11) == 0)
				snprintf(l->installed, sizeof(l->installed), "%.*s",
					 (int)strcspn(v + 11, "\n"), v + 11);
			else if (strncmp(v, "Candidate: ", 11) == 0)
				snprintf(l->candidate, sizeof(l->candidate), "%.*s",
					 (int)strcspn(v + 11, "\n"), v + 11);
		}
	}
}

/* Whether Debian orders version `a` after `b` (dpkg --compare-versions). */
static int newer(const char *a, const char *b)
{
	const char *argv[] = { "dpkg", "--compare-versions", a, "gt", b, NULL };
	int rc = 1;
	char *out = run(argv, &rc);

	free(out);
	return out && rc == 0;
}

/* Ask dpkg and apt about every library, in one call each. */
static int ask(struct libs *ls)
{
	const char *argv[MAX_LIBS + 4], *arch_argv[] = { "dpkg", "--print-architecture", NULL };
	char *out, arch[32] = "";
	int n = 0, rc;

	out = run(arch_argv, &rc);
	if (!out)
		return -1;
	snprintf(arch, sizeof(arch), "%.*s", (int)strcspn(out, "\n"), out);
	free(out);
	argv[n++] = "dpkg";
	argv[n++] = "-S";
	for (int k = 0; k < ls->n; k++)
		argv[n++] = ls->l[k].name;
	argv[n] = NULL;
	if (!(out = run(argv, &rc)))
		return -1;
	take_owners(ls, out, arch);
	free(out);
	n = 0;
	argv[n++] = "apt-cache";
	argv[n++] = "policy";
	for (int k = 0; k < ls->n; k++)
		if (ls->l[k].pkg[0])
			argv[n++] = ls->l[k].pkg;
	argv[n] = NULL;
	if (n > 2 && (out = run(argv, &rc))) {
		take_policy(ls, out);
		free(out);
	}
	return 0;
}

static void report(struct audit *a, const struct lib *l)
{
	if (!l->pkg[0])
		audit_add(a, "outdated-library", AUDIT_INFO, "", "",
			  "%s (needed by %s) is not from a Debian package: keep it current "
			  "yourself", l->name, l->user);
	else if (l->installed[0] && l->candidate[0] && strcmp(l->candidate, "(none)") != 0 &&
		 newer(l->candidate, l->installed))
		audit_add(a, "outdated-library", AUDIT_MEDIUM,
			  "a newer package usually carries security fixes; the running code "
			  "keeps the old one's bugs until it is upgraded and sluice restarted",
			  "apt-get install --only-upgrade PACKAGE, then restart sluice",
			  "%s (needed by %s): package %s %s installed, %s available", l->name,
			  l->user, l->pkg, l->installed, l->candidate);
	else
		audit_add(a, "outdated-library", AUDIT_INFO, "", "",
			  "%s (needed by %s): package %s %s, the newest apt knows", l->name,
			  l->user, l->pkg, l->installed[0] ? l->installed : "(version unknown)");
}

void audit_rules_packages(struct audit *a)
{
	static struct libs ls;

	ls.n = 0;
	add_needed(&ls, a->proc && a->proc->exe[0] ? a->proc->exe : a->self);
	for (int i = 0; i < a->cfg->nmodules; i++)
		add_needed(&ls, a->cfg->modules[i].path);
	if (ls.n == 0)
		return;
	if (ask(&ls) < 0) {
		audit_add(a, "outdated-library", AUDIT_INFO, "", "",
			  "dpkg cannot be run: the libraries' versions were not checked");
		return;
	}
	for (int k = 0; k < ls.n; k++)
		report(a, &ls.l[k]);
}
