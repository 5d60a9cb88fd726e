/*
 * check.h: the smallest unit-test scaffolding that prints what the suite runner wants.
 *
 *     static void test_x(void) { CHECK(1 + 1 == 2); CHECK_EQ_U(f(), 42); }
 *     int main(void) { RUN(test_x); return check_summary(); }
 *
 * RUN prints "ok NAME" or "FAIL NAME" after the first failed check's location and values;
 * check_summary() prints "N passed, N failed" and returns the exit code.
 */
#ifndef C10K_CHECK_H
#define C10K_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed, check_case_failed;

#define CHECK_FAIL(...) do { \
		if (!check_case_failed) { \
			fprintf(stdout, "  %s:%d: ", __FILE__, __LINE__); \
			fprintf(stdout, __VA_ARGS__); \
			fputc('\n', stdout); \
		} \
		check_case_failed = 1; \
	} while (0)

#define CHECK(cond) do { if (!(cond)) CHECK_FAIL("%s", #cond); } while (0)

#define CHECK_EQ_U(got, want) do { \
		unsigned long long g_ = (unsigned long long)(got), w_ = (unsigned long long)(want); \
		if (g_ != w_) CHECK_FAIL("%s is %llu, want %llu", #got, g_, w_); \
	} while (0)

#define CHECK_EQ_I(got, want) do { \
		long long g_ = (long long)(got), w_ = (long long)(want); \
		if (g_ != w_) CHECK_FAIL("%s is %lld, want %lld", #got, g_, w_); \
	} while (0)

#define CHECK_NEAR(got, want, tol) do { \
		double g_ = (got), w_ = (want); \
		if (!(g_ >= w_ - (tol) && g_ <= w_ + (tol))) CHECK_FAIL("%s is %.6f, want %.6f", #got, g_, w_); \
	} while (0)

#define CHECK_STR(got, want) do { \
		const char *g_ = (got), *w_ = (want); \
		if (strcmp(g_, w_) != 0) CHECK_FAIL("%s is\n%s\nwant\n%s", #got, g_, w_); \
	} while (0)

#define RUN(fn) do { \
		check_case_failed = 0; \
		fn(); \
		if (check_case_failed) { check_failed++; printf("FAIL %s\n", #fn); } \
		else { check_passed++; printf("ok %s\n", #fn); } \
	} while (0)

static inline int check_summary(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
