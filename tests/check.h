/*
 * check.h: the C tests' whole framework, in one header (tests/unit, tests/green): checks
 * that count, and that say what they saw when they fail.
 *
 * Two shapes of test program use it. A unit test (tests/unit) runs every check in one
 * process and ends with the counts:
 *
 *   CHECK(cond)                     FAIL file:line: cond
 *   CHECK_EQ(got, want)             integers: FAIL file:line: got == want (got 3, want 4)
 *   CHECK_EQ_U(got, want)           the same, unsigned (CHECK_EQ_I: CHECK_EQ by another name)
 *   CHECK_NEAR(got, want, tol)      doubles, within tol
 *   CHECK_STR(got, want)            strings; CHECK_MEM(got, glen, want, wlen) byte strings,
 *                                   shown escaped around the first difference
 *   CHECK_FAIL(fmt, ...)            a failure the test worked out itself
 *   check_case("split at %zu", k)   names the case being checked, for the failures that follow
 *   RUN(test_x)                     runs a test function, then prints "ok test_x" or "FAIL test_x"
 *   return check_report();          prints "N passed, N failed" and gives the exit status;
 *                                   check_summary() is the same
 *
 * What counts: each check, or, for a test function run by RUN, the function as a whole
 * (failed if any of its checks failed), so a loop of checks over every split counts once.
 * A failing check does not stop the test, so one run lists every failure. Each check returns
 * whether it passed, so a loop over thousands of splits can stop at the first bad one.
 * One test binary is one translation unit, so the counters are plain statics.
 *
 * A program of cases (tests/green: the runtime's tests, where a bug is a crash or a hang)
 * holds a table of cases, each a function that returns whether it passed, and runs them with
 * run_cases(): `prog` runs them all, `prog NAME` one, `prog --list` names them, so that a
 * suite can run each in a process of its own and a crash fails one case only:
 *
 *   EXPECT(cond, fmt, ...)          inside a case: says why on stderr and fails the case
 *   run_cases(cases, n, argc, argv) "ok NAME" or "FAIL NAME" per case; the exit code is the
 *                                   number of failures. A watchdog (CHECK_TIMEOUT seconds,
 *                                   120 by default) turns a hang into a failure.
 */
#ifndef C10K_CHECK_H
#define C10K_CHECK_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned check_passed, check_failed;
static unsigned check_failures;          /* failed checks, counted or not */
static bool check_in_run;                /* inside RUN: the function counts, not its checks */
static char check_case_name[160];

