/*
 * server.h: what every model shares outside the protocol: the command line, the listening
 * socket, signals, the start-up line, and a few socket helpers.
 *
 * A model is a `struct model` and a run() function; its main() is one line:
 *
 *     int main(int argc, char **argv) { return server_main(argc, argv, &epoll_model); }
 *
 * So every model file ends with the same dozen lines, field for field (`duplicates` pairs
 * them): on purpose, each file declares its own model, whole, where a reader finds it.
 *
 * server_main() parses the options (a bad one: a one-line error, the usage, exit 2), opens
 * the listening socket, blocks SIGINT and SIGTERM into stop_fd, prints "listening on ADDR:PORT" and
 * calls run(). run() serves until srv->stop_fd becomes readable (SIGINT or SIGTERM), then
 * releases what it holds and returns; server_main() returns run()'s exit code.
 */
#ifndef C10K_SERVER_H
#define C10K_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "session.h"

#define C10K_VERSION "0.1.0"

/* A macro's value as a string literal, for --help texts: XSTR(FD_SETSIZE) is "1024". */
#define STR(x) #x
#define XSTR(x) STR(x)

struct server_opts {
	const char *host;            /* default 127.0.0.1: never all interfaces unless asked */
	uint16_t port;               /* default 8080; 0 takes a free port */
	enum proto proto;            /* default http */
	unsigned workers;            /* OS threads that run connections (models that have several) */
	unsigned max_conns;          /* past it, new connections are refused cleanly */
	unsigned idle_timeout_s;     /* a silent connection is closed after this; 0: never */
	unsigned header_timeout_s;   /* a request must arrive within this (408); 0: no limit */
};

struct server {
	struct server_opts opts;
	int listen_fd;               /* bound, listening, non-blocking */
	int stop_fd;                 /* becomes readable, and stays so, on SIGINT or SIGTERM */
	const struct model *model;
	int spare_fd;                /* held in reserve, given up to shed a connection at EMFILE */
	const char *last_warning;    /* so that a repeated refusal is said once, not per connection */
};

struct model {
	const char *name;            /* "epoll": the binary's name and the log prefix */
	const char *idea;            /* one line for --help: how this model waits */
	unsigned default_max_conns;
	unsigned default_workers;    /* 0: the number of CPUs available to the process... */
	unsigned workers_per_cpu;    /* ...times this (0 counts as 1) */
	unsigned max_workers;        /* 1 for single-threaded models */
	const char *help_notes;      /* extra --help lines (e.g. the thread stack size), or NULL */
	/* Why this machine cannot run the model (io_uring refused), or NULL; may be NULL itself.
	 * Asked after the options, before listening: the server says "NAME: unavailable: WHY"
	 * and exits 1, which tests and the benchmark report as skipped, not failed. */
	const char *(*unavailable)(void);
	/* Optional, NULL for most: what must exist before the start-up line says the server is
	 * ready (prefork's processes). Non-zero: the server exits with it. */
	int (*start)(struct server *srv);
	/* With --workers N > 1, each worker accepts from a listening socket of its own: the first
	 * is bound with SO_REUSEPORT, and server_listen_again() opens the others. */
	bool listener_per_worker;
	int (*run)(struct server *srv);
};

int server_main(int argc, char **argv, const struct model *m);

/* True once SIGINT or SIGTERM has arrived (a non-blocking look at stop_fd). */
bool server_stopping(const struct server *srv);

/* For a forked child that serves one connection: default signal dispositions, the listening
 * and stop fds closed, and death when the parent dies, so no child outlives the server. */
void server_child_init(struct server *srv);

/* For a forked process that accepts connections itself (prefork): the same, except that it
 * keeps the listening socket and the spare fd that server_accept() needs. */
void server_worker_init(struct server *srv);

/*
 * Accepts one connection from srv->listen_fd: TCP_NODELAY set, non-blocking if asked.
 * Returns the fd, or -1 when there is nothing to accept now (EAGAIN, EINTR, or an aborted
 * connection). Out of file descriptors, it accepts and closes the oldest pending connection,
 * so the listen queue cannot spin the caller, and says so once on stderr.
 */
int server_accept(struct server *srv, bool nonblocking);

/* Another listening socket on srv's address, bound with SO_REUSEPORT beside srv->listen_fd
 * (for a model with listener_per_worker): the kernel spreads new connections over them.
 * Non-blocking. Returns the fd, or -1 with errno. */
int server_listen_again(const struct server *srv);

/* Turns away a connection the model has no room for: a 503 answer for HTTP, then close. */
void server_refuse(struct server *srv, int fd, const char *why);

/* Closes a connection without losing the answer just written: shut down our side first and
 * drain what the peer already sent, so the kernel does not answer it with a reset. */
void server_close(int fd);

/*
 * One read (nb_read) or write (nb_write) on a non-blocking socket, as session_next() asked.
 * Returns false when the connection failed. *ready tells whether the socket may take another
 * try before the kernel reports it ready: false after EAGAIN, or after a short transfer,
 * which means the socket was drained (or its buffer filled).
 */
bool nb_read(struct session *s, struct bufpool *pool, int fd, bool *ready);
bool nb_write(struct session *s, int fd, bool *ready);

/*
 * Serves one connection with plain blocking calls until it ends, then closes it: the whole
 * life of a connection in the models that give each one its own thread of control (fork,
 * thread). Silence longer than --idle-timeout, in either direction, ends it; a request that
 * does not arrive within --header-timeout gets a 408.
 */
void serve_blocking(const struct server_opts *opts, int fd, struct bufpool *pool);

/* A genuinely blocking system call of `ms` milliseconds on the calling thread: /block. Only a
 * shutdown (SIGINT, SIGTERM) cuts it short. */
void block_for_ms(unsigned ms);

/* When a wait for the socket must end, in now_ms() time: the idle time-out and, for input,
 * the deadline of the request in progress (--header-timeout), whichever comes first; 0:
 * never. What an event loop arms as the connection's deadline. */
uint64_t socket_wait_until(const struct server_opts *opts, struct session *s, uint64_t now,
                           bool for_input);

/* Monotonic milliseconds, for deadlines. */
uint64_t now_ms(void);

#endif
