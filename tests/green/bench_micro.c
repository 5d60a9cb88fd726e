/*
 * bench_micro.c: `make bench-micro`. What one switch costs, side by side:
 *
 *   green_ctx_switch     the runtime's assembly switch, one direction
 *   green_yield          a green thread yielding to another through the scheduler (two
 *                        switches, via g0, and a run-queue push and pop)
 *   swapcontext          glibc's ucontext switch (it makes a sigprocmask system call)
 *   futex ping-pong      two OS threads handing a turn back and forth through a futex
 *   pipe ping-pong       two processes passing a byte through two pipes
 *   spawn + exit         creating a green thread that returns at once, running it and
 *                        reaping it (in batches of 16, so the spawner's own yield is shared)
 *
 * Figures, not tests: each is the median of ROUNDS rounds, the rounds alternated so that a
 * noisy moment hurts all of them alike, and each is also given relative to green_ctx_switch.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "context.h"
#include "green.h"

enum { ROUNDS = 5 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- green_ctx_switch ---- */

#ifndef GREEN_UCONTEXT
static struct green_ctx ctx_main, ctx_other;

static void ctx_other_loop(void *arg)
{
	(void)arg;
	for (;;)
		green_ctx_switch(&ctx_other, &ctx_main);
}

static double bench_ctx_switch(long n)
{
	size_t size = 64 * 1024;
	void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	green_ctx_init(&ctx_other, stack, size, ctx_other_loop, NULL);
	double t0 = now_s();
	for (long i = 0; i < n; i++)
		green_ctx_switch(&ctx_main, &ctx_other);
	double t = now_s() - t0;
	munmap(stack, size);
	return t / (2.0 * (double)n);        /* two switches per iteration */
}
#endif

/* ---- swapcontext ---- */

static ucontext_t uc_main, uc_other;

static void uc_other_loop(void)
{
	for (;;)
		swapcontext(&uc_other, &uc_main);
}

static double bench_swapcontext(long n)
{
	size_t size = 64 * 1024;
	void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	getcontext(&uc_other);
	uc_other.uc_stack.ss_sp = stack;
	uc_other.uc_stack.ss_size = size;
	makecontext(&uc_other, uc_other_loop, 0);
	double t0 = now_s();
	for (long i = 0; i < n; i++)
		swapcontext(&uc_main, &uc_other);
	double t = now_s() - t0;
	munmap(stack, size);
	return t / (2.0 * (double)n);
}

/* ---- green_yield through the scheduler ---- */

static long yield_n;
static double yield_result;

static void yielder(void *arg)
{
	(void)arg;
	for (long i = 0; i < yield_n; i++)
		green_yield();
}

static void yield_main(void *arg)
{
	(void)arg;
	green_spawn(yielder, NULL);
	double t0 = now_s();
	for (long i = 0; i < yield_n; i++)
		green_yield();
	yield_result = (now_s() - t0) / (2.0 * (double)yield_n);  /* two yields per iteration */
}

static double bench_yield(long n)
{
	struct green_config cfg = { .workers = 1 };
	yield_n = n;
	green_run(&cfg, yield_main, NULL);
	return yield_result;
}

/* ---- spawn + exit ---- */

static long spawn_n;
static double spawn_result;

static void nothing(void *arg)
{
	(void)arg;
}

static void spawn_main(void *arg)
{
	(void)arg;
	double t0 = now_s();
	for (long i = 0; i < spawn_n; i += 16) {
		for (int k = 0; k < 16; k++)
			green_spawn(nothing, NULL);
		green_yield();           /* they run and exit; their stacks go back to the cache */
	}
	spawn_result = (now_s() - t0) / (double)spawn_n;
}

static double bench_spawn(long n)
{
	struct green_config cfg = { .workers = 1 };
	spawn_n = n;
	green_run(&cfg, spawn_main, NULL);
	return spawn_result;
}

/* ---- futex ping-pong between two threads ---- */

static _Atomic uint32_t turn;
static long futex_n;

static void wait_turn(uint32_t mine)
{
	uint32_t t;
	while ((t = atomic_load(&turn)) != mine)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, t, NULL, NULL, 0);
}

static void give_turn(uint32_t other)
{
	atomic_store(&turn, other);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *futex_partner(void *arg)
{
	(void)arg;
	for (long i = 0; i < futex_n; i++) {
		wait_turn(1);
		give_turn(0);
	}
	return NULL;
}

static double bench_futex(long n)
{
	pthread_t t;
	futex_n = n;
	atomic_store(&turn, 0);
	pthread_create(&t, NULL, futex_partner, NULL);
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		give_turn(1);
		wait_turn(0);
	}
	double d = now_s() - t0;
	pthread_join(t, NULL);
	return d / (2.0 * (double)n);
}

/* ---- pipe ping-pong between two processes ---- */

static double bench_pipe(long n)
{
	int there[2], back[2];
	char c = 'x';
	if (pipe(there) < 0 || pipe(back) < 0)
		return 0;
	pid_t pid = fork();
	if (pid == 0) {
		for (long i = 0; i < n; i++)
			if (read(there[0], &c, 1) != 1 || write(back[1], &c, 1) != 1)
				break;
		_exit(0);
	}
	double t0 = now_s();
	for (long i = 0; i < n; i++)
		if (write(there[1], &c, 1) != 1 || read(back[0], &c, 1) != 1)
			break;
	double d = now_s() - t0;
	waitpid(pid, NULL, 0);
	close(there[0]);
	close(there[1]);
	close(back[0]);
	close(back[1]);
	return d / (2.0 * (double)n);
}

struct bench {
	const char *name;
	double (*run)(long n);
	long n;
	double samples[ROUNDS];
};

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	struct bench b[] = {
#ifndef GREEN_UCONTEXT
		{ "green_ctx_switch (assembly)", bench_ctx_switch, 20000000, {0} },
#endif
		{ "green_yield (via scheduler, 1 worker)", bench_yield, 5000000, {0} },
		{ "swapcontext (glibc)", bench_swapcontext, 2000000, {0} },
		{ "futex ping-pong, 2 threads", bench_futex, 100000, {0} },
		{ "pipe ping-pong, 2 processes", bench_pipe, 100000, {0} },
		{ "green spawn + exit (1 worker)", bench_spawn, 1000000, {0} },
	};
	size_t nb = sizeof b / sizeof b[0];
	for (int r = 0; r < ROUNDS; r++)
		for (size_t i = 0; i < nb; i++)
			b[i].samples[r] = b[i].run(b[i].n);
	printf("bench-micro: median of %d alternated rounds, ns per switch (spawn: per green thread)\n",
	       ROUNDS);
	double base = 0;
	for (size_t i = 0; i < nb; i++) {
		qsort(b[i].samples, ROUNDS, sizeof(double), by_value);
		double ns = b[i].samples[ROUNDS / 2] * 1e9;
		if (i == 0)
			base = ns;
		printf("  %-40s %10.1f ns  %8.1fx\n", b[i].name, ns, ns / base);
	}
	return 0;
}
