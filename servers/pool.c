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
 * hands only through the queue and the return list, under their lock.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "deadline.h"
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
	struct conn *next;          /* in the return list */
};

/* Between the two layers, under one lock: the queue of ready connections, loop to workers,
 * and the list of connections given back, workers to loop. */
struct handoff {
	pthread_mutex_t lock;
	pthread_cond_t ready;       /* the queue is not empty, or stopping */
	struct conn **queue;        /* a ring of `cap`: `len` from `head` */
	size_t cap, head, len;
	struct conn *returned;
	int wake_fd;                /* an eventfd in the loop's epoll set: something came back */
	bool stopping;
};

struct pool {
	struct server *srv;
	int epfd;
	struct conn **conns;        /* indexed by fd; the loop thread's alone, like the deadlines */
	size_t conns_cap;
	unsigned open;
	uint64_t now;               /* ms, read once per turn of the loop */
	struct deadline_heap deadlines;
	struct bufpool bufs;        /* where closing sessions give their buffers back */
	struct handoff h;
	bool said_full;             /* the queue filled up: said once on stderr */
};

static struct conn *conn_of(struct deadline *d)
{
	return (struct conn *)((char *)d - offsetof(struct conn, deadline));
}

static void wake_loop(struct handoff *h)
{
	uint64_t one = 1;
	ssize_t ignored = write(h->wake_fd, &one, sizeof one);
	(void)ignored;
}

/* ---- The synchronous layer: the workers ---- */

/* A connection off the queue, or NULL when the server stops. */
static struct conn *take(struct handoff *h)
{
	pthread_mutex_lock(&h->lock);
	while (h->len == 0 && !h->stopping)
		pthread_cond_wait(&h->ready, &h->lock);
	struct conn *c = NULL;
	bool was_full = h->len == h->cap;
	if (!h->stopping) {
		c = h->queue[h->head];
		h->head = (h->head + 1) % h->cap;
		h->len--;
	}
	pthread_mutex_unlock(&h->lock);
	if (c && was_full)
		wake_loop(h);   /* it stopped taking work when the queue filled: there is room now */
	return c;
}

static void give_back(struct handoff *h, struct conn *c)
{
	pthread_mutex_lock(&h->lock);
	bool first = h->returned == NULL;   /* if not, the loop has been woken already */
	c->next = h->returned;
	h->returned = c;
	pthread_mutex_unlock(&h->lock);
	if (first)
		wake_loop(h);
}

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
	struct conn *c;
	while ((c = take(h))) {
		c->waiting = serve(c, &bufs);
		give_back(h, c);
	}
	bufpool_drain(&bufs);
	return NULL;
}

/* ---- The asynchronous layer: the loop ---- */

static size_t room(struct handoff *h)
{
	pthread_mutex_lock(&h->lock);
	size_t n = h->cap - h->len;
	pthread_mutex_unlock(&h->lock);
	return n;
}

/* To a worker. The caller has made sure there is room: only the loop adds to the queue. */
static void hand_over(struct pool *p, struct conn *c)
{
	deadline_cancel(&p->deadlines, &c->deadline);
	struct handoff *h = &p->h;
	pthread_mutex_lock(&h->lock);
	h->queue[(h->head + h->len) % h->cap] = c;
	h->len++;
	pthread_cond_signal(&h->ready);
	pthread_mutex_unlock(&h->lock);
}

static void conn_close(struct pool *p, struct conn *c)
{
	deadline_cancel(&p->deadlines, &c->deadline);
	session_free(c->session, &p->bufs);
	server_close(c->fd);   /* close() also takes it out of the epoll set */
	p->conns[c->fd] = NULL;
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
	if (p->srv->opts.idle_timeout_s)
		deadline_set(&p->deadlines, &c->deadline,
		             p->now + p->srv->opts.idle_timeout_s * 1000u);
	return true;
}

/* A connection a worker gave back, by what it waits for now. */
static void on_return(struct pool *p, struct conn *c)
{
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
	uint64_t count;
	ssize_t ignored = read(p->h.wake_fd, &count, sizeof count);
	(void)ignored;
	pthread_mutex_lock(&p->h.lock);
	struct conn *c = p->h.returned;
	p->h.returned = NULL;
	pthread_mutex_unlock(&p->h.lock);
	while (c) {
		struct conn *next = c->next;
		on_return(p, c);
		c = next;
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

/* The table of loop.c, line for line, for this file's own struct conn: the loop thread's
 * state, which does not come from loop.h (see the top). */
static bool grow_table(struct pool *p, int fd)
{
	if ((size_t)fd < p->conns_cap)
		return true;
	size_t cap = p->conns_cap ? p->conns_cap : 1024;
	while (cap <= (size_t)fd)
		cap *= 2;
	struct conn **conns = realloc(p->conns, cap * sizeof *conns);
	if (!conns)
		return false;
	for (size_t i = p->conns_cap; i < cap; i++)
		conns[i] = NULL;
	p->conns = conns;
	p->conns_cap = cap;
	return true;
}

static void conn_open(struct pool *p, int fd)
{
	if (p->open >= p->srv->opts.max_conns) {
		server_refuse(p->srv, fd, "at --max-conns; refusing new connections");
		return;
	}
	struct conn *c = grow_table(p, fd) ? calloc(1, sizeof *c) : NULL;
	if (c)
		*c = (struct conn){ .fd = fd, .waiting = FOR_READ, .can_write = true,
		                    .session = session_new(p->srv->opts.proto) };
	if (!c || !c->session || !arm(p, c, EPOLL_CTL_ADD)) {
		if (c)
			session_free(c->session, &p->bufs);
		free(c);
		server_refuse(p->srv, fd, "cannot take the connection (memory or epoll_ctl); refusing");
		return;
	}
	p->conns[fd] = c;
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
	size_t free_slots = room(&p->h);
	struct deadline *due;
	while (free_slots > 0 && (due = deadline_pop_due(&p->deadlines, woke))) {
		struct conn *c = conn_of(due);
		if (c->waiting == FOR_READ || c->waiting == FOR_WRITE) {
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
	size_t free_slots = room(&p->h);
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
		if (fd == p->srv->stop_fd)
			return false;
		if (fd == p->srv->listen_fd)
			accept_some(p);
		else if (fd == p->h.wake_fd)
			returns = true;
		else if ((size_t)fd < p->conns_cap && p->conns[fd])
			on_socket_event(p, p->conns[fd], events[i].events);
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
	*h = (struct handoff){ .cap = (size_t)nworkers * QUEUE_PER_WORKER };
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->ready, NULL);
	h->queue = calloc(h->cap, sizeof *h->queue);
	h->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	p.epfd = epoll_create1(EPOLL_CLOEXEC);
	pthread_t *threads = calloc(nworkers, sizeof *threads);
	unsigned started = 0;
	int rc = 0;   /* 1 if the loop itself failed, rather than being told to stop */
	if (!h->queue || !threads || h->wake_fd < 0 || p.epfd < 0 || !watch(p.epfd, srv->listen_fd) ||
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
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_broadcast(&h->ready);
	pthread_mutex_unlock(&h->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	for (size_t fd = 0; fd < p.conns_cap; fd++)
		if (p.conns[fd])
			conn_close(&p, p.conns[fd]);
	deadline_heap_free(&p.deadlines);
	bufpool_drain(&p.bufs);
	free(p.conns);
	free(threads);
	free(h->queue);
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	if (p.epfd >= 0)
		close(p.epfd);
	pthread_cond_destroy(&h->ready);
	pthread_mutex_destroy(&h->lock);
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
