/*
 * loop.c: the part of an event loop that does not depend on how it waits (loop.h).
 *
 * The heart is drive(): it runs one connection's session as far as it can go without
 * waiting, using up the readiness the kernel reported, and when the session needs something
 * that is not there, it records what the connection waits for and moves on.
 */
#include "loop.h"

#include <stdlib.h>

/* Reads and writes one connection may make per turn of the loop: a client that streams as
 * fast as we serve it would otherwise keep the loop, and every other connection, waiting. */
enum { TRANSFERS_PER_TURN = 16 };
/* Connections accepted per turn: a flood of new ones waits for the next turn rather than
 * starve the open ones. */
enum { ACCEPTS_PER_TURN = 64 };
/* Spare buffers the loop keeps for reuse: enough for the requests in flight in a busy turn;
 * beyond that, memory a burst needed goes back to malloc. */
enum { SPARE_BUFFERS = 256 };

void loop_init(struct loop *l, struct server *srv, const struct loop_backend *backend,
               void *data)
{
	*l = (struct loop){ .srv = srv, .backend = backend, .data = data,
	                    .pool = BUFPOOL_INIT(SPARE_BUFFERS) };
}

/* The conn that embeds a deadline. */
static struct conn *conn_of(struct deadline *d)
{
	return (struct conn *)((char *)d - offsetof(struct conn, deadline));
}

struct conn *loop_conn(const struct loop *l, int fd)
{
	return fdtable_get(&l->conns, fd);
}

/* Counts a new connection in, unless --max-conns are open already. Loops that share a count
 * take their place in it first, so that two of them cannot both take the last one. */
static bool count_in(struct loop *l)
{
	unsigned max = l->srv->opts.max_conns;
	if (!l->open_shared)
		return l->open < max;
	if (atomic_fetch_add(l->open_shared, 1) < max)
		return true;
	atomic_fetch_sub(l->open_shared, 1);
	return false;
}

static void count_out(struct loop *l)
{
	if (l->open_shared)
		atomic_fetch_sub(l->open_shared, 1);
}

static void conn_close(struct loop *l, struct conn *c)
{
	if (l->backend->remove)
		l->backend->remove(l, c);
	deadline_cancel(&l->deadlines, &c->deadline);
	session_free(c->session, &l->pool);
	server_close(c->fd);
	fdtable_set(&l->conns, c->fd, NULL);
	l->open--;
	count_out(l);
	free(c);
}

/* Leaves the connection until what it waits for happens. The socket may keep it waiting
 * for the idle time-out (or the request's deadline), no longer; a sleep or a turn is a
 * deadline of its own. */
static void wait_for(struct loop *l, struct conn *c, enum waiting what)
{
	bool changed = c->waiting != what;
	c->waiting = what;
	uint64_t at = what == FOR_SLEEP ? l->now + session_wait_ms(c->session)
	            : what == FOR_TURN ? l->now   /* due now: after the others */
	            : socket_wait_until(&l->srv->opts, c->session, l->now, what == FOR_READ);
	if (at)
		deadline_set(&l->deadlines, &c->deadline, at);
	else
		deadline_cancel(&l->deadlines, &c->deadline);
	if (changed && l->backend->wait)
		l->backend->wait(l, c);
}

/*
 * Runs a connection's session as far as it can go without waiting, within its turn. A write
 * is tried whenever the socket has not said it is full: it almost always can take a response,
 * and asking first would cost a whole extra turn of the loop per request.
 */
