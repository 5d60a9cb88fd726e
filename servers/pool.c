/*
 * pool.c: half-sync/half-async. One event-loop thread waits for every connection; a pool of
 * worker threads serves the ones that are ready, with plain calls.
 *
 * The idea (Schmidt and Cranor's half-sync/half-async; Apache's worker and event MPMs, Lwt's
 * detach): two layers joined by a queue. The asynchronous layer is one thread and one epoll
 * loop, which waits for every socket at once, as epoll.c does, and runs no protocol at all.
 * When a connection's socket is ready, the loop puts the connection on a bounded queue. The
 * synchronous layer is --workers threads: each takes a connection off the queue and runs its
 * session as far as it goes, reading and writing until the socket would block, then gives the
 * connection back; the loop re-arms its socket (EPOLLONESHOT: one event, then silence until
 * re-armed, so a connection is never with the loop and a worker at once) and waits again.
 * So a request may block (/block holds one worker, nobody else) or compute (/work) as in
 * thread.c, with a fixed number of threads however many connections there are, and an idle
 * connection costs what it costs epoll.c. /sleep holds no worker: the connection goes back to
 * the loop as a timer.
 *
 * The price: each request crosses between threads twice (to a worker, back to the loop): a
 * wake-up and a context switch each way, where epoll.c has none. With every worker blocked,
 * the next ready connection waits, and when the queue is full the loop stops taking work from
 * the kernel (back-pressure: readiness and new connections wait there) rather than grow it.
 *
 * Why it does not use the event loops' shared core (loop.h): a loop there belongs to one
 * thread and runs every session itself. Here sessions run on other threads, so the table of
 * connections and the deadlines stay with the loop thread alone, and a connection changes
 * hands only through the queue and the return list, under their lock (servers/core/handoff.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "deadline.h"
#include "fdtable.h"
#include "handoff.h"
#include "server.h"
#include "session.h"

/* Connections the queue holds per worker: enough to keep them busy between the loop's
 * turns, few enough that a burst waits in the kernel rather than here. (A macro, for
 * --help's text.) */
#define QUEUE_PER_WORKER 4
/* Reads and writes a worker makes for one connection before it lets the others have a turn. */
enum { TRANSFERS_PER_TURN = 16 };
enum { ACCEPTS_PER_TURN = 64, EVENTS_PER_TURN = 256 };
/* Spare I/O buffers each worker keeps; the loop keeps none (it only frees what closes). */
enum { WORKER_SPARE_BUFFERS = 64 };

/* Where a connection is, or what it waits for when it is with the loop. */
enum waiting {
	FOR_READ,                   /* its socket to become readable (or the idle time-out) */
	FOR_WRITE,                  /* its socket to take more output (or the idle time-out) */
	FOR_SLEEP,                  /* the end of its /sleep: a deadline of the loop's */
	FOR_TURN,                   /* a worker again: it used up its turn */
	FOR_CLOSE,                  /* done: the loop closes it */
};

struct conn {
	int fd;
	enum waiting waiting;
	bool can_read, can_write;   /* readiness reported and not used up yet */
	bool hung_up;               /* the peer's FIN, a reset or an error was reported */
	struct session *session;
	struct deadline deadline;   /* the loop's: the idle time-out or the end of a /sleep */
	struct handoff_item item;   /* how it travels between the loop and the workers */
	bool at_worker;             /* queued or in a worker's hands: the loop's own flag */
};

struct pool {
	struct server *srv;
	int epfd;
	struct fdtable conns;       /* each connection by its fd: the loop thread's alone, like
	                             * the deadlines */
	unsigned open;
	uint64_t now;               /* ms, read once per turn of the loop */
	struct deadline_heap deadlines;
	struct bufpool bufs;        /* where closing sessions give their buffers back */
	struct handoff h;           /* between the two layers: servers/core/handoff.h */
	bool said_full;             /* the queue filled up: said once on stderr */
};

static struct conn *conn_of(struct deadline *d)
{
	return (struct conn *)((char *)d - offsetof(struct conn, deadline));
}

static struct conn *conn_of_item(struct handoff_item *it)
{
	return (struct conn *)((char *)it - offsetof(struct conn, item));
}

/* ---- The synchronous layer: the workers ---- */

/* Runs the session with the socket until it would block, or its turn is used up; returns
 * what the connection waits for next. Plain calls: this thread may block (/block), compute
 * (/work), or wait for nothing else. */
static enum waiting serve(struct conn *c, struct bufpool *bufs)
{
	for (int transfers = 0; transfers < TRANSFERS_PER_TURN; transfers++) {
		bool ok = true;
		switch (session_next(c->session, bufs)) {
		case WANT_READ:
			if (!c->can_read)
				return FOR_READ;
			ok = nb_read(c->session, bufs, c->fd, &c->can_read);
			if (c->hung_up)
				c->can_read = true;   /* the next read() shows the hang-up */
			break;
		case WANT_WRITE:
			if (!c->can_write)
				return FOR_WRITE;
			ok = nb_write(c->session, c->fd, &c->can_write);
			break;
		case WANT_SLEEP:
			return FOR_SLEEP;     /* a timer of the loop's: no worker waits for it */
		case WANT_BLOCK:
			block_for_ms(session_wait_ms(c->session));   /* this worker only */
			session_woke(c->session);
			break;
		case WANT_CLOSE:
			return FOR_CLOSE;
		}
		if (!ok)
			return FOR_CLOSE;
	}
	return FOR_TURN;
}

