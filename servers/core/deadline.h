/*
 * deadline.h: a min-heap of deadlines, for event loops that must wake at the earliest one
 * (a /sleep that is due, a connection idle for too long) without a thread per timer.
 *
 * Intrusive: a connection embeds a struct deadline and the heap stores pointers to it, so
 * arming, moving and cancelling need no allocation beyond the heap's own array, and each is
 * O(log n). No I/O: the loop asks deadline_timeout_ms() how long it may wait.
 */
#ifndef C10K_DEADLINE_H
#define C10K_DEADLINE_H

#include <stddef.h>
#include <stdint.h>

struct deadline {
	uint64_t at_ms;              /* when it is due, in now_ms() time */
	size_t slot;                 /* index in the heap + 1; 0 when not armed */
};

struct deadline_heap {
	struct deadline **items;
	size_t len, cap;
};

/* Arms d for at_ms, or moves it there if it is armed. Returns 0, or -1 when out of memory. */
int deadline_set(struct deadline_heap *h, struct deadline *d, uint64_t at_ms);
void deadline_cancel(struct deadline_heap *h, struct deadline *d);
/* The earliest deadline due at now_ms, taken off the heap, or NULL. */
struct deadline *deadline_pop_due(struct deadline_heap *h, uint64_t now_ms);
/* Milliseconds until the earliest deadline (0 if one is due), or -1 when none is armed:
 * ready to pass to poll(), epoll_wait() or, converted, select(). */
int deadline_timeout_ms(const struct deadline_heap *h, uint64_t now_ms);
void deadline_heap_free(struct deadline_heap *h);

#endif
