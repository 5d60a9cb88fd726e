/*
 * calib: the benchmark's calibration target, not a server model.
 *
 * The cheapest HTTP server that still does the work a load generator needs: one thread, one
 * epoll set, and for every request head it reads ("\r\n\r\n" ends one) the same canned
 * response, as long as our models' /plaintext. It parses nothing else, so it costs the
 * server's cores almost nothing, and a run against it measures the load generator's own
 * ceiling on this machine. The runner measures it a few times at the start and at the end of
 * a benchmark: the ceiling sets the efficiency scenario's rates, and the spread of those runs
 * is the machine's noise, the bound a difference between two models must exceed.
 *
 * Only for trusted local clients: requests with a body are not understood.
 *
 *   calib [--port N] [--proto http] [--max-conns N]
 * prints "listening on 127.0.0.1:PORT (calib, http, pid N)" and stops on SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Byte for byte as long as the models' answer to GET /plaintext. */
static const char RESPONSE[] =
	"HTTP/1.1 200 OK\r\nServer: c10k-lab\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
	"Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
#define RESPONSE_LEN (sizeof RESPONSE - 1)
#define BATCH 64                /* responses written by one send() at most */
#define EVENTS 256

static char batch[(BATCH + 1) * RESPONSE_LEN];   /* BATCH + 1 copies: any offset fits */

struct conn {
	struct conn *prev, *next;   /* every open connection, to free them at exit */
	int fd;
	unsigned matched;       /* bytes of "\r\n\r\n" seen at the end of what was read */
	size_t owed;            /* bytes of responses not yet sent */
};

/* Counts the request heads that end in buf, carrying a half-seen "\r\n\r\n" over reads. */
static size_t heads_in(struct conn *c, const char *buf, size_t len)
{
	static const char END[] = "\r\n\r\n";
	size_t heads = 0;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == END[c->matched])
			c->matched++;
		else
			c->matched = buf[i] == '\r';
		if (c->matched == 4) {
			heads++;
			c->matched = 0;
		}
	}
	return heads;
}

/* Sends what is owed. Returns 0, or -1 when the connection is finished. */
static int flush(struct conn *c)
{
	while (c->owed > 0) {
		/* The output is RESPONSE repeated: start where the unsent part of one begins. */
		size_t start = (RESPONSE_LEN - c->owed % RESPONSE_LEN) % RESPONSE_LEN;
		size_t len = c->owed < BATCH * RESPONSE_LEN ? c->owed : BATCH * RESPONSE_LEN;
		ssize_t n = send(c->fd, batch + start, len, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->owed -= (size_t)n;
	}
	return 0;
}

/* Reads what arrived and answers it. Returns 0, or -1 when the connection is finished. */
static int serve(struct conn *c)
{
	char buf[16384];
	ssize_t n = recv(c->fd, buf, sizeof buf, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n > 0)
		c->owed += heads_in(c, buf, (size_t)n) * RESPONSE_LEN;
	return flush(c);
}

/* Level-triggered: a connection waits to write while it owes, and reads only when it owes
 * nothing, so what it owes is bounded by one read's worth of requests. */
static int watch(int ep, int op, struct conn *c)
{
	struct epoll_event ev = { .events = c->owed ? EPOLLOUT : EPOLLIN, .data.ptr = c };
	return epoll_ctl(ep, op, c->fd, &ev);
}

static struct conn conns = { .prev = &conns, .next = &conns };   /* the list's head */

static void drop(struct conn *c, unsigned *open)
{
	close(c->fd);        /* also leaves the epoll set */
	c->prev->next = c->next;
	c->next->prev = c->prev;
	free(c);
	(*open)--;
}

static void accept_all(int ep, int lfd, unsigned *open, unsigned max_conns)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct conn *c = *open < max_conns ? calloc(1, sizeof *c) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		c->fd = fd;
		c->next = conns.next;
		c->prev = &conns;
		conns.next->prev = c;
		conns.next = c;
		(*open)++;
		if (watch(ep, EPOLL_CTL_ADD, c) < 0)
			drop(c, open);
	}
}

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

static int listen_on(unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
	                         .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0) {
		perror("calib: listen");
		exit(1);
	}
	socklen_t len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	printf("listening on 127.0.0.1:%u (calib, http, pid %d)\n", ntohs(a.sin_port),
	       (int)getpid());
	fflush(stdout);
	return fd;
}

static unsigned number(const char *opt, const char *text, unsigned max)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (!*text || *end || errno || v > max || text[0] == '-') {
		fprintf(stderr, "calib: %s: '%s' is not a number up to %u\n", opt, text, max);
		exit(2);
	}
	return (unsigned)v;
}

static void options(int argc, char **argv, unsigned *port, unsigned *max_conns)
{
	for (int i = 1; i < argc; i += 2) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(opt, "--help") || !strcmp(opt, "-h")) {
			printf("usage: calib [--port N] [--proto http] [--max-conns N]\n"
			       "The benchmark's calibration target: a canned response to every "
			       "request head.\n");
			exit(0);
		}
		if (!val || (strcmp(opt, "--port") && strcmp(opt, "--proto") &&
		             strcmp(opt, "--max-conns"))) {
			fprintf(stderr, "calib: bad option '%s' (see --help)\n", opt);
			exit(2);
		}
		if (!strcmp(opt, "--port"))
			*port = number(opt, val, 65535);
		else if (!strcmp(opt, "--max-conns"))
			*max_conns = number(opt, val, 10000000);
		else if (strcmp(val, "http")) {
			fprintf(stderr, "calib: --proto: only http\n");
			exit(2);
		}
	}
}

int main(int argc, char **argv)
{
	unsigned port = 0, max_conns = 10000, open = 0;
	options(argc, argv, &port, &max_conns);
	for (size_t i = 0; i <= BATCH; i++)
		memcpy(batch + i * RESPONSE_LEN, RESPONSE, RESPONSE_LEN);

	/* The stop signals are blocked except inside epoll_pwait(): none can slip in between
	 * the check of `stopping` and the wait. */
	sigset_t stops, during_wait;
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigprocmask(SIG_BLOCK, &stops, &during_wait);
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int lfd = listen_on(port);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
		perror("calib: epoll");
		return 1;
	}
	struct epoll_event evs[EVENTS];
	while (!stopping) {
		int n = epoll_pwait(ep, evs, EVENTS, -1, &during_wait);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (!c) {
				accept_all(ep, lfd, &open, max_conns);
				continue;
			}
			size_t owed = c->owed;
			int rc = owed ? flush(c) : serve(c);
			if (rc < 0)
				drop(c, &open);
			else if (!owed != !c->owed && watch(ep, EPOLL_CTL_MOD, c) < 0)
				drop(c, &open);
		}
	}
	while (conns.next != &conns)
		drop(conns.next, &open);
	close(ep);
	close(lfd);
	return 0;
}
