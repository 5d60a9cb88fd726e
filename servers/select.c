/*
 * select.c: one thread, select() over non-blocking sockets.
 *
 * The idea is the event loop of epoll.c with the interface of 1983. Every turn, the loop
 * hands the kernel bitmaps of every socket it is waiting on, and the kernel checks them all
 * and hands back which are ready. Nothing is registered: select() overwrites the bitmaps with
 * its answer, so the loop keeps the bitmaps of what each connection waits for (want_rd,
 * want_wr) and hands the kernel a copy every turn. It is level-triggered: a socket with
 * unread data is reported again and again until it is read.
 *
 * The price: each turn costs time in proportion to the number of connections, however few
 * are active, in user space and in the kernel. And a bitmap has FD_SETSIZE (1024) bits, so a
 * socket numbered FD_SETSIZE or above cannot be waited on at all: FD_SET() on it would write
 * past the end of the bitmap. Such connections are refused, which caps this server near 1,000
 * connections whatever --max-conns says.
 *
 * The connections, what each waits for, their deadlines and driving their sessions are the
 * event loops' common part, servers/core/loop.h; what is here is how select() waits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>

#include "loop.h"
#include "server.h"

/* What the kernel is asked about, kept between turns and changed as connections change what
 * they wait for. */
struct sets {
	fd_set want_rd, want_wr;
	int max_fd;                  /* no fd above it is in either set */
};

/* A connection waiting for a /sleep or its next turn is in neither set: only its deadline
 * wakes it. */
static void select_wait(struct loop *l, struct conn *c)
{
	struct sets *s = l->data;
	FD_CLR(c->fd, &s->want_rd);
	FD_CLR(c->fd, &s->want_wr);
	if (c->waiting != FOR_READ && c->waiting != FOR_WRITE)
		return;
	FD_SET(c->fd, c->waiting == FOR_READ ? &s->want_rd : &s->want_wr);
	if (c->fd > s->max_fd)
		s->max_fd = c->fd;
}

static const char *select_add(struct loop *l, struct conn *c)
{
	if (c->fd >= FD_SETSIZE)
		return "fd past FD_SETSIZE, the most select() can watch; refusing new connections";
	select_wait(l, c);
	return NULL;
}

static void select_remove(struct loop *l, struct conn *c)
{
	struct sets *s = l->data;
	FD_CLR(c->fd, &s->want_rd);
	FD_CLR(c->fd, &s->want_wr);
}

static const struct loop_backend select_backend = {
	.add = select_add, .wait = select_wait, .remove = select_remove,
};

/*
 * Drives the connections select() reported ready. `ready` is how many bits it set, so the
 * scan can stop at the last one instead of going on to nfds. A connection accepted this turn
 * is in neither answer: its fd was not in use when they were made.
 */
static void serve_ready(struct loop *l, const fd_set *rd, const fd_set *wr, int nfds, int ready)
{
	for (int fd = 0; ready > 0 && fd < nfds; fd++) {
		bool readable = FD_ISSET(fd, rd), writable = FD_ISSET(fd, wr);
		ready -= readable + writable;
		struct conn *c = loop_conn(l, fd);
		if ((readable || writable) && c)
			conn_ready(l, c, (readable ? CAN_READ : 0) | (writable ? CAN_WRITE : 0));
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
	struct sets s = { .max_fd = srv->listen_fd > srv->stop_fd ? srv->listen_fd : srv->stop_fd };
	FD_ZERO(&s.want_rd);
	FD_ZERO(&s.want_wr);
	FD_SET(srv->listen_fd, &s.want_rd);
	FD_SET(srv->stop_fd, &s.want_rd);
	struct loop l;
	loop_init(&l, srv, &select_backend, &s);

	int rc = 0;   /* 1 if the loop itself failed, rather than being told to stop */
	for (;;) {
		/* The connections with the highest fds may have closed, or stopped waiting on their
		 * sockets; the listener and the stop fd stay in want_rd, so this ends. */
		while (!FD_ISSET(s.max_fd, &s.want_rd) && !FD_ISSET(s.max_fd, &s.want_wr))
			s.max_fd--;
		int nfds = s.max_fd + 1;   /* select() takes the highest fd plus one */
		fd_set rd = s.want_rd, wr = s.want_wr;
		int ms = loop_wait_ms(&l);
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		int n = select(nfds, &rd, &wr, NULL, ms < 0 ? NULL : &tv);
		loop_woke(&l);
		if (n < 0 && errno != EINTR) {
			rc = 1;
			break;
		}
		if (n > 0 && FD_ISSET(srv->stop_fd, &rd))
			break;
		if (n > 0 && FD_ISSET(srv->listen_fd, &rd))
			loop_accept(&l);
		if (n > 0)
			serve_ready(&l, &rd, &wr, nfds, n);
		loop_expire(&l);
	}
	loop_free(&l);
	return rc;
}

static const struct model select_model = {
	.name = "select",
	.idea = "one thread, a select() loop over non-blocking sockets",
	.default_max_conns = FD_SETSIZE,
	.default_workers = 1,
	.max_workers = 1,
	.help_notes = "select() watches fds below FD_SETSIZE (" XSTR(FD_SETSIZE) ") only. A connection with a\n"
	              "higher fd is refused, so a few fewer than " XSTR(FD_SETSIZE) " are served at once: the\n"
	              "server's own fds (stdio, the stop fd, the listener, a spare) come first.",
	.run = select_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &select_model);
}
