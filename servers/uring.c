/*
 * uring.c: one thread, one io_uring: completion-based I/O.
 *
 * The idea: instead of asking the kernel "which sockets can I read now?" (select, epoll) and
 * then reading each, the loop hands the kernel the operations themselves, "receive on this
 * socket, send these bytes, wake me in 200 ms", and later collects their results. Requests
 * go into a shared submission ring, results come back in a completion ring, and one system
 * call per turn of the loop (io_uring_submit_and_wait) both submits the turn's requests and
 * waits for results. Nothing is read or written by a system call of ours: the kernel does it
 * and says how it went.
 *
 * What saves the system calls:
 * - Multishot accept: one request accepts every connection, each reported as a completion.
 * - Multishot receive with provided buffers: one request per connection keeps receiving for
 *   as long as the connection lives. The kernel picks a buffer from a ring of buffers we
 *   registered (io_uring_register_buf_ring), so an idle connection holds no buffer; we copy
 *   the bytes into the session and hand the buffer back.
 * - Completions are taken in a batch, and every send of the turn goes in with the next wait.
 *
 * It does not use the readiness loops' core (loop.h), whose drive() tries a read or a write
 * when the kernel says the socket is ready: here the kernel does the transfer and says when it
 * is done. It keeps their shape (a turn: submit and wait, take what completed, expire the
 * deadlines; a connection's states FOR_READ, FOR_WRITE, FOR_SLEEP; the same deadline heap;
 * a drive() that runs the session until it must wait) and differs where completions must:
 * - A receive can complete while the connection does not want input: the client sent more
 *   before reading our answer. Those bytes are held, in their ring buffers, in order, and the
 *   multishot receive is cancelled, so a client that never reads gets no more receives posted
 *   (back-pressure). It is posted again when the session asks for input and the held bytes
 *   are used up.
 * - Buffer-ring exhaustion (ENOBUFS) ends a multishot receive. The connection then receives
 *   once straight into the session's own buffer, as a plain recv would, and goes back to the
 *   multishot receive afterwards: it never spins on an empty ring and never drops bytes.
 * - The kernel holds pointers into our memory (the session's output, a buffer) while an
 *   operation is in flight. A closed connection therefore lingers, with its socket closed,
 *   until the kernel has answered every operation it had, cancelled or not.
 * - No turn budget: every transfer is a completion, taken once per turn, so a fast client
 *   gets one send per turn like everyone else.
 * - /sleep is a timeout operation on the ring. The idle time-out stays in the deadline heap
 *   (the same one epoll uses): a timer per connection would cost an update per request; the
 *   heap's earliest deadline bounds the turn's wait instead (the wait's own timeout, on the
 *   ring too: no extra request).
 * - /block blocks the thread, as in epoll: every connection waits with it.
 *
 * Where the kernel (Linux 6.0 or later is needed for multishot receive) or a sandbox refuses
 * io_uring, the server says why in one line and exits 1. Setting the ring up, saying why not,
 * and the provided buffers' bookkeeping are in servers/uring/ring.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deadline.h"
#include "fdtable.h"
#include "ring.h"
#include "server.h"
#include "session.h"

/* What a completion is the answer to: tagged into the low bits of its user data, beside the
 * connection's address (allocations are aligned to 16). */
enum op { OP_IGNORE, OP_ACCEPT, OP_STOP, OP_RECV, OP_SEND, OP_SLEEP, OP_MASK = 7 };

enum waiting {
	FOR_READ,                   /* a receive (or the idle time-out) */
	FOR_WRITE,                  /* its send to complete (or the idle time-out) */
	FOR_SLEEP,                  /* its /sleep timeout to complete */
	CLOSED,                     /* nothing: waits only for the kernel to give back its ops */
};

