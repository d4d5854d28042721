/*
 * audit.c - `sluice audit`: its command line, the findings and their
 * output.  See audit.h; the rules live in audit_rules.c and
 * audit_host.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "elf.h"
#include "escape.h"

#define AUDIT_FAILED	4

static const char *const severity_names[] = { "info", "low", "medium", "high" };

void audit_add(struct audit *a, const char *rule, enum audit_severity sev, const char *why,
	       const char *fix, const char *fmt, ...)
{
	struct audit_finding *f;
	va_list ap;
	int n;

	if (a->n == a->cap) {
		int cap = a->cap ? 2 * a->cap : 32;
		void *p = realloc(a->findings, (size_t)cap * sizeof(*a->findings));

		if (!p)
			return;		/* the finding is lost, the run goes on */
		a->findings = p;
		a->cap = cap;
	}
	f = &a->findings[a->n++];
	f->rule = rule;
	f->severity = sev;
	snprintf(f->why, sizeof(f->why), "%s", why);
	snprintf(f->fix, sizeof(f->fix), "%s", fix);
	n = a->pool ? snprintf(f->what, sizeof(f->what), "pool %s: ", a->pool) : 0;
	if (n < 0 || (size_t)n >= sizeof(f->what))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(f->what + n, sizeof(f->what) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Highest severity first; a rule's findings keep their order. */
static int by_severity(const void *x, const void *y)
{
	const struct audit_finding *a = x, *b = y;

	if (a->severity != b->severity)
		return (int)b->severity - (int)a->severity;
	return a < b ? -1 : a > b;
}

static int worst(const struct audit *a)
{
	int w = -1;

	for (int i = 0; i < a->n; i++)
		if ((int)a->findings[i].severity > w)
			w = (int)a->findings[i].severity;
	return w;
}

static void print_text(const struct audit *a, FILE *out)
{
	int count[4] = { 0 }, w = worst(a);

	fprintf(out, "sluice audit of %s\n\n", a->cfg->file);
	for (int i = 0; i < a->n; i++) {
		const struct audit_finding *f = &a->findings[i];

		count[f->severity]++;
		fprintf(out, "%-6s %s: %s\n", severity_names[f->severity], f->rule, f->what);
		if (f->severity > AUDIT_INFO)
			fprintf(out, "       why: %s\n       fix: %s\n", f->why, f->fix);
	}
	fprintf(out, "\n%d high, %d medium, %d low, %d info; worst: %s\n", count[AUDIT_HIGH],
		count[AUDIT_MEDIUM], count[AUDIT_LOW], count[AUDIT_INFO],
		w < 0 ? "none" : severity_names[w]);
}

static void json_str(FILE *out, const char *s)
{
	char buf[AUDIT_TEXT * ESCAPE_GROWTH + 1];
	size_t used, n = json_escape(buf, sizeof(buf) - 1, s, strlen(s), &used);

	fprintf(out, "\"%.*s\"", (int)n, buf);
}

static void print_json(const struct audit *a, FILE *out)
{
	int w = worst(a);

	fputs("{\"config\":", out);
	json_str(out, a->cfg->file);
	fprintf(out, ",\"worst\":\"%s\",\"findings\":[", w < 0 ? "none" : severity_names[w]);
	for (int i = 0; i < a->n; i++) {
		const struct audit_finding *f = &a->findings[i];

		fprintf(out, "%s{\"rule\":\"%s\",\"severity\":\"%s\",\"what\":", i ? "," : "",
			f->rule, severity_names[f->severity]);
		json_str(out, f->what);
		fputs(",\"why\":", out);
		json_str(out, f->why);
		fputs(",\"fix\":", out);
		json_str(out, f->fix);
		fputs("}", out);
	}
	fputs("]}\n", out);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice audit [-c FILE] [--json] [--unit FILE] [--pid PID] [--no-packages]\n"
		"       sluice audit --elf FILE\n"
		"  -c, --config FILE  the configuration to audit\n"
		"      --json         findings as JSON\n"
		"      --unit FILE    the systemd unit that starts it\n"
		"      --pid PID      the running master (default: from the pid file or the\n"
		"                     status socket, when the config names them)\n"
		"      --no-packages  do not ask dpkg and apt about the libraries\n"
		"      --elf FILE     print what an ELF file says of its hardening, and exit\n"
		"exit status: 0 nothing above info, 1 low, 2 medium, 3 high, 4 audit failed\n");
}

