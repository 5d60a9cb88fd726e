/*
 * session.c: a connection's protocol, driven by the model through session_next().
 *
 * The session holds two buffers, borrowed from the model's pool only while there is something
 * in them: `in`, bytes read but not yet consumed, and `out`, bytes produced but not yet sent.
 * It keeps no pointer to the pool: the calls that may borrow or give back a buffer
 * (session_next, session_rbuf, session_free) are handed the pool of the thread making them.
 * A request is parsed in place in `in` (never copied); a response is written straight into
 * `out`. Every way a client could make the server hold more (a huge body, a response it does
 * not read, a stream of pipelined requests) is turned into waiting instead: output is produced
 * only while `out` has room, and input is read only when no output is pending.
 *
 * A request's body is read whole (and dropped) before the request is answered, so that a
 * malformed or oversized chunked body still gets its 400 or 413. /echo is the exception: its
 * answer is the body, streamed back as it comes.
 */
#include "session.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"
#include "http_parser.h"
#include "response.h"
#include "routes.h"

enum phase {
	PH_HEAD,          /* between requests, or reading a request head */
	PH_BODY,          /* consuming a request body: echoing it, or discarding it */
	PH_BYTES,         /* producing a /bytes body as `out` drains */
	PH_WAIT,          /* the model is sleeping or blocking for us */
	PH_WOKEN,         /* the wait is over: answer it */
	PH_LATE,          /* the request did not come within --header-timeout: answer 408 */
	PH_CLOSING,       /* sending what is left, then closing */
	PH_ECHO,          /* --proto echo: every byte back */
};

enum body_framing { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };

struct session {
	enum proto proto;
	enum phase phase;
	char *in;                       /* unconsumed input is in[in_head, in_tail) */
	size_t in_head, in_tail;
	struct response out;            /* unsent output */
	struct http_scan scanned;       /* http_head_scan() progress on the head at in_head */
	bool peer_closed;               /* the client will send no more */

	/* The request being answered. */
	bool keep_alive;                /* the connection goes on after this response */
	bool http10;                    /* an HTTP/1.0 client keeps the connection only if told so */
	bool head_only;                 /* HEAD: headers without the body */
	enum body_framing framing;
	struct route_call call;         /* what the request asked for */
	bool answered;                  /* its answer has begun (the head is queued) */
	bool echo_body;                 /* the body goes back out; otherwise it is discarded */
	uint64_t body_left;             /* BODY_LENGTH: bytes still to come */
	struct chunked chunks;          /* BODY_CHUNKED: the decoder */
	uint64_t bytes_left, bytes_sent;        /* /bytes: body still to produce */
	enum session_want wait_kind;    /* PH_WAIT: WANT_SLEEP or WANT_BLOCK */
	unsigned wait_ms;

	/* --header-timeout: the request in progress must come within it (see session_deadline). */
	unsigned request_timeout_ms;    /* 0: no limit */
	bool clock_running;             /* the model has waited for this part of the request */
	uint64_t clock_from;            /* since when, in the model's clock */
	size_t body_progress;           /* body bytes taken since the clock started */
};

/* The one body limit, for echo and discard alike (413 above it). */
static const uint64_t MAX_BODY = 16u << 20;
/* A body keeps its clock running until this much more of it has come: a client that trickles
 * a body must bring 16 KiB of it per --header-timeout. */
enum { BODY_PROGRESS = 16 * 1024 };
/* Before dispatching a request, `out` must have room for any head and short body. */
enum { RESPONSE_ROOM = 1024 };

struct session *session_new(enum proto proto)
{
	struct session *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->proto = proto;
	s->phase = proto == PROTO_ECHO ? PH_ECHO : PH_HEAD;
	return s;
}

static void release_input(struct session *s, struct bufpool *pool)
{
	if (s->in) {
		bufpool_put(pool, s->in);
		s->in = NULL;
		s->in_head = s->in_tail = 0;
	}
}

static void release_buffers(struct session *s, struct bufpool *pool)
{
	release_input(s, pool);
	if (s->out.buf) {
		bufpool_put(pool, s->out.buf);
		response_detach(&s->out);
	}
}

void session_free(struct session *s, struct bufpool *pool)
{
	if (!s)
		return;
	release_buffers(s, pool);
	free(s);
}

