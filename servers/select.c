/*
 * select.c: one thread, select() over non-blocking sockets.
 *
 * The idea is the event loop of epoll.c with the interface of 1983. Every turn, the loop
 * hands the kernel bitmaps of every socket it is waiting on, and the kernel checks them all
 * and hands back which are ready. Nothing is registered: the loop rebuilds the bitmaps from
 * each connection's state every turn (level-triggered: a socket with unread data is reported
 * again and again until it is read).
 *
 * The price: each turn costs time in proportion to the number of connections, however few
 * are active, in user space and in the kernel. And a bitmap has FD_SETSIZE (1024) bits, so a
 * socket numbered 1024 or above cannot be waited on at all: FD_SET() on it would write past
 * the end of the bitmap. Such connections are refused, which caps this server near 1,000
 * connections whatever --max-conns says.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <unistd.h>

#include "deadline.h"
#include "server.h"
#include "session.h"

/* What a connection waits for between turns of the loop; only the first two put it in a
 * bitmap. */
enum waiting {
	FOR_READ,                        /* the socket to become readable (or the idle time-out) */
	FOR_WRITE,                       /* the socket to take more output (or the idle time-out) */
	FOR_SLEEP,                       /* the end of its /sleep */
	FOR_TURN,                        /* its next turn: it used up this one (see drive()) */
};

struct conn {
	int fd;
	enum waiting waiting;
	struct session *session;
	struct deadline deadline;        /* the idle time-out, the end of a /sleep, or the next turn */
};

struct loop {
	struct server *srv;
	struct conn *conns[FD_SETSIZE];  /* indexed by fd: the same bound as the bitmaps */
	int max_fd;                      /* the highest fd that might hold a connection */
	unsigned open;
	uint64_t now;
	struct deadline_heap deadlines;
	struct bufpool pool;
};

static struct conn *conn_of(struct deadline *d)
{
	return (struct conn *)((char *)d - offsetof(struct conn, deadline));
}

