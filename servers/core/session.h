/*
 * session.h: one client connection's protocol, HTTP or echo, as a state machine with no I/O.
 *
 * A model owns the socket and decides how to wait; the session owns the protocol. The model
 * asks session_next() what the connection needs now, does it the model's own way, and
 * reports back. A blocking model's whole connection loop is:
 *
 *     for (;;) {
 *         switch (session_next(s, pool)) {
 *         case WANT_READ:  n = read(fd, session_rbuf(s, pool, &room), room);
 *                          if (n < 0) goto out; session_read(s, n); break;  // 0 is EOF
 *         case WANT_WRITE: n = write(fd, session_wbuf(s, &len), len);
 *                          if (n < 0) goto out; session_wrote(s, n); break;
 *         case WANT_SLEEP: sleep session_wait_ms(s), the model's own way; session_woke(s); break;
 *         case WANT_BLOCK: block_for_ms(session_wait_ms(s)) right here (server.h);
 *                          session_woke(s); break;
 *         case WANT_CLOSE: goto out;
 *         }
 *     }
 *
 * Invariants a model may rely on:
 * - WANT_READ is only asked for when no output is pending (a client that does not read its
 *   answers is not read from: back-pressure), and session_rbuf() then has room > 0.
 * - WANT_WRITE means session_wbuf() has len > 0.
 * - When a connection is idle (no request in progress, nothing buffered), session_next()
 *   returns its I/O buffers to the pool, so an idle keep-alive connection holds none.
 * - Pipelined requests are answered in order, several per WANT_WRITE when they fit.
 *
 * Buffers: the session borrows its two I/O buffers from a pool (bufpool.h) and keeps no
 * pointer to it. The three calls that may borrow or give one back take the pool as an
 * argument: the pool of the thread making the call, which has no lock because nothing else
 * uses it. So a session can move between threads (a green thread resuming on another worker)
 * with nothing to reset: each call names the pool where it runs.
 *
 * Slow clients (--header-timeout): before it waits for input, a model asks session_deadline()
 * when that wait must end; if it ends with nothing read by then, session_timed_out(). Only the
 * model knows the time, so it passes it in; the session remembers when the request began.
 */
#ifndef C10K_SESSION_H
#define C10K_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bufpool.h"

enum proto { PROTO_HTTP, PROTO_ECHO };

/* The most buffers a session holds at once (its input and its output): a pool that serves one
 * connection needs to keep no more. */
enum { SESSION_MAX_BUFFERS = 2 };

enum session_want {
	WANT_READ,      /* read into session_rbuf(), then session_read() */
	WANT_WRITE,     /* write session_wbuf(), then session_wrote() */
	WANT_SLEEP,     /* /sleep: wait session_wait_ms() without holding a CPU, then session_woke() */
	WANT_BLOCK,     /* /block: call block_for_ms(session_wait_ms()) on the serving thread */
	WANT_CLOSE,     /* done: close the socket, session_free() */
};

struct session;

struct session *session_new(enum proto proto);
/* Gives back what the session holds to `pool`, then frees it. */
void session_free(struct session *s, struct bufpool *pool);

/* `pool`: where a buffer is borrowed (a response about to be made) or given back (idle). */
enum session_want session_next(struct session *s, struct bufpool *pool);

/* The room to read into, borrowed from `pool` if the session holds no input buffer. */
char *session_rbuf(struct session *s, struct bufpool *pool, size_t *room);
void session_read(struct session *s, size_t n);          /* n == 0: the peer closed its side */

const char *session_wbuf(struct session *s, size_t *len);
void session_wrote(struct session *s, size_t n);

unsigned session_wait_ms(const struct session *s);
void session_woke(struct session *s);

/* No request in progress and nothing buffered: the connection is between requests. */
bool session_idle(const struct session *s);

/*
 * The request time-out, in ms (0, the default: none). A request head must be complete within
 * it of the moment the model first waited for more of it, however slowly its bytes trickle;
 * a body must bring each 16 KiB of itself (or its end) within it. Not for PROTO_ECHO.
 */
void session_set_header_timeout(struct session *s, unsigned ms);

/* Call when about to wait for input (session_next() said WANT_READ), with the time now in
 * ms of any monotonic clock: returns when the wait must end, in the same clock, or 0 when
 * no request is in progress (the idle time-out is then the only limit). The first call for
 * a request (or a piece of its body) starts its clock. */
uint64_t session_deadline(struct session *s, uint64_t now_ms);

/* True when a request is in progress and its deadline has passed at now_ms. */
bool session_late(struct session *s, uint64_t now_ms);

/* The deadline passed with the request still incomplete: at the next session_next(), the
 * client is answered 408 Request Timeout (unless its /echo answer has begun), and the
 * connection closes after it. */
void session_timed_out(struct session *s);

#endif
