/*
 * scoreboard.c - the shared worker table.  See scoreboard.h.
 */
#include <stddef.h>
#include <sys/mman.h>

#include "defaults.h"
#include "scoreboard.h"

static struct score *board;

int scoreboard_init(void)
{
	/* Shared and anonymous: inherited by every fork, backed by nothing. */
	void *p = mmap(NULL, SCOREBOARD_SLOTS * sizeof(struct score) + sizeof(struct pool_score),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	board = p;
	return 0;
}

struct score *scoreboard_slot(int i)
{
	return &board[i];
}

struct pool_score *scoreboard_pool(void)
{
	return (struct pool_score *)(board + SCOREBOARD_SLOTS);
}
