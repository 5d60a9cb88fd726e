/*
 * loop.h: what every single-threaded event loop shares, so that each event-loop model keeps
 * only how it waits.
 *
 * An event-loop model (select.c, poll.c, epoll.c) serves every connection from one thread
 * that never blocks. Most of that is the same whatever the loop waits in: a table of
 * connections, what each one waits for, its deadline, and driving its session as far as it
 * can go when the kernel says its socket is ready. That part is here. What differs is the
 * model's own:
 *
 *   - its run() function: the loop itself, with the wait (select(), poll(), epoll_wait()) and
 *     the dispatch of what the wait reported;
 *   - a struct loop_backend: how it tells the kernel what a connection now waits for.
 *
 * Every turn of a model's loop has the same shape:
 *
 *     int ms = loop_wait_ms(&l);              // until the earliest deadline; -1: none
 *     n = select(...) / poll(...) / epoll_wait(...), for at most ms;
 *     loop_woke(&l);
 *     stop_fd reported: leave the loop;  listen_fd reported: loop_accept(&l);
 *     for each connection reported: conn_ready(&l, c, CAN_READ | CAN_WRITE | HUNG_UP);
 *     loop_expire(&l);                        // the deadlines that are due
 *
 * This is the split of Redis's ae.c, which drives one of ae_select.c, ae_epoll.c or
 * ae_kqueue.c through the same few calls. docs/model-guide.md says how a new event loop
 * follows it. A loop belongs to one thread: nothing here takes a lock.
 */
#ifndef C10K_LOOP_H
#define C10K_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bufpool.h"
#include "deadline.h"
#include "fdtable.h"
#include "server.h"
#include "session.h"

/* What a connection waits for between turns of the loop. Only the first two involve its
 * socket; the idle time-out is a deadline on them. */
enum waiting {
	FOR_READ,                   /* the socket to become readable (or the idle time-out) */
	FOR_WRITE,                  /* the socket to take more output (or the idle time-out) */
	FOR_SLEEP,                  /* the end of its /sleep: its deadline only */
	FOR_TURN,                   /* its next turn: it used up this one (see drive() in loop.c) */
};

/* What the kernel reported about a socket, for conn_ready(). */
enum readiness {
	CAN_READ = 1,               /* readable, or an error or hang-up that a read will show */
	CAN_WRITE = 2,              /* can take output */
	HUNG_UP = 4,                /* the peer's FIN, a reset or an error (if the wait tells) */
};

struct conn {
	int fd;
	enum waiting waiting;
	bool can_read, can_write;   /* readiness reported and not used up yet */
	bool hung_up;               /* a hang-up was reported: the next read will see it */
	size_t slot;                /* the backend's own index for it (poll: its pollfd entry) */
	struct session *session;
	struct deadline deadline;   /* the idle time-out, the end of a /sleep, or the next turn */
	struct conn *next_due;      /* in loop_expire()'s list of the deadlines due this turn */
};

struct loop;

/*
 * How a model tells the kernel what its connections wait for. A hook left NULL has nothing
 * to do: select() rebuilds its bitmaps from c->waiting, an edge-triggered epoll registers a
 * socket once for both directions.
 */
struct loop_backend {
	/* A connection, new, waiting FOR_READ. Returns NULL, or why it cannot be watched: it is
	 * then refused with that reason. */
	const char *(*add)(struct loop *l, struct conn *c);
	/* c->waiting has just changed: c waits for something else now. */
	void (*wait)(struct loop *l, struct conn *c);
	/* c is about to be closed (its fd is still open). */
	void (*remove)(struct loop *l, struct conn *c);
};

struct loop {
	struct server *srv;
	const struct loop_backend *backend;
	void *data;                 /* the backend's own state: its epoll fd, its bitmaps */
	struct fdtable conns;       /* each connection, by its fd */
	unsigned open;              /* connections being served */
	atomic_uint *open_shared;   /* NULL, or the count of several loops (epoll --workers), which
	                             * --max-conns bounds instead of `open` */
	unsigned long accepted;     /* connections served since the start */
	uint64_t now;               /* ms, read once per turn of the loop (and after a /block) */
	uint64_t woke;              /* ms, when this turn's wait returned */
	struct deadline_heap deadlines;
	struct bufpool pool;        /* I/O buffers, lent to connections with a request in flight */
};

void loop_init(struct loop *l, struct server *srv, const struct loop_backend *backend,
               void *data);
/* Closes every connection and frees what the loop holds (not the backend's own state). */
void loop_free(struct loop *l);

/* Reads the clock; returns how long the wait may last: ms to the earliest deadline, or -1. */
int loop_wait_ms(struct loop *l);
/* Reads the clock again, once the wait has returned. */
void loop_woke(struct loop *l);

/* Accepts a bounded batch of new connections, so that a flood of them cannot starve the open
 * ones; each is served, or refused (at --max-conns, out of memory, or by the backend). */
void loop_accept(struct loop *l);

/* The connection on fd, or NULL (the listener, the stop fd, a closed fd). */
struct conn *loop_conn(const struct loop *l, int fd);

/* The kernel reported readiness (enum readiness) for c's socket: noted, and c is driven if
 * that is what it waits for. Readiness it does not wait for is kept for later. */
void conn_ready(struct loop *l, struct conn *c, unsigned readiness);

/* Runs every connection whose deadline is due: judged by the time the loop woke, so that if
 * a /block held the loop, bytes that arrived meanwhile are read (next turn) before their
 * connection is judged idle. */
void loop_expire(struct loop *l);

#endif
