/*
 * green.c: one green thread per connection, on the M:N runtime in servers/green/.
 *
 * The idea: write the server like the thread-per-connection one, as if it had one client,
 * with reads and writes that block; but the "threads" are green threads, a few KiB each, that
 * the runtime multiplexes onto --workers OS threads. A read that would block parks the green
 * thread and its worker runs another; epoll (the runtime's netpoller) says when the socket is
 * ready and the green thread carries on. So the code below reads like thread.c, and the
 * machine does what epoll.c does. This is how Go serves connections.
 *
 * The runtime does the waiting: /sleep is green_sleep_ms(), which holds no OS thread; /block
 * is a real blocking call, wrapped in green_blocking() so that its worker's other green
 * threads move to another OS thread meanwhile; the idle time-out is a deadline on every wait
 * for the socket (green_fd_timeout). docs/green.md explains the runtime.
 *
 * One exception to "one green thread per connection": a connection that has sent nothing yet,
 * or nothing for a second after a request, has none. The acceptor keeps it in an epoll set of
 * its own and starts its green thread when its next byte comes, so that a silent client costs
 * no stack page (docs/green.md, "Idle memory"; Go keeps a goroutine per connection). It is the
 * one place this file looks like epoll.c.
 *
 * Two switches for the lab, to watch the runtime's monitor (Go's sysmon) at work:
 * --no-handoff serves /block without green_blocking(), so only the monitor can free its
 * worker, as for any call nobody wrapped; --no-monitor runs the runtime without it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "green.h"
#include "server.h"

/* Spare buffers each OS thread's pool keeps for reuse, for the requests its green threads have
 * in flight at once; beyond that, memory a burst needed goes back to malloc. */
enum { THREAD_SPARE_BUFFERS = 128 };

/* Events the acceptor takes from its epoll set per call. */
enum { ACCEPTOR_EVENTS = 64 };

/* A keep-alive connection quiet this long after a request ends its green thread and goes back
 * to waiting in the acceptor's set, like one that has not spoken yet (docs/green.md, "Idle
 * memory"). Long beside a request, so a busy connection never pays for the round trip. */
enum { QUIET_MS = 1000 };

static bool no_handoff, no_monitor;      /* the lab's switches, above */

/* The acceptor's epoll set and eventfd (below), made by green_start() before the start-up
 * line, so that what the server holds once it says it listens includes them. */
static int acceptor_epfd = -1, acceptor_wakefd = -1;

struct green_server {
	struct server *srv;
	struct bufpool *pools;       /* one per OS thread, used by whatever runs on that thread */
	pthread_mutex_t lock;        /* guards conns and open; never held across a call that parks */
	struct conn *conns;          /* so that stopping can reach every connection */
	unsigned open;               /* for --max-conns */
	atomic_bool stopping;
	/* The acceptor's alone: its epoll set (the listener, and the connections waiting for
	 * their first byte), and those connections oldest first, which is also the order of
	 * their idle deadlines. */
	int epfd;
	struct conn *first, *last;
	/* Quiet connections that ended their green thread, for the acceptor to take back (under
	 * lock), and the eventfd in its set that tells it to. */
	struct conn *returned;
	int wakefd;
};

struct conn {
	struct green_server *gs;
	struct green *g;             /* NULL until its first byte comes (written under gs->lock) */
	struct session *s;
	int fd;
	struct conn *prev, *next;    /* in gs->conns */
	struct conn *older, *newer;  /* in the acceptor's list, while it has no green thread */
	uint64_t deadline_ms;        /* there: when the idle time-out closes it, 0: never */
	struct conn *returned_next;  /* in gs->returned */
	bool quiet;                  /* its green thread ends and gives it back to the acceptor */
};

/*
 * The pool of the OS thread running us now, for the session calls that borrow or give back a
 * buffer. A pool has one owner and no lock, and a green thread may resume on another thread
 * after any call that parks: so it is looked up for each such call, never kept. (Per thread,
 * not per worker: the runtime's monitor may hand a worker to another thread at any moment,
 * even in the middle of a session call, but never moves a green thread off its thread.)
 */
