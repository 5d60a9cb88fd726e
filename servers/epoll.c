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
 * (conn_ready() keeps it in can_read, can_write) and use it up: read or write until the
 * socket is drained or full (EAGAIN, or a short transfer). In return there is no epoll_ctl()
 * per request, only one per connection, and a turn costs time in proportion to the sockets
 * that are ready, not to all of them (select.c's price).
 *
 * The price of one thread: anything that blocks it blocks everyone. /block does exactly
 * that, on purpose, and /work keeps every other connection waiting while it computes.
 *
 * The connections, what each waits for, their deadlines and driving their sessions are the
 * event loops' common part, servers/core/loop.h; what is here is how epoll waits.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop.h"
#include "server.h"

/* Registered once, for everything, edge-triggered: nothing changes as the connection waits
 * for one thing and then another, and close() takes it out of the epoll set. */
static const char *epoll_add(struct loop *l, struct conn *c)
{
	int epfd = *(int *)l->data;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
	                          .data.fd = c->fd };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		return "epoll_ctl failed; refusing new connections";
	return NULL;
}

static const struct loop_backend epoll_backend = { .add = epoll_add };

/* What an event says, in conn_ready()'s terms. An error or a hang-up shows itself to the
 * next read or write, so it makes the socket both readable and writable. */
static unsigned readiness_of(uint32_t events)
{
	unsigned r = 0;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		r |= CAN_READ;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		r |= CAN_WRITE;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		r |= HUNG_UP;
	return r;
}

/* Events taken per epoll_wait(): more are simply reported next turn. */
enum { EVENTS_PER_TURN = 256 };

static int epoll_run(struct server *srv)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event listen_ev = { .events = EPOLLIN, .data.fd = srv->listen_fd };
	struct epoll_event stop_ev = { .events = EPOLLIN, .data.fd = srv->stop_fd };
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, srv->listen_fd, &listen_ev) != 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, srv->stop_fd, &stop_ev) != 0) {
		if (epfd >= 0)
			close(epfd);
		return 1;
	}
	struct loop l;
	loop_init(&l, srv, &epoll_backend, &epfd);

	int rc = 0;   /* 1 if the loop itself failed, rather than being told to stop */
	bool stopping = false;
	while (!stopping) {
		struct epoll_event events[EVENTS_PER_TURN];
		int n = epoll_wait(epfd, events, EVENTS_PER_TURN, loop_wait_ms(&l));
		loop_woke(&l);
		if (n < 0 && errno != EINTR) {
			rc = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			struct conn *c = loop_conn(&l, fd);
			if (fd == srv->stop_fd)
				stopping = true;
			else if (fd == srv->listen_fd)
				loop_accept(&l);
			else if (c)
				conn_ready(&l, c, readiness_of(events[i].events));
		}
		loop_expire(&l);
	}
	loop_free(&l);
	close(epfd);
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
