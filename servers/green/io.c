/*
 * io.c: blocking-looking I/O for green threads. Each call is libtask's fdread(): try the
 * system call on the non-blocking fd; if it says EAGAIN, park until the netpoller says the fd
 * is ready (pd_wait, netpoll.c), and try again. The whole path of a read that waits, in
 * reading order: green_read() here; pd_wait(), publish_wait() and wait_commit() in netpoll.c
 * (park); netpoll() and unblock() there (the poller readies the green thread); back here to
 * retry the read.
 *
 * errno is read through green_errno(), never inlined: errno is a thread-local, and glibc
 * declares __errno_location() const, so a compiler may compute its address once before a
 * loop that parks and read the previous OS thread's errno after the green thread migrated.
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netpoll.h"

/* I/O calls in a row that did not park, after which a green thread yields (see
 * spend_io_budget); the event-loop models give a connection the same 16 per turn (epoll.c's
 * TRANSFERS_PER_TURN). A yield costs less than a tenth of a system call, so a busy
 * connection spends well under 1% of its time on it. */
enum { IO_BUDGET = 16 };

static bool would_block(void);
static ssize_t read_unless_drained(struct pd *pd, void *buf, size_t len);
static void spend_io_budget(void);

ssize_t green_read(int fd, void *buf, size_t len)
{
	struct pd *pd = pd_acquire(fd);
	if (!pd)
		return -1;
	ssize_t n;
	while ((n = read_unless_drained(pd, buf, len)) < 0 && would_block())
		if (pd_wait(pd, GREEN_IN) < 0)
			break;
	pd_release(pd);
	spend_io_budget();
	return n;
}

/* green_read()'s mirror, line for line, on purpose: the essential path, read or written, in
 * one glance each (libtask's fdread and fdwrite are the same pair). */
ssize_t green_write(int fd, const void *buf, size_t len)
{
	struct pd *pd = pd_acquire(fd);
	if (!pd)
		return -1;
	ssize_t n;
	while ((n = write(fd, buf, len)) < 0 && would_block())
		if (pd_wait(pd, GREEN_OUT) < 0)
			break;
	pd_release(pd);
	spend_io_budget();
	return n;
}

int green_accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	struct pd *pd = pd_acquire(fd);
	if (!pd)
		return -1;
	int c;
	while ((c = accept4(fd, addr, addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0 && would_block())
		if (pd_wait(pd, GREEN_IN) < 0)
			break;
	pd_release(pd);
	spend_io_budget();
	return c;
}

__attribute__((noinline)) int green_errno(void)
{
	int err = errno;
	__asm__ volatile("" ::: "memory");
	return err;
}

__attribute__((noinline)) void green_set_errno(int err)
{
	errno = err;
	__asm__ volatile("" ::: "memory");
}

static bool would_block(void)
{
	int err = green_errno();
	return err == EAGAIN || err == EWOULDBLOCK;
}

/*
 * The drained hint, pd->drained: the last read proved the socket empty, so the next read
 * would only say EAGAIN; skip that system call and wait first. A short read proves it on a
 * stream socket (the kernel returns one only once the receive queue is used up), unless
 * epoll has reported the peer's FIN: data and end of file can arrive under one edge, and the
 * end of file must still be read. Any data arriving after that read raises a new edge, which
 * the wait slot keeps, so the hint can only cost a wake-up, never lose one. green_wait_input()
 * uses it to know whether parking is safe. It is cleared whenever the hint is spent, so a
 * wait that fails (a deadline, a close) leaves the next call to read first: always safe.
 */
static ssize_t read_unless_drained(struct pd *pd, void *buf, size_t len)
{
	if (pd->drained) {
		pd->drained = false;
		green_set_errno(EAGAIN);
		return -1;
	}
	ssize_t n = read(pd->fd, buf, len);
	pd->drained = pd->stream && n > 0 && (size_t)n < len && !pd_peer_closed(pd);
	return n;
}

/*
 * Fairness. The runtime does not preempt: a green thread keeps its worker until it parks or
 * yields. A connection that always finds data to read and room to write never parks, so one
 * client streaming as fast as it can (echo, or pipelined requests read as fast as they are
 * sent) would hold its worker for as long as it streams, and with --workers 1 every other
 * connection would wait for it. Go takes the processor from a goroutine that ran 10 ms
 * (sysmon preempts it); here the I/O calls are the preemption points: after IO_BUDGET of them
 * in a row without parking, the call yields, which queues the green thread behind the others
 * and gives the scheduler its turns to run timers and poll for ready fds (find_runnable).
 * It is the runtime's business, not the server's: every user of green_read() has the same
 * problem, and only the runtime knows whether a call parked (sched.c resets the count when
 * the green thread gives up its worker). Called after pd_release(): yielding while counted
 * in on the fd would only hold up a green_close().
 */
static void spend_io_budget(void)
{
	struct green *g = green_current();
	if (++g->io_unparked >= IO_BUDGET)
		green_yield();
}

int green_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct pd *pd = pd_acquire(fd);
	if (!pd)
		return -1;
	int rc = connect(fd, addr, addrlen);
	if (rc < 0 && green_errno() == EINPROGRESS) {
		/* The handshake goes on in the kernel. Writable means it may have ended, but a fresh
		 * socket also reports writable before it connects, so ask until it says which. */
		for (;;) {
			struct sockaddr_storage peer;
			socklen_t len = sizeof peer;
			int err = 0;
			socklen_t errlen = sizeof err;
			if ((rc = pd_wait(pd, GREEN_OUT)) < 0)
				break;
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0) {
				rc = -1;
				break;
			}
			if (err && err != EINPROGRESS && err != EALREADY && err != EINTR) {
				green_set_errno(err);
				rc = -1;
				break;
			}
			if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0)
				break;
		}
	}
	pd_release(pd);
	return rc;
}

int green_wait(int fd, enum green_dir dir)
{
	struct pd *pd = pd_acquire(fd);
	if (!pd)
		return -1;
	int rc = pd_wait(pd, dir);
	pd_release(pd);
	return rc;
}

/* The drained hint does not know (a fresh connection, or a read that filled its buffer): ask
 * the socket, taking nothing. So a new connection waits for its first byte holding no buffer. */
static bool nothing_to_read(struct pd *pd)
{
	char c;
	return pd->stream && recv(pd->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && would_block();
}

int green_wait_input(int fd)
{
	struct pd *pd = pd_acquire(fd);
	if (!pd)
		return -1;
	int rc = 0;
	if ((pd->drained || nothing_to_read(pd)) && (rc = pd_wait(pd, GREEN_IN)) == 0)
		pd->drained = false;     /* an edge came: the next read must really read */
	pd_release(pd);
	return rc;
}