static struct bufpool *pool_here(struct conn *c)
{
	return &c->gs->pools[green_thread_id()];
}

/* Waits for the next request, for QUIET_MS at most before the idle time-out's own deadline;
 * then c->quiet says that it gives the connection back to the acceptor. */
static int wait_input(struct conn *c)
{
	unsigned idle_ms = c->gs->srv->opts.idle_timeout_s * 1000u;
	if (idle_ms && idle_ms <= QUIET_MS)
		return green_wait_input(c->fd);
	green_fd_timeout(c->fd, QUIET_MS);
	int rc = green_wait_input(c->fd);
	int err = green_errno();
	green_fd_timeout(c->fd, idle_ms);
	c->quiet = rc < 0 && err == ETIMEDOUT;
	return rc;
}

static bool read_some(struct conn *c)
{
	/* An idle connection waits for input before it borrows a buffer: thousands of idle
	 * connections then hold none. */
	if (session_idle(c->s) && wait_input(c) < 0)
		return false;
	/* A request in progress may wait for its next bytes only until its deadline. */
	unsigned idle_ms = c->gs->srv->opts.idle_timeout_s * 1000u;
	uint64_t now = now_ms(), until = session_deadline(c->s, now);
	if (until && until <= now) {
		session_timed_out(c->s);
		return true;
	}
	if (until && (!idle_ms || until - now < idle_ms))
		green_fd_timeout(c->fd, (unsigned)(until - now));
	size_t room;
	char *buf = session_rbuf(c->s, pool_here(c), &room);
	ssize_t n = green_read(c->fd, buf, room);
	if (until)
		green_fd_timeout(c->fd, idle_ms);
	if (n < 0 && until && now_ms() >= until) {
		session_timed_out(c->s);   /* a 408 to write, then close */
		return true;
	}
	if (n < 0)
		return false;            /* error, idle time-out, or shut down by stopping */
	session_read(c->s, (size_t)n);
	return true;
}

static bool write_some(struct conn *c)
{
	size_t len;
	const char *buf = session_wbuf(c->s, &len);
	ssize_t n = green_write(c->fd, buf, len);
	if (n < 0)
		return false;
	session_wrote(c->s, (size_t)n);
	return true;
}

static void block(void *ms)
{
	block_for_ms(*(unsigned *)ms);
}

