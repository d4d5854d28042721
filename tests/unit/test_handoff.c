/*
 * test_handoff.c - the kept-alive ownership table and the hand-over
 * messages of handoff.c.
 *
 * The table decides which one process may read a kept-alive connection;
 * if it ever lets two read, two workers parse the same bytes and a
 * request is answered twice or torn.  So the tests check:
 *
 *   - handoff_alloc hands out BUSY entries owned by the caller, each slot
 *     once (also when two processes allocate at the same time), and the
 *     span covers them;
 *   - a claim after IDLE succeeds once, never twice and never for another
 *     owner or tag; the master's take succeeds only on an IDLE entry of
 *     the owner named and leaves it the master's;
 *   - a stale tag (the entry was freed and reused) can claim nothing;
 *   - claim and take racing from two processes on the same IDLE entry:
 *     exactly one wins, every round;
 *   - messages carry their fields and a working descriptor, "nothing
 *     waiting" is 0, a gone peer is -1, a peer that does not read makes a
 *     sender give up after a moment instead of blocking, and never
 *     raises SIGPIPE.
 *
 * Each test maps a fresh table: Criterion runs every test in its own
 * process, and the children the race tests fork share it (MAP_SHARED).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "defaults.h"
#include "handoff.h"

#define W1 1	/* a worker's owner number (its index + 1) */
#define W2 2

static void init(void)
{
	cr_assert_eq(handoff_init(), 0, "handoff_init: %s", strerror(errno));
}

TestSuite(handoff, .init = init, .timeout = 60);

static void expect_entry(int slot, uint32_t tag, int owner, int state)
{
	struct kept k = handoff_peek(slot);

	cr_assert_eq(k.tag, tag, "slot %d: tag %u, expected %u", slot, k.tag, tag);
	cr_assert_eq(k.owner, owner, "slot %d: owner %d, expected %d", slot, k.owner, owner);
	cr_assert_eq(k.state, state, "slot %d: state %d, expected %d", slot, k.state, state);
}

/* ---- The table ---------------------------------------------------------- */

Test(handoff, alloc_gives_busy_entries_owned_by_the_caller)
{
	uint32_t t0, t1, t2;
	int s0, s1, s2;

	cr_assert_eq(handoff_span(), 0, "a fresh table has entries in use");
	s0 = handoff_alloc(W1, &t0);
	s1 = handoff_alloc(W2, &t1);
	s2 = handoff_alloc(W1, &t2);
	cr_assert(s0 >= 0 && s1 >= 0 && s2 >= 0);
	cr_assert(s0 != s1 && s1 != s2 && s0 != s2, "one slot handed out twice");
	expect_entry(s0, t0, W1, KEPT_BUSY);
	expect_entry(s1, t1, W2, KEPT_BUSY);
	expect_entry(s2, t2, W1, KEPT_BUSY);
	cr_assert_eq(handoff_span(), 3, "span %d for 3 entries", handoff_span());
	cr_assert_gt(s2, s1);
	cr_assert_gt(s1, s0);
}

Test(handoff, claim_after_idle_succeeds_once)
{
	uint32_t tag;
	int s = handoff_alloc(W1, &tag);

	cr_assert_eq(handoff_claim(s, tag, W1), -1, "claimed an entry that is already BUSY");
	handoff_set(s, tag, W1, KEPT_IDLE);
	expect_entry(s, tag, W1, KEPT_IDLE);
	cr_assert_eq(handoff_claim(s, tag, W2), -1, "another worker claimed it");
	cr_assert_eq(handoff_claim(s, tag + 1, W1), -1, "a wrong tag claimed it");
	cr_assert_eq(handoff_claim(s, tag, W1), 0, "the owner could not claim its IDLE entry");
	expect_entry(s, tag, W1, KEPT_BUSY);
	cr_assert_eq(handoff_claim(s, tag, W1), -1, "claimed twice");
}

Test(handoff, take_needs_idle_and_the_right_owner)
{
	uint32_t tag;
	int s = handoff_alloc(W1, &tag);

	cr_assert_eq(handoff_take(s, W1), -1, "took an entry that is BUSY");
	expect_entry(s, tag, W1, KEPT_BUSY);
	handoff_set(s, tag, W1, KEPT_IDLE);
	cr_assert_eq(handoff_take(s, W2), -1, "took it from a worker that does not own it");
	expect_entry(s, tag, W1, KEPT_IDLE);
	cr_assert_eq(handoff_take(s, W1), 0);
	expect_entry(s, tag, KEPT_MASTER, KEPT_IDLE);
	cr_assert_eq(handoff_claim(s, tag, W1), -1, "the old owner claimed a taken entry");
	cr_assert_eq(handoff_take(s, W1), -1, "taken twice");
	/* The master hands it to another worker, which can then claim it. */
	handoff_set(s, tag, W2, KEPT_IDLE);
	cr_assert_eq(handoff_claim(s, tag, W2), 0);
}

