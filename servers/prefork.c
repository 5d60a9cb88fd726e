/*
 * prefork.c: a fixed pool of processes, forked before the first connection, each blocking in
 * accept() on the listening socket they share.
 *
 * The idea, Apache's prefork and Stevens' UNP ch. 30: a fork() per connection (fork.c) is
 * costly, so pay for the processes once, at start-up. Each of --workers N processes inherits
 * the listening socket and loops: accept() a connection, serve it with plain blocking calls
 * as fork.c's child does, accept the next. The kernel hands each new connection to one of the
 * processes asleep in accept(). The parent serves nothing: it replaces a process that dies
 * and ends them all at shutdown. Connections are still isolated from each other by the
 * kernel, and a process that crashes costs one connection, then is replaced.
 *
 * The price: at most N connections are served at once, and N is chosen in advance. Connection
 * N+1 is not refused: it waits in the kernel's listen backlog until a process is free, however
 * long that is, and a client that says nothing holds a whole process until the idle time-out
 * frees it. N idle processes cost memory too. (Old kernels woke every process in accept() for
 * each connection, the "thundering herd"; Linux wakes one, though it still wakes every process
 * that waits for the listener in poll() or epoll.)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

/* What the processes share, in memory mapped shared (everything else is each one's own copy):
 * the connections being served, so that an idle process can refuse one past --max-conns. */
struct shared {
	atomic_uint serving;
	atomic_bool busy[];          /* busy[slot]: that process serves one; if it dies, undo it */
};

struct pool {
	struct server *srv;
	pid_t *pids;                 /* pids[slot]; 0 while the slot waits for a replacement */
	unsigned n;                  /* --workers */
	struct shared *shared;
	size_t shared_size;
};

/* Made by prefork_start() before the start-up line, run by prefork_run() after it. */
static struct pool pool;

/* One process's life: accept, serve, again, until the parent ends it with SIGTERM. */
static _Noreturn void work(struct pool *p, unsigned slot)
{
	server_worker_init(p->srv);   /* from here, SIGTERM ends this process wherever it is */
	struct shared *sh = p->shared;
	struct bufpool bufs = BUFPOOL_INIT(SESSION_MAX_BUFFERS);   /* kept for the next connection */
	for (;;) {
		int fd = server_accept(p->srv, false);   /* blocks: the listener is blocking */
		if (fd < 0)
			continue;
		/* With fewer --max-conns than processes, the spare processes turn the rest away. */
		if (atomic_fetch_add(&sh->serving, 1) >= p->srv->opts.max_conns) {
			atomic_fetch_sub(&sh->serving, 1);
			server_refuse(p->srv, fd, "at --max-conns; refusing new connections");
			continue;
		}
		atomic_store(&sh->busy[slot], true);
		serve_blocking(&p->srv->opts, fd, &bufs);
		if (atomic_exchange(&sh->busy[slot], false))   /* as ended() does, if we die here */
			atomic_fetch_sub(&sh->serving, 1);
	}
}

static bool start_worker(struct pool *p, unsigned slot)
{
	pid_t pid = fork();
	if (pid == 0)
		work(p, slot);
	p->pids[slot] = pid > 0 ? pid : 0;
	return pid > 0;
}

/* A process has ended: its slot waits for a replacement. */
static void ended(struct pool *p, pid_t pid)
{
	for (unsigned slot = 0; slot < p->n; slot++) {
		if (p->pids[slot] != pid)
			continue;
		p->pids[slot] = 0;
		/* Killed in the middle of a connection, it never gave the count back. */
		if (atomic_exchange(&p->shared->busy[slot], false))
			atomic_fetch_sub(&p->shared->serving, 1);
	}
}

/* Collects every process that has ended, without waiting for the others. */
static void reap(struct pool *p)
{
	pid_t pid;
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		ended(p, pid);
}

/* Starts a process in every empty slot. False if fork() failed for one (a process limit,
 * memory): the caller tries again later. */
static bool fill(struct pool *p)
{
	for (unsigned slot = 0; slot < p->n; slot++)
		if (p->pids[slot] == 0 && !start_worker(p, slot))
			return false;
	return true;
}

/* Shutdown: ask every process to end, give them half a second, then insist. */
enum { GRACE_STEPS = 50, GRACE_STEP_MS = 10 };

