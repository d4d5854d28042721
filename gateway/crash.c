/*
 * crash.c - fatal-signal and timeout handlers of a worker.
 * See crash.h.
 */
#include <execinfo.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "conn.h"
#include "crash.h"
#include "dev/dev.h"
#include "handoff.h"
#include "io.h"
#include "log.h"
#include "module.h"
#include "proto.h"
#include "request.h"
#include "safefmt.h"
#include "sandbox.h"
#include "scoreboard.h"
#include "symbols.h"

/* Big enough for the handler's line buffer and a deep backtrace. */
#define ALT_STACK_SIZE (256 * 1024)
#define MAX_FRAMES 32
#define LINE_MAX_BYTES 8192
/* A sanitizer's report with its shadow-memory map is a few KiB. */
#define REPORT_MAX_BYTES (32 * 1024)

static struct {
	struct score *score;
	int owner;		/* our owner number in the kept table (handoff.h) */
	int ctl;		/* our end of the master's control pair, -1: none */
	void *alt_stack;	/* the kernel holds it; kept here for the record */
} cr;

static const char *signame(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	case SIGFPE: return "SIGFPE";
	case SIGILL: return "SIGILL";
	case SIGABRT: return "SIGABRT";
	case SIGSYS: return "SIGSYS";
	default: return "a signal";
	}
}

/* " in request ID, route GET /x of module m" or " outside any request". */
static size_t put_where(char *buf, size_t size, size_t at, const struct sl_request *r)
{
	const struct route *rt;

	if (!r)
		return sf_str(buf, size, at, " outside any request (module init or the event loop)");
	at = sf_str(buf, size, at, " in request ");
	at = sf_str(buf, size, at, r->id);
	rt = r->match.route;
	if (!rt)
		return sf_str(buf, size, at, " before routing");
	at = sf_str(buf, size, at, ", route ");
	at = sf_str(buf, size, at, rt->method ? rt->method : "*");
	at = sf_str(buf, size, at, " ");
	at = sf_str(buf, size, at, rt->pattern);
	at = sf_str(buf, size, at, " of module ");
	return sf_str(buf, size, at, module_name(rt->module));
}

/*
 * "; backtrace: f1+0x1a (x.so) < f2+0x30 (sluice) < ...", innermost
 * first, starting at `pc` (the interrupted instruction) so that the
 * handler's own frames and the signal trampoline are left out.
 */
static size_t put_backtrace(char *buf, size_t size, size_t at, uintptr_t pc)
{
	void *frames[MAX_FRAMES];
	int n = backtrace(frames, MAX_FRAMES), first = 0;
	char name[256];

	for (int i = 0; i < n; i++)
		if ((uintptr_t)frames[i] == pc) {
			first = i;
			break;
		}
	at = sf_str(buf, size, at, "; backtrace: ");
	for (int i = first; i < n; i++) {
		/* Return addresses point after the call: step back into it
		 * so that a call at a function's very end names the caller. */
		uintptr_t a = (uintptr_t)frames[i] - (i > first ? 1 : 0);

		symbols_format(a, name, sizeof(name));
		if (i > first)
			at = sf_str(buf, size, at, " < ");
		at = sf_str(buf, size, at, name);
	}
	return at;
}

/* The program counter saved in a signal's context: each ABI names it. */
static uintptr_t interrupted_pc(void *ucv)
{
	const ucontext_t *uc = ucv;

	if (!uc)
		return 0;
#if defined(__x86_64__)
	return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__i386__)
	return (uintptr_t)uc->uc_mcontext.gregs[REG_EIP];
#elif defined(__aarch64__)
	return (uintptr_t)uc->uc_mcontext.pc;
#else
#error "interrupted_pc: no program counter for this architecture"
#endif
}

/*
 * A connection the master has no duplicate of yet (its first request is
 * the one that failed) is passed to it now: the web server got a whole
 * answer and will reuse the connection, which must not die with us.
 * handoff_alloc is lock-free and sendmsg async-signal-safe.
 */
static int share(struct conn *c)
{
	struct handoff_msg m = { .type = HM_KEPT, .listener = c->listener };

	if (c->slot >= 0)
		return 0;
	if (cr.ctl < 0 || (c->slot = handoff_alloc(cr.owner, &c->tag)) < 0)
		return -1;
	m.slot = c->slot;
	m.tag = c->tag;
	if (handoff_send(cr.ctl, &m, c->fd) == 0)
		return 0;
	handoff_set(c->slot, c->tag, KEPT_MASTER, KEPT_FREE);
	c->slot = -1;
	return -1;
}

/* The production error page: status, reason and request id.  Kept out of
 * line: inlined, gcc 12 misjudges the bounds of the appenders. */
static __attribute__((noinline)) size_t terse_body(char *body, size_t cap, int status, const char *reason, const char *id)
{
	size_t n = sf_uint(body, cap, 0, (unsigned)status, 0);

	n = sf_str(body, cap, n, " ");
	n = sf_str(body, cap, n, reason);
	n = sf_str(body, cap, n, "\nrequest id: ");
	n = sf_str(body, cap, n, id);
	return sf_str(body, cap, n, "\n");
}

/*
 * Answer the request in hand, if nothing was sent yet: with the terse
 * production page, or in development mode with the verbose one built
 * from `line` (the log line, backtrace included).  Static buffers: a
 * handler runs once, and the alternate stack need not hold them.
 */
