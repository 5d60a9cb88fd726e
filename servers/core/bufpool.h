/*
 * bufpool.h: a free list of I/O buffers, so that serving a request allocates nothing.
 *
 * Sessions borrow a buffer when a request arrives and give it back when the connection goes
 * idle. A pool belongs to one thread at a time (an event loop, a connection's thread): it has
 * no lock, because nothing shares it.
 */
#ifndef C10K_BUFPOOL_H
#define C10K_BUFPOOL_H

#include <stddef.h>

enum { BUFPOOL_BUF_SIZE = 16384 };

struct bufpool {
	void *spares;        /* singly linked through the first bytes of each spare buffer */
	size_t count;        /* spares held */
	size_t keep;         /* spares kept at most; more are freed */
};

#define BUFPOOL_INIT(keep_at_most) { NULL, 0, (keep_at_most) }

/* A BUFPOOL_BUF_SIZE buffer, or NULL when memory is exhausted. */
void *bufpool_get(struct bufpool *p);
void bufpool_put(struct bufpool *p, void *buf);
/* Frees every spare (at shutdown, or when a connection's own pool goes away). */
void bufpool_drain(struct bufpool *p);

#endif
