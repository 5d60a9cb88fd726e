/*
 * report.h: the figures of a run, as a human summary and as one JSON object.
 */
#ifndef C10K_REPORT_H
#define C10K_REPORT_H

#include <stdio.h>

#include "hist.h"
#include "options.h"
#include "worker.h"

struct result {
	const struct options *opt;
	struct counters count;       /* all threads' */
	const struct hist *latency;  /* all threads', nanoseconds */
	double duration_s;           /* the measured window, exactly */
	double elapsed_s;            /* the whole run: warm-up and window */
	double cpu_user_s, cpu_sys_s;/* the generator's own CPU time over the whole run */
	unsigned cpus;               /* the CPUs its threads could use: at most one per thread */
};

void counters_add(struct counters *into, const struct counters *from);
void report_summary(FILE *out, const struct result *r);
/* Returns 0, or -1 if writing failed. */
int report_json(FILE *out, const struct result *r);

#endif