static void reply(struct sl_request *r, int status, const char *reason, const char *line)
{
	static unsigned char out[FCGI_MAX_CONTENT + 64];
	static char body[FCGI_MAX_CONTENT - 512];
	const char *type = "text/plain; charset=utf-8";
	size_t n, len;

	if (!r || r->head_sent || r->client_gone || !r->conn || conn_pending(r->conn) > 0)
		return;
	n = dev_error_page(r, status, line, body, sizeof(body), &type);
	if (n == 0)
		n = terse_body(body, sizeof(body), status, reason, r->id);
	len = r->conn->proto->emergency(r->conn, out, sizeof(out), status, reason, type, body, n);
	r->head_sent = 1;
	if (len == 0 || write(r->conn->fd, out, len) != (ssize_t)len)
		return;		/* the peer is gone, or the answer did not fit: nothing more */
	/*
	 * Answered whole at a request boundary: the connection outlives this
	 * process.  Marked idle, it goes to another worker once the master
	 * sees us die, with whatever the web server sends next.
	 */
	if (r->conn->proto->reusable(r->conn, r) && share(r->conn) == 0)
		handoff_set(r->conn->slot, r->conn->tag, cr.owner, KEPT_IDLE);
}

/* Does the master's signal still concern the request in hand? */
static int meant_for(const struct sl_request *r)
{
	return r && cr.score && strncmp(cr.score->target_id, r->id, sizeof(r->id)) == 0;
}

static void on_fatal(int sig, siginfo_t *si, void *uc)
{
	struct sl_request *r = request_current();
	char line[LINE_MAX_BYTES];
	size_t at;

	if (sandbox_trapped(sig, si->si_code)) {
		at = sf_str(line, sizeof(line), 0, "stopped by seccomp: system call ");
		at = sf_str(line, sizeof(line), at, sandbox_syscall_name(si->si_syscall));
		at = sf_str(line, sizeof(line), at, " (");
		at = sf_uint(line, sizeof(line), at, (unsigned long long)si->si_syscall, 0);
		at = sf_str(line, sizeof(line), at, ") is not in the allow-list (seccomp_allow adds it)");
	} else {
		at = sf_str(line, sizeof(line), 0, "crashed on ");
		at = sf_str(line, sizeof(line), at, signame(sig));
	}
	at = put_where(line, sizeof(line), at, r);
	put_backtrace(line, sizeof(line), at, interrupted_pc(uc));
	log_signal_safe(-1, LOG_ERROR, line);
	reply(r, 502, "Bad Gateway", line);
	/* SA_RESETHAND restored the default action: die of the same signal,
	 * so that the master's wait status tells the truth. */
	raise(sig);
}

static size_t put_running(char *buf, size_t size, size_t at, const char *what)
{
	at = sf_str(buf, size, at, what);
	at = sf_str(buf, size, at, " (running ");
	at = sf_uint(buf, size, at, (unsigned long long)(io_now_ms() - cr.score->req_start_ms), 0);
	return sf_str(buf, size, at, " ms)");
}

static void on_terminate(int sig, siginfo_t *si, void *uc)
{
	struct sl_request *r = request_current();
	char line[LINE_MAX_BYTES];
	size_t at;

	(void)sig;
	(void)si;
	if (!meant_for(r))
		return;
	at = put_running(line, sizeof(line), 0, "request stopped: past request_terminate_timeout");
	at = put_where(line, sizeof(line), at, r);
	put_backtrace(line, sizeof(line), at, interrupted_pc(uc));
	log_signal_safe(-1, LOG_ERROR, line);
	reply(r, 504, "Gateway Timeout", line);
	_exit(EXIT_TERMINATED);
}

/*
 * A runtime checker (AddressSanitizer or UndefinedBehaviorSanitizer in
 * the dev profile) found an error and is about to end the worker:
 * `summary` (one line) is logged with the request in hand, which is
 * answered with 502 and, in development mode, a page holding the whole
 * `report`.  The checker then exits by itself.
 */
void crash_last_words(const char *summary, const char *report)
{
	static char line[REPORT_MAX_BYTES];
	struct sl_request *r = request_current();
	size_t at;

	at = sf_str(line, sizeof(line), 0, summary);
	at = put_where(line, sizeof(line), at, r);
	log_signal_safe(-1, LOG_ERROR, line);
	at = sf_str(line, sizeof(line), at, "\n\n");
	sf_str(line, sizeof(line), at, report);
	reply(r, 502, "Bad Gateway", line);
}

static int install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa = { .sa_sigaction = fn, .sa_flags = SA_SIGINFO | SA_ONSTACK | flags };

	sigfillset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

/*
 * The first backtrace() loads the unwinder, which allocates, binds its
 * symbols and clears a 256 KiB cache: done once, before the first
 * fork, every worker inherits it ready, with nothing to fault in (77 of
 * a new worker's 156 page faults were this).
 */
void crash_warm(void)
{
	static int warm;
	void *frames[1];

	if (!warm)
		backtrace(frames, 1);
	warm = 1;
}

int crash_init(int score_index, int ctl_fd)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS };
	stack_t ss = { .ss_size = ALT_STACK_SIZE };

	cr.score = scoreboard_slot(score_index);
	cr.owner = score_index + 1;
	cr.ctl = ctl_fd;
	crash_warm();	/* not in a handler */
	ss.ss_sp = cr.alt_stack = malloc(ALT_STACK_SIZE);
	if (!ss.ss_sp || sigaltstack(&ss, NULL) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		if (install(fatal[i], on_fatal, SA_RESETHAND) < 0)
			return -1;
	return install(SIGUSR2, on_terminate, 0);
}