/* Forgets an open connection; its fd is the caller's to close. */
static void conn_forget(struct conn *c)
{
	struct green_server *gs = c->gs;
	pthread_mutex_lock(&gs->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		gs->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	gs->open--;
	pthread_mutex_unlock(&gs->lock);
	session_free(c->s, pool_here(c));
	free(c);
}

static void conn_end(struct conn *c)
{
	int fd = c->fd;
	conn_forget(c);
	server_close(fd);
}

/*
 * A connection quiet for QUIET_MS goes back to the acceptor, which re-arms its entry in its set
 * and starts a green thread again on its next byte; this one ends and unmaps its stack, so the
 * connection holds no stack page while it is quiet. A stop closes it instead.
 */
static void give_back(struct conn *c)
{
	struct green_server *gs = c->gs;
	pthread_mutex_lock(&gs->lock);
	bool stopping = atomic_load(&gs->stopping);
	if (!stopping) {
		c->g = NULL;
		c->returned_next = gs->returned;
		gs->returned = c;
	}
	pthread_mutex_unlock(&gs->lock);
	if (stopping) {
		conn_end(c);
		return;
	}
	green_exit_unmapped();
	uint64_t one = 1;
	ssize_t unused = write(gs->wakefd, &one, sizeof one);   /* fails only if it is full */
	(void)unused;
}

/* The connection's green thread: session.h's blocking loop, word for word. */
static void serve(void *arg)
{
	struct conn *c = arg;
	unsigned idle_s = c->gs->srv->opts.idle_timeout_s, ms;
	bool open = true;

	green_set_name("connection");
	c->quiet = false;
	if (idle_s)
		green_fd_timeout(c->fd, idle_s * 1000);
	while (open) {
		switch (session_next(c->s, pool_here(c))) {
		case WANT_READ:
			open = read_some(c);
			break;
		case WANT_WRITE:
			open = write_some(c);
			break;
		case WANT_SLEEP:
			green_sleep_ms(session_wait_ms(c->s));    /* cut short only when stopping */
			session_woke(c->s);
			break;
		case WANT_BLOCK:
			ms = session_wait_ms(c->s);
			if (no_handoff)
				block(&ms);  /* the lab's experiment: the monitor must notice */
			else
				green_blocking(block, &ms);
			session_woke(c->s);
			break;
		case WANT_CLOSE:
			open = false;
			break;
		}
	}

	green_fd_release(c->fd);
	if (c->quiet)
		give_back(c);
	else
		conn_end(c);
}

/* ---- the acceptor's connections without a green thread ---- */

/* Adds c in its deadline's order: nearly always last (a returned one's idle time-out started
 * QUIET_MS before it came back). */
static void waiting_add(struct green_server *gs, struct conn *c, unsigned quiet_ms)
{
	unsigned idle_s = gs->srv->opts.idle_timeout_s;
	c->deadline_ms = idle_s ? now_ms() + idle_s * 1000ull - quiet_ms : 0;
	struct conn *after = gs->last;
	while (after && after->deadline_ms > c->deadline_ms)
		after = after->older;
	c->older = after;
	c->newer = after ? after->newer : gs->first;
	if (c->newer)
		c->newer->older = c;
	else
		gs->last = c;
	if (after)
		after->newer = c;
	else
		gs->first = c;
}

static void waiting_remove(struct green_server *gs, struct conn *c)
{
	if (c->older)
		c->older->newer = c->newer;
	else
		gs->first = c->newer;
	if (c->newer)
		c->newer->older = c->older;
	else
		gs->last = c->older;
}

/* Its first byte came (or an end of file, or an error: serve() finds out which). */
static void start_conn(struct green_server *gs, struct conn *c)
{
	waiting_remove(gs, c);
	pthread_mutex_lock(&gs->lock);
	/* Spawned under the lock, so that a stop cannot miss it. */
	bool started = !atomic_load(&gs->stopping) && (c->g = green_spawn(serve, c));
	pthread_mutex_unlock(&gs->lock);
	if (!started) {
		int fd = c->fd;
		conn_forget(c);
		if (atomic_load(&gs->stopping))
			server_close(fd);
		else
			server_refuse(gs->srv, fd, "no memory for a green thread's stack; refusing "
			              "new connections");
	}
}

/* A hang-up with nothing left to read ends the connection here, without a green thread: when
 * thousands of silent clients leave at once, each would otherwise touch a stack to read its end
 * of file, and the stack cache would keep those pages. */
static void wake_conn(struct green_server *gs, struct conn *c, uint32_t events)
{
	char byte;
	if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
	    recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) {
		waiting_remove(gs, c);
		conn_end(c);
	} else {
		start_conn(gs, c);
	}
}

/* Takes back the connections whose green threads gave them back (give_back), and arms their
 * entries in the set for their next byte. */
