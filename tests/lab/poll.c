/*
 * poll.c: one thread, a poll() loop over non-blocking sockets. The lab's worked example.
 *
 * This is lab/skeleton.c filled in the event-loop way (docs/lab.md): the comments marked
 * "TODO n:" are where it answers the skeleton's TODOs. tests/suites/70-lab.sh copies it to
 * servers/labpoll.c and checks it against the conformance suite, as a student's model would
 * be. The benchmarked poll model, servers/poll.c, is the same loop written on the event
 * loops' shared core (servers/core/loop.h): the part every event loop has in common is there,
 * and only how poll() waits is left in the model's file.
 *
 * poll() sits between select() and epoll:
 * - Like select(), it is level-triggered and stateless in the kernel: every call hands over
 *   the whole list of sockets, and the kernel looks at every one of them. A turn of the loop
 *   costs time in proportion to the connections, however few are busy.
 * - Unlike select(), the list is an array of (fd, events) rather than a bitmap indexed by fd,
 *   so any fd can be watched: no FD_SETSIZE. And poll() writes its answers into a separate
 *   field (revents), so the array survives the call: it is kept from turn to turn and an
 *   entry changes only when its connection starts waiting for something else.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdlib.h>

#include "deadline.h"
#include "server.h"
#include "session.h"

enum { LISTEN_SLOT, STOP_SLOT, FIRST_CONN_SLOT };

struct conn {
	int fd;
	size_t slot;                 /* its entry in loop.fds (and loop.conns) */
	struct session *session;
	struct deadline deadline;    /* the idle time-out, or the end of a /sleep */
};

struct loop {
	struct server *srv;
	struct pollfd *fds;          /* the listener, the stop fd, then one entry per connection */
	struct conn **conns;         /* conns[i] is the connection of fds[i] (none for the first two) */
	size_t len, cap;
	uint64_t now;                /* ms, read once per turn of the loop */
	struct deadline_heap deadlines;
	struct bufpool pool;         /* I/O buffers, lent to connections with a request in flight */
};

static struct conn *conn_of(struct deadline *d)
{
	return (struct conn *)((char *)d - offsetof(struct conn, deadline));
}

/* poll() skips an entry whose fd is negative: that is how a connection in /sleep leaves the
 * array without leaving its place in it. Only its deadline wakes it. */
static bool sleeping(const struct loop *l, const struct conn *c)
{
	return l->fds[c->slot].fd < 0;
}

static bool add_slot(struct loop *l, int fd, struct conn *c)
{
	if (l->len == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct pollfd *fds = realloc(l->fds, cap * sizeof *fds);
		if (fds)
			l->fds = fds;
		struct conn **conns = fds ? realloc(l->conns, cap * sizeof *conns) : NULL;
		if (!conns)
			return false;
		l->conns = conns;
		l->cap = cap;
	}
	/* revents starts at 0: a connection accepted during a turn is not seen as ready in it. */
	l->fds[l->len] = (struct pollfd){ .fd = fd, .events = POLLIN };
	l->conns[l->len] = c;
	if (c)
		c->slot = l->len;
	l->len++;
	return true;
}

static void conn_close(struct loop *l, struct conn *c)
{
	/* The last entry takes the closed one's place, so the array stays dense. */
	size_t last = --l->len;
	l->fds[c->slot] = l->fds[last];
	l->conns[c->slot] = l->conns[last];
	l->conns[c->slot]->slot = c->slot;
	deadline_cancel(&l->deadlines, &c->deadline);
	session_free(c->session, &l->pool);
	server_close(c->fd);
	free(c);
}

/* The connection waits for its socket, in one direction, for at most the idle time-out; for
 * more of a request in progress, at most until the request's deadline (--header-timeout). */
static void wait_for_socket(struct loop *l, struct conn *c, short events)
{
	l->fds[c->slot].events = events;
	uint64_t at = socket_wait_until(&l->srv->opts, c->session, l->now, events == POLLIN);
	if (at)
		deadline_set(&l->deadlines, &c->deadline, at);
	else
		deadline_cancel(&l->deadlines, &c->deadline);
}

/*
 * TODO 4: runs a connection as far as it can go without waiting. `revents` is what poll()
 * said about its socket (0 when its deadline woke it). A write is tried before asking whether
 * the socket can take it: it almost always can, and asking first would cost a turn per
 * response.
 */
