/*
 * server.c: everything a model shares that is not the protocol: the command line, the
 * listening socket, signals and the start-up line, and a few socket helpers.
 */
#include "server.h"

#include "cpus.h"
#include "response.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- Signals ----
 * SIGINT and SIGTERM are blocked in every thread from start-up on (threads inherit the mask)
 * and read through a signalfd, srv->stop_fd. Nobody reads it, so a stop signal stays
 * pending and the fd stays readable: every loop, blocked in poll, select, epoll_wait or
 * io_uring on any thread, sees the stop without a race between checking a flag and going
 * to sleep, and no handler runs at an arbitrary moment.
 * Why not a handler that writes into a pipe: ThreadSanitizer runs a handler only at its next
 * intercepted call, and about one start in 30 a SIGTERM that came just before the first
 * poll() never reached the handler at all; the server then never stopped. */

static int stop_fd = -1;
static pid_t server_pid;     /* the parent, for a child to notice it is already gone */

static int install_signals(void)
{
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop_signals, NULL);
	signal(SIGPIPE, SIG_IGN);   /* a peer that went away is an EPIPE, not a death */
	stop_fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
	return stop_fd;
}

bool server_stopping(const struct server *srv)
{
	struct pollfd p = { .fd = srv->stop_fd, .events = POLLIN };
	return poll(&p, 1, 0) == 1;
}

void block_for_ms(unsigned ms)
{
	/* poll() with nothing to wake it blocks this thread in the kernel, as a slow disk read or
	 * a DNS lookup would. It watches the stop fd only so that a shutdown is not held up:
	 * the server must end within a second of SIGTERM even in the middle of a /block. */
	struct pollfd stop = { .fd = stop_fd, .events = POLLIN };
	uint64_t until = now_ms() + ms;
	for (uint64_t now = now_ms(); now < until; now = now_ms())
		if (poll(&stop, 1, (int)(until - now)) > 0)
			return;
}

/* A forked child's set-up; `accepts`: it takes connections from the listener itself. */
static void child_init(struct server *srv, bool accepts)
{
	/* The child inherits the parent's signal mask (the stop signals, and whatever the model
	 * blocks, like SIGCHLD). It takes every signal again, with the default dispositions (a
	 * background job may have started with SIGINT ignored): SIGTERM ends it. The parent's
	 * stop fd would show only the child's own signals, so it goes. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	close(stop_fd);
	stop_fd = -1;   /* poll() in block_for_ms() skips a negative fd */
	if (!accepts) {
		close(srv->listen_fd);
		if (srv->spare_fd >= 0)
			close(srv->spare_fd);
	}
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != server_pid)   /* the parent died before prctl() took effect */
		_exit(0);
}

void server_child_init(struct server *srv)
{
	child_init(srv, false);
}

void server_worker_init(struct server *srv)
{
	child_init(srv, true);
}

/* ---- The command line ---- */

static void print_usage(FILE *f, const char *name)
{
	fprintf(f,
	        "usage: %s [--host ADDR] [--port N] [--proto http|echo] [--workers N]\n"
	        "       %*s [--max-conns N] [--idle-timeout SEC] [--header-timeout SEC]\n"
	        "       %*s [--help] [--version]\n",
	        name, (int)strlen(name), "", (int)strlen(name), "");
}

static unsigned default_workers(const struct model *m)
{
	unsigned per_cpu = m->workers_per_cpu ? m->workers_per_cpu : 1;
	unsigned n = m->default_workers ? m->default_workers : cpus_available() * per_cpu;
	return n > m->max_workers ? m->max_workers : n;
}

static void print_help(const struct model *m)
{
	print_usage(stdout, m->name);
	printf("\n%s: %s\n\n", m->name, m->idea);
	printf("  --host ADDR         address to listen on (default 127.0.0.1)\n"
	       "  --port N            TCP port; 0 takes a free one (default 8080)\n"
	       "  --proto http|echo   protocol (default http)\n"
	       "  --workers N         OS threads serving connections (default %u, at most %u)\n"
	       "  --max-conns N       connections served at once; more are refused (default %u)\n"
	       "  --idle-timeout SEC  close a connection silent this long; 0: never (default 60)\n"
	       "  --header-timeout SEC  408 to a request slower than SEC (default 10; 0: never):\n"
	       "                      its head counted from its first byte, its body per 16 KiB\n"
	       "  --help, --version\n\n",
	       default_workers(m), m->max_workers, m->default_max_conns);
	if (m->help_notes)
		printf("%s\n\n", m->help_notes);
	printf("When ready it prints \"listening on ADDR:PORT\"; SIGINT or SIGTERM stops it.\n"
	       "HTTP routes: GET / /plaintext /json /bytes?n= /work?us= /sleep?ms= /block?ms=, "
	       "POST /echo.\n");
}

/* A bad command line: one line naming the problem, the usage, exit code 2. */
__attribute__((format(printf, 2, 3)))
static _Noreturn void usage_error(const struct model *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", m->name);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	print_usage(stderr, m->name);
	exit(2);
}

static unsigned parse_uint(const struct model *m, const char *opt, const char *arg,
                           unsigned lo, unsigned hi)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	/* Digits only: strtoul() alone would also take leading blanks and a sign. */
	if (arg[0] < '0' || arg[0] > '9' || *end || errno || v < lo || v > hi)
		usage_error(m, "%s: '%s' is not a whole number from %u to %u", opt, arg, lo, hi);
	return (unsigned)v;
}

