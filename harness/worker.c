/*
 * worker.c: the event loop of one load-generating thread.
 *
 * Each connection is a small state machine, DOWN -> CONNECTING -> OPEN -> DOWN ..., driven by
 * epoll. Requests go out as soon as they may (never waiting for EPOLLOUT unless the socket is
 * full), answers are timed the moment read() returns them, and every way a connection can
 * end is counted: a connect that fails, a reset, a response cut short or malformed, a request
 * that times out. Then the connection is opened again, after a pause if it failed.
 *
 * Closed loop: a connection keeps --pipeline requests in flight; each one's latency starts
 * when it is written. Open loop (--rate): request k of connection g is due at
 *     start + (k * conns + g) / rate,
 * so the whole run's sends are evenly spaced; its latency starts at that due time even when
 * the connection could only send it later, so a stalled server is charged for the wait.
 */
#include "worker.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "http_resp.h"

enum {
	READ_BUF = 65536,
	MAX_EVENTS = 256,
	MAX_IOV = 64,
};
#define RETRY_NS (50 * NS_PER_MS)         /* a failed connection waits this long to retry */
#define SWEEP_NS (100 * NS_PER_MS)        /* how often timeouts and retries are looked at */

enum conn_state { DOWN, CONNECTING, OPEN };

struct conn {
	int fd;
	unsigned char state;
	bool ever_established;
	bool retired;                /* --idle: closed by the server, not reopened */
	bool want_out;               /* EPOLLOUT is registered: a write is waiting for room */
	bool sent_here;              /* --close: this connection has had its one request */
	unsigned gid;                /* place among all connections (open-loop schedule) */
	unsigned in_flight;          /* requests written, or being written, and not answered */
	unsigned oldest;             /* index in start[] of the oldest in flight */
	uint64_t *start;             /* [pipeline]: the latency origin of each request in flight */
	uint64_t out_len, out_done;  /* the batch being written: bytes of back-to-back msg copies */
	uint64_t last_io_ns;         /* last progress, or when the wait for an answer began */
	uint64_t connect_ns;         /* when the current connect began */
	uint64_t retry_ns;           /* DOWN: not before this */
	uint64_t k_next, k_due, k_high;  /* open loop: next to send, due so far, sent so far */
	uint64_t echo_left;          /* echo: bytes still to come back of the oldest message */
	struct http_resp resp;
};

struct worker {
	const struct plan *plan;
	const struct options *opt;
	int epfd;
	unsigned nconns;
	struct conn *conns;
	uint64_t *starts;
	char *rbuf;
	bool open_loop, use_pwait2;
	uint64_t sched_k, sched_due; /* open loop: the next send due, as (round k, connection j) */
	unsigned sched_j;
	uint64_t sweep_ns;
	struct counters count;
	struct hist latency;
};

static void conn_kick(struct worker *w, struct conn *c, uint64_t now);

/* --- time and accounting -------------------------------------------------------------- */

static uint64_t end_of(const struct worker *w)
{
	return atomic_load_explicit(&((struct plan *)w->plan)->end_ns, memory_order_relaxed);
}

static bool measuring(const struct worker *w, uint64_t t)
{
	return t >= w->plan->measure_ns && t < end_of(w);
}

/* Counts an error in the window, or with the warm-up's. */
static void count_error(struct worker *w, uint64_t *counter, uint64_t now)
{
	if (now < w->plan->measure_ns)
		w->count.warmup_errors++;
	else if (now < end_of(w))
		(*counter)++;
}

static uint64_t due_time(const struct worker *w, unsigned gid, uint64_t k)
{
	double offset = ((double)k * w->opt->conns + gid) * w->plan->ns_per_send;
	return w->plan->start_ns + (uint64_t)offset;
}

