/*
 * thread.c: one thread per connection.
 *
 * The idea: write the server as if it had one client. Each connection gets a thread that
 * blocks in read() and write() as long as it needs to; the kernel's scheduler multiplexes
 * the threads onto the cores. The code is the simplest of all the models, and a request that
 * computes or blocks holds up nobody but its own client.
 *
 * The price: a stack per connection (small here, see below), a kernel thread the scheduler
 * must juggle, and a context switch every time a connection waits. Thousands of mostly idle
 * connections are thousands of sleeping threads.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "server.h"

/* A connection's thread needs little stack: the deepest path (parsing a request head, with
 * its table of header pointers) uses a few KiB. 64 KiB instead of glibc's default 8 MiB lets
 * thousands of threads fit. Sanitizers need much more. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define THREAD_STACK_KIB 1024
#else
#define THREAD_STACK_KIB 64
#endif

/* Connections being served, counted by the acceptor and by each thread as it ends. Not on
 * thread_run()'s stack: detached threads may still be ending after it returns. */
static atomic_uint open_conns;

struct connection {
	struct server_opts opts;    /* a copy: the thread may outlive the acceptor's frame */
	int fd;
};

static void *serve_thread(void *arg)
{
	struct connection *c = arg;
	/* The buffers live as long as the connection: it has a thread of its own to keep them. */
	struct bufpool pool = BUFPOOL_INIT(SESSION_MAX_BUFFERS);
	serve_blocking(&c->opts, c->fd, &pool);
	bufpool_drain(&pool);
	atomic_fetch_sub(&open_conns, 1);
	free(c);
	return NULL;
}

static void start_thread(struct server *srv, int fd, const pthread_attr_t *attr)
{
	/* Checking, then adding, is safe: only this thread, the acceptor, ever adds. */
	if (atomic_load(&open_conns) >= srv->opts.max_conns) {
		server_refuse(srv, fd, "at --max-conns; refusing new connections");
		return;
	}
	struct connection *c = malloc(sizeof *c);
	if (!c) {
		server_refuse(srv, fd, "out of memory; refusing connections");
		return;
	}
	*c = (struct connection){ .opts = srv->opts, .fd = fd };
	atomic_fetch_add(&open_conns, 1);
	pthread_t tid;
	if (pthread_create(&tid, attr, serve_thread, c) != 0) {
		/* No thread to serve it (a process limit, or memory): refuse this one, go on. */
		atomic_fetch_sub(&open_conns, 1);
		free(c);
		server_refuse(srv, fd, "cannot create a thread; refusing connections");
	}
}

static int thread_run(struct server *srv)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK_KIB * 1024);

	/* The main thread only accepts. It waits on the stop fd too, so a signal that arrives
	 * at any moment ends the loop; the process exit then ends every connection's thread. */
	for (;;) {
		struct pollfd fds[2] = { { srv->listen_fd, POLLIN, 0 }, { srv->stop_fd, POLLIN, 0 } };
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (fds[1].revents)
			break;
		int fd = server_accept(srv, false);
		if (fd >= 0)
			start_thread(srv, fd, &attr);
	}
	pthread_attr_destroy(&attr);
	return 0;
}

static const struct model thread_model = {
	.name = "thread",
	.idea = "one thread per connection, blocking reads and writes",
	.default_max_conns = 10000,
	.default_workers = 1,
	.max_workers = 1,
	.help_notes = "Each connection's thread has a " XSTR(THREAD_STACK_KIB) " KiB stack.",
	.run = thread_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &thread_model);
}