/* A worker that still remembers a freed entry cannot claim its new connection. */
Test(handoff, stale_tag_cannot_claim_a_reused_slot)
{
	uint32_t old, now;
	int s = handoff_alloc(W1, &old), again;

	handoff_set(s, old, W1, KEPT_IDLE);
	cr_assert_eq(handoff_take(s, W1), 0);
	handoff_free(s);
	cr_assert_eq(handoff_peek(s).state, KEPT_FREE);
	again = handoff_alloc(W1, &now);
	cr_assert_eq(again, s, "the freed slot was not reused (the test needs it to be)");
	cr_assert_neq(now, old, "a reused slot kept its tag");
	handoff_set(s, now, W1, KEPT_IDLE);
	cr_assert_eq(handoff_claim(s, old, W1), -1, "a stale tag claimed the new connection");
	expect_entry(s, now, W1, KEPT_IDLE);
	cr_assert_eq(handoff_claim(s, now, W1), 0);
}

/* ---- Races between processes --------------------------------------------- */

/* What the parent and its children share for a race. */
struct race {
	_Atomic int round;	/* the round the children may run; -1: exit */
	_Atomic int ready;	/* children that saw this round: both go at 2 */
	_Atomic int done;	/* children finished with this round */
	_Atomic int won[2];	/* this round: 1 when child i's call succeeded */
	int slots[2][2000];	/* the alloc race: what each child got */
};