static void drive(struct loop *l, struct conn *c)
{
	for (int transfers = 0;; transfers++) {
		bool ok = true;
		if (transfers == TRANSFERS_PER_TURN) {
			wait_for(l, c, FOR_TURN);
			return;
		}
		switch (session_next(c->session, &l->pool)) {
		case WANT_READ:
			if (!c->can_read) {
				wait_for(l, c, FOR_READ);
				return;
			}
			ok = nb_read(c->session, &l->pool, c->fd, &c->can_read);
			/* A short read drained the bytes, but a hang-up that came with them raises
			 * no new edge (epoll's EPOLLET): only another read() reports it. */
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

void conn_ready(struct loop *l, struct conn *c, unsigned readiness)
{
	if (readiness & CAN_READ)
		c->can_read = true;
	if (readiness & CAN_WRITE)
		c->can_write = true;
	if (readiness & HUNG_UP)
		c->hung_up = true;
	/* Only the news it waits for moves a connection on; the rest is noted for later. This
	 * matters: a sleeping one would ask for its sleep again, and one waiting to write must not
	 * have its idle time-out put off by bytes it is not reading. */
	if ((c->waiting == FOR_READ && c->can_read) || (c->waiting == FOR_WRITE && c->can_write))
		drive(l, c);
}

static void conn_open(struct loop *l, int fd)
{
	if (!count_in(l)) {
		server_refuse(l->srv, fd, "at --max-conns; refusing new connections");
		return;
	}
	const char *refusal = "out of memory; refusing new connections";
	struct conn *c = fdtable_reserve(&l->conns, fd) ? calloc(1, sizeof *c) : NULL;
	if (c) {
		/* A new socket can take output: writes are tried until it says it is full. */
		*c = (struct conn){ .fd = fd, .waiting = FOR_READ, .can_write = true,
		                    .session = session_new(l->srv->opts.proto) };
	}
	if (c && c->session)
		session_set_header_timeout(c->session, l->srv->opts.header_timeout_s * 1000u);
	if (c && c->session && !(refusal = l->backend->add ? l->backend->add(l, c) : NULL)) {
		fdtable_set(&l->conns, fd, c);
		l->open++;
		l->accepted++;
		wait_for(l, c, FOR_READ);   /* the kernel will say whether it has sent anything */
		return;
	}
	if (c)
		session_free(c->session, &l->pool);
	free(c);
	count_out(l);
	server_refuse(l->srv, fd, refusal);
}

void loop_accept(struct loop *l)
{
	for (int i = 0; i < ACCEPTS_PER_TURN; i++) {
		int fd = server_accept(l->srv, true);
		if (fd < 0)
			return;
		conn_open(l, fd);
	}
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
		if (c->waiting == FOR_READ && session_late(c->session, l->woke)) {
			session_timed_out(c->session);   /* a 408 to write, then close */
			drive(l, c);
		} else {
			conn_close(l, c);   /* silent for the whole idle time-out */
		}
		break;
	}
}

int loop_wait_ms(struct loop *l)
{
	l->now = now_ms();
	return deadline_timeout_ms(&l->deadlines, l->now);
}

void loop_woke(struct loop *l)
{
	l->woke = l->now = now_ms();
}

/* The deadlines due are all taken off the heap before any is run: a connection whose turn
 * runs out sets a deadline due now, which must wait for the next turn, after the wait has
 * looked at the others. Popped as it is set, it would be run again in this pass, and a client
 * that keeps sending would hold the loop for as long as it likes. */
void loop_expire(struct loop *l)
{
	struct conn *first = NULL, **last = &first;
	struct deadline *d;
	while ((d = deadline_pop_due(&l->deadlines, l->woke))) {
		struct conn *c = conn_of(d);
		c->next_due = NULL;
		*last = c;
		last = &c->next_due;
	}
	while (first) {
		struct conn *c = first;
		first = c->next_due;   /* read before on_deadline(), which may free c */
		on_deadline(l, c);
	}
}

void loop_free(struct loop *l)
{
	for (size_t fd = 0; fd < l->conns.cap; fd++)
		if (l->conns.slots[fd])
			conn_close(l, l->conns.slots[fd]);
	deadline_heap_free(&l->deadlines);
	bufpool_drain(&l->pool);
	fdtable_free(&l->conns);
}
