/*
 * netpoll.c: epoll, and parking green threads on fds (the wait slots of netpoll.h).
 *
 * The essential path comes first: pd_wait() parks a green thread in an fd's wait slot
 * (publish_wait, then green_park with wait_commit), and netpoll() readies it when epoll
 * reports the fd (unblock). What follows it is bookkeeping: deadlines, the fd table and its
 * registration, the wake-up of a blocked poller, and close.
 *
 * Each fd is added to the epoll set once, on first use, for both directions, edge-triggered:
 * epoll reports a change of readiness once, and the wait slot remembers it until a waiter
 * consumes it. Waiting then costs no epoll_ctl at all, which is why Go does it this way.
 *
 * The epoll event carries the fd and its incarnation number, so an event collected just
 * before the fd was released (and its number reused) is recognised and dropped.
 *
 * Any worker may call netpoll(): the idle one that blocks in it, and busy ones that look
 * without blocking. The slot transitions make that safe: whichever thread sees the event
 * does the CAS, and only the CAS winner readies the green thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netpoll.h"

enum {
	CHUNK = 1024,                /* descriptors are allocated this many at a time... */
	CHUNKS = 1024,               /* ...for fds below CHUNK * CHUNKS */
	EVENTS = 128,
	BREAK_TOKEN = 0xffffffffu,   /* the event data of the wake-up eventfd */
};