static struct race *race_map(void)
{
	void *p = mmap(NULL, sizeof(struct race), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	return p;
}

/* Wait (spinning, yielding the CPU now and then) until *v != old; its value. */
static int wait_change(_Atomic int *v, int old)
{
	int x;

	for (unsigned i = 0; (x = atomic_load(v)) == old; i++)
		if (i % 1024 == 1023)
			sched_yield();
	return x;
}

/* What a racer does each round: 1 when its call succeeded. */
typedef int (*race_fn)(struct race *r, int who, int round);

/*
 * A racing child: each round, once both children have seen it, run `fn`
 * at the same moment as the other, and report.  Exits at round -1.
 */
static void racer(struct race *r, int who, race_fn fn)
{
	for (int seen = 0;;) {
		seen = wait_change(&r->round, seen);
		if (seen < 0)
			_exit(0);
		atomic_fetch_add(&r->ready, 1);
		for (unsigned i = 0; atomic_load(&r->ready) < 2; i++)
			if (i % 1024 == 1023)
				sched_yield();
		atomic_store(&r->won[who], fn(r, who, seen));
		atomic_fetch_add(&r->done, 1);
	}
}

/*
 * fork(), with the child killed when the test process ends: a failed
 * assertion ends the test without releasing its racers, which must not
 * spin on after it.
 */
static pid_t fork_racer(void)
{
	pid_t parent = getpid(), pid = fork();

	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
		_exit(1);
	return pid;
}

static void start_racers(struct race *r, race_fn fn, pid_t pid[2])
{
	for (int i = 0; i < 2; i++)
		if ((pid[i] = fork_racer()) == 0)
			racer(r, i, fn);
}

/* Run one round; returns when both racers are done with it. */
static void run_round(struct race *r, int round)
{
	atomic_store(&r->ready, 0);
	atomic_store(&r->done, 0);
	atomic_store(&r->round, round);
	/* Sleep rather than spin: the two racers need the CPUs. */
	while (atomic_load(&r->done) < 2)
		usleep(20);
}

static void stop_racers(struct race *r, pid_t pid[2])
{
	atomic_store(&r->round, -1);
	for (int i = 0; i < 2; i++) {
		int st;

		cr_assert_eq(waitpid(pid[i], &st, 0), pid[i]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "racer %d status %#x", i, st);
	}
}

/* The race entry, set up by the test before the racers start. */
static int race_slot;
static uint32_t race_tag;

/* Racer 0 is the worker claiming its connection; racer 1 the master taking it. */
static int claim_or_take(struct race *r, int who, int round)
{
	(void)r;
	(void)round;
	return who == 0 ? handoff_claim(race_slot, race_tag, W1) == 0
			: handoff_take(race_slot, W1) == 0;
}

/*
 * A worker claims its IDLE connection while the master takes it: 10,000
 * rounds, two processes, and in every round exactly one of them wins and
 * the entry says who.
 */
Test(handoff, claim_and_take_race_has_one_winner, .timeout = 60)
{
	enum { ROUNDS = 10000 };
	struct race *r = race_map();
	int wins[2] = { 0, 0 };
	pid_t pid[2];

	race_slot = handoff_alloc(W1, &race_tag);
	start_racers(r, claim_or_take, pid);
	for (int round = 1; round <= ROUNDS; round++) {
		handoff_set(race_slot, race_tag, W1, KEPT_IDLE);
		run_round(r, round);
		cr_assert_eq(r->won[0] + r->won[1], 1, "round %d: claim %s, take %s", round,
			     r->won[0] ? "won" : "lost", r->won[1] ? "won" : "lost");
		if (r->won[0])
			expect_entry(race_slot, race_tag, W1, KEPT_BUSY);
		else
			expect_entry(race_slot, race_tag, KEPT_MASTER, KEPT_IDLE);
		wins[r->won[1]]++;
	}
	stop_racers(r, pid);
	munmap(r, sizeof(*r));
	cr_log_info("claim won %d rounds, take won %d", wins[0], wins[1]);
}

/* Both racers are workers keeping a connection. */
static int alloc_one(struct race *r, int who, int round)
{
	uint32_t tag;

	r->slots[who][round - 1] = handoff_alloc(who + 1, &tag);
	return r->slots[who][round - 1] >= 0;
}

/* Two workers keeping connections at the same moment never get the same entry. */
Test(handoff, concurrent_allocs_never_share_a_slot, .timeout = 60)
{
	enum { N = 2000 };
	struct race *r = race_map();
	static unsigned char seen[KEPT_SLOTS];
	pid_t pid[2];

	start_racers(r, alloc_one, pid);
	for (int round = 1; round <= N; round++) {
		run_round(r, round);
		cr_assert(r->won[0] && r->won[1], "round %d: alloc failed with the table nearly empty", round);
	}
	stop_racers(r, pid);
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < N; k++) {
			int s = r->slots[i][k];

			cr_assert_not(seen[s], "slot %d handed out twice", s);
			seen[s] = 1;
			cr_assert_eq(handoff_peek(s).owner, i + 1, "slot %d is owned by the other worker", s);
			cr_assert_eq(handoff_peek(s).state, KEPT_BUSY);
		}
	cr_assert_eq(handoff_span(), 2 * N, "span %d after %d allocs", handoff_span(), 2 * N);
	munmap(r, sizeof(*r));
}

/* ---- Messages ------------------------------------------------------------ */

static int fds[2] = { -1, -1 };	/* fds[0]: the master's end, fds[1]: the worker's */

static void pair(void)
{
	cr_assert_eq(handoff_pair(fds), 0, "handoff_pair: %s", strerror(errno));
}

/* A worker keeps a connection: the master gets the fields and a descriptor that works. */
Test(handoff, descriptor_arrives_working)
{
	struct handoff_msg m = { .type = HM_KEPT, .slot = 4321, .tag = 0xdeadbeef, .listener = 3 };
	struct handoff_msg got;
	int p[2], fd;
	char b[6] = "";

	pair();
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(handoff_send(fds[1], &m, p[1]), 0, "handoff_send: %s", strerror(errno));
	close(p[1]);		/* from here the passed copy is the only write end */
	memset(&got, 0, sizeof(got));
	cr_assert_eq(handoff_recv(fds[0], &got, &fd), 1);
	cr_assert_eq(got.type, HM_KEPT);
	cr_assert_eq(got.slot, 4321);
	cr_assert_eq(got.tag, 0xdeadbeef);
	cr_assert_eq(got.listener, 3);
	cr_assert_geq(fd, 0, "no descriptor came with the message");
	cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC, "a received descriptor would leak into exec");
	cr_assert_eq(write(fd, "hello", 5), 5);
	cr_assert_eq(read(p[0], b, 5), 5);
	cr_assert_str_eq(b, "hello");
	close(fd);
	cr_assert_eq(read(p[0], b, 1), 0, "the pipe has another writer: the descriptor was duplicated");
	close(p[0]);
}