/* The oldest request in flight is answered at t. */
static void complete(struct worker *w, struct conn *c, uint64_t t, bool status_ok)
{
	uint64_t start = c->start[c->oldest];
	c->oldest = (c->oldest + 1) % w->opt->pipeline;
	c->in_flight--;
	if (t < w->plan->measure_ns) {
		w->count.warmup_requests++;
	} else if (t < end_of(w)) {
		w->count.requests++;
		hist_record(&w->latency, t > start ? t - start : 0);
		if (!status_ok)
			w->count.err_status++;
	}
}

/* --- connections ---------------------------------------------------------------------- */

static int watch(struct worker *w, struct conn *c, int op, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };
	return epoll_ctl(w->epfd, op, c->fd, &ev);
}

static void reset_protocol(struct worker *w, struct conn *c)
{
	c->in_flight = 0;
	c->oldest = 0;
	c->out_len = c->out_done = 0;
	c->want_out = false;
	c->sent_here = false;
	c->echo_left = w->opt->size;
	http_resp_init(&c->resp, strcmp(w->opt->method, "HEAD") == 0);
}

/*
 * Closes the connection, counting why in `error` (NULL: a clean close, such as the server
 * ending a keep-alive connection or --close). Unanswered open-loop requests are sent again on
 * the next connection, still timed from when they were due. Then it reconnects, unless the
 * run is over or --idle (whose connections are opened once).
 */
static void conn_drop(struct worker *w, struct conn *c, uint64_t *error, uint64_t now)
{
	if (error)
		count_error(w, error, now);
	close(c->fd);
	c->fd = -1;
	c->state = DOWN;
	if (w->open_loop)
		c->k_next -= c->in_flight;
	reset_protocol(w, c);
	c->retry_ns = error ? now + RETRY_NS : now;
	if (w->opt->idle && error != &w->count.err_connect)
		c->retired = true;
	conn_kick(w, c, now);
}

static void conn_connect(struct worker *w, struct conn *c, uint64_t now)
{
	int fd = net_connect(&w->plan->addr);
	c->connect_ns = c->last_io_ns = now;
	if (fd < 0) {
		count_error(w, &w->count.err_connect, now);
		c->retry_ns = now + RETRY_NS;
		return;
	}
	c->fd = fd;
	c->state = CONNECTING;
	if (watch(w, c, EPOLL_CTL_ADD, EPOLLIN | EPOLLOUT) < 0)
		conn_drop(w, c, &w->count.err_connect, now);
}

/* Writes what is left of the current batch; registers for EPOLLOUT if the socket is full. */
static void flush(struct worker *w, struct conn *c, uint64_t now)
{
	size_t len = w->plan->msg_len;
	while (c->out_done < c->out_len) {
		struct iovec iov[MAX_IOV];
		uint64_t at = c->out_done;
		int n = 0;
		for (; n < MAX_IOV && at < c->out_len; n++) {
			size_t skip = (size_t)(at % len);
			iov[n].iov_base = (char *)w->plan->msg + skip;
			iov[n].iov_len = len - skip;
			at += len - skip;
		}
		ssize_t wrote = writev(c->fd, iov, n);
		if (wrote > 0) {
			c->out_done += (uint64_t)wrote;
			c->last_io_ns = now;
			if (measuring(w, now))
				w->count.bytes_written += (uint64_t)wrote;
			continue;
		}
		if (wrote < 0 && errno == EINTR)
			continue;
		if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!c->want_out && watch(w, c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT) == 0)
				c->want_out = true;
			return;
		}
		conn_drop(w, c, &w->count.err_write, now);
		return;
	}
	c->out_len = c->out_done = 0;
	if (c->want_out && watch(w, c, EPOLL_CTL_MOD, EPOLLIN) == 0)
		c->want_out = false;
}

