/*
 * worker.h: one load-generating thread: an epoll loop over its share of the connections.
 *
 * Thread t of T owns connections t, t + T, t + 2T, ... and records into its own counters and
 * histogram, so threads share nothing but the read-only plan (and its end time, which only
 * ever moves earlier, on SIGINT). The main thread merges the results after joining.
 */
#ifndef C10K_WORKER_H
#define C10K_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "hist.h"
#include "net.h"
#include "options.h"

struct plan {
	const struct options *opt;
	struct net_addr addr;
	const char *msg;             /* one HTTP request or one echo message, sent as it is */
	size_t msg_len;
	double ns_per_send;          /* open loop: 1e9 / rate */
	uint64_t start_ns;           /* connecting and warm-up begin */
	uint64_t measure_ns;         /* warm-up ends, measuring begins */
	_Atomic uint64_t end_ns;     /* measuring ends; moved to the present on SIGINT */
};

/* Everything counted, by one thread or (merged) by all. Errors and requests are counted
 * only in the measured window; what happened during warm-up is summed apart. */
struct counters {
	uint64_t requests;           /* answered in the window */
	uint64_t warmup_requests;    /* answered before it */
	uint64_t warmup_errors;      /* errors of any kind before it */
	uint64_t bytes_read, bytes_written;
	uint64_t sends;              /* open loop: requests sent for the first time in the window */
	uint64_t late_sends;         /* of those, sent more than LATE_NS after their time */
	uint64_t waited_sends;       /* of those, due while their connection was busy or down */
	uint64_t connects;           /* connections established in the window */
	uint64_t established;        /* of the connections asked, those that were ever established */
	uint64_t open_at_end;        /* connections still open when the run ended */
	uint64_t err_connect, err_read, err_write, err_timeout, err_status, err_parse;
};

/* An open-loop send this late (or later) after its intended time is a late send. */
#define LATE_NS UINT64_C(1000000)

struct worker;

/* A worker for thread `index`; NULL when out of memory. */
struct worker *worker_new(const struct plan *plan, unsigned index);
/* The thread body: runs until the plan's end time, then closes its connections. */
void *worker_run(void *worker);
const struct counters *worker_counters(const struct worker *w);
const struct hist *worker_latency(const struct worker *w);
void worker_free(struct worker *w);

#endif
