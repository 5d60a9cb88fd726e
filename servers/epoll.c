/*
 * epoll.c: one thread, one event loop, every connection a state machine.
 *
 * The idea: never block. Every socket is non-blocking; the loop asks the kernel which ones
 * are ready (epoll_wait) and, for each, does only what can be done without waiting. A
 * connection that cannot go on just stays in its state until the kernel, or a deadline,
 * says it can. One thread serves thousands of connections, and an idle one costs a struct.
 *
 * Edge-triggered: each socket is registered once, for reading and writing, and the kernel
 * reports each change of readiness once. So the loop must remember what it was told
 * (can_read, can_write) and use it up: read or write until the socket is drained or full
 * (EAGAIN, or a short transfer). In return there is no epoll_ctl() per request, only one per
 * connection.
 *
 * The price of one thread: anything that blocks it blocks everyone. /block does exactly
 * that, on purpose, and /work keeps every other connection waiting while it computes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "deadline.h"
#include "server.h"
#include "session.h"

/* What a connection waits for between turns of the loop. */
enum waiting {
	FOR_READ,                   /* the socket to become readable (or the idle time-out) */
	FOR_WRITE,                  /* the socket to take more output (or the idle time-out) */
	FOR_SLEEP,                  /* the end of its /sleep */
	FOR_TURN,                   /* its next turn: it used up this one (see drive()) */
};

struct conn {
	int fd;
	enum waiting waiting;
	bool can_read, can_write;   /* readiness the kernel reported and we have not used up */
	bool hung_up;               /* the peer's FIN, a reset or an error was reported */
	struct session *session;
	struct deadline deadline;   /* the idle time-out, the end of a /sleep, or the next turn */
};

struct loop {
	struct server *srv;
	int epfd;
	struct conn **conns;        /* indexed by fd, as Redis's ae does */
	size_t conns_cap;
	unsigned open;              /* connections being served */
	uint64_t now;               /* ms, read once per turn of the loop */
	struct deadline_heap deadlines;
	struct bufpool pool;        /* I/O buffers, lent to connections with a request in flight */
};

/* The conn that embeds a deadline. */
static struct conn *conn_of(struct deadline *d)
{
	return (struct conn *)((char *)d - offsetof(struct conn, deadline));
}

static void conn_close(struct loop *l, struct conn *c)
{
	deadline_cancel(&l->deadlines, &c->deadline);
	session_free(c->session);
	server_close(c->fd);   /* close() also takes it out of the epoll set */
	l->conns[c->fd] = NULL;
	l->open--;
	free(c);
}

/* Leaves the connection until what it waits for happens. The socket may keep it waiting
 * for the idle time-out, no longer; a sleep or a turn is a deadline of its own. */
static void wait_for(struct loop *l, struct conn *c, enum waiting what)
{
	c->waiting = what;
	if (what == FOR_SLEEP)
		deadline_set(&l->deadlines, &c->deadline, l->now + session_wait_ms(c->session));
	else if (what == FOR_TURN)
		deadline_set(&l->deadlines, &c->deadline, l->now);   /* due now: after the others */
	else if (l->srv->opts.idle_timeout_s)
		deadline_set(&l->deadlines, &c->deadline, l->now + l->srv->opts.idle_timeout_s * 1000u);
}

/* Reads and writes one connection may make per turn of the loop: a client that streams as
 * fast as we serve it would otherwise keep the loop, and every other connection waiting. */
enum { TRANSFERS_PER_TURN = 16 };

/* Runs a connection's protocol as far as it can go without waiting, within its turn. */
static void drive(struct loop *l, struct conn *c)
{
	for (int transfers = 0;; transfers++) {
		bool ok = true;
		if (transfers == TRANSFERS_PER_TURN) {
			wait_for(l, c, FOR_TURN);
			return;
		}
		switch (session_next(c->session)) {
		case WANT_READ:
			if (!c->can_read) {
				wait_for(l, c, FOR_READ);
				return;
			}
			ok = nb_read(c->session, c->fd, &c->can_read);
			/* A short read drained the bytes, but a hang-up that came with them raises
			 * no new edge: only another read() reports it. */
			if (c->hung_up)
				c->can_read = true;
			break;
		case WANT_WRITE:
			if (!c->can_write) {
				wait_for(l, c, FOR_WRITE);
				return;
			}
			ok = nb_write(c->session, c->fd, &c->can_write);
			break;
		case WANT_SLEEP:
			/* An event loop sleeps by arming a timer and moving on to other connections. */
			wait_for(l, c, FOR_SLEEP);
			return;
		case WANT_BLOCK:
			block_for_ms(session_wait_ms(c->session));   /* every connection waits with us */
			l->now = now_ms();
			session_woke(c->session);
			break;
		case WANT_CLOSE:
			ok = false;
			break;
		}
		if (!ok) {
			conn_close(l, c);
			return;
		}
	}
}