/* Both directions, with and without a descriptor, in order. */
Test(handoff, messages_keep_their_order_and_say_when_none_is_attached)
{
	struct handoff_msg got;
	int fd, p[2];

	pair();
	cr_assert_eq(pipe(p), 0);
	for (int i = 0; i < 3; i++) {
		struct handoff_msg m = { .type = HM_CLOSED, .slot = i, .tag = 100u + i };

		cr_assert_eq(handoff_send(fds[1], &m, i == 1 ? p[0] : -1), 0);
	}
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(handoff_recv(fds[0], &got, &fd), 1);
		cr_assert_eq(got.slot, i, "message %d came out as %d", i, got.slot);
		cr_assert_eq(got.tag, 100u + i);
		if (i == 1) {
			cr_assert_geq(fd, 0);
			close(fd);
		} else {
			cr_assert_eq(fd, -1, "message %d had no descriptor, yet got %d", i, fd);
		}
	}
	cr_assert_eq(handoff_send(fds[0], &(struct handoff_msg){ .type = HM_ADOPT, .slot = 9 }, p[1]), 0);
	cr_assert_eq(handoff_recv(fds[1], &got, &fd), 1);
	cr_assert_eq(got.type, HM_ADOPT);
	cr_assert_eq(got.slot, 9);
	cr_assert_geq(fd, 0);
	close(fd);
	close(p[0]);
	close(p[1]);
}

Test(handoff, recv_with_nothing_waiting_is_zero)
{
	struct handoff_msg got;
	int fd = 1234;

	pair();
	cr_assert_eq(handoff_recv(fds[0], &got, &fd), 0);
	cr_assert_eq(fd, -1);
	cr_assert_eq(handoff_recv(fds[1], &got, &fd), 0);
}

/* An error is not "nothing yet": the caller must not wait on it forever. */
Test(handoff, recv_error_is_minus_one)
{
	struct handoff_msg got;
	int fd, p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(handoff_recv(p[0], &got, &fd), -1, "recvmsg on a pipe (ENOTSOCK) read as 'nothing yet'");
	close(p[0]);
	close(p[1]);
}

/* What was sent before the peer went is still read; then the end is -1. */
Test(handoff, recv_after_the_peer_closed_is_minus_one)
{
	struct handoff_msg got;
	int fd;

	pair();
	cr_assert_eq(handoff_send(fds[1], &(struct handoff_msg){ .type = HM_RETURNED, .slot = 5 }, -1), 0);
	close(fds[1]);
	cr_assert_eq(handoff_recv(fds[0], &got, &fd), 1, "a message sent before the close was lost");
	cr_assert_eq(got.slot, 5);
	cr_assert_eq(handoff_recv(fds[0], &got, &fd), -1, "the end of a dead worker's socket read as 'nothing yet'");
	cr_assert_eq(fd, -1);
	close(fds[0]);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * A peer that does not read: the sender gives up after a moment rather
 * than block the master, and what did go is all there, in order.
 */
Test(handoff, send_to_a_stalled_peer_gives_up_quickly, .timeout = 30)
{
	struct handoff_msg got;
	long long t0;
	int sent = 0, fd;

	pair();
	for (; sent < 1000000; sent++)
		if (handoff_send(fds[1], &(struct handoff_msg){ .type = HM_CLOSED, .slot = sent }, -1) < 0)
			break;
	cr_assert_lt(sent, 1000000, "the socket never filled");
	t0 = now_ms();
	cr_assert_eq(handoff_send(fds[1], &(struct handoff_msg){ .type = HM_CLOSED }, -1), -1);
	t0 = now_ms() - t0;
	cr_log_info("%d messages filled the socket; the next send gave up after %lld ms", sent, t0);
	cr_assert_lt(t0, 2000, "a send to a full socket waited %lld ms", t0);
	for (int i = 0; i < sent; i++) {
		cr_assert_eq(handoff_recv(fds[0], &got, &fd), 1, "message %d of %d lost", i, sent);
		cr_assert_eq(got.slot, i);
	}
	cr_assert_eq(handoff_recv(fds[0], &got, &fd), 0, "a refused message arrived anyway");
}

/* The master writing to a dead worker's socket gets -1, not SIGPIPE (set to its default here). */
Test(handoff, send_to_a_gone_peer_fails_without_sigpipe)
{
	signal(SIGPIPE, SIG_DFL);
	pair();
	close(fds[0]);
	errno = 0;
	cr_assert_eq(handoff_send(fds[1], &(struct handoff_msg){ .type = HM_CLOSED }, -1), -1);
	cr_assert_eq(errno, EPIPE, "errno %d (%s)", errno, strerror(errno));
}
