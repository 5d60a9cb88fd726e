/*
 * hist.c: the log-linear histogram (see hist.h for the layout and its precision).
 */
#include "hist.h"

#include <math.h>
#include <string.h>

/* Counter index of a value below HIST_MAX. Below HIST_LINEAR a value is its own index; above,
 * the top bit k picks the power-of-two range and the next 10 bits the slice within it. */
static size_t index_of(uint64_t v)
{
	if (v < HIST_LINEAR)
		return (size_t)v;
	unsigned k = 63 - (unsigned)__builtin_clzll(v);          /* HIST_SUB_BITS <= k < HIST_MAX_BITS */
	unsigned shift = k - (HIST_SUB_BITS - 1);
	return HIST_LINEAR + (size_t)(k - HIST_SUB_BITS) * HIST_HALF + (size_t)((v >> shift) - HIST_HALF);
}

/* The smallest value of counter i, and the width of the range it stands for. */
static uint64_t lowest_of(size_t i, uint64_t *width)
{
	if (i < HIST_LINEAR) {
		*width = 1;
		return i;
	}
	size_t range = (i - HIST_LINEAR) / HIST_HALF, slice = (i - HIST_LINEAR) % HIST_HALF;
	unsigned shift = (unsigned)range + 1;
	*width = UINT64_C(1) << shift;
	return (uint64_t)(HIST_HALF + slice) << shift;
}

static uint64_t highest_of(size_t i)
{
	uint64_t width, low = lowest_of(i, &width);
	return low + width - 1;
}

static uint64_t clamp(uint64_t v)
{
	return v < HIST_MAX ? v : HIST_MAX - 1;
}

uint64_t hist_lowest_equivalent(uint64_t value)
{
	uint64_t width;
	return lowest_of(index_of(clamp(value)), &width);
}

uint64_t hist_highest_equivalent(uint64_t value)
{
	return highest_of(index_of(clamp(value)));
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

void hist_record(struct hist *h, uint64_t value)
{
	if (value >= HIST_MAX) {
		h->saturated++;
		value = HIST_MAX - 1;
	}
	h->counts[index_of(value)]++;
	h->total++;
	h->sum += value;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	for (size_t i = 0; i < HIST_COUNTERS; i++)
		into->counts[i] += from->counts[i];
	into->total += from->total;
	into->sum += from->sum;
	into->saturated += from->saturated;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

/* What a counter reports: its highest value, except that nothing recorded exceeds max. */
static uint64_t reported(const struct hist *h, size_t i)
{
	uint64_t v = highest_of(i);
	return v < h->max ? v : h->max;
}

uint64_t hist_percentile(const struct hist *h, double percent)
{
	if (h->total == 0)
		return 0;
	if (percent <= 0)
		return h->min;
	if (percent >= 100)
		return h->max;
	/* Nearest rank in integers, so that 99.9% of 1000 values is exactly the 999th and not
	 * the 1000th through a rounding error: the percentile in millionths, rank rounded up. */
	uint64_t ppm = (uint64_t)llround(percent * 10000.0);
	unsigned __int128 scaled = (unsigned __int128)ppm * h->total + 999999;
	uint64_t rank = (uint64_t)(scaled / 1000000);
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (size_t i = 0; i < HIST_COUNTERS; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			return reported(h, i);
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->total ? (double)h->sum / (double)h->total : 0.0;
}

double hist_stddev(const struct hist *h)
{
	if (h->total == 0)
		return 0.0;
	double mean = hist_mean(h), squares = 0;
	for (size_t i = 0; i < HIST_COUNTERS; i++) {
		if (!h->counts[i])
			continue;
		uint64_t width, low = lowest_of(i, &width);
		double mid = (double)low + (double)(width - 1) / 2, dev = mid - mean;
		squares += dev * dev * (double)h->counts[i];
	}
	return sqrt(squares / (double)h->total);
}

/* HdrHistogram's percentile iteration: 5 ticks per half distance to 100%, so the steps halve
 * each time the remaining distance does (10%, then 5% past 50%, 2.5% past 75%, ...). */
static double next_level(double percent)
{
	double halvings = floor(log2(100.0 / (100.0 - percent)));
	if (halvings > 60)                /* past any count this histogram can hold */
		halvings = 60;
	return percent + 100.0 / (5.0 * ldexp(1.0, (int)halvings + 1));
}

int hist_write_hgrm(const struct hist *h, FILE *out, double unit_ratio)
{
	fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
	/* Each counter prints a line for every level its cumulative count reaches, but the last
	 * counter only one: then comes the 100% line, as HdrHistogram's iterator does it. */
	uint64_t seen = 0;
	double level = 0;
	for (size_t i = 0; i < HIST_COUNTERS && seen < h->total; i++) {
		if (!h->counts[i])
			continue;
		seen += h->counts[i];
		double value = (double)reported(h, i) / unit_ratio;
		while (100.0 * (double)seen / (double)h->total >= level) {
			fprintf(out, "%12.3f %2.12f %10llu %14.2f\n", value, level / 100.0,
			        (unsigned long long)seen, 1.0 / (1.0 - level / 100.0));
			level = next_level(level);
			if (seen == h->total)
				break;
		}
	}
	if (h->total)
		fprintf(out, "%12.3f %2.12f %10llu\n", (double)h->max / unit_ratio, 1.0,
		        (unsigned long long)h->total);
	fprintf(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", hist_mean(h) / unit_ratio,
	        hist_stddev(h) / unit_ratio);
	fprintf(out, "#[Max     = %12.3f, Total count    = %12llu]\n", (double)(h->total ? h->max : 0) / unit_ratio,
	        (unsigned long long)h->total);
	fprintf(out, "#[Buckets = %12d, SubBuckets     = %12d]\n", HIST_MAX_BITS - HIST_SUB_BITS + 1, HIST_LINEAR);
	return ferror(out) ? -1 : 0;
}