static bool grow_table(struct loop *l, int fd)
{
	if ((size_t)fd < l->conns_cap)
		return true;
	size_t cap = l->conns_cap ? l->conns_cap : 1024;
	while (cap <= (size_t)fd)
		cap *= 2;
	struct conn **conns = realloc(l->conns, cap * sizeof *conns);
	if (!conns)
		return false;
	for (size_t i = l->conns_cap; i < cap; i++)
		conns[i] = NULL;
	l->conns = conns;
	l->conns_cap = cap;
	return true;
}

static void conn_open(struct loop *l, int fd)
{
	if (l->open >= l->srv->opts.max_conns) {
		server_refuse(l->srv, fd, "at --max-conns; refusing new connections");
		return;
	}
	struct conn *c = grow_table(l, fd) ? calloc(1, sizeof *c) : NULL;
	if (c)
		c->session = session_new(l->srv->opts.proto, &l->pool);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	                          .data.fd = fd };
	if (!c || !c->session || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		if (c)
			session_free(c->session);
		free(c);
		server_refuse(l->srv, fd, "cannot take the connection (memory or epoll_ctl); refusing");
		return;
	}
	c->fd = fd;
	l->conns[fd] = c;
	l->open++;
	wait_for(l, c, FOR_READ);   /* the first event will say whether it has sent anything */
}

static void accept_some(struct loop *l)
{
	/* A bounded batch, so that a flood of connections cannot starve the ones we have. */
	for (int i = 0; i < 64; i++) {
		int fd = server_accept(l->srv, true);
		if (fd < 0)
			return;
		conn_open(l, fd);
	}
}

static void on_socket_event(struct loop *l, struct conn *c, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->can_read = true;   /* an error or a hang-up shows itself to the next read */
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->hung_up = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->can_write = true;
	/* Only the news it waits for moves a connection on; the rest is noted for later. This
	 * matters: a sleeping one would ask for its sleep again, and one waiting to write must not
	 * have its idle time-out put off by bytes it is not reading. */
	if ((c->waiting == FOR_READ && c->can_read) || (c->waiting == FOR_WRITE && c->can_write))
		drive(l, c);
}

static void on_deadline(struct loop *l, struct conn *c)
{
	switch (c->waiting) {
	case FOR_SLEEP:
		session_woke(c->session);
		drive(l, c);
		break;
	case FOR_TURN:
		drive(l, c);
		break;
	case FOR_READ:
	case FOR_WRITE:
		conn_close(l, c);   /* silent for the whole idle time-out */
		break;
	}
}

static void close_all(struct loop *l)
{
	for (size_t fd = 0; fd < l->conns_cap; fd++)
		if (l->conns[fd])
			conn_close(l, l->conns[fd]);
}

/* Events taken per epoll_wait(): more are simply reported next turn. */
enum { EVENTS_PER_TURN = 256 };

static int epoll_run(struct server *srv)
{
	struct loop l = { .srv = srv, .pool = BUFPOOL_INIT(256) };
	l.epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event listen_ev = { .events = EPOLLIN, .data.fd = srv->listen_fd };
	struct epoll_event stop_ev = { .events = EPOLLIN, .data.fd = srv->stop_fd };
	if (l.epfd < 0 || epoll_ctl(l.epfd, EPOLL_CTL_ADD, srv->listen_fd, &listen_ev) != 0 ||
	    epoll_ctl(l.epfd, EPOLL_CTL_ADD, srv->stop_fd, &stop_ev) != 0)
		return 1;

	int rc = 0;   /* 1 if the loop itself failed, rather than being told to stop */
	bool stopping = false;
	while (!stopping) {
		struct epoll_event events[EVENTS_PER_TURN];
		l.now = now_ms();
		int n = epoll_wait(l.epfd, events, EVENTS_PER_TURN,
		                   deadline_timeout_ms(&l.deadlines, l.now));
		if (n < 0 && errno != EINTR) {
			rc = 1;
			break;
		}
		l.now = now_ms();
		uint64_t woke = l.now;
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd == srv->stop_fd)
				stopping = true;
			else if (fd == srv->listen_fd)
				accept_some(&l);
			else if (l.conns[fd])
				on_socket_event(&l, l.conns[fd], events[i].events);
		}
		/* Deadlines are judged by the time the loop woke, not the time now: if a /block
		 * held the loop, bytes that arrived meanwhile are read (next turn) before their
		 * connection is judged idle. */
		struct deadline *due;
		while ((due = deadline_pop_due(&l.deadlines, woke)))
			on_deadline(&l, conn_of(due));
	}
	close_all(&l);
	deadline_heap_free(&l.deadlines);
	bufpool_drain(&l.pool);
	free(l.conns);
	close(l.epfd);
	return rc;
}

static const struct model epoll_model = {
	.name = "epoll",
	.idea = "one thread, an edge-triggered epoll loop over non-blocking sockets",
	.default_max_conns = 100000,
	.default_workers = 1,
	.max_workers = 1,
	.help_notes = NULL,
	.run = epoll_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &epoll_model);
}