static struct {
	int epfd;
	int breakfd;                              /* an eventfd: netpoll_break() writes it */
	_Atomic bool break_pending;
	_Atomic long waiters;                     /* green threads parked on an fd */
	pthread_mutex_t lock;                     /* registration and release */
	_Atomic(struct pd *) chunk[CHUNKS];
} np = { .epfd = -1, .breakfd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

static bool publish_wait(struct pd *pd, _Atomic uintptr_t *slot);
static bool wait_commit(struct green *g, void *arg);
static struct green *unblock(struct pd *pd, enum green_dir dir, bool ioready);
static void push(struct green **list, struct green *g);
static struct pd *pd_lookup(int fd, bool create);
static int arm_deadline(struct pd *pd, enum green_dir dir);
static bool expired(struct pd *pd, enum green_dir dir);
static int wait_result(struct pd *pd, enum green_dir dir, uintptr_t woke_by);
static void consume_break(void);
static void two_waiters(struct pd *pd);
static void note_peer_closed(struct pd *pd, uint32_t seq);
static uint64_t deadline_fire(struct timer *t, uint64_t now);

/* ---- the essential path: park on an fd, and be readied by the poller ---- */

int pd_wait(struct pd *pd, enum green_dir dir)
{
	_Atomic uintptr_t *slot = &pd->slot[dir];
	if (!pd->pollable)
		return 0;                /* a regular file: always ready */
	if (arm_deadline(pd, dir) < 0)
		return -1;
	uintptr_t woke_by = PD_READY;
	if (publish_wait(pd, slot)) {
		/* A close or deadline from now on sees WAIT and fails our commit, or came before: */
		if (!atomic_load(&pd->closing) && !expired(pd, dir))
			green_park(wait_commit, slot);
		/* Parked or not, the slot is ours until we put NIL back. Take what is there: a READY
		 * left meanwhile is the only record of an edge, and it is reported (netpoll.h). */
		woke_by = atomic_exchange(slot, PD_NIL);
	}
	return wait_result(pd, dir, woke_by);
}

/* Claims the slot for a wait. True once WAIT is published; false when it held READY, now
 * consumed: an event came before we waited. */
static bool publish_wait(struct pd *pd, _Atomic uintptr_t *slot)
{
	uintptr_t old = atomic_load(slot), new;
	do {
		if (old != PD_NIL && old != PD_READY)
			two_waiters(pd);
		new = old == PD_READY ? PD_NIL : PD_WAIT;
	} while (!atomic_compare_exchange_weak(slot, &old, new));
	return new == PD_WAIT;
}

/* On g0, g's registers saved: publish g in the slot, unless it moved on meanwhile. */
static bool wait_commit(struct green *g, void *arg)
{
	uintptr_t expect = PD_WAIT;
	atomic_fetch_add(&np.waiters, 1);
	if (atomic_compare_exchange_strong((_Atomic uintptr_t *)arg, &expect, (uintptr_t)g))
		return true;
	atomic_fetch_sub(&np.waiters, 1);
	return false;
}

struct green *netpoll(int timeout_ms)
{
	struct epoll_event ev[EVENTS];
	struct green *list = NULL;
	int n = epoll_wait(np.epfd, ev, EVENTS, timeout_ms);
	for (int i = 0; i < n; i++) {
		uint32_t fd = (uint32_t)ev[i].data.u64, seq = (uint32_t)(ev[i].data.u64 >> 32);
		uint32_t e = ev[i].events;
		if (fd == BREAK_TOKEN) {
			consume_break();
			continue;
		}
		struct pd *pd = pd_lookup((int)fd, false);
		if (!pd || atomic_load(&pd->seq) != seq)
			continue;            /* the fd was released since: stale */
		if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			note_peer_closed(pd, seq);   /* before the slot: see there */
		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			push(&list, unblock(pd, GREEN_IN, true));
		if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			push(&list, unblock(pd, GREEN_OUT, true));
	}
	return list;
}

/* Moves a wait slot on after an event (ioready) or a close or deadline (!ioready). Returns
 * the green thread parked there, for the caller to ready, or NULL. Go's netpollunblock. */
static struct green *unblock(struct pd *pd, enum green_dir dir, bool ioready)
{
	_Atomic uintptr_t *slot = &pd->slot[dir];
	uintptr_t old = atomic_load(slot);
	do {
		if (old == PD_READY || (old == PD_NIL && !ioready))
			return NULL;     /* signalled already; or no waiter, and a new one checks */
	} while (!atomic_compare_exchange_weak(slot, &old, ioready ? PD_READY : PD_NIL));
	if (old == PD_NIL || old == PD_WAIT)
		return NULL;             /* the waiter's commit will fail, and it will see why */
	atomic_fetch_sub(&np.waiters, 1);
	return (struct green *)old;
}

static void push(struct green **list, struct green *g)
{
	if (g) {
		g->next = *list;
		*list = g;
	}
}

/*
 * Epoll reported the peer's FIN (or a hang-up): set pd->peer_closed, which io.c's drained hint
 * reads. Before the slot: a reader that consumes this wake-up must also see the flag. And
 * not a store: since netpoll() checked seq, the fd may have been released, its number reused
 * and registered afresh, and a store would mark the new connection's peer closed. The flag
 * names its incarnation, and registration resets it to (seq, open); so this CAS, from (the
 * event's seq, open), can only succeed while the fd is still the one the event is about. A
 * stale event may still leave READY in the slot: a spurious wake-up, which costs one EAGAIN.
 */
static void note_peer_closed(struct pd *pd, uint32_t seq)
{
	uint64_t open = (uint64_t)seq << 1;
	atomic_compare_exchange_strong(&pd->peer_closed, &open, open | 1);
}

__attribute__((noreturn)) static void two_waiters(struct pd *pd)
{
	fprintf(stderr, "green: green thread #%llu waits on fd %d, which another one already "
	        "waits on in the same direction\n", (unsigned long long)green_current()->id, pd->fd);
	abort();
}

/* ---- deadlines (green_fd_timeout) ---- */

/* Sets the deadline of a wait that starts now, if the fd has a time-out. */
static int arm_deadline(struct pd *pd, enum green_dir dir)
{
	unsigned timeout = atomic_load(&pd->timeout_ms);
	if (!timeout)
		return 0;
	uint64_t dl = mono_ns() + (uint64_t)timeout * 1000000u;
	atomic_store(&pd->deadline[dir], dl);
	return timer_arm_by(&pd->timer, dl);
}

static bool expired(struct pd *pd, enum green_dir dir)
{
	uint64_t dl = atomic_load(&pd->deadline[dir]);
	return dl && mono_ns() >= dl;
}

/* What ended a wait: 0 for readiness, real or spurious (the caller retries either way), or
 * -1 with EBADF (released meanwhile) or ETIMEDOUT. */
static int wait_result(struct pd *pd, enum green_dir dir, uintptr_t woke_by)
{
	bool timed_out = woke_by != PD_READY && expired(pd, dir);
	atomic_store(&pd->deadline[dir], 0);
	if (atomic_load(&pd->closing)) {
		green_set_errno(EBADF);  /* the readiness, if any, dies with the fd */
		return -1;
	}
	if (timed_out) {
		green_set_errno(ETIMEDOUT);
		return -1;
	}
	return 0;
}

/* Fires at the earliest deadline of the fd: wakes the waiters whose deadline passed and comes
 * back for the others. Deadlines move on every wait; rather than moving the timer each time,
 * it is armed once and re-armed here for whatever is pending (pd_wait only pulls it earlier). */
static uint64_t deadline_fire(struct timer *t, uint64_t now)
{
	struct pd *pd = (struct pd *)((char *)t - offsetof(struct pd, timer));
	uint64_t next = 0;
	for (int dir = GREEN_IN; dir <= GREEN_OUT; dir++) {
		uint64_t dl = atomic_load(&pd->deadline[dir]);
		if (!dl)
			continue;
		if (dl <= now) {
			struct green *g = unblock(pd, (enum green_dir)dir, false);
			if (g)
				green_ready(g);
		} else if (!next || dl < next) {
			next = dl;
		}
	}
	return next;
}

int green_fd_timeout(int fd, unsigned ms)
{
	struct pd *pd = pd_acquire(fd);
	if (!pd)
		return -1;
	atomic_store(&pd->timeout_ms, ms);
	pd_release(pd);
	return 0;
}

/* ---- the fd table ---- */

static struct pd *pd_lookup(int fd, bool create)
{
	if (fd < 0 || (unsigned)fd >= CHUNK * CHUNKS) {
		errno = fd < 0 ? EBADF : EMFILE;
		return NULL;
	}
	_Atomic(struct pd *) *slot = &np.chunk[(unsigned)fd / CHUNK];
	struct pd *chunk = atomic_load_explicit(slot, memory_order_acquire);
	if (!chunk) {
		if (!create)
			return NULL;
		struct pd *fresh = calloc(CHUNK, sizeof *fresh);
		if (!fresh)
			return NULL;
		for (unsigned i = 0; i < CHUNK; i++) {
			fresh[i].fd = (int)((unsigned)fd / CHUNK * CHUNK + i);
			fresh[i].timer.fire = deadline_fire;
		}
		if (atomic_compare_exchange_strong(slot, &chunk, fresh))
			chunk = fresh;
		else
			free(fresh);         /* another thread won: chunk is theirs */
	}
	return &chunk[(unsigned)fd % CHUNK];
}

static int do_register(struct pd *pd)
{
	int flags = fcntl(pd->fd, F_GETFL);
	if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(pd->fd, F_SETFL, flags | O_NONBLOCK) < 0))
		return -1;
	int type = 0;
	socklen_t len = sizeof type;
	pd->stream = getsockopt(pd->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	             type == SOCK_STREAM;
	pd->drained = false;
	pd->pollable = true;
	atomic_store(&pd->peer_closed, (uint64_t)atomic_load(&pd->seq) << 1);   /* open */
	atomic_store(&pd->slot[GREEN_IN], PD_NIL);
	atomic_store(&pd->slot[GREEN_OUT], PD_NIL);
	atomic_store(&pd->deadline[GREEN_IN], 0);
	atomic_store(&pd->deadline[GREEN_OUT], 0);
	atomic_store(&pd->closing, false);
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = (uint64_t)atomic_load(&pd->seq) << 32 | (uint32_t)pd->fd,
	};
	if (epoll_ctl(np.epfd, EPOLL_CTL_ADD, pd->fd, &ev) < 0) {
		if (errno != EPERM)
			return -1;
		pd->pollable = false;    /* a regular file: always ready, never EAGAIN */
	}
	atomic_store_explicit(&pd->registered, true, memory_order_release);
	return 0;
}