/* Sends as many requests as the mode allows now, as one batch. */
static void pump(struct worker *w, struct conn *c, uint64_t now)
{
	const struct options *o = w->opt;
	if (c->state != OPEN || c->out_len || o->idle || now >= end_of(w))
		return;
	uint64_t n = o->pipeline - c->in_flight;
	if (o->close)
		n = c->sent_here ? 0 : 1;
	if (w->open_loop && n > c->k_due - c->k_next)
		n = c->k_due - c->k_next;
	if (n == 0)
		return;
	bool counted = measuring(w, now);
	if (c->in_flight == 0)
		c->last_io_ns = now;                 /* the wait for an answer begins */
	for (uint64_t i = 0; i < n; i++) {
		uint64_t start = now;
		if (w->open_loop) {
			start = due_time(w, c->gid, c->k_next);
			if (counted && c->k_next >= c->k_high) {
				w->count.sends++;
				if (now > start + LATE_NS)
					w->count.late_sends++;
			}
			if (++c->k_next > c->k_high)
				c->k_high = c->k_next;
		} else if (o->close) {
			start = c->connect_ns;           /* a new connection per request: it pays for it */
		}
		c->start[(c->oldest + c->in_flight) % o->pipeline] = start;
		c->in_flight++;
	}
	c->sent_here = true;
	c->out_len = n * w->plan->msg_len;
	c->out_done = 0;
	flush(w, c, now);
}

/* Opens a DOWN connection when it may, or sends on an open one. */
static void conn_kick(struct worker *w, struct conn *c, uint64_t now)
{
	if (c->state == OPEN) {
		pump(w, c, now);
		return;
	}
	if (c->state != DOWN || c->retired || now < c->retry_ns || now >= end_of(w))
		return;
	/* With --close and --rate, a connection is opened for each request when it is due. */
	if (w->open_loop && w->opt->close && c->k_due == c->k_next)
		return;
	conn_connect(w, c, now);
}

static void on_connected(struct worker *w, struct conn *c, uint64_t now)
{
	if (net_connect_error(c->fd) != 0) {
		conn_drop(w, c, &w->count.err_connect, now);
		return;
	}
	c->state = OPEN;
	if (!c->ever_established) {
		c->ever_established = true;
		w->count.established++;
	}
	if (measuring(w, now))
		w->count.connects++;
	reset_protocol(w, c);
	if (watch(w, c, EPOLL_CTL_MOD, EPOLLIN) < 0) {
		conn_drop(w, c, &w->count.err_connect, now);
		return;
	}
	pump(w, c, now);
}

/* --- answers -------------------------------------------------------------------------- */

/* The server ends the connection (it closed, or its last answer said it would). That is an
 * error only if answers are still owed: the requests in flight will never be answered. */
static void conn_ended_by_server(struct worker *w, struct conn *c, uint64_t t)
{
	conn_drop(w, c, c->in_flight ? &w->count.err_read : NULL, t);
}

/* Bytes of HTTP responses; false when the connection was dropped. */
static bool consume_http(struct worker *w, struct conn *c, const char *buf, size_t n, uint64_t t)
{
	size_t off = 0;
	while (off < n) {
		if (c->in_flight == 0) {             /* an answer to nothing */
			conn_drop(w, c, &w->count.err_parse, t);
			return false;
		}
		size_t used;
		enum http_resp_result res = http_resp_feed(&c->resp, buf + off, n - off, &used);
		off += used;
		if (res == HTTP_RESP_MORE)
			return true;
		if (res == HTTP_RESP_ERROR) {
			conn_drop(w, c, &w->count.err_parse, t);
			return false;
		}
		bool keep_alive = c->resp.keep_alive;
		complete(w, c, t, c->resp.status >= 200 && c->resp.status < 300);
		http_resp_init(&c->resp, c->resp.head_request);
		if (!keep_alive || w->opt->close) {
			conn_ended_by_server(w, c, t);
			return false;
		}
	}
	return true;
}

/* Bytes of echoed messages: every --size bytes back is one answer. */
static bool consume_echo(struct worker *w, struct conn *c, size_t n, uint64_t t)
{
	while (n > 0) {
		if (c->in_flight == 0) {             /* more came back than was sent */
			conn_drop(w, c, &w->count.err_parse, t);
			return false;
		}
		size_t take = n < c->echo_left ? n : (size_t)c->echo_left;
		c->echo_left -= take;
		n -= take;
		if (c->echo_left == 0) {
			complete(w, c, t, true);
			c->echo_left = w->opt->size;
			if (w->opt->close) {
				conn_drop(w, c, NULL, t);
				return false;
			}
		}
	}
	return true;
}