struct conn {
	int fd;
	enum waiting waiting;
	struct session *session;
	struct deadline deadline;   /* the idle time-out */
	unsigned in_flight;         /* operations the kernel has not answered for the last time */
	bool recv_armed;            /* a receive is in flight (multishot or, if direct, one-shot) */
	bool recv_direct;           /* ... into the session's buffer: the ring ran out */
	bool recv_cancelled;        /* ... and we asked the kernel to cancel it */
	bool ring_starved;          /* the last receive ended with ENOBUFS */
	bool sending, sleeping;
	bool peer_done;             /* EOF or an error came after the held bytes */
	bool peer_failed;           /* ... and it was an error */
	struct held held;           /* input received while the session did not want it */
	struct __kernel_timespec sleep_ts;   /* read by the kernel when the timeout is submitted */
};

/* The count bounds what every receive together can hold before ENOBUFS sends them to their
 * own buffers. The tests build a copy with a tiny ring (URING_RING_BUFS=2), where ENOBUFS is
 * the rule. */
#ifndef URING_RING_BUFS
#define URING_RING_BUFS 1024
#endif
#ifndef URING_NAME
#define URING_NAME "uring"
#endif
enum { RING_BUFS = URING_RING_BUFS, BUF_GROUP = 0 };
/* Completions taken per turn: more are simply taken next turn. */
enum { CQES_PER_TURN = 256 };
/* Spare session buffers the loop keeps, as loop.c does. */
enum { SPARE_BUFFERS = 256 };

struct loop {
	struct server *srv;
	struct io_uring ring;
	struct bufring bufs;        /* the provided buffers the kernel receives into */
	struct fdtable conns;       /* the open connections, by fd */
	unsigned open;              /* connections being served */
	unsigned closing;           /* closed ones the kernel still has operations of */
	bool accepting, stopping;
	uint64_t now;               /* ms, read once per turn of the loop */
	struct deadline_heap deadlines;
	struct bufpool pool;        /* the sessions' I/O buffers */
};

static uint64_t tag(struct conn *c, enum op op)
{
	return (uint64_t)(uintptr_t)c | op;
}

static struct conn *conn_of(struct deadline *d)
{
	return (struct conn *)((char *)d - offsetof(struct conn, deadline));
}

/* ---- Posting operations ---- */

static void post(struct conn *c, enum op op, struct io_uring_sqe *sqe)
{
	io_uring_sqe_set_data64(sqe, tag(c, op));
	if (c)
		c->in_flight++;
}

static void post_recv(struct loop *l, struct conn *c)
{
	struct io_uring_sqe *sqe = uring_sqe(&l->ring);
	c->recv_direct = c->ring_starved;
	if (c->recv_direct) {
		size_t room;
		char *dst = session_rbuf(c->session, &l->pool, &room);
		io_uring_prep_recv(sqe, c->fd, dst, room, 0);
	} else {
		io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BUF_GROUP;
	}
	post(c, OP_RECV, sqe);
	c->recv_armed = true;
	c->recv_cancelled = false;
}

static void post_send(struct loop *l, struct conn *c)
{
	size_t len;
	const char *buf = session_wbuf(c->session, &len);
	struct io_uring_sqe *sqe = uring_sqe(&l->ring);
	io_uring_prep_send(sqe, c->fd, buf, len, MSG_NOSIGNAL);
	post(c, OP_SEND, sqe);
	c->sending = true;
}

static void post_sleep(struct loop *l, struct conn *c)
{
	c->sleep_ts = uring_ts(session_wait_ms(c->session));
	struct io_uring_sqe *sqe = uring_sqe(&l->ring);
	io_uring_prep_timeout(sqe, &c->sleep_ts, 0, 0);
	post(c, OP_SLEEP, sqe);
	c->sleeping = true;
}

static void cancel(struct loop *l, struct conn *c, enum op op)
{
	struct io_uring_sqe *sqe = uring_sqe(&l->ring);
	io_uring_prep_cancel64(sqe, tag(c, op), 0);
	post(NULL, OP_IGNORE, sqe);
}

static void cancel_recv(struct loop *l, struct conn *c)
{
	if (c->recv_armed && !c->recv_cancelled) {
		cancel(l, c, OP_RECV);
		c->recv_cancelled = true;
	}
}

/* ---- A connection's life ---- */

