/*
 * handoff.h: the queue between the two layers of a thread pool fed by an event loop
 * (servers/pool.c, half-sync/half-async). Under one lock:
 *
 *   - a bounded queue of ready work, from the loop thread to the workers, who wait for it on
 *     a condition variable;
 *   - a list of work given back, from the workers to the loop, which does not wait on a
 *     condition variable but in epoll: so a give-back also writes to an eventfd (wake_fd)
 *     that the loop watches.
 *
 * The items are the caller's, linked through a struct handoff_item embedded in them. Only one
 * thread (the loop) puts work in, so after handoff_room() says there is room, there is.
 */
#ifndef C10K_HANDOFF_H
#define C10K_HANDOFF_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct handoff_item {
	struct handoff_item *next;  /* in the list of work given back */
};

struct handoff {
	pthread_mutex_t lock;
	pthread_cond_t ready;       /* the queue is not empty, or stopping */
	struct handoff_item **queue;   /* a ring of `cap`: `len` from `head` */
	size_t cap, head, len;
	struct handoff_item *returned;
	int wake_fd;                /* an eventfd for the loop's epoll set: something came back */
	bool stopping;
};

/* A queue of cap items. False if memory or descriptors ran out (then handoff_destroy()). */
bool handoff_init(struct handoff *h, size_t cap);
void handoff_destroy(struct handoff *h);

/* The loop's side. */
size_t handoff_room(struct handoff *h);
void handoff_put(struct handoff *h, struct handoff_item *it);   /* there must be room */
struct handoff_item *handoff_take_returned(struct handoff *h);  /* the list; empties wake_fd */
void handoff_stop(struct handoff *h);   /* every handoff_take() returns NULL from now on */

/* The workers' side. */
struct handoff_item *handoff_take(struct handoff *h);   /* waits; NULL at the stop */
void handoff_give_back(struct handoff *h, struct handoff_item *it);

#endif