/* The server closed its side: the end of an until-close body, a clean close between
 * requests, or answers lost. */
static void on_eof(struct worker *w, struct conn *c, uint64_t t)
{
	if (w->opt->idle) {
		conn_drop(w, c, &w->count.err_read, t);
		return;
	}
	if (c->in_flight && w->opt->proto == LOAD_HTTP && http_resp_eof(&c->resp) == HTTP_RESP_DONE)
		complete(w, c, t, c->resp.status >= 200 && c->resp.status < 300);
	conn_ended_by_server(w, c, t);
}

static void on_readable(struct worker *w, struct conn *c)
{
	for (;;) {
		ssize_t n = read(c->fd, w->rbuf, READ_BUF);
		uint64_t t = now_ns();
		if (n > 0) {
			c->last_io_ns = t;
			if (measuring(w, t))
				w->count.bytes_read += (uint64_t)n;
			if (w->opt->idle)
				continue;                    /* unasked-for bytes: ignored, the close follows */
			bool alive = w->opt->proto == LOAD_HTTP ? consume_http(w, c, w->rbuf, (size_t)n, t)
			                                        : consume_echo(w, c, (size_t)n, t);
			if (!alive)
				return;
			if (n < READ_BUF) {
				pump(w, c, t);
				return;
			}
		} else if (n == 0) {
			on_eof(w, c, t);
			return;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			pump(w, c, t);
			return;
		} else if (errno != EINTR) {
			conn_drop(w, c, &w->count.err_read, t);
			return;
		}
	}
}

static void on_event(struct worker *w, struct conn *c, uint32_t events)
{
	uint64_t now = now_ns();
	if (c->state == CONNECTING) {
		on_connected(w, c, now);
		return;
	}
	if (c->state != OPEN)
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		on_readable(w, c);
	if (c->state == OPEN && (events & EPOLLOUT) && c->out_len) {
		flush(w, c, now);
		pump(w, c, now);
	}
}

/* --- the loop ------------------------------------------------------------------------- */

/* Marks every open-loop send that has come due, in schedule order, and sends them. */
static void advance_schedule(struct worker *w, uint64_t now)
{
	while (w->sched_due <= now) {
		struct conn *c = &w->conns[w->sched_j];
		c->k_due = w->sched_k + 1;
		conn_kick(w, c, now);
		if (c->k_next < c->k_due && c->k_high < c->k_due && measuring(w, now))
			w->count.waited_sends++;     /* the connection could not take it when due */
		if (++w->sched_j == w->nconns) {
			w->sched_j = 0;
			w->sched_k++;
		}
		w->sched_due = due_time(w, w->conns[w->sched_j].gid, w->sched_k);
	}
}

/* Timeouts, connects that hang, and connections waiting to retry. */
static void sweep(struct worker *w, uint64_t now)
{
	uint64_t timeout = (uint64_t)(w->opt->timeout * 1e9);
	for (unsigned i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		if (c->state == CONNECTING && now - c->connect_ns > timeout)
			conn_drop(w, c, &w->count.err_connect, now);
		else if (c->state == OPEN && c->in_flight && now - c->last_io_ns > timeout)
			conn_drop(w, c, &w->count.err_timeout, now);
		else if (c->state == DOWN)
			conn_kick(w, c, now);
	}
}

/* epoll_pwait2 sleeps to the nanosecond (the open-loop schedule needs better than epoll_wait's
 * milliseconds); kernels before 5.11 get epoll_wait, rounded up. */
