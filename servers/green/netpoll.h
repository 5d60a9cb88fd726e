/*
 * netpoll.h: the runtime's view of an fd (Go's pollDesc), shared by netpoll.c and io.c.
 *
 * Each direction (in, out) of an fd has a wait slot holding one of:
 *
 *   PD_NIL     nothing happened, nobody waits
 *   PD_READY   epoll reported readiness that no waiter has consumed yet
 *   PD_WAIT    a green thread is about to park here (it has not switched away yet)
 *   a pointer  the green thread parked here
 *
 * Transitions, all by compare-and-swap unless an exchange is said:
 *   waiter:  READY -> NIL (consume, no park)      NIL -> WAIT (going to park)
 *            WAIT -> g, on g0 after the switch (the commit; fails if the slot moved on)
 *            after waking, or when withdrawing a WAIT without parking: anything -> NIL, by
 *            exchange; a READY taken so is reported as ready, never dropped
 *   poller:  NIL/WAIT -> READY    g -> READY, and g is readied (by exactly this CAS)
 *   close, deadline:  WAIT -> NIL    g -> NIL, and g is readied
 *
 * So a readiness edge that arrives at any point of a wait is seen: before the wait it leaves
 * READY to be consumed, during it turns WAIT into READY and the commit fails, after it finds
 * g. And a green thread is readied only by whoever swaps its pointer out, once.
 *
 * Wake-ups may be spurious (a stale event of a reused fd number, a deadline that moved):
 * every waiter retries its system call, so a spurious wake-up costs one EAGAIN.
 */
#ifndef GREEN_NETPOLL_H
#define GREEN_NETPOLL_H

#include "runtime.h"

enum { PD_NIL = 0, PD_READY = 1, PD_WAIT = 2 };

struct pd {
	_Atomic uintptr_t slot[2];   /* [GREEN_IN], [GREEN_OUT] */
	_Atomic uint64_t deadline[2];/* monotonic ns while a timed wait is on; 0: none */
	_Atomic unsigned timeout_ms; /* green_fd_timeout() */
	_Atomic uint32_t seq;        /* incarnation: bumped when the fd is released */
	_Atomic bool registered;
	_Atomic bool closing;
	_Atomic int refs;            /* green threads inside a call on this fd */
	bool pollable;               /* in the epoll set (regular files are not) */
	bool stream;                 /* a SOCK_STREAM socket: a short read drained it */
	bool drained;                /* the reader's hint: input known to be used up */
	/* Epoll reported EPOLLRDHUP/HUP, so an end of file is pending: bit 0, for the incarnation
	 * in the bits above it (seq << 1). Read it with pd_peer_closed(). */
	_Atomic uint64_t peer_closed;
	struct timer timer;          /* fires at the earliest deadline */
	int fd;
};

static inline bool pd_peer_closed(struct pd *pd)
{
	return atomic_load(&pd->peer_closed) & 1;
}

/* The fd's descriptor, registered with epoll on first use, with the caller counted in
 * (pd_release() counts it out). NULL with errno on failure. */
struct pd *pd_acquire(int fd);
void pd_release(struct pd *pd);
/* Parks until the fd is ready in `dir`. 0 when it is (or may be: retry the call), or -1 with
 * errno: EBADF (released meanwhile), ETIMEDOUT (green_fd_timeout). */
int pd_wait(struct pd *pd, enum green_dir dir);

#endif
