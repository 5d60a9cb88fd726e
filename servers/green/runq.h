/*
 * runq.h: a worker's run queue: a fixed ring that its owner pushes to and pops from without
 * locks, and that idle workers steal half of (Go's runq, proc.go).
 *
 * Invariants:
 * - Only the owner writes `tail`, and only after filling the slot: a release store publishes
 *   the green thread (and everything it saved) to any thief that acquires `tail`.
 * - Everyone who takes (the owner popping one, a thief grabbing half) advances `head` by a
 *   compare-and-swap; a thief that loses the race copied slots it does not own, drops them
 *   and retries. So each green thread put in is taken out exactly once.
 * - Slots are atomics (relaxed): a slow thief may read a slot the owner is already refilling,
 *   which is harmless because its CAS then fails, but must not be a data race.
 */
#ifndef GREEN_RUNQ_H
#define GREEN_RUNQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct green;

enum { RUNQ_SIZE = 256 };

struct runq {
	_Atomic uint32_t head;
	_Atomic uint32_t tail;
	_Atomic(struct green *) slot[RUNQ_SIZE];
};

/* Owner only. False when full (the caller moves work to the global queue). */
bool runq_put(struct runq *q, struct green *g);
/* Owner only. NULL when empty. */
struct green *runq_get(struct runq *q);
/* Anyone: takes half of q (rounded up), at most `max`, into out[]. Returns how many. */
unsigned runq_grab(struct runq *q, struct green **out, unsigned max);
bool runq_empty(struct runq *q);

#endif