static void *worker(void *arg)
{
	struct handoff *h = arg;
	struct bufpool bufs = BUFPOOL_INIT(WORKER_SPARE_BUFFERS);
	struct handoff_item *it;
	while ((it = handoff_take(h))) {
		struct conn *c = conn_of_item(it);
		c->waiting = serve(c, &bufs);
		handoff_give_back(h, it);
	}
	bufpool_drain(&bufs);
	return NULL;
}

/* ---- The asynchronous layer: the loop ---- */

/* To a worker. The caller has made sure there is room: only the loop adds to the queue. */
static void hand_over(struct pool *p, struct conn *c)
{
	deadline_cancel(&p->deadlines, &c->deadline);
	c->at_worker = true;
	handoff_put(&p->h, &c->item);
}

static void conn_close(struct pool *p, struct conn *c)
{
	deadline_cancel(&p->deadlines, &c->deadline);
	session_free(c->session, &p->bufs);
	server_close(c->fd);   /* close() also takes it out of the epoll set */
	fdtable_set(&p->conns, c->fd, NULL);
	p->open--;
	free(c);
}

/* One event for the direction the connection waits for, then nothing until the next
 * re-arm: while a worker has it, the loop hears nothing of it. */
static bool arm(struct pool *p, struct conn *c, int op)
{
	struct epoll_event ev = { .data.fd = c->fd, .events = EPOLLONESHOT |
	        (c->waiting == FOR_WRITE ? EPOLLOUT : EPOLLIN | EPOLLRDHUP) };
	if (epoll_ctl(p->epfd, op, c->fd, &ev) != 0)
		return false;
	/* The idle time-out, or sooner the deadline of a request in progress (--header-timeout). */
	uint64_t at = socket_wait_until(&p->srv->opts, c->session, p->now, c->waiting == FOR_READ);
	if (at)
		deadline_set(&p->deadlines, &c->deadline, at);
	else
		deadline_cancel(&p->deadlines, &c->deadline);
	return true;
}

/* A connection a worker gave back, by what it waits for now. */
static void on_return(struct pool *p, struct conn *c)
{
	c->at_worker = false;
	switch (c->waiting) {
	case FOR_READ:
	case FOR_WRITE:
		if (!arm(p, c, EPOLL_CTL_MOD))
			conn_close(p, c);
		break;
	case FOR_SLEEP:
		deadline_set(&p->deadlines, &c->deadline, p->now + session_wait_ms(c->session));
		break;
	case FOR_TURN:
		deadline_set(&p->deadlines, &c->deadline, p->now);   /* due now: after the others */
		break;
	case FOR_CLOSE:
		conn_close(p, c);
		break;
	}
}

static void take_returns(struct pool *p)
{
	struct handoff_item *it = handoff_take_returned(&p->h);
	while (it) {
		struct handoff_item *next = it->next;
		on_return(p, conn_of_item(it));
		it = next;
	}
}

static void on_socket_event(struct pool *p, struct conn *c, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->can_read = true;   /* an error or a hang-up shows itself to the next read */
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->hung_up = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->can_write = true;
	hand_over(p, c);
}

static void conn_open(struct pool *p, int fd)
{
	if (p->open >= p->srv->opts.max_conns) {
		server_refuse(p->srv, fd, "at --max-conns; refusing new connections");
		return;
	}
	struct conn *c = fdtable_reserve(&p->conns, fd) ? calloc(1, sizeof *c) : NULL;
	if (c)
		*c = (struct conn){ .fd = fd, .waiting = FOR_READ, .can_write = true,
		                    .session = session_new(p->srv->opts.proto) };
	if (c && c->session)
		session_set_header_timeout(c->session, p->srv->opts.header_timeout_s * 1000u);
	if (!c || !c->session || !arm(p, c, EPOLL_CTL_ADD)) {
		if (c)
			session_free(c->session, &p->bufs);
		free(c);
		server_refuse(p->srv, fd, "cannot take the connection (memory or epoll_ctl); refusing");
		return;
	}
	fdtable_set(&p->conns, fd, c);
	p->open++;
}

static void accept_some(struct pool *p)
{
	for (int i = 0; i < ACCEPTS_PER_TURN; i++) {
		int fd = server_accept(p->srv, true);
		if (fd < 0)
			return;
		conn_open(p, fd);
	}
}

/* The deadlines that are due, judged by the time the loop woke. A sleep that ends, or a turn,
 * needs a worker: only as many as the queue has room for; the rest wait for the next turn. */