static unsigned alive(const struct pool *p)
{
	unsigned n = 0;
	for (unsigned slot = 0; slot < p->n; slot++)
		n += p->pids[slot] != 0;
	return n;
}

static void end_workers(struct pool *p)
{
	for (unsigned slot = 0; slot < p->n; slot++)
		if (p->pids[slot])
			kill(p->pids[slot], SIGTERM);
	for (int step = 0; alive(p) > 0 && step < GRACE_STEPS; step++) {
		nanosleep(&(struct timespec){ 0, GRACE_STEP_MS * 1000000L }, NULL);
		reap(p);
	}
	for (unsigned slot = 0; slot < p->n; slot++)
		if (p->pids[slot])
			kill(p->pids[slot], SIGKILL);
	pid_t pid;
	while (alive(p) > 0 && (pid = waitpid(-1, NULL, 0)) > 0)
		ended(p, pid);
	free(p->pids);
	munmap(p->shared, p->shared_size);
}

static void on_sigchld(int sig)
{
	(void)sig;   /* only here so that SIGCHLD interrupts ppoll() */
}

static int prefork_start(struct server *srv)
{
	struct pool *p = &pool;
	*p = (struct pool){ .srv = srv, .n = srv->opts.workers };
	/* No more connections can be served at once than there are processes. */
	if (srv->opts.max_conns > p->n)
		srv->opts.max_conns = p->n;
	p->shared_size = sizeof *p->shared + p->n * sizeof p->shared->busy[0];
	p->shared = mmap(NULL, p->shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	                 -1, 0);
	p->pids = calloc(p->n, sizeof *p->pids);
	/* Each process sleeps in accept() until the kernel hands it a connection, so the
	 * listener, non-blocking as server_main() opened it, must block. */
	int flags = fcntl(srv->listen_fd, F_GETFL);
	if (p->shared == MAP_FAILED || !p->pids || flags < 0 ||
	    fcntl(srv->listen_fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		fprintf(stderr, "prefork: cannot set up %u processes: %s\n", p->n, strerror(errno));
		return 1;
	}

	/* SIGCHLD stays blocked except inside ppoll(), as in fork.c: a process that ends at any
	 * moment is noticed at the next ppoll(), never lost between reaping and waiting. */
	struct sigaction sa = { .sa_handler = on_sigchld };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	/* Short of processes (a process limit, memory), it serves with those it has and tries
	 * again for the rest each second; with none, it cannot serve at all. */
	if (!fill(p)) {
		int err = errno;
		if (alive(p) == 0) {
			fprintf(stderr, "prefork: cannot fork a process: %s\n", strerror(err));
			end_workers(p);
			return 1;
		}
		fprintf(stderr, "prefork: forked %u of the %u processes asked for (%s); trying again "
		                "each second\n", alive(p), p->n, strerror(err));
	}
	return 0;
}

static int prefork_run(struct server *srv)
{
	struct pool *p = &pool;
	sigset_t waiting;
	sigprocmask(SIG_BLOCK, NULL, &waiting);
	sigdelset(&waiting, SIGCHLD);
	bool full = alive(p) == p->n;   /* if not, fork the rest in a second */
	for (;;) {
		struct pollfd stop = { srv->stop_fd, POLLIN, 0 };
		struct timespec retry = { 1, 0 };
		int n = ppoll(&stop, 1, full ? NULL : &retry, &waiting);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0)
			break;   /* SIGINT or SIGTERM: checked before replacing anyone */
		reap(p);
		full = fill(p);
	}
	end_workers(p);
	return server_stopping(srv) ? 0 : 1;
}

static const struct model prefork_model = {
	.name = "prefork",
	.idea = "a pool of processes forked at start-up, each blocking in accept()",
	.default_max_conns = 10000,   /* in effect --workers: see prefork_start() */
	.default_workers = 256,
	.max_workers = 10000,
	.help_notes = "--workers is the number of processes, forked at start-up; each serves one\n"
	              "connection at a time. Connections beyond them are not refused: they wait\n"
	              "in the listen backlog until a process is free, and the idle time-out frees\n"
	              "processes held by silent clients. So at most --workers connections are served\n"
	              "at once, whatever --max-conns says; with a lower --max-conns, the spare\n"
	              "processes refuse the rest. A process that dies is replaced.",
	.start = prefork_start,
	.run = prefork_run,
};

int main(int argc, char **argv)
{
	return server_main(argc, argv, &prefork_model);
}
