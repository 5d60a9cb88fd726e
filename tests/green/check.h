/*
 * check.h: the little test harness of the runtime tests. A test program holds a table of
 * cases; `prog` runs them all, `prog NAME` one. Each prints "ok NAME" or "FAIL NAME", with the
 * reason on stderr, and the exit code is the number of failures. A watchdog turns a hang (a
 * lost wake-up) into a failure instead of a stuck test run.
 */
#ifndef GREEN_CHECK_H
#define GREEN_CHECK_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct test_case {
	const char *name;
	bool (*run)(void);
};

/* Inside a case: report why it fails and fail it. */
#define EXPECT(cond, ...)                                                                 \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "  %s:%d: expected %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                     \
			fputc('\n', stderr);                                              \
			return false;                                                     \
		}                                                                         \
	} while (0)

static const char *current_case = "";

static void watchdog(int sig)
{
	(void)sig;
	static const char msg[] = "FAIL (timed out: a hang, e.g. a lost wake-up) ";
	ssize_t unused = write(STDOUT_FILENO, msg, sizeof msg - 1);
	unused = write(STDOUT_FILENO, current_case, strlen(current_case));
	unused = write(STDOUT_FILENO, "\n", 1);
	(void)unused;
	_exit(99);
}

static inline int run_cases(const struct test_case *cases, size_t n, int argc, char **argv)
{
	int failed = 0, ran = 0;
	const char *limit = getenv("CHECK_TIMEOUT");
	signal(SIGALRM, watchdog);
	for (size_t i = 0; i < n; i++) {
		if (argc > 1 && strcmp(argv[1], cases[i].name) != 0)
			continue;
		current_case = cases[i].name;
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
