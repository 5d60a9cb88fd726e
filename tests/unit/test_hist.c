/*
 * Unit tests of harness/hist.c, against values worked out by hand in the comments.
 */
#include <math.h>
#include <stdlib.h>

#include "../check.h"
#include "hist.h"

static struct hist a, b, c;

static void test_buckets_exact_below_2048(void)
{
	CHECK_EQ_U(hist_lowest_equivalent(0), 0);
	CHECK_EQ_U(hist_highest_equivalent(0), 0);
	CHECK_EQ_U(hist_lowest_equivalent(1000), 1000);
	CHECK_EQ_U(hist_highest_equivalent(2047), 2047);
}

static void test_buckets_log_linear_above(void)
{
	/* [2048, 4096) in slices of 2, [4096, 8192) in slices of 4. */
	CHECK_EQ_U(hist_lowest_equivalent(2049), 2048);
	CHECK_EQ_U(hist_highest_equivalent(2048), 2049);
	CHECK_EQ_U(hist_lowest_equivalent(4095), 4094);
	CHECK_EQ_U(hist_lowest_equivalent(4097), 4096);
	CHECK_EQ_U(hist_highest_equivalent(4096), 4099);
	/* 10^6 lies in [2^19, 2^20): slices of 2^9 = 512; 1953 * 512 = 999936. */
	CHECK_EQ_U(hist_lowest_equivalent(1000000), 999936);
	CHECK_EQ_U(hist_highest_equivalent(1000000), 999936 + 511);
	/* The last range, [2^43, 2^44), slices of 2^33. */
	CHECK_EQ_U(hist_highest_equivalent(HIST_MAX - 1), HIST_MAX - 1);
	CHECK_EQ_U(hist_lowest_equivalent(HIST_MAX - 1), HIST_MAX - (UINT64_C(1) << 33));
}

static void test_three_significant_digits(void)
{
	/* Every counter is narrower than a thousandth of its values, all the way up. */
	for (uint64_t v = 1; v < HIST_MAX; v = v * 3 + 1) {
		uint64_t lo = hist_lowest_equivalent(v), hi = hist_highest_equivalent(v);
		CHECK(lo <= v && v <= hi);
		CHECK((hi - lo) * 1000 < lo + 1);
	}
}

static void test_record_small_values(void)
{
	hist_init(&a);
	for (uint64_t v = 1; v <= 100; v++)
		hist_record(&a, v);
	CHECK_EQ_U(a.total, 100);
	CHECK_EQ_U(a.min, 1);
	CHECK_EQ_U(a.max, 100);
	CHECK_EQ_U(a.sum, 5050);
	CHECK_NEAR(hist_mean(&a), 50.5, 1e-9);
	/* Population standard deviation of 1..n: sqrt((n^2 - 1) / 12) = sqrt(833.25). */
	CHECK_NEAR(hist_stddev(&a), 28.866070, 1e-5);
}

static void test_percentile_nearest_rank(void)
{
	hist_init(&a);
	for (uint64_t v = 1; v <= 100; v++)
		hist_record(&a, v);
	CHECK_EQ_U(hist_percentile(&a, 0), 1);
	CHECK_EQ_U(hist_percentile(&a, 1), 1);
	CHECK_EQ_U(hist_percentile(&a, 1.5), 2);       /* rank ceil(1.5) = 2 */
	CHECK_EQ_U(hist_percentile(&a, 50), 50);
	CHECK_EQ_U(hist_percentile(&a, 90), 90);
	CHECK_EQ_U(hist_percentile(&a, 99), 99);
	CHECK_EQ_U(hist_percentile(&a, 99.9), 100);    /* rank ceil(99.9) = 100 */
	CHECK_EQ_U(hist_percentile(&a, 100), 100);
}

static void test_percentile_no_rounding_error(void)
{
	/* 999 values of 1000 and one of 10^6: 99.9% of 1000 is rank 999 exactly (a float
	 * computation can make it 999.0000001 and round up to the outlier). */
	hist_init(&a);
	for (int i = 0; i < 999; i++)
		hist_record(&a, 1000);
	hist_record(&a, 1000000);
	CHECK_EQ_U(hist_percentile(&a, 99.9), 1000);
	CHECK_EQ_U(hist_percentile(&a, 99.99), 1000000);  /* rank ceil(999.9) = 1000, clamped to max */
	CHECK_EQ_U(hist_percentile(&a, 100), 1000000);
}

static void test_percentile_reports_highest_equivalent(void)
{
	/* 999936 and 1000447 share a counter: a percentile falling there reports 1000447, the
	 * most the counter can stand for, unless the exact max is lower. */
	hist_init(&a);
	hist_record(&a, 999936);
	hist_record(&a, 2000000);
	CHECK_EQ_U(hist_percentile(&a, 50), 1000447);
	hist_init(&a);
	hist_record(&a, 999936);
	hist_record(&a, 1000100);
	CHECK_EQ_U(hist_percentile(&a, 50), 1000100);
	CHECK_EQ_U(hist_percentile(&a, 0), 999936);
}

static void test_empty(void)
{
	hist_init(&a);
	CHECK_EQ_U(hist_percentile(&a, 50), 0);
	CHECK_EQ_U(hist_percentile(&a, 100), 0);
	CHECK_NEAR(hist_mean(&a), 0, 0);
	CHECK_NEAR(hist_stddev(&a), 0, 0);
}