/* Names what the checks after it are about, until the next call; "" for nothing. */
__attribute__((format(printf, 1, 2)))
static inline void check_case(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(check_case_name, sizeof check_case_name, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static inline bool check_result(bool ok, const char *file, int line, const char *fmt, ...)
{
	if (ok) {
		check_passed += !check_in_run;
		return true;
	}
	check_failed += !check_in_run;
	check_failures++;
	printf("FAIL %s:%d: ", file, line);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (check_case_name[0])
		printf("  [%s]", check_case_name);
	putchar('\n');
	return false;
}

/* Prints up to 60 bytes of s[0, n) from `from`, C-escaped, so CR, LF and NUL show. */
static inline void check_print_escaped(const char *s, size_t n, size_t from)
{
	size_t to = from + 60 < n ? from + 60 : n;
	printf("%s\"", from ? "..." : "");
	for (size_t i = from; i < to; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			printf("\\r");
		else if (c == '\n')
			printf("\\n");
		else if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c > 0x7e)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"%s", to < n ? "..." : "");
}

static inline bool check_mem(const char *file, int line, const char *expr, const void *got,
                             size_t got_len, const void *want, size_t want_len)
{
	size_t at = 0;
	while (at < got_len && at < want_len && ((const char *)got)[at] == ((const char *)want)[at])
		at++;
	if (at == got_len && at == want_len)
		return check_result(true, file, line, "%s", expr);
	size_t from = at > 20 ? at - 20 : 0;
	check_failed += !check_in_run;
	check_failures++;
	printf("FAIL %s:%d: %s (differ at byte %zu of %zu/%zu: got ", file, line, expr, at,
	       got_len, want_len);
	check_print_escaped(got, got_len, from);
	printf(", want ");
	check_print_escaped(want, want_len, from);
	printf(")");
	if (check_case_name[0])
		printf("  [%s]", check_case_name);
	putchar('\n');
	return false;
}

/* The counts, as the last line of the output; main() returns this. */
static inline int check_report(void)
{
	printf("%u passed, %u failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

static inline int check_summary(void)
{
	return check_report();
}

#define CHECK(cond) check_result((cond), __FILE__, __LINE__, "%s", #cond)

#define CHECK_FAIL(...) check_result(false, __FILE__, __LINE__, __VA_ARGS__)

#define CHECK_EQ(got, want)                                                                   \
	({                                                                                        \
		long long got_ = (long long)(got), want_ = (long long)(want);                         \
		check_result(got_ == want_, __FILE__, __LINE__, "%s == %s (got %lld, want %lld)",     \
		             #got, #want, got_, want_);                                               \
	})
#define CHECK_EQ_I(got, want) CHECK_EQ(got, want)

#define CHECK_EQ_U(got, want)                                                                 \
	({                                                                                        \
		unsigned long long got_ = (unsigned long long)(got);                                  \
		unsigned long long want_ = (unsigned long long)(want);                                \
		check_result(got_ == want_, __FILE__, __LINE__, "%s == %s (got %llu, want %llu)",     \
		             #got, #want, got_, want_);                                               \
	})

#define CHECK_NEAR(got, want, tol)                                                            \
	({                                                                                        \
		double got_ = (got), want_ = (want);                                                  \
		check_result(got_ >= want_ - (tol) && got_ <= want_ + (tol), __FILE__, __LINE__,      \
		             "%s near %s (got %.6f, want %.6f)", #got, #want, got_, want_);           \
	})

#define CHECK_MEM(got, got_len, want, want_len)                                               \
	check_mem(__FILE__, __LINE__, #got " == " #want, (got), (got_len), (want), (want_len))

/* A NUL-terminated string against a literal or another string. */
#define CHECK_STR(got, want)                                                                  \
	({                                                                                        \
		const char *gs_ = (got), *ws_ = (want);                                               \
		gs_ && ws_ ? CHECK_MEM(gs_, strlen(gs_), ws_, strlen(ws_))                            \
		           : check_result(gs_ == ws_, __FILE__, __LINE__, "%s == %s (got %s, want %s)", \
		                          #got, #want, gs_ ? gs_ : "NULL", ws_ ? ws_ : "NULL");       \
	})

/* Runs one test function, counted as one: passed if all its checks passed. */
#define RUN(fn)                                                                               \
	do {                                                                                      \
		unsigned failures_before_ = check_failures;                                           \
		check_in_run = true;                                                                  \
		fn();                                                                                 \
		check_in_run = false;                                                                 \
		bool ok_ = check_failures == failures_before_;                                        \
		check_passed += ok_;                                                                  \
		check_failed += !ok_;                                                                 \
		printf("%s %s\n", ok_ ? "ok" : "FAIL", #fn);                                         \
	} while (0)

/* ---- Programs of cases ---- */

struct test_case {
	const char *name;
	bool (*run)(void);
};

/* Inside a case: report why it fails and fail it. */
#define EXPECT(cond, ...)                                                                     \
	do {                                                                                      \
		if (!(cond)) {                                                                        \
			fprintf(stderr, "  %s:%d: expected %s: ", __FILE__, __LINE__, #cond);             \
			fprintf(stderr, __VA_ARGS__);                                                     \
			fputc('\n', stderr);                                                              \
			return false;                                                                     \
		}                                                                                     \
	} while (0)

static const char *check_current_case = "";

/* SIGALRM: the case running has hung (a lost wake-up, say). Async-signal-safe calls only. */
static inline void check_watchdog(int sig)
{
	(void)sig;
	static const char msg[] = "FAIL (timed out: a hang, e.g. a lost wake-up) ";
	ssize_t unused = write(STDOUT_FILENO, msg, sizeof msg - 1);
	unused = write(STDOUT_FILENO, check_current_case, strlen(check_current_case));
	unused = write(STDOUT_FILENO, "\n", 1);
	(void)unused;
	_exit(99);
}

static inline int run_cases(const struct test_case *cases, size_t n, int argc, char **argv)
{
	int failed = 0, ran = 0;
	const char *limit = getenv("CHECK_TIMEOUT");
	signal(SIGALRM, check_watchdog);
	for (size_t i = 0; i < n; i++) {
		if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
			continue;
		check_current_case = cases[i].name;
		alarm(limit ? (unsigned)atoi(limit) : 120);
		bool ok = cases[i].run();
		alarm(0);
		printf("%s %s\n", ok ? "ok" : "FAIL", cases[i].name);
		fflush(stdout);
		failed += !ok;
		ran++;
	}
	if (argc > 1 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	if (!ran) {
		fprintf(stderr, "no such case: %s\n", argv[1]);
		return 2;
	}
	return failed;
}

#endif
