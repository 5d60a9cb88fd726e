/*
 * io.c: moving bytes between a socket and a session, the two ways models do it.
 *
 * Non-blocking, for event loops: one read or write, and a word on whether the socket is
 * worth trying again before the kernel says so.
 *
 * Blocking, for the models where each connection has a thread of control of its own (a
 * process, a thread): the loop of session.h's comment, nothing more; the kernel does the
 * waiting, in read(), write() and the poll() of block_for_ms().
 */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "server.h"

bool nb_read(struct session *s, struct bufpool *pool, int fd, bool *ready)
{
	size_t room;
	char *buf = session_rbuf(s, pool, &room);
	ssize_t n = read(fd, buf, room);
	if (n < 0) {
		*ready = errno == EINTR;
		return errno == EAGAIN || errno == EINTR;
	}
	/* A short read emptied the socket. Waiting for readiness now, rather than reading again
	 * to hear EAGAIN, saves a system call per request. */
	*ready = (size_t)n == room;
	session_read(s, (size_t)n);
	return true;
}

bool nb_write(struct session *s, int fd, bool *ready)
{
	size_t len;
	const char *buf = session_wbuf(s, &len);
	ssize_t n = write(fd, buf, len);
	if (n < 0) {
		*ready = errno == EINTR;
		return errno == EAGAIN || errno == EINTR;
	}
	*ready = (size_t)n == len;   /* a short write means the socket buffer is full */
	session_wrote(s, (size_t)n);
	return true;
}

/* A read or write that waits longer than the idle time-out fails with EAGAIN: this is how a
 * blocking server gets rid of a client that says nothing, or never reads. */
static void set_idle_timeout(int fd, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Returns false when the connection failed (or timed out). */
static bool read_some(struct session *s, struct bufpool *pool, int fd)
{
	size_t room;
	char *buf = session_rbuf(s, pool, &room);
	ssize_t n;
	while ((n = read(fd, buf, room)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return false;
	session_read(s, (size_t)n);
	return true;
}

/* read_some()'s mirror, line for line, on purpose: each is its want's one system call. */
static bool write_some(struct session *s, int fd)
{
	size_t len;
	const char *buf = session_wbuf(s, &len);
	ssize_t n;
	while ((n = write(fd, buf, len)) < 0 && errno == EINTR)
		;
	if (n < 0)
		return false;
	session_wrote(s, (size_t)n);
	return true;
}

uint64_t socket_wait_until(const struct server_opts *opts, struct session *s, uint64_t now,
                           bool for_input)
{
	uint64_t idle = opts->idle_timeout_s ? now + opts->idle_timeout_s * 1000u : 0;
	uint64_t late = for_input ? session_deadline(s, now) : 0;
	return late && (!idle || late < idle) ? late : idle;
}

enum arrival { ARRIVED, LATE, GONE };

/*
 * Before a read: with a request in progress, waits no longer than its deadline, so that a
 * client trickling its head a byte at a time is cut off however often the bytes come (the
 * idle time-out restarts on each). Between requests the read waits alone, as the idle
 * time-out allows: the usual case costs no extra system call.
 */
static enum arrival await_request(struct session *s, int fd, unsigned idle_s)
{
	uint64_t now = now_ms(), until = session_deadline(s, now);
	if (!until)
		return ARRIVED;
	for (;;) {
		uint64_t ms = until > now ? until - now : 0;
		if (idle_s && ms > idle_s * 1000u)
			ms = idle_s * 1000u;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, (int)ms);
		if (n > 0)
			return ARRIVED;   /* or hung up: the read says which */
		if (n < 0 && errno != EINTR)
			return GONE;
		now = now_ms();
		if (now >= until)
			return LATE;
		if (n == 0)
			return GONE;      /* silent for the whole idle time-out */
	}
}

void serve_blocking(const struct server_opts *opts, int fd, struct bufpool *pool)
{
	if (opts->idle_timeout_s)
		set_idle_timeout(fd, opts->idle_timeout_s);
	struct session *s = session_new(opts->proto);
	if (s)
		session_set_header_timeout(s, opts->header_timeout_s * 1000u);
	bool open = s != NULL;
	while (open) {
		switch (session_next(s, pool)) {
		case WANT_READ:
			switch (await_request(s, fd, opts->idle_timeout_s)) {
			case ARRIVED: open = read_some(s, pool, fd); break;
			case LATE: session_timed_out(s); break;   /* a 408 to write, then close */
			case GONE: open = false; break;
			}
			break;
		case WANT_WRITE:
			open = write_some(s, fd);
			break;
		case WANT_SLEEP:
		case WANT_BLOCK:
			/* With a thread of its own, a connection can simply sleep: /sleep and /block
			 * are the same here. Only the event loops tell them apart. */
			block_for_ms(session_wait_ms(s));
			session_woke(s);
			break;
		case WANT_CLOSE:
			open = false;
			break;
		}
	}
	session_free(s, pool);
	server_close(fd);
}
