/*
 * hist.h: a log-linear latency histogram with 3 significant digits, in fixed memory.
 *
 * The layout is HdrHistogram's with 2048 sub-buckets: values below 2048 each have their own
 * counter; above, every power-of-two range [2^k, 2^(k+1)) is cut into 1024 equal slices of
 * width 2^(k-10), so a recorded value is known to within 1/1024 of itself (better than 0.1%).
 * Recording is an index computation and an increment: no allocation, no floating point.
 * Each thread records into its own histogram; they are merged at the end.
 *
 * The unit is whatever the caller records (the load generator records nanoseconds). Values at
 * or above HIST_MAX are recorded as HIST_MAX - 1 and counted in `saturated`.
 */
#ifndef C10K_HIST_H
#define C10K_HIST_H

#include <stdint.h>
#include <stdio.h>

enum {
	HIST_SUB_BITS = 11,                             /* 2048 sub-buckets: 3 significant digits */
	HIST_LINEAR = 1 << HIST_SUB_BITS,               /* below this, every value is exact */
	HIST_HALF = HIST_LINEAR / 2,                    /* slices per power of two above it */
	HIST_MAX_BITS = 44,                             /* 2^44 ns is about 4.9 hours */
	HIST_COUNTERS = HIST_LINEAR + (HIST_MAX_BITS - HIST_SUB_BITS) * HIST_HALF,
};
#define HIST_MAX (UINT64_C(1) << HIST_MAX_BITS)

struct hist {
	uint64_t total;              /* values recorded */
	uint64_t sum;                /* their exact sum, for the mean */
	uint64_t min, max;           /* exact; min is UINT64_MAX while empty */
	uint64_t saturated;          /* values that were >= HIST_MAX */
	uint64_t counts[HIST_COUNTERS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t value);
/* Adds every value recorded in `from` to `into`. */
void hist_merge(struct hist *into, const struct hist *from);

/* The value below or at which `percent` of the values lie (nearest rank, 0.0001% resolution),
 * as the highest value its counter stands for, but never above the exact max; the exact min
 * for 0, the exact max for 100, 0 when empty. */
uint64_t hist_percentile(const struct hist *h, double percent);
double hist_mean(const struct hist *h);
/* From the counters: exact below 2048, within 0.1% above. */
double hist_stddev(const struct hist *h);

/*
 * Writes the distribution in HdrHistogram's percentile text format (.hgrm: Value, Percentile,
 * TotalCount, 1/(1-Percentile), 5 ticks per half distance), values divided by `unit_ratio`
 * (1000 to print nanoseconds as microseconds). Returns 0, or -1 if writing failed.
 */
int hist_write_hgrm(const struct hist *h, FILE *out, double unit_ratio);

/* The range of values a counter stands for, for tests and printers. */
uint64_t hist_lowest_equivalent(uint64_t value);
uint64_t hist_highest_equivalent(uint64_t value);

#endif