static void expire(struct pool *p, uint64_t woke)
{
	size_t free_slots = handoff_room(&p->h);
	struct deadline *due;
	while (free_slots > 0 && (due = deadline_pop_due(&p->deadlines, woke))) {
		struct conn *c = conn_of(due);
		if (c->waiting == FOR_READ && session_late(c->session, woke)) {
			session_timed_out(c->session);   /* a worker writes the 408, then it closes */
		} else if (c->waiting == FOR_READ || c->waiting == FOR_WRITE) {
			conn_close(p, c);   /* silent for the whole idle time-out */
			continue;
		}
		if (c->waiting == FOR_SLEEP)
			session_woke(c->session);
		hand_over(p, c);
		free_slots--;
	}
}

/*
 * One turn of the loop. It asks the kernel for no more connection events than the queue has
 * room for, so every one it takes goes straight to a worker. With the queue full it takes
 * nothing: it waits for a worker to take one (or give one back), or for the stop.
 * Returns false to stop.
 */
static bool turn(struct pool *p)
{
	size_t free_slots = handoff_room(&p->h);
	if (free_slots == 0) {
		if (!p->said_full) {
			fprintf(stderr, "%s: every worker busy and the queue full; new work waits in "
			                "the kernel\n", p->srv->model->name);
			p->said_full = true;
		}
		struct pollfd fds[2] = { { p->srv->stop_fd, POLLIN, 0 }, { p->h.wake_fd, POLLIN, 0 } };
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			return false;
		p->now = now_ms();
		if (fds[0].revents)
			return false;
		if (fds[1].revents)
			take_returns(p);
		return true;
	}
	struct epoll_event events[EVENTS_PER_TURN];
	int max = free_slots < EVENTS_PER_TURN ? (int)free_slots : EVENTS_PER_TURN;
	p->now = now_ms();
	int n = epoll_wait(p->epfd, events, max, deadline_timeout_ms(&p->deadlines, p->now));
	if (n < 0 && errno != EINTR)
		return false;
	uint64_t woke = p->now = now_ms();
	bool returns = false;
	for (int i = 0; i < n; i++) {
		int fd = events[i].data.fd;
		struct conn *c = fdtable_get(&p->conns, fd);
		if (fd == p->srv->stop_fd)
			return false;
		if (fd == p->srv->listen_fd)
			accept_some(p);
		else if (fd == p->h.wake_fd)
			returns = true;
		else if (c && !c->at_worker)
			on_socket_event(p, c, events[i].events);
		/* An event for a connection at a worker: one that a time-out handed over while it
		 * was still armed (expire()). Handing it over again would give it to two workers;
		 * the re-arm when it comes back reports whatever is still pending. */
	}
	if (returns)
		take_returns(p);
	expire(p, woke);
	return true;
}

/* ---- Start and stop ---- */

static bool watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

static int pool_run(struct server *srv)
{
	unsigned nworkers = srv->opts.workers;
	struct pool p = { .srv = srv, .bufs = BUFPOOL_INIT(0) };
	struct handoff *h = &p.h;
	bool handoff_ok = handoff_init(h, (size_t)nworkers * QUEUE_PER_WORKER);
	p.epfd = epoll_create1(EPOLL_CLOEXEC);
	pthread_t *threads = calloc(nworkers, sizeof *threads);
	unsigned started = 0;
	int rc = 0;   /* 1 if the loop itself failed, rather than being told to stop */
	if (!handoff_ok || !threads || p.epfd < 0 || !watch(p.epfd, srv->listen_fd) ||
	    !watch(p.epfd, srv->stop_fd) || !watch(p.epfd, h->wake_fd))
		rc = 1;
	while (rc == 0 && started < nworkers) {
		if (pthread_create(&threads[started], NULL, worker, h) != 0) {
			fprintf(stderr, "pool: cannot create worker thread %u of %u\n", started + 1,
			        nworkers);
			rc = 1;
			break;
		}
		started++;
	}
	while (rc == 0 && turn(&p))
		;
	if (rc == 0 && !server_stopping(srv))
		rc = 1;

	/* The workers finish the connection in hand (a /block ends at the stop) and give it
	 * back; then every connection, wherever it was, is in the table. */
	handoff_stop(h);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	for (size_t fd = 0; fd < p.conns.cap; fd++)
		if (p.conns.slots[fd])
			conn_close(&p, p.conns.slots[fd]);
	deadline_heap_free(&p.deadlines);
	bufpool_drain(&p.bufs);
	fdtable_free(&p.conns);
	free(threads);
	handoff_destroy(h);
	if (p.epfd >= 0)
		close(p.epfd);
	return rc;
}

static const struct model pool_model = {
	.name = "pool",
	.idea = "one epoll loop thread hands ready connections to a pool of worker threads",
	.default_max_conns = 100000,
	.default_workers = 0,
	.workers_per_cpu = 4,
	.max_workers = 1024,
	.help_notes = "--workers threads serve the connections the loop finds ready (default: 4 per\n"
	              "CPU available). The queue between the loop and the workers holds "
	              XSTR(QUEUE_PER_WORKER) "\nconnections per worker (--workers 8: 32); when it "
	              "is full, the loop takes no more\nwork from the kernel until a worker is free.",
	.run = pool_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &pool_model);
}
