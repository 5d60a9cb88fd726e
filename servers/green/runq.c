/* runq.c: see runq.h for the invariants. */
#include <stddef.h>

#include "runq.h"

bool runq_put(struct runq *q, struct green *g)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	if (t - h >= RUNQ_SIZE)
		return false;
	atomic_store_explicit(&q->slot[t % RUNQ_SIZE], g, memory_order_relaxed);
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	return true;
}

struct green *runq_get(struct runq *q)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
		if (t == h)
			return NULL;
		struct green *g = atomic_load_explicit(&q->slot[h % RUNQ_SIZE], memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_release,
		                                          memory_order_relaxed))
			return g;
	}
}

unsigned runq_grab(struct runq *q, struct green **out, unsigned max)
{
	for (;;) {
		uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
		uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
		uint32_t n = t - h;
		n -= n / 2;
		if (n == 0)
			return 0;
		if (n > RUNQ_SIZE / 2)
			continue;            /* read head and tail at different times: inconsistent */
		if (n > max)
			n = max;
		for (uint32_t i = 0; i < n; i++)
			out[i] = atomic_load_explicit(&q->slot[(h + i) % RUNQ_SIZE], memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + n, memory_order_acq_rel,
		                                          memory_order_relaxed))
			return n;
	}
}

bool runq_empty(struct runq *q)
{
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
	return t == h;
}