static int wait_events(struct worker *w, struct epoll_event *ev, uint64_t wait_ns)
{
	if (w->use_pwait2) {
		struct timespec ts = { (time_t)(wait_ns / NS_PER_S), (long)(wait_ns % NS_PER_S) };
		int n = epoll_pwait2(w->epfd, ev, MAX_EVENTS, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		w->use_pwait2 = false;
	}
	uint64_t ms = (wait_ns + NS_PER_MS - 1) / NS_PER_MS;
	return epoll_wait(w->epfd, ev, MAX_EVENTS, ms > INT_MAX ? INT_MAX : (int)ms);
}

/*
 * Connects the kernel completed that the loop never looked at: the first burst of connects
 * is made before the loop begins, and thousands of them on a busy machine can outlast a short
 * run, which then ended before its first epoll_wait(). They were established (the server
 * holds them), so they count as such; one poll() each, once.
 */
static void collect_connected(struct worker *w)
{
	for (unsigned i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		struct pollfd p = { .fd = c->fd, .events = POLLOUT };
		if (c->state == CONNECTING && poll(&p, 1, 0) == 1)
			on_connected(w, c, now_ns());
	}
}

void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[MAX_EVENTS];
	uint64_t now = now_ns();
	uint64_t sweep_every = (uint64_t)(w->opt->timeout * 1e9) / 4;
	if (sweep_every > SWEEP_NS)
		sweep_every = SWEEP_NS;
	if (sweep_every < NS_PER_MS)
		sweep_every = NS_PER_MS;

	if (w->open_loop)
		w->sched_due = due_time(w, w->conns[0].gid, 0);
	/* Every connection is opened now, even by a thread that started after a very short run
	 * had ended: the run asked for c connections, and counts those it got. (With --close and
	 * --rate, a connection opens when its first request is due.) */
	for (unsigned i = 0; i < w->nconns && !(w->open_loop && w->opt->close); i++)
		conn_connect(w, &w->conns[i], now);
	w->sweep_ns = now + sweep_every;

	for (;;) {
		now = now_ns();
		uint64_t end = end_of(w);
		if (now >= end)
			break;
		if (w->open_loop)
			advance_schedule(w, now);
		if (now >= w->sweep_ns) {
			sweep(w, now);
			w->sweep_ns = now + sweep_every;
		}
		uint64_t wake = end < w->sweep_ns ? end : w->sweep_ns;
		if (w->open_loop && w->sched_due < wake)
			wake = w->sched_due;
		int n = wait_events(w, ev, wake > now ? wake - now : 0);
		for (int i = 0; i < n; i++)
			on_event(w, ev[i].data.ptr, ev[i].events);
	}

	collect_connected(w);
	for (unsigned i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];
		if (c->state == OPEN)
			w->count.open_at_end++;
		if (c->state != DOWN)
			close(c->fd);
		c->state = DOWN;
	}
	return NULL;
}

/* --- setup ---------------------------------------------------------------------------- */

struct worker *worker_new(const struct plan *plan, unsigned index)
{
	const struct options *o = plan->opt;
	struct worker *w = calloc(1, sizeof *w);
	if (!w)
		return NULL;
	w->plan = plan;
	w->opt = o;
	w->open_loop = o->rate > 0;
	w->use_pwait2 = true;
	w->nconns = (o->conns - index + o->threads - 1) / o->threads;
	w->conns = calloc(w->nconns, sizeof *w->conns);
	w->starts = calloc((size_t)w->nconns * o->pipeline, sizeof *w->starts);
	w->rbuf = malloc(READ_BUF);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!w->conns || !w->starts || !w->rbuf || w->epfd < 0) {
		worker_free(w);
		return NULL;
	}
	hist_init(&w->latency);
	for (unsigned j = 0; j < w->nconns; j++) {
		struct conn *c = &w->conns[j];
		c->fd = -1;
		c->gid = index + j * o->threads;
		c->start = &w->starts[(size_t)j * o->pipeline];
		reset_protocol(w, c);
	}
	return w;
}

const struct counters *worker_counters(const struct worker *w)
{
	return &w->count;
}

const struct hist *worker_latency(const struct worker *w)
{
	return &w->latency;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	if (w->epfd >= 0)
		close(w->epfd);
	free(w->conns);
	free(w->starts);
	free(w->rbuf);
	free(w);
}
