/*
 * timer.c: every deadline of the runtime (sleeping green threads, I/O deadlines) in one
 * binary min-heap, so that no timer needs a thread and the poller knows how long it may block:
 * until timers_next().
 *
 * The heap is intrusive: the struct timer lives in its green thread or fd, and the heap holds
 * pointers, so arming allocates nothing but the heap's own array. One mutex guards it.
 * Callbacks run with that mutex held and the timer already off the heap. That is what makes
 * cancelling final: once timer_cancel() returns, the callback is neither pending nor running,
 * so the memory holding the timer can be reused.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "runtime.h"

static struct {
	pthread_mutex_t lock;
	struct timer **heap;
	size_t len, cap;
	_Atomic uint64_t next;       /* heap[0]->when, or UINT64_MAX: read without the lock */
} timers = { .lock = PTHREAD_MUTEX_INITIALIZER };

uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void place(size_t i, struct timer *t)
{
	timers.heap[i] = t;
	t->slot = i + 1;
}

static void sift_up(size_t i)
{
	struct timer *t = timers.heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (timers.heap[parent]->when <= t->when)
			break;
		place(i, timers.heap[parent]);
		i = parent;
	}
	place(i, t);
}

static void sift_down(size_t i)
{
	struct timer *t = timers.heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= timers.len)
			break;
		if (child + 1 < timers.len && timers.heap[child + 1]->when < timers.heap[child]->when)
			child++;
		if (t->when <= timers.heap[child]->when)
			break;
		place(i, timers.heap[child]);
		i = child;
	}
	place(i, t);
}

static void publish_next(void)
{
	atomic_store(&timers.next, timers.len ? timers.heap[0]->when : UINT64_MAX);
}

static void remove_at(size_t i)
{
	struct timer *t = timers.heap[i];
	struct timer *last = timers.heap[--timers.len];
	t->slot = 0;
	atomic_store(&t->armed_when, 0);   /* before its fire() runs: see timer_arm_by() */
	if (i < timers.len) {
		place(i, last);
		sift_down(i);
		sift_up(last->slot - 1);
	}
}

static int arm_locked(struct timer *t)
{
	if (t->slot) {
		size_t i = t->slot - 1;
		sift_down(i);
		sift_up(t->slot - 1);
		atomic_store(&t->armed_when, t->when);
		return 0;
	}
	if (timers.len == timers.cap) {
		size_t cap = timers.cap ? 2 * timers.cap : 256;
		struct timer **heap = realloc(timers.heap, cap * sizeof *heap);
		if (!heap)
			return -1;
		timers.heap = heap;
		timers.cap = cap;
	}
	place(timers.len++, t);
	sift_up(timers.len - 1);
	atomic_store(&t->armed_when, t->when);
	return 0;
}

void timers_init(void)
{
	atomic_store(&timers.next, UINT64_MAX);
}

void timers_destroy(void)
{
	free(timers.heap);
	timers.heap = NULL;
	timers.len = timers.cap = 0;
	atomic_store(&timers.next, UINT64_MAX);
}

/* The poller sleeps until timers_next(): an earlier timer must cut that sleep short. */
static void arm_and_notify(struct timer *t, int *rc)
{
	uint64_t before = atomic_load(&timers.next);
	*rc = arm_locked(t);
	publish_next();
	if (*rc == 0 && t->when < before)
		netpoll_break();
}

int timer_arm_unless(struct timer *t, _Atomic bool *cancelled)
{
	int rc = 0;
	pthread_mutex_lock(&timers.lock);
	if (!atomic_load(cancelled)) {
		arm_and_notify(t, &rc);
		rc = rc == 0 ? 1 : -1;
	}
	pthread_mutex_unlock(&timers.lock);
	return rc;
}

/*
 * Every wait with a deadline (pd_wait) calls this, and a deadline only ever moves later, so
 * nearly always the timer is armed early enough already. Checking that without the lock keeps
 * the one lock that all workers share out of every request: it is taken only when the timer
 * is not armed (the fd's first wait, or after it fired with no wait pending, about once per
 * time-out period). Why skipping is safe: armed_when is cleared when the timer leaves the heap,
 * before its fire() runs. So if we read it set, that fire() comes after our read, which comes
 * after whatever the caller stored before calling (pd_wait's deadline): the fire() sees it
 * and wakes the waiter or re-arms for it. (All these accesses are sequentially consistent.)
 */
int timer_arm_by(struct timer *t, uint64_t when)
{
	uint64_t armed = atomic_load(&t->armed_when);
	if (armed && armed <= when)
		return 0;
	int rc = 0;
	pthread_mutex_lock(&timers.lock);
	if (!t->slot || t->when > when) {
		t->when = when;
		arm_and_notify(t, &rc);
	}
	pthread_mutex_unlock(&timers.lock);
	return rc;
}

bool timer_cancel(struct timer *t)
{
	bool was_armed;
	pthread_mutex_lock(&timers.lock);
	was_armed = t->slot != 0;
	if (was_armed) {
		remove_at(t->slot - 1);
		publish_next();
	}
	pthread_mutex_unlock(&timers.lock);
	return was_armed;
}

int timers_run(uint64_t now)
{
	int fired = 0;
	if (atomic_load(&timers.next) > now)
		return 0;
	pthread_mutex_lock(&timers.lock);
	while (timers.len && timers.heap[0]->when <= now) {
		struct timer *t = timers.heap[0];
		remove_at(0);
		uint64_t again = t->fire(t, now);
		if (again) {
			t->when = again;
			arm_locked(t);       /* it was just in the heap: there is room */
		}
		fired++;
	}
	publish_next();
	pthread_mutex_unlock(&timers.lock);
	return fired;
}

uint64_t timers_next(void)
{
	return atomic_load(&timers.next);
}
