/*
 * session_driver.h: runs a session the way a model does, over bytes in memory instead of a
 * socket, and holds the session on every step to the promises session.h makes to models.
 *
 * The client is scripted: its bytes are `in`, arriving in reads whose sizes read_size()
 * chooses; it takes the answers in writes whose sizes write_size() chooses; it half-closes
 * once `in` is used up if `eof` is set. Waits (/sleep, /block) end at once.
 * Shared by the unit tests and the session's fuzz target.
 */
#ifndef C10K_SESSION_DRIVER_H
#define C10K_SESSION_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bufpool.h"
#include "session.h"

/* The driver's pool starts with this many spares and may keep no more, so the buffers the
 * session holds are always DRIVER_POOL_BUFS - pool.count (the session never needs a third). */
enum { DRIVER_POOL_BUFS = 8, DRIVER_MAX_WAITS = 16 };

/* A date as response_head() writes it, with every varying character replaced. */
#define DRIVER_DATE_MASK "Www, 00 Mmm 0000 00:00:00 GMT"

enum driver_end {
	DRIVER_CLOSED,               /* the session said WANT_CLOSE */
	DRIVER_STARVED,              /* it wants to read, and the script has nothing more */
	DRIVER_FULL,                 /* more output than out_limit */
	DRIVER_BROKEN,               /* it broke a promise: see `broken` */
};

struct driver {
	/* The script, set before driver_run(). */
	enum proto proto;
	const char *in;
	size_t in_len;
	bool eof;
	size_t (*read_size)(struct driver *d, size_t avail);   /* 1..avail; NULL: all of it */
	size_t (*write_size)(struct driver *d, size_t len);    /* 1..len; NULL: all of it */
	/* Where the answers go; NULL: collected in out[0, out_len), up to out_limit bytes. */
	void (*sink)(struct driver *d, const char *data, size_t n);
	size_t out_limit;            /* 0: no limit */
	/* Input offsets at which every request before has been sent in full: reaching one, the
	 * session must be idle and hold no buffer when it next asks to read. */
	const size_t *boundaries;
	size_t n_boundaries;
	uint64_t rng;                /* for the size functions' use */
	void *ctx;

	/* Filled in by driver_run(). */
	struct session *s;
	struct bufpool pool;
	size_t in_pos;               /* bytes of `in` read */
	bool eof_sent;
	char *out;
	size_t out_len, out_cap;
	uint64_t out_total;          /* bytes written, sink or not */
	unsigned steps;              /* session_next() calls */
	size_t max_held;             /* most buffers the session held at once */
	unsigned n_waits;
	enum session_want wait_kind[DRIVER_MAX_WAITS];
	unsigned wait_ms[DRIVER_MAX_WAITS];
	const char *broken;          /* the first broken promise, or NULL */
};

/* Starts a session for the script in *d (its "filled in" fields are reset). */
void driver_start(struct driver *d);
/* Runs the session until it closes, starves, fills out_limit or breaks a promise. It can be
 * called again after DRIVER_STARVED, once the script has more input (in, in_len grown). */
enum driver_end driver_run(struct driver *d);
/* Frees the session (as a model does at WANT_CLOSE or when it gives up) and the pool. Marks
 * the run broken if the session did not give back every buffer. */
void driver_finish(struct driver *d);

/* start, run, finish: the whole conversation. Returns how it ended. */
enum driver_end driver_converse(struct driver *d);

/* Buffers the session holds now. */
size_t driver_held(const struct driver *d);

/* Replaces the text of every "Date: " header in buf[0, len) with DRIVER_DATE_MASK. */
void driver_mask_dates(char *buf, size_t len);

/* A random number below bound, from d->rng. */
uint64_t driver_rand(struct driver *d, uint64_t bound);

#endif