static size_t in_len(const struct session *s)
{
	return s->in_tail - s->in_head;
}

/* An emptied input buffer goes back to the pool at the next session_next(). */
static void consume(struct session *s, size_t n)
{
	s->in_head += n;
}

bool session_idle(const struct session *s)
{
	return (s->phase == PH_HEAD || s->phase == PH_ECHO) && in_len(s) == 0 &&
	       response_pending(&s->out) == 0;
}

/* Borrows `out` from the pool when a response is about to be written. */
static bool have_out(struct session *s, struct bufpool *pool)
{
	if (s->out.buf)
		return true;
	char *buf = bufpool_get(pool);
	if (!buf)
		return false;
	response_attach(&s->out, buf, BUFPOOL_BUF_SIZE);
	return true;
}

/* ---- Answering a request ---- */

/* The Connection header the answer needs: HTTP/1.1 keeps connections unless told otherwise,
 * HTTP/1.0 closes them unless told otherwise. */
static const char *connection_header(const struct session *s)
{
	if (!s->keep_alive)
		return "close";
	return s->http10 ? "keep-alive" : NULL;
}

/* Every answer's head goes through here, so the session knows the answer has begun. */
static void put_head(struct session *s, int status, const char *type, uint64_t content_length,
                     const char *allow)
{
	response_head(&s->out, status, type, content_length, connection_header(s), allow);
	s->answered = true;
}

/* After the answer is queued: a body the answer did not read is discarded, unless the
 * connection is closing anyway. */
static void finish_response(struct session *s)
{
	if (!s->keep_alive)
		s->phase = PH_CLOSING;
	else if (s->framing != BODY_NONE)
		s->phase = PH_BODY;
	else
		s->phase = PH_HEAD;
}

/* A whole answer with a short body; `allow` is the Allow header of a 405, or NULL. */
static void answer_allowing(struct session *s, int status, const char *type, const char *body,
                            size_t len, const char *allow)
{
	put_head(s, status, type, len, allow);
	if (!s->head_only)
		response_put(&s->out, body, len);
	finish_response(s);
}

static void answer(struct session *s, int status, const char *type, const char *body, size_t len)
{
	answer_allowing(s, status, type, body, len, NULL);
}

/* An error after a well-framed request (404, 405, a bad parameter): the connection goes on,
 * and the request's body, if any, is discarded. */
static void answer_error(struct session *s, int status, const char *why, const char *allow)
{
	char body[256];
	size_t len = response_error_body(body, sizeof body, status, why);
	answer_allowing(s, status, "text/plain", body, len, allow);
}

/* An error that leaves the stream unframed (a malformed or oversized request): nothing after
 * it can be trusted to be a request, so the connection closes after the answer. */
static void answer_and_close(struct session *s, int status)
{
	s->keep_alive = false;
	s->framing = BODY_NONE;
	answer_error(s, status, NULL, NULL);
}

static void answer_waited(struct session *s)
{
	char body[64];
	size_t len = routes_result_body(body, sizeof body, s->call.route, s->wait_ms);
	answer(s, 200, "text/plain", body, len);
}

/* Sets up the request's body: its framing, and whether it fits under the limit. */
static bool accept_body(struct session *s, const struct http_request *req)
{
	s->framing = BODY_NONE;
	if (req->chunked) {
		s->framing = BODY_CHUNKED;
		chunked_init(&s->chunks);
	} else if (req->has_content_length && req->content_length > 0) {
		if (req->content_length > MAX_BODY)
			return false;
		s->framing = BODY_LENGTH;
		s->body_left = req->content_length;
	}
	return true;
}

/* /echo: the body streams back as it comes. A Content-Length body is answered with the same
 * Content-Length at once; a chunked one is answered chunked, but only once its first chunk
 * has proved well formed (see step_body_chunked), so that garbage still gets its 400. */
static void start_echo(struct session *s, uint64_t content_length)
{
	s->echo_body = true;
	if (s->framing != BODY_CHUNKED)
		put_head(s, 200, "application/octet-stream", content_length, NULL);
	if (s->framing == BODY_NONE)
		finish_response(s);
	else
		s->phase = PH_BODY;
}