static void conn_free_if_done(struct loop *l, struct conn *c)
{
	if (c->waiting != CLOSED || c->in_flight)
		return;
	session_free(c->session, &l->pool);   /* only now: the kernel may have been reading its output */
	free(c);
	l->closing--;
}

static void conn_close(struct loop *l, struct conn *c)
{
	deadline_cancel(&l->deadlines, &c->deadline);
	cancel_recv(l, c);
	if (c->sending)
		cancel(l, c, OP_SEND);
	if (c->sleeping)
		cancel(l, c, OP_SLEEP);
	held_drop(&l->bufs, &c->held);
	/* The operations hold the socket itself, not its number: closing it now is safe even if
	 * the number is reused before the cancellations complete. */
	server_close(c->fd);
	fdtable_set(&l->conns, c->fd, NULL);
	c->waiting = CLOSED;
	l->open--;
	l->closing++;
	conn_free_if_done(l, c);
}

/* The idle time-out, and for more of a request in progress, its --header-timeout deadline. */
static void wait_for(struct loop *l, struct conn *c, enum waiting what)
{
	c->waiting = what;
	uint64_t at = what == FOR_SLEEP ? 0   /* a timeout on the ring ends it */
	            : socket_wait_until(&l->srv->opts, c->session, l->now, what == FOR_READ);
	if (at)
		deadline_set(&l->deadlines, &c->deadline, at);
	else
		deadline_cancel(&l->deadlines, &c->deadline);
}

static void drive(struct loop *l, struct conn *c);

/* A deadline came: a request that did not arrive in time gets its 408; else the connection
 * was silent for the whole idle time-out. */
static void on_deadline(struct loop *l, struct conn *c, uint64_t woke)
{
	if (c->waiting == FOR_READ && session_late(c->session, woke)) {
		session_timed_out(c->session);
		drive(l, c);
	} else {
		conn_close(l, c);
	}
}

/* Moves held bytes into the session's input buffer, as much as it has room for. */
static void read_held(struct loop *l, struct conn *c)
{
	size_t room;
	char *dst = session_rbuf(c->session, &l->pool, &room);
	/* 0 only when the pool had no buffer: the session closes */
	session_read(c->session, held_copy(&l->bufs, &c->held, dst, room));
}

/* Runs a connection's protocol as far as it can go until it must wait for a completion. */
static void drive(struct loop *l, struct conn *c)
{
	for (;;) {
		switch (session_next(c->session, &l->pool)) {
		case WANT_READ:
			if (held_any(&c->held)) {
				read_held(l, c);
				break;
			}
			if (c->peer_done) {
				if (c->peer_failed) {
					conn_close(l, c);
					return;
				}
				session_read(c->session, 0);
				break;
			}
			if (!c->recv_armed)
				post_recv(l, c);
			/* Armed but cancelled: its last completion comes soon and posts it again. */
			wait_for(l, c, FOR_READ);
			return;
		case WANT_WRITE:
			if (!c->sending)
				post_send(l, c);
			wait_for(l, c, FOR_WRITE);
			return;
		case WANT_SLEEP:
			post_sleep(l, c);
			wait_for(l, c, FOR_SLEEP);
			return;
		case WANT_BLOCK:   /* as in loop.c's drive(), on purpose: the thread blocks */
			block_for_ms(session_wait_ms(c->session));   /* every connection waits with us */
			l->now = now_ms();
			session_woke(c->session);
			break;
		case WANT_CLOSE:
			conn_close(l, c);
			return;
		}
	}
}

