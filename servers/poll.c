/*
 * poll.c: one thread, a poll() loop over non-blocking sockets.
 *
 * The idea is select.c's without its wall. poll() takes an array of (fd, events) instead of
 * bitmaps indexed by fd, so any fd can be watched: no FD_SETSIZE, and this server holds
 * 10,000 connections as easily as 10. And poll() writes its answer into a field of its own
 * (revents), so the array survives the call: it is kept from turn to turn, and an entry
 * changes only when its connection starts waiting for something else. Like select(), it is
 * level-triggered: a socket with unread data is reported every turn until it is read.
 *
 * The price is select()'s other one: nothing is registered in the kernel, so every turn
 * hands over the whole array, and the kernel looks at every socket in it and the loop at
 * every entry of the answer, however few are ready. A turn costs time in proportion to the
 * connections: with thousands of idle ones, each request pays for all of them (the idle
 * scenario's plots show the line rising, where epoll's stays flat).
 *
 * The connections, what each waits for, their deadlines and driving their sessions are the
 * event loops' common part, servers/core/loop.h; what is here is how poll() waits.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "loop.h"
#include "server.h"

/* The array poll() is handed, kept between turns: the listener, the stop fd, then one
 * entry per connection (c->slot), in no particular order. */
enum { LISTEN_SLOT, STOP_SLOT, FIRST_CONN_SLOT };

struct pollset {
	struct pollfd *fds;
	struct conn **conns;         /* conns[i] is the connection of fds[i] (none for the first two) */
	size_t len, cap;
};

static bool append(struct pollset *p, int fd, struct conn *c)
{
	if (p->len == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;
		struct pollfd *fds = realloc(p->fds, cap * sizeof *fds);
		if (fds)
			p->fds = fds;
		struct conn **conns = fds ? realloc(p->conns, cap * sizeof *conns) : NULL;
		if (!conns)
			return false;
		p->conns = conns;
		p->cap = cap;
	}
	/* revents starts at 0: a connection accepted during a turn is not ready in it. */
	p->fds[p->len] = (struct pollfd){ .fd = fd, .events = POLLIN };
	p->conns[p->len] = c;
	if (c)
		c->slot = p->len;
	p->len++;
	return true;
}

/* The one entry of a connection that now waits for something else. A connection waiting for
 * a /sleep or its next turn gets a negative fd, which poll() skips: with events 0 it would
 * still report a hang-up. */
static void poll_wait(struct loop *l, struct conn *c)
{
	struct pollfd *e = &((struct pollset *)l->data)->fds[c->slot];
	e->fd = c->waiting == FOR_READ || c->waiting == FOR_WRITE ? c->fd : -1;
	e->events = c->waiting == FOR_WRITE ? POLLOUT : POLLIN;
}

static const char *poll_add(struct loop *l, struct conn *c)
{
	if (!append(l->data, c->fd, c))
		return "out of memory; refusing new connections";
	return NULL;
}

/* The last entry moves into the hole, so the array stays dense. */
static void poll_remove(struct loop *l, struct conn *c)
{
	struct pollset *p = l->data;
	size_t last = --p->len;
	p->fds[c->slot] = p->fds[last];
	p->conns[c->slot] = p->conns[last];
	p->conns[c->slot]->slot = c->slot;
}

static const struct loop_backend poll_backend = {
	.add = poll_add, .wait = poll_wait, .remove = poll_remove,
};

/* What an entry's answer says, in conn_ready()'s terms. An error or a hang-up shows itself to
 * the next read or write, so it makes the socket both readable and writable. */
static unsigned readiness_of(short revents)
{
	unsigned r = 0;
	if (revents & (POLLIN | POLLHUP | POLLERR))
		r |= CAN_READ;
	if (revents & (POLLOUT | POLLHUP | POLLERR))
		r |= CAN_WRITE;
	if (revents & (POLLHUP | POLLERR))
		r |= HUNG_UP;
	return r;
}

/*
 * Drives the connections poll() reported ready: every entry is looked at. Backwards, because
 * closing a connection moves the last entry into its place: that one has been looked at
 * already, or was added this turn and is not ready. `ready` is how many entries poll()
 * reported, so the walk can stop at the last.
 */
static void serve_ready(struct loop *l, struct pollset *p, int ready)
{
	for (size_t i = p->len; ready > 0 && i-- > FIRST_CONN_SLOT;) {
		if (!p->fds[i].revents)
			continue;
		ready--;
		conn_ready(l, p->conns[i], readiness_of(p->fds[i].revents));
	}
}

static int poll_run(struct server *srv)
{
	struct pollset p = { 0 };
	if (!append(&p, srv->listen_fd, NULL) || !append(&p, srv->stop_fd, NULL)) {
		free(p.fds);
		free(p.conns);
		return 1;
	}
	struct loop l;
	loop_init(&l, srv, &poll_backend, &p);

	int rc = 0;   /* 1 if the loop itself failed, rather than being told to stop */
	for (;;) {
		int n = poll(p.fds, p.len, loop_wait_ms(&l));
		loop_woke(&l);
		if (n < 0 && errno != EINTR) {
			rc = 1;
			break;
		}
		if (n > 0 && p.fds[STOP_SLOT].revents)
			break;
		bool accept_now = n > 0 && p.fds[LISTEN_SLOT].revents;
		if (n > 0)
			serve_ready(&l, &p, n - accept_now);
		if (accept_now)
			loop_accept(&l);
		loop_expire(&l);
	}
	loop_free(&l);
	free(p.fds);
	free(p.conns);
	return rc;
}

static const struct model poll_model = {
	.name = "poll",
	.idea = "one thread, a poll() loop over non-blocking sockets",
	.default_max_conns = 100000,
	.default_workers = 1,
	.max_workers = 1,
	.help_notes = NULL,
	.run = poll_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &poll_model);
}