static void conn_close(struct loop *l, struct conn *c)
{
	deadline_cancel(&l->deadlines, &c->deadline);
	session_free(c->session);
	server_close(c->fd);
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

/*
 * Runs a connection as far as it can go this turn. `readable` comes from select(). Writes
 * are tried without asking: a socket can almost always take a response, and asking first
 * would cost a whole extra turn of the loop per request.
 */
static void drive(struct loop *l, struct conn *c, bool readable)
{
	bool writable = true;
	for (int transfers = 0;; transfers++) {
		bool ok = true;
		if (transfers == TRANSFERS_PER_TURN) {
			wait_for(l, c, FOR_TURN);
			return;
		}
		switch (session_next(c->session)) {
		case WANT_READ:
			if (!readable) {
				wait_for(l, c, FOR_READ);
				return;
			}
			ok = nb_read(c->session, c->fd, &readable);
			break;
		case WANT_WRITE:
			if (!writable) {
				wait_for(l, c, FOR_WRITE);
				return;
			}
			ok = nb_write(c->session, c->fd, &writable);
			break;
		case WANT_SLEEP:
			wait_for(l, c, FOR_SLEEP);   /* in no bitmap: only the deadline wakes it */
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

static void conn_open(struct loop *l, int fd)
{
	if (fd >= FD_SETSIZE) {
		server_refuse(l->srv, fd, "fd past FD_SETSIZE, the most select() can watch; "
		                          "refusing new connections");
		return;
	}
	if (l->open >= l->srv->opts.max_conns) {
		server_refuse(l->srv, fd, "at --max-conns; refusing new connections");
		return;
	}
	struct conn *c = calloc(1, sizeof *c);
	if (c)
		c->session = session_new(l->srv->opts.proto, &l->pool);
	if (!c || !c->session) {
		free(c);
		server_refuse(l->srv, fd, "out of memory; refusing new connections");
		return;
	}
	c->fd = fd;
	l->conns[fd] = c;
	l->open++;
	if (fd > l->max_fd)
		l->max_fd = fd;
	wait_for(l, c, FOR_READ);
}

static void accept_some(struct loop *l)
{
	for (int i = 0; i < 64; i++) {
		int fd = server_accept(l->srv, true);
		if (fd < 0)
			return;
		conn_open(l, fd);
	}
}

/* The bitmaps for this turn, rebuilt from every connection's state. Returns select()'s nfds. */
static int build_sets(struct loop *l, fd_set *rd, fd_set *wr)
{
	FD_ZERO(rd);
	FD_ZERO(wr);
	FD_SET(l->srv->listen_fd, rd);
	FD_SET(l->srv->stop_fd, rd);
	int nfds = l->srv->listen_fd > l->srv->stop_fd ? l->srv->listen_fd : l->srv->stop_fd;
	while (l->max_fd > 0 && !l->conns[l->max_fd])   /* the top connections may have closed */
		l->max_fd--;
	for (int fd = 0; fd <= l->max_fd; fd++) {
		struct conn *c = l->conns[fd];
		if (!c || (c->waiting != FOR_READ && c->waiting != FOR_WRITE))
			continue;
		FD_SET(fd, c->waiting == FOR_READ ? rd : wr);
		if (fd > nfds)
			nfds = fd;
	}
	return nfds + 1;   /* select() takes the highest fd plus one */
}

/*
 * Drives the connections select() reported ready. `ready` is how many bits it set, so the
 * scan can stop at the last one instead of going on to nfds. Only a connection waiting for
 * its socket is in a bitmap, and one accepted this turn is in neither: its fd was not in use
 * when they were built.
 */
static void serve_ready(struct loop *l, const fd_set *rd, const fd_set *wr, int nfds, int ready)
{
	for (int fd = 0; ready > 0 && fd < nfds; fd++) {
		bool readable = FD_ISSET(fd, rd), writable = FD_ISSET(fd, wr);
		ready -= readable + writable;
		struct conn *c = l->conns[fd];
		if ((readable || writable) && c)
			drive(l, c, readable);
	}
}

static void on_deadline(struct loop *l, struct conn *c)
{
	switch (c->waiting) {
	case FOR_SLEEP:
		session_woke(c->session);
		drive(l, c, false);
		break;
	case FOR_TURN:
		drive(l, c, true);   /* it was stopped with input left to read */
		break;
	case FOR_READ:
	case FOR_WRITE:
		conn_close(l, c);   /* silent for the whole idle time-out */
		break;
	}
}

static int select_run(struct server *srv)
{
	/* The server's own fds go into the bitmaps too: they must fit as well. */
	if (srv->listen_fd >= FD_SETSIZE || srv->stop_fd >= FD_SETSIZE) {
		fprintf(stderr, "select: the server's own fds are past FD_SETSIZE (%d); "
		                "start it with fewer open files\n", FD_SETSIZE);
		return 1;
	}
	struct loop *l = calloc(1, sizeof *l);   /* FD_SETSIZE pointers: too big for the stack */
	if (!l)
		return 1;
	*l = (struct loop){ .srv = srv, .pool = BUFPOOL_INIT(256) };
	int rc = 0;   /* 1 if the loop itself failed, rather than being told to stop */
	for (;;) {
		fd_set rd, wr;
		int nfds = build_sets(l, &rd, &wr);
		l->now = now_ms();
		int ms = deadline_timeout_ms(&l->deadlines, l->now);
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		int n = select(nfds, &rd, &wr, NULL, ms < 0 ? NULL : &tv);
		l->now = now_ms();
		uint64_t woke = l->now;
		if (n < 0 && errno != EINTR) {
			rc = 1;
			break;
		}
		if (n > 0 && FD_ISSET(srv->stop_fd, &rd))
			break;
		if (n > 0 && FD_ISSET(srv->listen_fd, &rd))
			accept_some(l);
		if (n > 0)
			serve_ready(l, &rd, &wr, nfds, n);
		/* Judged by the time the loop woke: if a /block held the loop, bytes that arrived
		 * meanwhile are read (next turn) before their connection is judged idle. */
		struct deadline *due;
		while ((due = deadline_pop_due(&l->deadlines, woke)))
			on_deadline(l, conn_of(due));
	}
	for (int fd = 0; fd <= l->max_fd; fd++)
		if (l->conns[fd])
			conn_close(l, l->conns[fd]);
	deadline_heap_free(&l->deadlines);
	bufpool_drain(&l->pool);
	free(l);
	return rc;
}

static const struct model select_model = {
	.name = "select",
	.idea = "one thread, a select() loop over non-blocking sockets",
	.default_max_conns = FD_SETSIZE,
	.default_workers = 1,
	.max_workers = 1,
	.help_notes = "select() watches fds below FD_SETSIZE (1024) only: connections whose fd is\n"
	              "higher are refused, so at most 1,017 are served at once (fds 0-6 are the\n"
	              "server's own: stdio, the stop pipe, the listener and a spare).",
	.run = select_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &select_model);
}
