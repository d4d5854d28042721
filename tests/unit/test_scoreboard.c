/*
 * test_scoreboard.c - the worker table is one piece of memory for the
 * master and every process it forks: what a child writes in its entry
 * the parent reads, and what the parent writes a child sees, for every
 * entry up to the last.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scoreboard.h"

TestSuite(scoreboard);

/* Wait for child `pid` and assert it exited with status 0. */
static void reap(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status 0x%x)",
		  status);
}

Test(scoreboard, starts_empty)
{
	cr_assert_eq(scoreboard_init(), 0);
	for (int i = 0; i < SCOREBOARD_SLOTS; i++) {
		struct score *s = scoreboard_slot(i);

		cr_assert_eq(s->pid, 0);
		cr_assert_eq(s->state, SCORE_FREE);
		cr_assert_eq(s->requests, 0);
		cr_assert_str_empty(s->request_id);
	}
}

Test(scoreboard, a_childs_writes_are_seen_by_the_parent)
{
	const int slots[] = { 0, 7, SCOREBOARD_SLOTS - 1 };
	pid_t pid;

	cr_assert_eq(scoreboard_init(), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		for (int k = 0; k < 3; k++) {
			struct score *s = scoreboard_slot(slots[k]);

			s->pid = getpid();
			s->state = SCORE_BUSY;
			s->req_start_ms = 1000 + k;
			s->requests = 41 + (unsigned long long)k;
			snprintf(s->request_id, sizeof(s->request_id), "8f2c00000000000%d", k);
		}
		_exit(0);
	}
	reap(pid);
	for (int k = 0; k < 3; k++) {
		struct score *s = scoreboard_slot(slots[k]);
		char want[17];

		snprintf(want, sizeof(want), "8f2c00000000000%d", k);
		cr_assert_eq(s->pid, pid, "slot %d", slots[k]);
		cr_assert_eq(s->state, SCORE_BUSY, "slot %d", slots[k]);
		cr_assert_eq(s->req_start_ms, 1000 + k);
		cr_assert_eq(s->requests, 41 + (unsigned long long)k);
		cr_assert_str_eq(s->request_id, want);
	}
	/* Entries nobody wrote stay free. */
	cr_assert_eq(scoreboard_slot(1)->state, SCORE_FREE);
	cr_assert_eq(scoreboard_slot(1)->pid, 0);
}

/* The master names a request to a running worker through target_id. */
Test(scoreboard, the_parents_writes_are_seen_by_a_running_child)
{
	int go[2];
	pid_t pid;
	char b;

	cr_assert_eq(scoreboard_init(), 0);
	cr_assert_eq(pipe(go), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct score *s = scoreboard_slot(3);

		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(2);
		_exit(strcmp(s->target_id, "00000000deadbeef") == 0 && s->state == SCORE_STOPPING
		      ? 0 : 1);
	}
	close(go[0]);
	/* Written after the fork: only shared memory carries it over. */
	snprintf(scoreboard_slot(3)->target_id, 17, "00000000deadbeef");
	scoreboard_slot(3)->state = SCORE_STOPPING;
	cr_assert_eq(write(go[1], "g", 1), 1);
	close(go[1]);
	reap(pid);
}

/* What one worker wrote, a worker forked later reads: one table for all. */
Test(scoreboard, shared_by_siblings)
{
	pid_t a, b;

	cr_assert_eq(scoreboard_init(), 0);
	a = fork();
	cr_assert_geq(a, 0);
	if (a == 0) {
		scoreboard_slot(10)->state = SCORE_IDLE;
		_exit(0);
	}
	reap(a);
	b = fork();
	cr_assert_geq(b, 0);
	if (b == 0)
		_exit(scoreboard_slot(10)->state == SCORE_IDLE ? 0 : 1);
	reap(b);
}