static void conn_open(struct loop *l, int fd)
{
	if (l->open >= l->srv->opts.max_conns) {
		server_refuse(l->srv, fd, "at --max-conns; refusing new connections");
		return;
	}
	struct conn *c = fdtable_reserve(&l->conns, fd) ? calloc(1, sizeof *c) : NULL;
	if (c)
		c->session = session_new(l->srv->opts.proto);
	if (c && c->session)
		session_set_header_timeout(c->session, l->srv->opts.header_timeout_s * 1000u);
	if (!c || !c->session) {
		free(c);
		server_refuse(l->srv, fd, "out of memory; refusing new connections");
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->fd = fd;
	c->held = HELD_NONE;
	fdtable_set(&l->conns, fd, c);
	l->open++;
	drive(l, c);   /* an idle session wants input: this posts its receive */
}

/* ---- Completions ---- */

static void post_accept(struct loop *l)
{
	struct io_uring_sqe *sqe = uring_sqe(&l->ring);
	io_uring_prep_multishot_accept(sqe, l->srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	post(NULL, OP_ACCEPT, sqe);
	l->accepting = true;
}

static void on_accept(struct loop *l, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		l->accepting = false;   /* posted again at the end of the turn */
	if (cqe->res >= 0 && l->stopping) {
		close(cqe->res);   /* came in while we shut down */
	} else if (cqe->res >= 0) {
		conn_open(l, cqe->res);
	} else if (cqe->res == -EMFILE || cqe->res == -ENFILE) {
		/* The pending connection would fail the accept again at once: server_accept()
		 * sheds it (and says so), or takes it if a descriptor came free meanwhile. */
		int fd = server_accept(l->srv, false);
		if (fd >= 0)
			conn_open(l, fd);
	}
}

/* The last completion of an operation: the kernel holds nothing of c's for it any more.
 * Returns false if c is closed (and then maybe freed). */
static bool answered(struct loop *l, struct conn *c)
{
	c->in_flight--;
	if (c->waiting != CLOSED)
		return true;
	conn_free_if_done(l, c);
	return false;
}

static void on_recv(struct loop *l, struct conn *c, const struct io_uring_cqe *cqe)
{
	bool last = !(cqe->flags & IORING_CQE_F_MORE);
	if (last)
		c->recv_armed = false;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (c->waiting == CLOSED || cqe->res <= 0)
			bufring_give_back(&l->bufs, bid);
		else
			held_push(&l->bufs, &c->held, bid, (unsigned)cqe->res);
	}
	if (last ? !answered(l, c) : c->waiting == CLOSED)
		return;
	if (c->recv_direct && cqe->res > 0) {
		session_read(c->session, (size_t)cqe->res);   /* it went straight into the session */
		c->ring_starved = false;
	} else if (cqe->res == -ENOBUFS) {
		c->ring_starved = true;
	} else if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ECANCELED)) {
		c->peer_done = true;
		c->peer_failed = cqe->res < 0;
	}
	if (c->waiting == FOR_READ)
		drive(l, c);
	else if (held_any(&c->held))
		cancel_recv(l, c);   /* input it does not want now: post no more receives */
}

static void on_send(struct loop *l, struct conn *c, const struct io_uring_cqe *cqe)
{
	c->sending = false;
	if (!answered(l, c))
		return;
	if (cqe->res < 0) {
		conn_close(l, c);
		return;
	}
	session_wrote(c->session, (size_t)cqe->res);
	drive(l, c);
}

static void on_sleep(struct loop *l, struct conn *c)
{
	c->sleeping = false;
	if (!answered(l, c))
		return;
	session_woke(c->session);
	drive(l, c);
}

static void on_completion(struct loop *l, const struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	struct conn *c = (struct conn *)(uintptr_t)(data & ~(uint64_t)OP_MASK);
	switch ((enum op)(data & OP_MASK)) {
	case OP_ACCEPT: on_accept(l, cqe); break;
	case OP_STOP:   l->stopping = true; break;
	case OP_RECV:   on_recv(l, c, cqe); break;
	case OP_SEND:   on_send(l, c, cqe); break;
	case OP_SLEEP:  on_sleep(l, c); break;
	default:        break;   /* a cancellation's own answer */
	}
}

/* ---- The loop ---- */

/* One system call: what the turn posted goes in, and we wait for at least one completion or
 * the earliest deadline. */
static int submit_and_wait(struct loop *l)
{
	int ms = deadline_timeout_ms(&l->deadlines, l->now);
	int rc;
	if (ms < 0) {
		rc = io_uring_submit_and_wait(&l->ring, 1);
	} else {
		struct __kernel_timespec ts = uring_ts((unsigned)ms);
		struct io_uring_cqe *cqe;
		rc = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
	}
	return rc >= 0 || rc == -ETIME || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY ? 0 : rc;
}