struct pd *pd_acquire(int fd)
{
	struct pd *pd = pd_lookup(fd, true);
	if (!pd)
		return NULL;
	atomic_fetch_add(&pd->refs, 1);
	if (!atomic_load_explicit(&pd->registered, memory_order_acquire)) {
		pthread_mutex_lock(&np.lock);
		int rc = atomic_load(&pd->registered) ? 0 : do_register(pd);
		pthread_mutex_unlock(&np.lock);
		if (rc < 0) {
			int err = errno;
			atomic_fetch_sub(&pd->refs, 1);
			errno = err;
			return NULL;
		}
	}
	return pd;
}

void pd_release(struct pd *pd)
{
	atomic_fetch_sub(&pd->refs, 1);
}

/* ---- waking a poller blocked in epoll_wait ---- */

void netpoll_break(void)
{
	if (np.breakfd < 0 || atomic_exchange(&np.break_pending, true))
		return;                  /* one pending wake-up is enough */
	uint64_t one = 1;
	ssize_t unused = write(np.breakfd, &one, sizeof one);
	(void)unused;
}

static void consume_break(void)
{
	uint64_t count;
	ssize_t unused = read(np.breakfd, &count, sizeof count);
	(void)unused;
	/* An exchange, not a store: it reads from the last netpoll_break(), so the work that
	 * waker published is visible to what this thread does next. */
	atomic_exchange(&np.break_pending, false);
}