/* Answers a request whose body, if it had one, has been read whole. */
static void perform(struct session *s)
{
	const struct route_call *call = &s->call;
	switch (call->route) {
	case ROUTE_PLAINTEXT:
		answer(s, 200, "text/plain", "Hello, World!", 13);
		break;
	case ROUTE_JSON: {
		char body[64];
		size_t len = routes_json_body(body, sizeof body);
		answer(s, 200, "application/json", body, len);
		break;
	}
	case ROUTE_BYTES:
		put_head(s, 200, "application/octet-stream", call->n, NULL);
		s->bytes_left = s->head_only ? 0 : call->n;
		s->bytes_sent = 0;
		if (s->bytes_left)
			s->phase = PH_BYTES;
		else
			finish_response(s);
		break;
	case ROUTE_WORK: {
		routes_burn_cpu_us((unsigned)call->n);
		char body[64];
		size_t len = routes_result_body(body, sizeof body, ROUTE_WORK, call->n);
		answer(s, 200, "text/plain", body, len);
		break;
	}
	case ROUTE_SLEEP:
	case ROUTE_BLOCK:
		s->wait_kind = call->route == ROUTE_SLEEP ? WANT_SLEEP : WANT_BLOCK;
		s->wait_ms = (unsigned)call->n;
		s->phase = PH_WAIT;
		break;
	case ROUTE_ECHO:
		break;   /* streamed by start_echo() */
	}
}

static void dispatch(struct session *s, const struct http_request *req)
{
	s->keep_alive = req->keep_alive;
	s->http10 = req->minor_version == 0;
	s->head_only = req->method_id == HTTP_HEAD;
	s->echo_body = false;
	s->answered = false;
	if (!accept_body(s, req)) {
		answer_and_close(s, 413);
		return;
	}
	int status = routes_find(req, &s->call);
	if (status) {
		/* A client that waits for "100 Continue" and gets an answer without it may never
		 * send the body we would have to discard: close after answering it. */
		if (req->expect_continue && s->framing != BODY_NONE)
			s->keep_alive = false;
		answer_error(s, status, s->call.why, s->call.allow);
		return;
	}
	/* The body will be read (to echo it, or to drop it before answering): a client waiting
	 * for permission to send it gets it now. */
	if (req->expect_continue && s->framing != BODY_NONE)
		response_continue(&s->out);
	if (s->call.route == ROUTE_ECHO)
		start_echo(s, req->content_length);
	else if (s->framing != BODY_NONE)
		s->phase = PH_BODY;   /* read the whole request first; the answer comes at its end */
	else
		perform(s);
}

/* ---- The phases ---- */

static void restart_clock(struct session *s)
{
	s->clock_running = false;
	s->body_progress = 0;
}

/* Body bytes taken: enough of them earn the body a fresh --header-timeout. */
static void body_came(struct session *s, size_t n)
{
	s->body_progress += n;
	if (s->body_progress >= BODY_PROGRESS)
		restart_clock(s);
}

/* What to do when the current phase needs input that is not there. */
static enum session_want need_input(struct session *s, struct bufpool *pool)
{
	if (response_pending(&s->out))
		return WANT_WRITE;   /* answer what we have before reading more: back-pressure */
	if (s->peer_closed)
		return WANT_CLOSE;
	/* Between requests, the connection lends its buffers back. Not in the middle of a body:
	 * the answer being streamed keeps its output buffer until it is done. */
	if (session_idle(s))
		release_buffers(s, pool);
	return WANT_READ;
}

/* Returns the want to hand to the model, or -1 to go on with the next phase. */
static int step_head(struct session *s, struct bufpool *pool)
{
	if (in_len(s) == 0)
		return need_input(s, pool);
	long head = http_head_scan(s->in + s->in_head, in_len(s), &s->scanned);
	if (head == 0)
		return need_input(s, pool);
	if (response_room(&s->out) < RESPONSE_ROOM && response_pending(&s->out))
		return WANT_WRITE;
	if (!have_out(s, pool))
		return WANT_CLOSE;
	if (head < 0) {
		s->head_only = false;
		answer_and_close(s, (int)-head);
		return -1;
	}
	struct http_request req;
	int status = http_parse_head(s->in + s->in_head, (size_t)head, &req);
	if (status) {
		s->head_only = false;
		answer_and_close(s, status);
	} else {
		dispatch(s, &req);
	}
	/* The request points into `in`; it is consumed only now that it has been answered. */
	consume(s, (size_t)head);
	s->scanned = (struct http_scan){ 0 };
	restart_clock(s);   /* the head came in time; a body, or the next head, gets its own */
	return -1;
}