static void drive(struct loop *l, struct conn *c, short revents)
{
	bool can_read = revents & (POLLIN | POLLHUP | POLLERR);   /* a hang-up shows in read() */
	bool can_write = true;
	bool ok = true;
	while (ok) {
		switch (session_next(c->session, &l->pool)) {
		case WANT_READ:
			if (!can_read) {
				wait_for_socket(l, c, POLLIN);
				return;
			}
			ok = nb_read(c->session, &l->pool, c->fd, &can_read);
			break;
		case WANT_WRITE:
			if (!can_write) {
				wait_for_socket(l, c, POLLOUT);
				return;
			}
			ok = nb_write(c->session, c->fd, &can_write);
			break;
		case WANT_SLEEP:
			l->fds[c->slot].fd = -1;
			deadline_set(&l->deadlines, &c->deadline, l->now + session_wait_ms(c->session));
			return;
		case WANT_BLOCK:
			/* The one thread blocks, so every connection waits with this one. */
			block_for_ms(session_wait_ms(c->session));
			l->now = now_ms();
			session_woke(c->session);
			break;
		case WANT_CLOSE:
			ok = false;
			break;
		}
	}
	conn_close(l, c);
}

/* TODO 4: a new connection gets a session and a place in the array; TODO 5: unless the
 * server is full. */
static void on_connection(struct loop *l, int fd)
{
	if (l->len - FIRST_CONN_SLOT >= l->srv->opts.max_conns) {
		server_refuse(l->srv, fd, "at --max-conns; refusing new connections");
		return;
	}
	struct conn *c = calloc(1, sizeof *c);
	if (c)
		c->session = session_new(l->srv->opts.proto);
	if (c && c->session)
		session_set_header_timeout(c->session, l->srv->opts.header_timeout_s * 1000u);
	if (!c || !c->session || !add_slot(l, fd, c)) {
		if (c)
			session_free(c->session, &l->pool);
		free(c);
		server_refuse(l->srv, fd, "out of memory; refusing new connections");
		return;
	}
	c->fd = fd;
	wait_for_socket(l, c, POLLIN);
}

static void on_deadline(struct loop *l, struct conn *c, uint64_t woke)
{
	if (!sleeping(l, c) && session_late(c->session, woke)) {
		session_timed_out(c->session);   /* the request did not come in time: a 408 */
		drive(l, c, 0);
		return;
	}
	if (!sleeping(l, c)) {
		conn_close(l, c);   /* silent for the whole idle time-out */
		return;
	}
	l->fds[c->slot].fd = c->fd;
	session_woke(c->session);
	drive(l, c, 0);
}

static int poll_run(struct server *srv)
{
	struct loop l = { .srv = srv, .pool = BUFPOOL_INIT(256) };
	int rc = 0;
	if (!add_slot(&l, srv->listen_fd, NULL) || !add_slot(&l, srv->stop_fd, NULL))
		return 1;
	for (;;) {
		/* TODO 4: one wait for everything: the listener, the stop fd, every connection in
		 * the direction it waits for, and the earliest deadline. */
		l.now = now_ms();
		int n = poll(l.fds, l.len, deadline_timeout_ms(&l.deadlines, l.now));
		l.now = now_ms();
		uint64_t woke = l.now;
		if (n < 0 && errno != EINTR) {
			rc = 1;
			break;
		}
		if (n > 0 && l.fds[STOP_SLOT].revents)
			break;
		/* Backwards, because closing a connection moves the last entry into its place: that
		 * entry has been seen already, or was added during this turn and is not ready. */
		for (size_t i = l.len; n > 0 && i-- > FIRST_CONN_SLOT;)
			if (l.fds[i].revents)
				drive(&l, l.conns[i], l.fds[i].revents);
		/* A bounded batch, so that a flood of new connections cannot starve the open ones. */
		for (int i = 0; n > 0 && l.fds[LISTEN_SLOT].revents && i < 64; i++) {
			int fd = server_accept(srv, true);
			if (fd < 0)
				break;
			on_connection(&l, fd);
		}
		/* Deadlines are judged by the time poll() returned: if a /block held the loop since,
		 * the bytes that came in meanwhile are read (next turn) before their connection is
		 * judged silent. */
		struct deadline *due;
		while ((due = deadline_pop_due(&l.deadlines, woke)))
			on_deadline(&l, conn_of(due), woke);
	}
	/* TODO 5: every connection closed, everything freed. */
	while (l.len > FIRST_CONN_SLOT)
		conn_close(&l, l.conns[l.len - 1]);
	deadline_heap_free(&l.deadlines);
	bufpool_drain(&l.pool);
	free(l.fds);
	free(l.conns);
	return rc;
}

/* TODO 1 */
static const struct model poll_model = {
	.name = "poll",
	.idea = "one thread, a poll() loop over non-blocking sockets",
	.default_max_conns = 10000,
	.default_workers = 1,
	.max_workers = 1,
	.help_notes = NULL,
	.run = poll_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &poll_model);
}
