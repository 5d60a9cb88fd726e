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
 *
 * More cores: --workers N runs N such loops, each on a thread of its own with its own epoll
 * set and its own listening socket, all bound to the same port with SO_REUSEPORT: the kernel
 * spreads new connections over the sockets by a hash of their addresses, and a connection
 * stays with the worker that accepted it. This is how nginx, h2o and lwan use many cores.
 * Nothing is shared between workers but the count of open connections (for --max-conns).
 * A /block now stalls one worker's connections, not all. --workers 1 is the model above,
 * exactly: no thread, one listening socket. docs/model-guide.md says why SO_REUSEPORT rather
 * than one shared socket with EPOLLEXCLUSIVE.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* An epoll set watching the listening socket and the stop fd: made before the start-up
 * line, so that "listening" is true of every worker. Returns the fd, or -1. */
static int epoll_set_for(const struct server *srv)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event listen_ev = { .events = EPOLLIN, .data.fd = srv->listen_fd };
	struct epoll_event stop_ev = { .events = EPOLLIN, .data.fd = srv->stop_fd };
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, srv->listen_fd, &listen_ev) != 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, srv->stop_fd, &stop_ev) != 0) {
		if (epfd >= 0)
			close(epfd);
		return -1;
	}
	return epfd;
}

/* One event loop until the stop: the whole model with --workers 1. open_shared: the count
 * of open connections the workers share, or NULL; *accepted: how many it served. */
static int serve(struct server *srv, int epfd, atomic_uint *open_shared, unsigned long *accepted)
{
	struct loop l;
	loop_init(&l, srv, &epoll_backend, &epfd);
	l.open_shared = open_shared;

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
	*accepted = l.accepted;
	loop_free(&l);
	return rc;
}

struct worker {
	struct server srv;          /* a copy: its own listening socket and spare fd (but worker 0) */
	int epfd;
	atomic_uint *open_shared;
	pthread_t thread;
	unsigned long accepted;
	int rc;
};

/* Made by epoll_start() before the start-up line, run by epoll_run() after it. */
static struct {
	struct worker *w;
	unsigned n;                 /* workers made */
	atomic_uint open;           /* open connections over all workers, for --max-conns */
} workers;

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	w->rc = serve(&w->srv, w->epfd, w->open_shared, &w->accepted);
	return NULL;
}

/* Worker i's copy of the server: worker 0 accepts from the socket server_main() opened, the
 * others from sockets of their own on the same port. Each other one gets its own spare fd,
 * because server_accept() gives it up and takes it back when descriptors run out. */
static bool worker_init(struct worker *w, const struct server *srv, unsigned i)
{
	w->srv = *srv;
	w->open_shared = srv->opts.workers > 1 ? &workers.open : NULL;
	w->epfd = -1;
	if (i > 0) {
		w->srv.listen_fd = server_listen_again(srv);
		w->srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (w->srv.listen_fd < 0) {
		fprintf(stderr, "epoll: worker %u: cannot listen beside worker 0: %s\n", i,
		        strerror(errno));
		return false;
	}
	w->epfd = epoll_set_for(&w->srv);
	if (w->epfd < 0)
		fprintf(stderr, "epoll: worker %u: cannot make its epoll set: %s\n", i, strerror(errno));
	return w->epfd >= 0;
}

/* Worker 0's sockets are server_main()'s, which closes them; it may have swapped its spare
 * fd meanwhile, so that one goes back. */
static void worker_release(struct worker *w, struct server *srv)
{
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->srv.listen_fd == srv->listen_fd) {
		srv->spare_fd = w->srv.spare_fd;
		return;
	}
	if (w->srv.listen_fd >= 0)
		close(w->srv.listen_fd);
	if (w->srv.spare_fd >= 0)
		close(w->srv.spare_fd);
}

static int epoll_start(struct server *srv)
{
	workers.w = calloc(srv->opts.workers, sizeof *workers.w);
	if (!workers.w)
		return 1;
	for (; workers.n < srv->opts.workers; workers.n++) {
		if (!worker_init(&workers.w[workers.n], srv, workers.n)) {
			worker_release(&workers.w[workers.n], srv);
			while (workers.n > 0)
				worker_release(&workers.w[--workers.n], srv);
			free(workers.w);
			return 1;
		}
	}
	return 0;
}

static int run_workers(void)
{
	struct worker *w = workers.w;
	unsigned started = 0;
	int rc = 0;
	for (; started < workers.n; started++) {
		if (pthread_create(&w[started].thread, NULL, worker_main, &w[started]) != 0) {
			fprintf(stderr, "epoll: cannot start worker %u\n", started);
			rc = 1;
			break;
		}
	}
	if (rc)
		kill(getpid(), SIGTERM);   /* the workers that did start stop as on any stop */
	for (unsigned i = 0; i < started; i++) {
		pthread_join(w[i].thread, NULL);
		rc |= w[i].rc;
	}
	/* How evenly the kernel spread the connections (the benchmark records it). */
	fprintf(stderr, "epoll: connections per worker:");
	for (unsigned i = 0; i < started; i++)
		fprintf(stderr, " %lu", w[i].accepted);
	fputc('\n', stderr);
	return rc;
}

static int epoll_run(struct server *srv)
{
	struct worker *w = workers.w;
	int rc = workers.n > 1 ? run_workers()
	                       : serve(&w[0].srv, w[0].epfd, NULL, &w[0].accepted);
	for (unsigned i = 0; i < workers.n; i++)
		worker_release(&w[i], srv);
	free(w);
	return rc;
}

static const struct model epoll_model = {
	.name = "epoll",
	.idea = "one thread (or one per worker), an edge-triggered epoll loop over non-blocking "
	        "sockets",
	.default_max_conns = 100000,
	.default_workers = 1,
	.max_workers = 256,
	.help_notes = "--workers N: N event loops on N threads, each with its own epoll set and its\n"
	              "own SO_REUSEPORT listening socket; at the stop, the connections each served.",
	.listener_per_worker = true,
	.start = epoll_start,
	.run = epoll_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &epoll_model);
}
