/*
 * trace.c - backtraces of a running process, through ptrace and
 * libunwind-ptrace (the only user of both).  See trace.h.
 */
#include <errno.h>
#include <libunwind-ptrace.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include "defaults.h"
#include "io.h"
#include "safefmt.h"
#include "symbols.h"
#include "trace.h"

/* As deep as the crash handler's backtraces (crash.c). */
#define MAX_FRAMES 32

/* How often the bounded wait looks for the stop. */
#define STOP_POLL_NS 100000L

/*
 * libunwind's search of an .eh_frame_hdr table, which its own ptrace
 * accessors call; exported by the libunwind of each architecture under
 * its own prefix (UNW_OBJ: _Ux86_64_, _Uaarch64_), not declared in its
 * headers.
 */
int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t *di,
				       unw_proc_info_t *pi, int need_unwind_info, void *arg);

/* An address to find, and the unwind table of the object around it. */
struct eh_lookup {
	unw_word_t ip;
	unw_dyn_info_t di;
	int found;
};

static int fail(char *buf, size_t len, const char *what, int err)
{
	size_t at = sf_str(buf, len, 0, what);

	if (err) {
		at = sf_str(buf, len, at, ": ");
		sf_str(buf, len, at, strerror(err));
	}
	return -1;
}

/*
 * The signal to hand on when detaching from a tracee in the stop that
 * `sig_and_event` describes (waitid's si_status, or a wait status >> 8):
 * 0 for the stop PTRACE_INTERRUPT asked for, the signal itself for a
 * signal that arrived first, so that detaching never swallows it.
 */
static int pending_signal(int sig_and_event)
{
	return (sig_and_event >> 8) == PTRACE_EVENT_STOP ? 0 : (sig_and_event & 0x7f);
}

/*
 * Wait for `pid`'s ptrace-stop, at most TRACE_STOP_WAIT_MS.  Only stops
 * are collected (WSTOPPED without WEXITED): an exit stays for the
 * caller's waitpid.  Returns the signal to hand on at detach, -1 with
 * errno ESRCH when the process exited, ETIMEDOUT when it did not stop.
 */
static int wait_stop(pid_t pid)
{
	long long deadline = io_now_ms() + TRACE_STOP_WAIT_MS;
	const struct timespec pause = { 0, STOP_POLL_NS };
	siginfo_t si;

	for (;;) {
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)pid, &si, WSTOPPED | WNOHANG | __WALL) < 0)
			return -1;
		if (si.si_pid == pid)
			return pending_signal(si.si_status);
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 &&
		    si.si_pid == pid) {
			errno = ESRCH;
			return -1;
		}
		if (io_now_ms() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		nanosleep(&pause, NULL);	/* SIGCHLD may cut it short: fine */
	}
}

/*
 * dl_iterate_phdr callback: the .eh_frame_hdr search table of the
 * object that holds l->ip, in the layout every toolchain writes (version
 * 1, a 4-byte eh_frame pointer and FDE count, a table of 4-byte
 * datarel pairs); anything else is left to other means.
 */
