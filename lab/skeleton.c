/*
 * skeleton.c: the start of a server model. Copy it, name it, build it, check it:
 *
 *     cp lab/skeleton.c servers/mymodel.c     (a lower-case name of your own)
 *     make check MODEL=mymodel                 every conformance case, pass or fail, and a score
 *
 * As copied, it builds, prints its start-up line, stops on Ctrl-C, and hangs up on every
 * client at once: the checks of the command line and of stopping pass, and every check that
 * needs an answer fails within seconds, each with its reason. Fill in the TODOs in order;
 * each one says which checks it turns green. The lab is docs/lab.md; the calls you have are
 * in docs/model-guide.md.
 *
 * Every model answers the same three questions, and the TODOs are where you answer them:
 *   - Who serves a connection? The accepting thread, a process or a thread of its own, or
 *     one event loop that serves them all.
 *   - What does it wait in? accept(), read() and write() themselves, or poll(), select() or
 *     epoll_wait() on many sockets at once.
 *   - What happens at the limits? Too many clients, a silent client, the stop signal.
 * The protocol (HTTP or echo) is not your job: the session in servers/core/ does it.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>

#include "server.h"

/*
 * A client has connected: fd is its socket, still blocking.
 *
 * TODO 2 (every part, first): serve it, right here, with serve_blocking() and a buffer pool
 * of your own (see docs/model-guide.md). You now have an iterative server, the first server
 * of every textbook: one client at a time. Turns green: basic, http, and the bad-input and
 * echo cases with one client. Still red: every case with several clients at once, and
 * stopping while a client is connected (lifecycle). Those fail only when their time limits
 * run out, so this check takes a few minutes.
 *
 * TODO 3 (processes, threads, green threads): give each connection a thread of control of its
 * own that calls serve_blocking(), so that this function returns at once and the loop goes
 * back to accept(). Turns green: concurrency, and the rest of bad-input, echo and lifecycle.
 *
 * TODO 4 (select, poll, epoll): one thread serves every connection and never blocks. Accept
 * non-blocking sockets (server_accept(srv, true)), keep each one's session in a table, and
 * rewrite the loop in skeleton_run() to wait on every socket, in the direction its session
 * asks for, and on the earliest deadline (a /sleep that ends, a client silent for
 * --idle-timeout, a request not in within --header-timeout: session_deadline()). Turns
 * green: as TODO 3, and the idle and header time-out cases of limits and echo.
 *
 * TODO 5 (every part, last): at --max-conns connections, turn the next one away with
 * server_refuse(); and when there is no process, thread or memory to serve it (fork(),
 * pthread_create() or malloc() failed), refuse it the same way. Turns green: limits/max-conns,
 * limits/process-limit, echo/echo-max-conns.
 */
static void on_connection(struct server *srv, int fd)
{
	/* Unfilled, it hangs up on every client at once: the checks fail fast, with "connection
	 * closed before a response". */
	fprintf(stderr, "%s: on_connection() is still a TODO: hanging up\n", srv->model->name);
	server_close(fd);
}

static int skeleton_run(struct server *srv)
{
	/* The loop waits for two things: a client connecting (listen_fd readable) and the stop
	 * signal (stop_fd readable, for good, after SIGINT or SIGTERM). */
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
		if (fd >= 0)   /* -1: nothing to accept after all (the client gave up); wait again */
			on_connection(srv, fd);
	}
	/* TODO 5: before returning, end every connection still being served (a process left
	 * behind fails lifecycle) and free what you allocated (under SAN=1, a leak fails the
	 * case that stopped the server). */
	return 0;
}

/* TODO 1 (every part): name your model after its file (servers/mymodel.c: "mymodel"), say its
 * idea in one line, and pick a default --max-conns it can really serve. No check reads them,
 * but the start-up line, --help, --version and every message on stderr show them. */
static const struct model skeleton_model = {
	.name = "skeleton",
	.idea = "the lab skeleton: hangs up on every client until its TODOs are done",
	.default_max_conns = 1000,
	.default_workers = 1,
	.max_workers = 1,
	.help_notes = NULL,
	.run = skeleton_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &skeleton_model);
}