bool netpoll_has_waiters(void)
{
	return atomic_load_explicit(&np.waiters, memory_order_relaxed) > 0;
}

/* ---- close, and the poller's life ---- */

/*
 * Wakes the green threads waiting on fd (they return EBADF), waits until no green thread is
 * inside a call on it, and forgets it: the next use of the number registers it afresh.
 */
void green_fd_release(int fd)
{
	struct pd *pd = pd_lookup(fd, false);
	if (!pd || !atomic_load(&pd->registered))
		return;
	atomic_store(&pd->closing, true);
	for (int dir = GREEN_IN; dir <= GREEN_OUT; dir++) {
		struct green *g = unblock(pd, (enum green_dir)dir, false);
		if (g)
			green_ready(g);
	}
	timer_cancel(&pd->timer);
	while (atomic_load(&pd->refs) > 0)
		green_yield();           /* they are runnable now and leave at their next step */
	pthread_mutex_lock(&np.lock);
	if (pd->pollable)
		epoll_ctl(np.epfd, EPOLL_CTL_DEL, fd, NULL);
	atomic_fetch_add(&pd->seq, 1);
	atomic_store(&pd->timeout_ms, 0);
	atomic_store(&pd->registered, false);
	pthread_mutex_unlock(&np.lock);
}

int green_close(int fd)
{
	green_fd_release(fd);
	return close(fd);
}

int netpoll_init(void)
{
	np.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (np.epfd < 0)
		return -1;
	np.breakfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = BREAK_TOKEN };
	if (np.breakfd < 0 || epoll_ctl(np.epfd, EPOLL_CTL_ADD, np.breakfd, &ev) < 0) {
		int err = errno;
		netpoll_destroy();
		errno = err;
		return -1;
	}
	atomic_store(&np.break_pending, false);
	atomic_store(&np.waiters, 0);
	return 0;
}

/* Every green thread has exited: forget every fd (the user's to close) and free the table. */
void netpoll_destroy(void)
{
	for (unsigned i = 0; i < CHUNKS; i++)
		free(atomic_exchange(&np.chunk[i], NULL));
	if (np.breakfd >= 0)
		close(np.breakfd);
	if (np.epfd >= 0)
		close(np.epfd);
	np.breakfd = np.epfd = -1;
}