/* The body ended, whole (status 0) or refused (400 malformed, 413 too large). A request not
 * yet answered is answered now; one whose answer has begun can only be cut short, and
 * stopping before the answer's end is what tells the client. */
static void end_body(struct session *s, int status)
{
	s->framing = BODY_NONE;
	restart_clock(s);
	if (status && !s->answered)
		answer_and_close(s, status);
	else if (status)
		s->phase = PH_CLOSING;
	else if (!s->answered)
		perform(s);
	else
		finish_response(s);
}

static int step_body_length(struct session *s)
{
	uint64_t n = in_len(s);
	if (n > s->body_left)
		n = s->body_left;
	if (s->echo_body) {
		size_t room = response_room(&s->out);
		if (n > room)
			n = room;
		if (n == 0)
			return WANT_WRITE;
		response_put(&s->out, s->in + s->in_head, (size_t)n);
	}
	consume(s, (size_t)n);
	body_came(s, (size_t)n);
	s->body_left -= n;
	if (s->body_left == 0)
		end_body(s, 0);
	return -1;
}

static int step_body_chunked(struct session *s)
{
	size_t max_data = SIZE_MAX;
	if (s->echo_body) {
		size_t room = response_room(&s->out);
		size_t framing = RESPONSE_CHUNK_OVERHEAD + (s->answered ? 0 : RESPONSE_HEAD_MAX);
		if (room <= framing)
			return WANT_WRITE;
		max_data = room - framing;
	}
	size_t used, len;
	const char *data;
	enum chunked_status st = chunked_decode(&s->chunks, s->in + s->in_head, in_len(s),
	                                        max_data, &used, &data, &len);
	/* An echo's answer begins once the body has shown a well-formed first chunk. */
	if (s->echo_body && !s->answered && (len || st == CHUNKED_DONE))
		put_head(s, 200, "application/octet-stream", RESPONSE_CHUNKED, NULL);
	if (s->echo_body && len)
		response_chunk(&s->out, data, len);
	consume(s, used);
	body_came(s, used);
	if (st == CHUNKED_ERROR) {
		end_body(s, 400);
	} else if (s->chunks.total > MAX_BODY) {
		end_body(s, 413);
	} else if (st == CHUNKED_DONE) {
		if (s->echo_body)
			response_chunk(&s->out, NULL, 0);
		end_body(s, 0);
	}
	/* Progress was made: chunked_decode() consumes at least a byte whenever it has input and
	 * room for a byte of data (max_data >= 1 above). */
	return -1;
}

static int step_body(struct session *s, struct bufpool *pool)
{
	if (in_len(s) == 0)
		return need_input(s, pool);
	return s->framing == BODY_LENGTH ? step_body_length(s) : step_body_chunked(s);
}

static int step_bytes(struct session *s)
{
	size_t n = response_room(&s->out);
	if (n == 0)
		return WANT_WRITE;
	if (n > s->bytes_left)
		n = (size_t)s->bytes_left;
	response_pattern(&s->out, s->bytes_sent, n);
	s->bytes_sent += n;
	s->bytes_left -= n;
	if (s->bytes_left == 0)
		finish_response(s);
	return -1;
}

/* --proto echo: the input buffer is the output; it is read only when empty. */
static int step_echo(struct session *s, struct bufpool *pool)
{
	if (in_len(s))
		return WANT_WRITE;
	if (s->peer_closed)
		return WANT_CLOSE;
	release_buffers(s, pool);
	return WANT_READ;
}

/* A /sleep or /block is over: its answer, if there is a buffer to write it in. */
static int step_woken(struct session *s, struct bufpool *pool)
{
	if (have_out(s, pool)) {
		answer_waited(s);
	} else {
		s->keep_alive = false;
		s->phase = PH_CLOSING;
	}
	return -1;
}

/* --header-timeout passed: a 408, then close; a body whose answer has begun (an /echo) can
 * only be cut short. What came of the request is dropped: nothing more is read. */
static int step_late(struct session *s, struct bufpool *pool)
{
	release_input(s, pool);
	restart_clock(s);
	s->framing = BODY_NONE;
	if (!s->answered && have_out(s, pool)) {
		s->head_only = false;
		answer_and_close(s, 408);
	} else {
		s->keep_alive = false;
		s->phase = PH_CLOSING;
	}
	return -1;
}