static void test_saturation(void)
{
	hist_init(&a);
	hist_record(&a, HIST_MAX + 5);
	hist_record(&a, UINT64_MAX);
	hist_record(&a, 7);
	CHECK_EQ_U(a.saturated, 2);
	CHECK_EQ_U(a.max, HIST_MAX - 1);
	CHECK_EQ_U(hist_percentile(&a, 99), HIST_MAX - 1);
	CHECK_EQ_U(hist_percentile(&a, 10), 7);
}

static void test_merge_equals_recording_all(void)
{
	hist_init(&a);
	hist_init(&b);
	hist_init(&c);
	for (uint64_t v = 1; v <= 50; v++) {
		hist_record(&a, v * 1000);
		hist_record(&c, v * 1000);
	}
	for (uint64_t v = 51; v <= 100; v++) {
		hist_record(&b, v * 1000);
		hist_record(&c, v * 1000);
	}
	hist_merge(&a, &b);
	CHECK_EQ_U(a.total, 100);
	CHECK_EQ_U(a.sum, c.sum);
	CHECK_EQ_U(a.min, 1000);
	CHECK_EQ_U(a.max, 100000);
	CHECK(memcmp(a.counts, c.counts, sizeof a.counts) == 0);
	/* 90th of 1000..100000: 90000 lies in [2^16, 2^17), slices of 64: 90000 = 1406*64 + 16,
	 * so the counter spans 89984..90047. */
	CHECK_EQ_U(hist_percentile(&a, 90), 90047);
}

static void test_merge_into_empty_and_from_empty(void)
{
	hist_init(&a);
	hist_init(&b);
	hist_record(&b, 42);
	hist_merge(&a, &b);
	CHECK_EQ_U(a.min, 42);
	CHECK_EQ_U(a.max, 42);
	hist_init(&b);
	hist_merge(&a, &b);
	CHECK_EQ_U(a.min, 42);
	CHECK_EQ_U(a.total, 1);
}

static char *hgrm_of(const struct hist *h, double ratio)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(hist_write_hgrm(h, f, ratio) == 0);
	fclose(f);
	return text;
}

static void test_hgrm_printer(void)
{
	/* 1..10, each once: worked out step by step from HdrHistogram's iteration (levels 0, 10,
	 * ... 50, then steps of 5 to 75, of 2.5 to 87.5, of 1.25 beyond; one line per level
	 * reached, the last counter only once, then the 100% line). */
	hist_init(&a);
	for (uint64_t v = 1; v <= 10; v++)
		hist_record(&a, v);
	char *text = hgrm_of(&a, 1);
	CHECK_STR(text,
		"       Value     Percentile TotalCount 1/(1-Percentile)\n"
		"\n"
		"       1.000 0.000000000000          1           1.00\n"
		"       1.000 0.100000000000          1           1.11\n"
		"       2.000 0.200000000000          2           1.25\n"
		"       3.000 0.300000000000          3           1.43\n"
		"       4.000 0.400000000000          4           1.67\n"
		"       5.000 0.500000000000          5           2.00\n"
		"       6.000 0.550000000000          6           2.22\n"
		"       6.000 0.600000000000          6           2.50\n"
		"       7.000 0.650000000000          7           2.86\n"
		"       7.000 0.700000000000          7           3.33\n"
		"       8.000 0.750000000000          8           4.00\n"
		"       8.000 0.775000000000          8           4.44\n"
		"       8.000 0.800000000000          8           5.00\n"
		"       9.000 0.825000000000          9           5.71\n"
		"       9.000 0.850000000000          9           6.67\n"
		"       9.000 0.875000000000          9           8.00\n"
		"       9.000 0.887500000000          9           8.89\n"
		"       9.000 0.900000000000          9          10.00\n"
		"      10.000 0.912500000000         10          11.43\n"
		"      10.000 1.000000000000         10\n"
		"#[Mean    =        5.500, StdDeviation   =        2.872]\n"
		"#[Max     =       10.000, Total count    =           10]\n"
		"#[Buckets =           34, SubBuckets     =         2048]\n");
	free(text);
}

static void test_hgrm_unit_ratio(void)
{
	/* Nanoseconds printed as microseconds: one value of 1500 ns is 1.500 us. */
	hist_init(&a);
	hist_record(&a, 1500);
	char *text = hgrm_of(&a, 1000);
	CHECK_STR(text,
		"       Value     Percentile TotalCount 1/(1-Percentile)\n"
		"\n"
		"       1.500 0.000000000000          1           1.00\n"
		"       1.500 1.000000000000          1\n"
		"#[Mean    =        1.500, StdDeviation   =        0.000]\n"
		"#[Max     =        1.500, Total count    =            1]\n"
		"#[Buckets =           34, SubBuckets     =         2048]\n");
	free(text);
}

static void test_hgrm_empty(void)
{
	hist_init(&a);
	char *text = hgrm_of(&a, 1000);
	CHECK(strstr(text, "Total count    =            0]") != NULL);
	CHECK(strstr(text, "1.000000000000") == NULL);
	free(text);
}

int main(void)
{
	RUN(test_buckets_exact_below_2048);
	RUN(test_buckets_log_linear_above);
	RUN(test_three_significant_digits);
	RUN(test_record_small_values);
	RUN(test_percentile_nearest_rank);
	RUN(test_percentile_no_rounding_error);
	RUN(test_percentile_reports_highest_equivalent);
	RUN(test_empty);
	RUN(test_saturation);
	RUN(test_merge_equals_recording_all);
	RUN(test_merge_into_empty_and_from_empty);
	RUN(test_hgrm_printer);
	RUN(test_hgrm_unit_ratio);
	RUN(test_hgrm_empty);
	return check_summary();
}
