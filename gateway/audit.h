/*
 * audit.h - `sluice audit`: the deployment checklist as a command.
 *
 * It reads a config (never starting anything), and when given them a
 * systemd unit file and a running instance, and reports each finding
 * with a severity, what it means and the fix, as text or JSON.  The exit
 * status is the worst severity found: 0 nothing above info, 1 low,
 * 2 medium, 3 high; 4 when the audit itself could not run.
 *
 * audit.c owns the findings, the command line and the output;
 * audit_rules.c the rules about the config, the binary and the modules;
 * audit_host.c what the running processes and the unit file say;
 * audit_pkg.c what the package manager says of the libraries.
 */
#ifndef SLUICE_AUDIT_H
#define SLUICE_AUDIT_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

enum audit_severity { AUDIT_INFO, AUDIT_LOW, AUDIT_MEDIUM, AUDIT_HIGH };

#define AUDIT_TEXT	512
#define AUDIT_MAX_WORKERS	64

/* What a systemd unit file says, for the rules that care. */
struct audit_unit {
	char path[256];
	int dev;		/* ExecStart= passes --dev */
	char user[64];		/* User=, "" when absent (root) */
};

/* A running instance, read from /proc. */
struct audit_proc {
	pid_t master;
	char exe[256];			/* the master's binary */
	pid_t parent;
	char parent_name[32];		/* its comm */
	pid_t workers[AUDIT_MAX_WORKERS];
	int nworkers;
};

struct audit {
	const struct sl_config *cfg;
	const char *pool;		/* the pool cfg is (a file with pools); NULL: none */
	const char *self;		/* this binary, for its profile note */
	const struct audit_unit *unit;	/* NULL: none given */
	const struct audit_proc *proc;	/* NULL: none running, or none found */
	int offline_packages;		/* skip the package manager (--no-packages) */
	struct audit_finding {
		const char *rule;
		enum audit_severity severity;
		char what[AUDIT_TEXT], why[AUDIT_TEXT], fix[AUDIT_TEXT];
	} *findings;
	int n, cap;
};

/*
 * Record a finding of `rule`: `why` it matters and the `fix`, and the
 * case in hand as a printf format.
 */
void audit_add(struct audit *a, const char *rule, enum audit_severity sev, const char *why,
	       const char *fix, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* `sluice audit ARGS`: argv[0] is "audit".  The exit status. */
int audit_main(int argc, char **argv, const char *default_config);

/* audit_rules.c: the config, this binary and every module. */
/* The binary's profile, and --dev in the unit: once, whatever the pools. */
void audit_rules_binary(struct audit *a);
void audit_rules_config(struct audit *a);
void audit_rules_modules(struct audit *a);

/* audit_host.c: the unit file and the running instance. */
int audit_read_unit(const char *path, struct audit_unit *u, char *err, size_t errlen);
int audit_find_proc(const struct sl_config *cfg, pid_t pid, struct audit_proc *p,
		    char *err, size_t errlen);
void audit_rules_host(struct audit *a);

/* audit_pkg.c: each library's package, version and whether apt has a newer one. */
void audit_rules_packages(struct audit *a);

#endif