enum session_want session_next(struct session *s, struct bufpool *pool)
{
	for (;;) {
		/* An emptied input buffer goes back at once: a long answer (a /bytes download, an
		 * echo waiting for more of its body) then holds only its output buffer while it
		 * waits. */
		if (s->in && in_len(s) == 0)
			release_input(s, pool);
		int want;
		switch (s->phase) {
		case PH_HEAD:  want = step_head(s, pool); break;
		case PH_BODY:  want = step_body(s, pool); break;
		case PH_BYTES: want = step_bytes(s); break;
		case PH_ECHO:  want = step_echo(s, pool); break;
		case PH_WOKEN: want = step_woken(s, pool); break;
		case PH_LATE:  want = step_late(s, pool); break;
		case PH_WAIT:
			/* Answers already made go out before the wait, not after it. */
			return response_pending(&s->out) ? WANT_WRITE : s->wait_kind;
		case PH_CLOSING:
		default:
			return response_pending(&s->out) ? WANT_WRITE : WANT_CLOSE;
		}
		if (want >= 0)
			return (enum session_want)want;
	}
}

/* ---- The model's side: bytes in, bytes out, waits done ---- */

char *session_rbuf(struct session *s, struct bufpool *pool, size_t *room)
{
	if (!s->in) {
		s->in = bufpool_get(pool);
		if (!s->in) {
			*room = 0;   /* reading 0 bytes reports EOF, and the session closes */
			return NULL;
		}
	}
	/* Unconsumed bytes are a partial request, far smaller than the buffer; slide them to the
	 * front when the room behind them runs short. */
	if (s->in_head > 0 && BUFPOOL_BUF_SIZE - s->in_tail < BUFPOOL_BUF_SIZE / 4) {
		memmove(s->in, s->in + s->in_head, in_len(s));
		s->in_tail -= s->in_head;
		s->in_head = 0;
	}
	*room = BUFPOOL_BUF_SIZE - s->in_tail;
	return s->in + s->in_tail;
}

void session_read(struct session *s, size_t n)
{
	if (n == 0)
		s->peer_closed = true;
	s->in_tail += n;
}

const char *session_wbuf(struct session *s, size_t *len)
{
	*len = s->proto == PROTO_ECHO ? in_len(s) : response_pending(&s->out);
	if (*len == 0)
		return NULL;   /* asked between writes, the buffer may be back in the pool */
	return s->proto == PROTO_ECHO ? s->in + s->in_head : response_data(&s->out);
}

void session_wrote(struct session *s, size_t n)
{
	if (s->proto == PROTO_ECHO)
		consume(s, n);
	else
		response_sent(&s->out, n);
}

unsigned session_wait_ms(const struct session *s)
{
	return s->wait_ms;
}

void session_woke(struct session *s)
{
	if (s->phase == PH_WAIT)
		s->phase = PH_WOKEN;   /* answered at the next session_next(), which has a pool */
}

/* ---- The request time-out: slow clients ---- */

void session_set_header_timeout(struct session *s, unsigned ms)
{
	s->request_timeout_ms = ms;
}

/* Part of a request has come and the rest is awaited: a head begun, or a body not all read. */
static bool request_in_progress(const struct session *s)
{
	return (s->phase == PH_HEAD && in_len(s) > 0) || s->phase == PH_BODY;
}

uint64_t session_deadline(struct session *s, uint64_t now_ms)
{
	if (!s->request_timeout_ms || !request_in_progress(s)) {
		restart_clock(s);
		return 0;
	}
	if (!s->clock_running) {
		s->clock_running = true;
		s->clock_from = now_ms;
	}
	return s->clock_from + s->request_timeout_ms;
}

bool session_late(struct session *s, uint64_t now_ms)
{
	uint64_t until = session_deadline(s, now_ms);
	return until && until <= now_ms;
}

void session_timed_out(struct session *s)
{
	if (!request_in_progress(s))
		return;   /* it came after all */
	if (s->phase == PH_HEAD)
		s->answered = false;   /* the flag is the last request's */
	s->phase = PH_LATE;   /* answered at the next session_next(), which has a pool */
}