static void parse_options(int argc, char **argv, const struct model *m, struct server_opts *o)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "proto", required_argument, NULL, 'P' },
		{ "workers", required_argument, NULL, 'w' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "header-timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'H' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	*o = (struct server_opts){
		.host = "127.0.0.1", .port = 8080, .proto = PROTO_HTTP,
		.workers = default_workers(m), .max_conns = m->default_max_conns,
		.idle_timeout_s = 60, .header_timeout_s = 10,
	};
	opterr = 0;   /* our own one-line errors, not getopt's */
	int c;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': o->host = optarg; break;
		case 'p': o->port = (uint16_t)parse_uint(m, "--port", optarg, 0, 65535); break;
		case 'P':
			if (strcmp(optarg, "http") == 0)
				o->proto = PROTO_HTTP;
			else if (strcmp(optarg, "echo") == 0)
				o->proto = PROTO_ECHO;
			else
				usage_error(m, "--proto: '%s' is not http or echo", optarg);
			break;
		case 'w': o->workers = parse_uint(m, "--workers", optarg, 1, m->max_workers); break;
		case 'm': o->max_conns = parse_uint(m, "--max-conns", optarg, 1, 10000000); break;
		case 'i': o->idle_timeout_s = parse_uint(m, "--idle-timeout", optarg, 0, 86400); break;
		case 'T':
			o->header_timeout_s = parse_uint(m, "--header-timeout", optarg, 0, 86400);
			break;
		case 'H': print_help(m); exit(0);
		case 'V': printf("%s (c10k-lab) %s\n", m->name, C10K_VERSION); exit(0);
		case ':': usage_error(m, "%s needs a value", argv[optind - 1]);
		default:
			/* optopt names an unknown short option; a long one is the word just read. */
			if (optopt)
				usage_error(m, "unknown option '-%c'", optopt);
			usage_error(m, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		usage_error(m, "unexpected argument '%s'", argv[optind]);
}

/* ---- The listening socket ---- */

static int open_listener(const struct server_opts *o, const struct model *m, char *name,
                         size_t name_cap)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai;
	char port[8];
	snprintf(port, sizeof port, "%u", o->port);
	int err = getaddrinfo(o->host, port, &hints, &ai);
	if (err)
		usage_error(m, "--host: '%s' is not an address: %s", o->host, gai_strerror(err));
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	/* Only where workers share the port: elsewhere a second server on a port in use must fail
	 * (EADDRINUSE), not silently share the connections. */
	bool reuseport = m->listener_per_worker && o->workers > 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 65535) != 0) {
		fprintf(stderr, "%s: cannot listen on %s port %u: %s\n", m->name, o->host, o->port,
		        strerror(errno));
		freeaddrinfo(ai);
		exit(1);
	}
	freeaddrinfo(ai);

	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	getsockname(fd, (struct sockaddr *)&ss, &len);
	getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, serv, sizeof serv,
	            NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(name, name_cap, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
	return fd;
}

int server_listen_again(const struct server *srv)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(srv->listen_fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 65535) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Many connections want many descriptors: take all the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int server_main(int argc, char **argv, const struct model *m)
{
	struct server srv = { .model = m, .spare_fd = -1 };
	parse_options(argc, argv, m, &srv.opts);
	const char *why = m->unavailable ? m->unavailable() : NULL;
	if (why) {
		fprintf(stderr, "%s: unavailable: %s\n", m->name, why);
		return 1;
	}
	raise_fd_limit();
	server_pid = getpid();
	srv.stop_fd = install_signals();
	if (srv.stop_fd < 0) {
		fprintf(stderr, "%s: cannot watch SIGINT and SIGTERM: signalfd: %s\n", m->name,
		        strerror(errno));
		return 1;
	}
	char name[NI_MAXHOST + NI_MAXSERV + 4];
	srv.listen_fd = open_listener(&srv.opts, m, name, sizeof name);
	srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (m->start) {
		int rc = m->start(&srv);
		if (rc != 0)
			return rc;
	}
	printf("listening on %s (%s, %s, pid %d)\n", name, m->name,
	       srv.opts.proto == PROTO_HTTP ? "http" : "echo", (int)getpid());
	fflush(stdout);

	int rc = m->run(&srv);
	close(srv.listen_fd);
	if (srv.spare_fd >= 0)
		close(srv.spare_fd);
	return rc;
}

/* ---- Connections ---- */

static void warn_once(struct server *srv, const char *what)
{
	if (srv->last_warning == what)
		return;
	srv->last_warning = what;
	fprintf(stderr, "%s: %s\n", srv->model->name, what);
}

int server_accept(struct server *srv, bool nonblocking)
{
	int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
	if (fd < 0) {
		if ((errno == EMFILE || errno == ENFILE) && srv->spare_fd >= 0) {
			/* Out of descriptors, the pending connection would stay ready forever and the
			 * loop would spin on it: give up the spare, shed the connection, take it back. */
			close(srv->spare_fd);
			int shed = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (shed >= 0)
				close(shed);
			srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			warn_once(srv, "out of file descriptors; refusing connections (raise ulimit -n)");
			errno = EAGAIN;
		}
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

void server_refuse(struct server *srv, int fd, const char *why)
{
	warn_once(srv, why);
	if (srv->opts.proto == PROTO_HTTP) {
		char head[512], body[128];
		struct response r;
		response_attach(&r, head, sizeof head);
		size_t len = response_error_body(body, sizeof body, 503, "the server is full");
		response_head(&r, 503, "text/plain", len, "close", NULL);
		response_put(&r, body, len);
		ssize_t ignored = send(fd, response_data(&r), response_pending(&r),
		                       MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)ignored;
	}
	server_close(fd);
}

void server_close(int fd)
{
	char drain[4096];
	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 16 && recv(fd, drain, sizeof drain, MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