static void take_completions(struct loop *l)
{
	struct io_uring_cqe *cqes[CQES_PER_TURN];
	unsigned n = io_uring_peek_batch_cqe(&l->ring, cqes, CQES_PER_TURN);
	for (unsigned i = 0; i < n; i++)
		on_completion(l, cqes[i]);
	io_uring_cq_advance(&l->ring, n);
}

/* At shutdown: close every connection, then wait (a bounded time) for the kernel to give back
 * every operation: they point into memory we are about to free, and the accept holds the
 * listening socket, which would go on accepting until the ring is torn down, after we exit. */
static void close_all(struct loop *l)
{
	for (size_t fd = 0; fd < l->conns.cap; fd++)
		if (l->conns.slots[fd])
			conn_close(l, l->conns.slots[fd]);
	if (l->accepting)
		cancel(l, NULL, OP_ACCEPT);
	uint64_t give_up = now_ms() + 2000;
	while ((l->closing || l->accepting) && now_ms() < give_up) {
		l->now = now_ms();
		struct __kernel_timespec ts = uring_ts(100);
		struct io_uring_cqe *cqe;
		io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
		take_completions(l);
	}
}

static int uring_run(struct server *srv)
{
	struct loop l = { .srv = srv, .pool = BUFPOOL_INIT(SPARE_BUFFERS) };
	int err = uring_ring_init(&l.ring);
	if (err < 0) {
		fprintf(stderr, "%s: %s\n", URING_NAME, uring_refusal(err));
		return 1;
	}
	/* Every io_uring_enter() names the ring by an index into this thread's registered rings
	 * rather than by its fd: no file lookup per call (Linux 5.18; where it fails, the fd). */
	io_uring_register_ring_fd(&l.ring);
	err = bufring_init(&l.bufs, &l.ring, RING_BUFS, BUF_GROUP);
	if (err < 0) {
		fprintf(stderr, "%s: io_uring_register_buf_ring: %s\n", URING_NAME, strerror(-err));
		io_uring_queue_exit(&l.ring);
		bufring_free(&l.bufs, true);
		return 1;
	}
	struct io_uring_sqe *sqe = uring_sqe(&l.ring);
	io_uring_prep_poll_add(sqe, srv->stop_fd, POLLIN);
	post(NULL, OP_STOP, sqe);

	int rc = 0;   /* 1 if the loop itself failed, rather than being told to stop */
	while (!l.stopping) {
		if (!l.accepting)
			post_accept(&l);
		l.now = now_ms();
		err = submit_and_wait(&l);
		if (err) {
			fprintf(stderr, "%s: io_uring_enter: %s\n", URING_NAME, strerror(-err));
			rc = 1;
			break;
		}
		uint64_t woke = l.now = now_ms();
		take_completions(&l);
		/* Judged by the time the loop woke, as in loop.c: bytes that came during a /block
		 * are taken before their connection is judged idle. */
		struct deadline *due;
		while ((due = deadline_pop_due(&l.deadlines, woke)))
			on_deadline(&l, conn_of(due), woke);
	}
	close_all(&l);
	deadline_heap_free(&l.deadlines);
	io_uring_queue_exit(&l.ring);
	bufring_free(&l.bufs, l.closing == 0);
	fdtable_free(&l.conns);
	bufpool_drain(&l.pool);
	return rc;
}

static const struct model uring_model = {
	.name = URING_NAME,
	.idea = "one thread, io_uring: multishot accept and receive, provided buffers, batched "
	        "completions",
	.default_max_conns = 100000,
	.default_workers = 1,
	.max_workers = 1,
	.help_notes = "Needs Linux 6.0 or later, with io_uring allowed: where it is refused, the server\n"
	              "says why in one line (\"uring: unavailable: ...\") and exits 1.",
	.unavailable = uring_unavailable,
	.run = uring_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &uring_model);
}