static void take_back(struct green_server *gs)
{
	uint64_t count;
	ssize_t unused = read(gs->wakefd, &count, sizeof count);
	(void)unused;
	pthread_mutex_lock(&gs->lock);
	struct conn *c = gs->returned;
	gs->returned = NULL;
	pthread_mutex_unlock(&gs->lock);
	while (c) {
		struct conn *next = c->returned_next;
		waiting_add(gs, c, QUIET_MS);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
		                          .data.ptr = c };
		if (epoll_ctl(gs->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
			start_conn(gs, c);       /* cannot wait here: a green thread waits instead */
		c = next;
	}
}

/*
 * A new connection joins the open ones without a green thread: the acceptor's epoll set
 * reports its first byte, once (EPOLLONESHOT: the fd then stays in the set, disabled, until
 * its close takes it out; no epoll_ctl to remove it).
 */
static void admit(struct green_server *gs, int fd)
{
	const char *refusal = NULL;
	struct conn *c = calloc(1, sizeof *c);
	if (c)
		c->s = session_new(gs->srv->opts.proto);
	if (c && c->s)
		session_set_header_timeout(c->s, gs->srv->opts.header_timeout_s * 1000u);
	pthread_mutex_lock(&gs->lock);
	if (gs->open >= gs->srv->opts.max_conns)
		refusal = "at --max-conns; refusing new connections";
	else if (!c || !c->s)
		refusal = "out of memory; refusing new connections";
	else if (!atomic_load(&gs->stopping)) {
		*c = (struct conn){ .gs = gs, .s = c->s, .fd = fd, .next = gs->conns };
		if (gs->conns)
			gs->conns->prev = c;
		gs->conns = c;
		gs->open++;
		pthread_mutex_unlock(&gs->lock);
		waiting_add(gs, c, 0);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
		                          .data.ptr = c };
		if (epoll_ctl(gs->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			start_conn(gs, c);       /* no room in the set: a green thread waits instead */
		return;
	}
	pthread_mutex_unlock(&gs->lock);
	if (c && c->s)
		session_free(c->s, &gs->pools[green_thread_id()]);
	free(c);
	if (refusal)
		server_refuse(gs->srv, fd, refusal);
	else
		server_close(fd);        /* stopping */
}

/* Closes the connections whose idle time-out passed before their first byte came, and
 * returns how long the acceptor may wait for the next deadline (0: none). */
static unsigned expire_waiting(struct green_server *gs)
{
	uint64_t now = now_ms();
	while (gs->first && gs->first->deadline_ms && gs->first->deadline_ms <= now) {
		struct conn *c = gs->first;
		waiting_remove(gs, c);
		conn_end(c);
	}
	return gs->first && gs->first->deadline_ms ? (unsigned)(gs->first->deadline_ms - now) : 0;
}

/*
 * Waits for SIGINT or SIGTERM, then wakes everything to its end: the listening socket and
 * every connection are shut down, which wakes their green threads with an end of file or an
 * error, and sleeping ones are interrupted. A green thread in a blocking call ends when the
 * call returns. Nobody waits for them: green_run() returns once the last green thread has
 * exited, and that is the server's end.
 */
static void watch_stop(void *arg)
{
	struct green_server *gs = arg;
	struct server *srv = gs->srv;

	green_set_name("stop watcher");
	while (!server_stopping(srv))
		if (green_wait(srv->stop_fd, GREEN_IN) < 0)
			break;
	green_fd_release(srv->stop_fd);
	atomic_store(&gs->stopping, true);
	shutdown(srv->listen_fd, SHUT_RDWR);       /* the acceptor sees a hang-up */
	pthread_mutex_lock(&gs->lock);
	for (struct conn *c = gs->conns; c; c = c->next) {
		shutdown(c->fd, SHUT_RDWR);
		if (c->g)
			green_interrupt(c->g);
	}
	pthread_mutex_unlock(&gs->lock);
}

static void accept_all(struct green_server *gs)
{
	for (;;) {
		int fd = server_accept(gs->srv, true);
		int err = fd < 0 ? green_errno() : 0;   /* not errno: this loop migrates */
		if (fd >= 0)
			admit(gs, fd);
		else if (err == EAGAIN || err == EWOULDBLOCK)
			return;
		else if (err != EINTR && err != ECONNABORTED) {
			green_sleep_ms(10);  /* ENOBUFS and the like: do not spin */
			return;
		}
	}
}

/*
 * The first green thread. It waits on its own epoll set, through the runtime (an epoll fd is
 * pollable like a socket), for the listener and for the first byte of the connections that
 * have none yet; it accepts, and starts a green thread for each connection that spoke.
 */
static void acceptor(void *arg)
{
	struct green_server *gs = arg;
	struct epoll_event ev[ACCEPTOR_EVENTS];

	green_set_name("acceptor");
	struct epoll_event listener = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(gs->epfd, EPOLL_CTL_ADD, gs->srv->listen_fd, &listener) < 0) {
		perror("green: cannot watch the listening socket");
		return;
	}
	struct epoll_event wake = { .events = EPOLLIN, .data.ptr = &gs->wakefd };
	if (epoll_ctl(gs->epfd, EPOLL_CTL_ADD, gs->wakefd, &wake) < 0) {
		perror("green: cannot watch the acceptor's eventfd");
		return;
	}
	if (!green_spawn(watch_stop, gs)) {
		perror("green: cannot start the stop watcher");
		return;
	}
	while (!atomic_load(&gs->stopping)) {
		int n = epoll_wait(gs->epfd, ev, ACCEPTOR_EVENTS, 0);
		for (int i = 0; i < n && !atomic_load(&gs->stopping); i++)
			if (ev[i].data.ptr == &gs->wakefd)
				take_back(gs);
			else if (ev[i].data.ptr)
				wake_conn(gs, ev[i].data.ptr, ev[i].events);
			else
				accept_all(gs);
		if (n <= 0) {
			/* The set reported all it had: wait (edge-triggered in the runtime's epoll, so
			 * only after this empty look), at most until the oldest one's deadline. */
			green_fd_timeout(gs->epfd, expire_waiting(gs));
			green_wait(gs->epfd, GREEN_IN);
		}
	}
	/* stopping: those that never spoke, or went quiet, just close; give_back() now sees
	 * stopping and closes instead */
	pthread_mutex_lock(&gs->lock);
	for (struct conn *c = gs->returned; c; c = c->returned_next)
		waiting_add(gs, c, QUIET_MS);
	gs->returned = NULL;
	pthread_mutex_unlock(&gs->lock);
	while (gs->first) {
		struct conn *c = gs->first;
		waiting_remove(gs, c);
		conn_end(c);
	}
	green_fd_release(gs->epfd);
}

static int green_start(struct server *srv)
{
	(void)srv;
	acceptor_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (acceptor_epfd < 0) {
		perror("green: epoll_create1");
		return 1;
	}
	acceptor_wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (acceptor_wakefd < 0) {
		perror("green: eventfd");
		return 1;
	}
	return 0;
}

static int green_server_run(struct server *srv)
{
	struct green_server gs = { .srv = srv, .lock = PTHREAD_MUTEX_INITIALIZER,
	                           .epfd = acceptor_epfd, .wakefd = acceptor_wakefd };
	struct green_config cfg = { .workers = srv->opts.workers,
	                            .max_threads = GREEN_MAX_THREADS_DEFAULT,
	                            .no_monitor = no_monitor };
	gs.pools = calloc(cfg.max_threads, sizeof *gs.pools);
	if (!gs.pools) {
		close(gs.epfd);
		close(gs.wakefd);
		return 1;
	}
	for (unsigned i = 0; i < cfg.max_threads; i++)
		gs.pools[i] = (struct bufpool)BUFPOOL_INIT(THREAD_SPARE_BUFFERS);
	int rc = green_run(&cfg, acceptor, &gs);
	if (rc < 0)
		perror("green: cannot start the runtime");
	for (unsigned i = 0; i < cfg.max_threads; i++)
		bufpool_drain(&gs.pools[i]);
	free(gs.pools);
	close(gs.epfd);
	close(gs.wakefd);
	return rc < 0 ? 1 : 0;
}

static const struct model green_model = {
	.name = "green",
	.idea = "M:N green threads, one per connection, parked on a netpoller (like Go)",
	.default_max_conns = 10000,
	.default_workers = 0,
	.max_workers = 256,
	.help_notes = "Each green thread has a " XSTR(GREEN_STACK_DEFAULT_KIB) " KiB stack plus a "
	              "guard page; only the pages it touches are resident.\n"
	              "Experiments for the lab (docs/green.md):\n"
	              "  --no-handoff   serve /block without green_blocking(): only the runtime's\n"
	              "                 monitor frees its worker, as for any call nobody wrapped\n"
	              "  --no-monitor   no monitor thread: a blocking call or a long /work holds up\n"
	              "                 its worker's other connections",
	.start = green_start,
	.run = green_server_run,
};

/* The model's own switches, taken out before server_main() parses the common options. */
int main(int argc, char **argv)
{
	int n = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-handoff") == 0)
			no_handoff = true;
		else if (strcmp(argv[i], "--no-monitor") == 0)
			no_monitor = true;
		else
			argv[n++] = argv[i];
	}
	argv[n] = NULL;
	return server_main(n, argv, &green_model);
}
