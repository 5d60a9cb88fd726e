/*
 * session_driver.c: the model loop of session.h, with a scripted client and a referee.
 */
#include "session_driver.h"

#include <stdlib.h>
#include <string.h>

uint64_t driver_rand(struct driver *d, uint64_t bound)
{
	/* xorshift64: any seed but 0 */
	uint64_t x = d->rng ? d->rng : 0x2545f4914f6cdd1du;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	d->rng = x;
	return bound ? x % bound : 0;
}

size_t driver_held(const struct driver *d)
{
	return DRIVER_POOL_BUFS - d->pool.count;
}

void driver_start(struct driver *d)
{
	d->pool = (struct bufpool)BUFPOOL_INIT(DRIVER_POOL_BUFS);
	for (int i = 0; i < DRIVER_POOL_BUFS; i++)
		bufpool_put(&d->pool, malloc(BUFPOOL_BUF_SIZE));
	d->s = session_new(d->proto);
	d->in_pos = 0;
	d->eof_sent = false;
	d->out = NULL;
	d->out_len = d->out_cap = 0;
	d->out_total = 0;
	d->steps = 0;
	d->max_held = 0;
	d->n_waits = 0;
	d->broken = d->s ? NULL : "session_new failed";
}

static bool at_boundary(const struct driver *d)
{
	if (d->in_pos == 0 || d->proto == PROTO_ECHO)
		return true;
	for (size_t i = 0; i < d->n_boundaries; i++)
		if (d->boundaries[i] == d->in_pos)
			return true;
	return false;
}

static void collect(struct driver *d, const char *data, size_t n)
{
	if (d->sink) {
		d->sink(d, data, n);
		return;
	}
	if (d->out_limit && n > d->out_limit - d->out_len)
		n = d->out_limit - d->out_len;
	if (d->out_len + n > d->out_cap) {
		size_t cap = d->out_cap ? d->out_cap : 4096;
		while (cap < d->out_len + n)
			cap *= 2;
		d->out = realloc(d->out, cap);
		d->out_cap = cap;
	}
	memcpy(d->out + d->out_len, data, n);
	d->out_len += n;
}

/* WANT_READ: no answer is pending, there is room, and an idle session holds nothing.
 * *starved is set when the script has nothing more to send. */
static const char *do_read(struct driver *d, bool *starved)
{
	size_t pending;
	session_wbuf(d->s, &pending);
	if (pending)
		return "WANT_READ with output pending (no back-pressure)";
	if (d->eof_sent)
		return "WANT_READ after EOF (a model would read EOF forever)";
	bool idle = session_idle(d->s);
	if (idle && driver_held(d))
		return "idle at WANT_READ, yet holding a buffer";
	if (d->n_boundaries && idle != at_boundary(d))
		return idle ? "idle in the middle of a request" : "not idle between requests";
	if (at_boundary(d) && driver_held(d))
		return "holding a buffer between requests";

	size_t avail = d->in_len - d->in_pos;
	*starved = avail == 0 && !d->eof;
	if (*starved)
		return NULL;
	size_t room;
	char *buf = session_rbuf(d->s, &d->pool, &room);
	if (!buf || room == 0)
		return "WANT_READ without room";
	if (avail == 0) {
		session_read(d->s, 0);
		d->eof_sent = true;
		return NULL;
	}
	size_t n = d->read_size ? d->read_size(d, avail) : avail;
	if (n == 0 || n > avail)
		n = avail;
	if (n > room)
		n = room;
	memcpy(buf, d->in + d->in_pos, n);
	d->in_pos += n;
	session_read(d->s, n);
	return NULL;
}

static const char *do_write(struct driver *d)
{
	size_t len;
	const char *buf = session_wbuf(d->s, &len);
	if (len == 0 || !buf)
		return "WANT_WRITE with nothing to write";
	if (len > BUFPOOL_BUF_SIZE)
		return "WANT_WRITE with more than a buffer";
	size_t n = d->write_size ? d->write_size(d, len) : len;
	if (n == 0 || n > len)
		n = len;
	collect(d, buf, n);
	d->out_total += n;
	session_wrote(d->s, n);
	return NULL;
}

static const char *do_wait(struct driver *d, enum session_want want)
{
	size_t pending;
	session_wbuf(d->s, &pending);
	if (pending)
		return "a wait with answers made but not sent";
	unsigned ms = session_wait_ms(d->s);
	if (ms > 60000)
		return "a wait longer than the routes allow";
	if (d->n_waits < DRIVER_MAX_WAITS) {
		d->wait_kind[d->n_waits] = want;
		d->wait_ms[d->n_waits] = ms;
	}
	d->n_waits++;
	session_woke(d->s);
	return NULL;
}

enum driver_end driver_run(struct driver *d)
{
	while (!d->broken) {
		/* Each step reads, writes or wakes once, and a wake needs a request: a session
		 * that makes more steps than this is going round without getting anywhere. */
		if (++d->steps > 2 * d->in_pos + d->out_total + 16) {
			d->broken = "no progress";
			break;
		}
		enum session_want want = session_next(d->s, &d->pool);
		size_t held = driver_held(d);
		if (held > d->max_held)
			d->max_held = held;
		if (held > 2) {
			d->broken = "holding more than two buffers";
			break;
		}
		switch (want) {
		case WANT_READ: {
			bool starved;
			d->broken = do_read(d, &starved);
			if (!d->broken && starved)
				return DRIVER_STARVED;
			break;
		}
		case WANT_WRITE:
			d->broken = do_write(d);
			if (!d->broken && d->out_limit && d->out_total > d->out_limit)
				return DRIVER_FULL;
			break;
		case WANT_SLEEP:
		case WANT_BLOCK:
			d->broken = do_wait(d, want);
			break;
		case WANT_CLOSE:
			return DRIVER_CLOSED;
		default:
			d->broken = "an unknown want";
			break;
		}
	}
	return DRIVER_BROKEN;
}

void driver_finish(struct driver *d)
{
	session_free(d->s, &d->pool);
	d->s = NULL;
	if (d->pool.count != DRIVER_POOL_BUFS && !d->broken)
		d->broken = "buffers not given back to the pool";
	bufpool_drain(&d->pool);
}

enum driver_end driver_converse(struct driver *d)
{
	driver_start(d);
	enum driver_end end = driver_run(d);
	driver_finish(d);
	return d->broken ? DRIVER_BROKEN : end;
}

void driver_mask_dates(char *buf, size_t len)
{
	static const char key[] = "\r\nDate: ";
	size_t klen = sizeof key - 1, mlen = sizeof DRIVER_DATE_MASK - 1;
	if (!buf)
		return;
	char *p = buf, *end = buf + len;
	while ((p = memmem(p, (size_t)(end - p), key, klen))) {
		p += klen;
		size_t n = (size_t)(end - p) < mlen ? (size_t)(end - p) : mlen;
		memcpy(p, DRIVER_DATE_MASK, n);
		p += n;
	}
}
