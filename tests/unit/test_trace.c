/*
 * test_trace.c - a backtrace taken from outside a process (trace.h):
 * it names the function the process stands in, leaves a sleep in that
 * process whole (no EINTR, not a millisecond short), gives up within its
 * bound on a process that cannot stop, never collects an exit that the
 * parent's own waitpid must see, and fails at once for a process that is
 * gone.
 *
 * Each test runs in its own process (Criterion forks), the parent of the
 * children it traces, as the master is of its workers.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "defaults.h"
#include "io.h"
#include "symbols.h"
#include "trace.h"

#define DOZE_MS 1500

/* What the child's one nanosleep returned, and how long it took. */
struct doze {
	int rc;
	int err;
	long long took_ms;
};

/* One relative nanosleep, not retried: an EINTR would show. */
static __attribute__((noinline)) void trace_test_doze(int fd)
{
	struct timespec ts = { DOZE_MS / 1000, (DOZE_MS % 1000) * 1000000L };
	struct doze d;
	long long t0 = io_now_ms();

	d.rc = nanosleep(&ts, NULL);
	d.err = errno;
	d.took_ms = io_now_ms() - t0;
	if (write(fd, &d, sizeof(d)) != (ssize_t)sizeof(d))
		_exit(2);
	__asm__ volatile("");
}

static pid_t start_dozer(int *rd)
{
	int fds[2];
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		trace_test_doze(fds[1]);
		_exit(0);
	}
	close(fds[1]);
	*rd = fds[0];
	return pid;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Trace `pid`, expecting success; returns the time taken in ms. */
static long long traced(pid_t pid, char *buf, size_t len)
{
	long long t0 = io_now_ms();
	int rc = trace_backtrace(pid, buf, len);
	long long took = io_now_ms() - t0;

	cr_assert_eq(rc, 0, "trace_backtrace failed: %s", buf);
	cr_log_info("trace of pid %d took %lld ms: %s", (int)pid, took, buf);
	return took;
}

static void expect_exit(pid_t pid, int code)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == code, "wait status %#x", status);
}

TestSuite(trace);

/*
 * Traced twice in the middle of a 1.5 s nanosleep: both backtraces name
 * the sleeping function, and the sleep returns 0 after its full length.
 */
Test(trace, a_sleeping_process_is_named_and_its_sleep_left_whole, .timeout = 10)
{
	char bt[2048];
	struct doze d;
	long long took;
	int rd;
	pid_t pid;

	symbols_load();
	pid = start_dozer(&rd);
	sleep_ms(300);
	took = traced(pid, bt, sizeof(bt));
	cr_assert_not_null(strstr(bt, "trace_test_doze+0x"), "%s", bt);
	cr_assert_not_null(strstr(bt, "nanosleep"), "the innermost frame is not the sleep: %s", bt);
	cr_assert_lt(took, TRACE_STOP_WAIT_MS, "a trace held the caller %lld ms", took);
	sleep_ms(400);
	took = traced(pid, bt, sizeof(bt));
	cr_assert_not_null(strstr(bt, "trace_test_doze+0x"), "%s", bt);
	cr_assert_lt(took, TRACE_STOP_WAIT_MS, "a trace held the caller %lld ms", took);

	cr_assert_eq(read(rd, &d, sizeof(d)), (ssize_t)sizeof(d));
	cr_assert_eq(d.rc, 0, "nanosleep returned %d (%s)", d.rc, strerror(d.err));
	cr_assert_geq(d.took_ms, DOZE_MS, "the sleep was cut to %lld ms", d.took_ms);
	cr_assert_lt(d.took_ms, DOZE_MS + 500, "the sleep took %lld ms", d.took_ms);
	expect_exit(pid, 0);
}

/* A process that has exited and been collected: -1 at once, with the reason. */
Test(trace, a_process_that_is_gone_fails_at_once)
{
	char bt[256];
	long long t0;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(0);
	expect_exit(pid, 0);
	t0 = io_now_ms();
	cr_assert_eq(trace_backtrace(pid, bt, sizeof(bt)), -1);
	cr_assert_lt(io_now_ms() - t0, 10);
	cr_assert_str_eq(bt, "ptrace: No such process");
}

/*
 * A child that has exited but is not collected yet: the trace fails, and
 * the exit status is still there for the parent's waitpid (the master's
 * reap would otherwise never learn that the worker died).
 */
Test(trace, an_exit_is_left_for_the_parent)
{
	char bt[256];
	long long t0;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(7);
	sleep_ms(100);
	t0 = io_now_ms();
	cr_assert_eq(trace_backtrace(pid, bt, sizeof(bt)), -1);
	cr_assert_lt(io_now_ms() - t0, 10);
	cr_assert_not_null(strstr(bt, "ptrace: "), "%s", bt);
	expect_exit(pid, 7);
}

/*
 * A process that cannot stop (here: a vfork parent, which waits for its
 * child uninterruptibly) makes the trace give up after
 * TRACE_STOP_WAIT_MS.  The stop comes later and reaches the parent's
 * waitpid; trace_release lets the process run on, and it finishes
 * normally.
 */
Test(trace, a_process_that_cannot_stop_is_given_up_then_released, .timeout = 10)
{
	char bt[256];
	long long t0, took;
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (vfork() == 0) {
			struct timespec ts = { 0, 400 * 1000000L };

			nanosleep(&ts, NULL);
			_exit(0);
		}
		_exit(3);
	}
	sleep_ms(100);
	t0 = io_now_ms();
	cr_assert_eq(trace_backtrace(pid, bt, sizeof(bt)), -1);
	took = io_now_ms() - t0;
	cr_assert_geq(took, TRACE_STOP_WAIT_MS, "%lld ms", took);
	cr_assert_lt(took, TRACE_STOP_WAIT_MS + 50, "%lld ms", took);
	cr_assert_str_eq(bt, "the worker did not stop within 100 ms");

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSTOPPED(status), "wait status %#x: the late stop never came", status);
	trace_release(pid, status);
	expect_exit(pid, 3);
}