/* `--elf FILE`: the facts check-prod.sh reads. */
static int print_elf(const char *path)
{
	struct elf_facts f;
	char err[512];

	if (elf_inspect(path, &f, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice audit: %s\n", err);
		return AUDIT_FAILED;
	}
	elf_print(&f, stdout);
	return 0;
}

struct audit_args {
	const char *file, *unit, *elf;
	pid_t pid;
	int json, no_packages;
};

static int parse_args(int argc, char **argv, struct audit_args *o)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "unit", required_argument, NULL, 'u' },
		{ "pid", required_argument, NULL, 'p' },
		{ "elf", required_argument, NULL, 'e' },
		{ "no-packages", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long v;
	int opt;

	optind = 1;
	opterr = 0;		/* said below, with the command's name */
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': o->file = optarg; break;
		case 'j': o->json = 1; break;
		case 'u': o->unit = optarg; break;
		case 'e': o->elf = optarg; break;
		case 'n': o->no_packages = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'p':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v <= 0) {
				fprintf(stderr, "sluice audit: --pid \"%s\" is not a process id\n",
					optarg);
				return -1;
			}
			o->pid = (pid_t)v;
			break;
		default:
			fprintf(stderr, "sluice audit: \"%s\" is an unknown option, or one "
				"without its value\n", argv[optind - 1]);
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice audit: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	return 0;
}

/*
 * The config and module rules over each pool of a file with pools, each
 * finding named after its pool; the host's rules then see the first.
 * Returns -1 when a pool's part of the file cannot be read.
 */
static int run_pool_rules(struct audit *a, const struct sl_config *top)
{
	static struct sl_config pools[MAX_POOLS];
	char err[1024];

	for (int i = 0; i < top->pools.n; i++) {
		if (config_load_pool(top->file, top->pools.name[i], &pools[i], err,
				     sizeof(err)) < 0) {
			fprintf(stderr, "sluice audit: pool %s: %s\n", top->pools.name[i], err);
			return -1;
		}
		a->cfg = &pools[i];
		a->pool = pools[i].pool;
		audit_rules_config(a);
		audit_rules_modules(a);
	}
	a->cfg = &pools[0];
	a->pool = NULL;
	return 0;
}

/* Run every rule over what was given; the findings sorted, worst first. */
static void run_rules(struct audit *a)
{
	audit_rules_binary(a);
	if (!a->cfg->pools.n) {
		audit_rules_config(a);
		audit_rules_modules(a);
	}
	audit_rules_host(a);
	if (!a->offline_packages)
		audit_rules_packages(a);
	qsort(a->findings, (size_t)a->n, sizeof(*a->findings), by_severity);
}

int audit_main(int argc, char **argv, const char *default_config)
{
	static struct sl_config cfg;
	static struct audit_unit unit;
	static struct audit_proc proc;
	struct audit_args o = { .file = default_config };
	static char self[4096];
	struct audit a = { .cfg = &cfg, .self = self };
	char err[1024];
	ssize_t n;
	int w;

	if (parse_args(argc, argv, &o) < 0)
		return AUDIT_FAILED;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	snprintf(self + (n > 0 ? n : 0), sizeof(self) - (size_t)(n > 0 ? n : 0), "%s",
		 n > 0 ? "" : "/proc/self/exe");
	if (o.elf)
		return print_elf(o.elf);
	if (config_load(o.file, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice audit: %s\n", err);
		return AUDIT_FAILED;
	}
	if (o.unit && audit_read_unit(o.unit, &unit, err, sizeof(err)) < 0) {
		fprintf(stderr, "sluice audit: %s\n", err);
		config_free(&cfg);
		return AUDIT_FAILED;
	}
	a.unit = o.unit ? &unit : NULL;
	if (audit_find_proc(&cfg, o.pid, &proc, err, sizeof(err)) == 0)
		a.proc = &proc;
	else if (o.pid) {
		fprintf(stderr, "sluice audit: %s\n", err);
		config_free(&cfg);
		return AUDIT_FAILED;
	}
	a.offline_packages = o.no_packages;
	if (cfg.pools.n && run_pool_rules(&a, &cfg) < 0) {
		config_free(&cfg);
		return AUDIT_FAILED;
	}
	run_rules(&a);
	(o.json ? print_json : print_text)(&a, stdout);
	w = worst(&a);
	free(a.findings);
	config_free(&cfg);
	return w <= AUDIT_INFO ? 0 : w;
}
