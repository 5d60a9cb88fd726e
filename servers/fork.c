/*
 * fork.c: one process per connection.
 *
 * The idea, as old as inetd and the first Apache: accept a connection, fork, and let the
 * child serve it with plain blocking calls while the parent goes back to accepting. The
 * kernel isolates connections completely: a child that crashes or leaks harms nobody else.
 *
 * The price: a process per connection (its own page tables over a copy-on-write address
 * space) and a fork() per connection, which the connection-churn benchmark shows. And the
 * parent must reap every child it makes, or they linger as zombies.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

/* The children alive, so that shutdown can end them all and --max-conns can count them. */
struct children {
	pid_t *pids;
	size_t len, cap;
};

static bool children_add(struct children *k, pid_t pid)
{
	if (k->len == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 256;
		pid_t *pids = realloc(k->pids, cap * sizeof *pids);
		if (!pids)
			return false;
		k->pids = pids;
		k->cap = cap;
	}
	k->pids[k->len++] = pid;
	return true;
}

static void children_remove(struct children *k, pid_t pid)
{
	for (size_t i = 0; i < k->len; i++) {
		if (k->pids[i] == pid) {
			k->pids[i] = k->pids[--k->len];
			return;
		}
	}
}

/* Collects every child that has ended, without waiting for the others. */
static void reap(struct children *k)
{
	pid_t pid;
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		children_remove(k, pid);
}

static void on_sigchld(int sig)
{
	(void)sig;   /* only here so that SIGCHLD interrupts ppoll() */
}

/* Never returns: a child that fell back into the accept loop would be a second server. */
static _Noreturn void serve_in_child(struct server *srv, int fd)
{
	server_child_init(srv);   /* which takes every signal again, SIGCHLD too */
	struct bufpool pool = BUFPOOL_INIT(SESSION_MAX_BUFFERS);
	serve_blocking(&srv->opts, fd, &pool);
	bufpool_drain(&pool);
	/* exit(), not _exit(): stdout was flushed before any fork, and exit() lets a sanitizer
	 * build check this child for leaks too. */
	exit(0);
}

static void accept_one(struct server *srv, struct children *k)
{
	int fd = server_accept(srv, false);
	if (fd < 0)
		return;
	/* The count includes children that ended since the last reap(): at most one turn stale. */
	if (k->len >= srv->opts.max_conns) {
		server_refuse(srv, fd, "at --max-conns; refusing new connections");
		return;
	}
	pid_t pid = fork();
	if (pid == 0)
		serve_in_child(srv, fd);
	if (pid < 0) {
		/* No process to serve it (a process limit, or memory): refuse this one, go on. */
		server_refuse(srv, fd, "fork failed; refusing connections");
		return;
	}
	close(fd);   /* the child has its own copy; ours would keep the connection open */
	if (!children_add(k, pid))
		kill(pid, SIGTERM);   /* untracked, it could outlive us; waitpid(-1) still reaps it */
}

/* Shutdown: ask every child to end, give them half a second, then insist. */
enum { GRACE_STEPS = 50, GRACE_STEP_MS = 10 };

static void end_children(struct children *k)
{
	for (size_t i = 0; i < k->len; i++)
		kill(k->pids[i], SIGTERM);
	for (int step = 0; k->len > 0 && step < GRACE_STEPS; step++) {
		nanosleep(&(struct timespec){ 0, GRACE_STEP_MS * 1000000L }, NULL);
		reap(k);
	}
	for (size_t i = 0; i < k->len; i++)
		kill(k->pids[i], SIGKILL);
	pid_t pid;
	while (k->len > 0 && (pid = waitpid(-1, NULL, 0)) > 0)
		children_remove(k, pid);
	free(k->pids);
}

static int fork_run(struct server *srv)
{
	struct children kids = { 0 };

	/* SIGCHLD stays blocked except inside ppoll(), which unblocks it atomically while it
	 * waits. A child that ends at any other moment is therefore noticed at the next ppoll(),
	 * not lost in the gap between reaping and waiting, which a plain poll() would leave. */
	struct sigaction sa = { .sa_handler = on_sigchld };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigset_t chld, waiting;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &waiting);
	sigdelset(&waiting, SIGCHLD);

	int rc = 0;   /* 1 if the loop itself failed, rather than being told to stop */
	for (;;) {
		reap(&kids);
		struct pollfd fds[2] = { { srv->listen_fd, POLLIN, 0 }, { srv->stop_fd, POLLIN, 0 } };
		if (ppoll(fds, 2, NULL, &waiting) < 0) {
			if (errno == EINTR)
				continue;
			rc = 1;
			break;
		}
		if (fds[1].revents)
			break;
		if (fds[0].revents & POLLIN)
			accept_one(srv, &kids);
	}
	end_children(&kids);
	return rc;
}

static const struct model fork_model = {
	.name = "fork",
	.idea = "one process per connection, forked after accept()",
	.default_max_conns = 4096,
	.default_workers = 1,
	.max_workers = 1,
	.help_notes = NULL,
	.run = fork_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &fork_model);
}