static int find_eh_table(struct dl_phdr_info *info, size_t size, void *data)
{
	struct eh_lookup *l = data;
	const unsigned char *hdr = NULL;
	uintptr_t lo, hi;
	uint32_t fdes;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
			hdr = (const unsigned char *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	symbols_load_range(info, &lo, &hi);
	if (l->ip < lo || l->ip >= hi)
		return 0;
	if (!hdr || hdr[0] != 1 || ((hdr[1] & 0x0f) != 0x03 && (hdr[1] & 0x0f) != 0x0b) ||
	    hdr[2] != 0x03 || hdr[3] != 0x3b)
		return 1;
	memcpy(&fdes, hdr + 8, sizeof(fdes));
	l->di = (unw_dyn_info_t){ .start_ip = lo, .end_ip = hi,
				  .format = UNW_INFO_FORMAT_REMOTE_TABLE };
	l->di.u.rti.segbase = (unw_word_t)(uintptr_t)hdr;
	l->di.u.rti.table_data = (unw_word_t)(uintptr_t)(hdr + 12);
	l->di.u.rti.table_len = fdes * 8 / sizeof(unw_word_t);
	l->found = 1;
	return 1;
}

/*
 * libunwind-ptrace finds a frame's unwind table by opening the file that
 * /proc/PID/maps names, and modules are mapped from memfd copies
 * (module.c) that no path opens.  So when it finds none, the table is
 * taken from the master's own copy of the object: a worker was forked
 * with its generation's objects already loaded, at the same addresses,
 * and the table is read from the worker's memory through the same
 * accessors.
 */
static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			  int need_unwind_info, void *arg)
{
	struct eh_lookup l = { .ip = ip };
	int rc = _UPT_find_proc_info(as, ip, pi, need_unwind_info, arg);

	if (rc >= 0)
		return rc;
	dl_iterate_phdr(find_eh_table, &l);
	if (!l.found)
		return rc;
	return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &l.di, pi, need_unwind_info, arg);
}

/*
 * Walk the stopped tracee's stack.  The first frame's address is where
 * the thread stands; the others are return addresses, which point after
 * the call, so they are stepped back into it before naming (a call at a
 * function's very end would otherwise name its neighbour), as crash.c
 * does.
 */
static int walk(pid_t pid, char *buf, size_t len)
{
	unw_accessors_t acc = _UPT_accessors;
	unw_addr_space_t as;
	void *upt;
	unw_cursor_t cursor;
	char name[256];
	size_t at = 0;
	int n = 0, rc = -1;

	acc.find_proc_info = find_proc_info;
	as = unw_create_addr_space(&acc, 0);
	upt = as ? _UPT_create(pid) : NULL;
	if (!upt || unw_init_remote(&cursor, as, upt) < 0) {
		fail(buf, len, "libunwind cannot read the worker's stack", 0);
		goto out;
	}
	do {
		unw_word_t ip;

		if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		symbols_format((uintptr_t)ip - (n > 0), name, sizeof(name));
		if (n > 0)
			at = sf_str(buf, len, at, " < ");
		at = sf_str(buf, len, at, name);
	} while (++n < MAX_FRAMES && unw_step(&cursor) > 0);
	rc = 0;
out:
	if (upt)
		_UPT_destroy(upt);
	if (as)
		unw_destroy_addr_space(as);
	return rc;
}

/*
 * PTRACE_SEIZE, unlike PTRACE_ATTACH, sends no SIGSTOP: the stop comes
 * from PTRACE_INTERRUPT, which the tracee never sees as a signal.  When
 * the stop does not come in time (a process in uninterruptible sleep),
 * the interrupt stays pending and trace_release detaches once the stop
 * reaches the caller's waitpid.
 */
int trace_backtrace(pid_t pid, char *buf, size_t len)
{
	int sig, rc;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	if (ptrace(PTRACE_SEIZE, pid, 0, 0) < 0)
		return fail(buf, len, "ptrace", errno);
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0) {
		int err = errno;

		/* Not stopped: detaching can fail; the process is gone then. */
		ptrace(PTRACE_DETACH, pid, 0, 0);
		return fail(buf, len, "ptrace", err);
	}
	sig = wait_stop(pid);
	if (sig < 0) {
		if (errno == ETIMEDOUT) {
			size_t at = sf_str(buf, len, 0, "the worker did not stop within ");

			at = sf_uint(buf, len, at, TRACE_STOP_WAIT_MS, 0);
			sf_str(buf, len, at, " ms");
			return -1;
		}
		return fail(buf, len, "waiting for the worker to stop", errno);
	}
	rc = walk(pid, buf, len);
	ptrace(PTRACE_DETACH, pid, 0, (void *)(long)sig);
	return rc;
}

void trace_release(pid_t pid, int status)
{
	/* Without WUNTRACED, waitpid reports only a tracee's stops. */
	if (WIFSTOPPED(status))
		ptrace(PTRACE_DETACH, pid, 0, (void *)(long)pending_signal(status >> 8));
}
