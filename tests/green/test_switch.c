/*
 * test_switch.c: every callee-saved register survives a context switch, the floating-point
 * ones and control words included: raw green_ctx_switch() between two stacks, and the full
 * path through the scheduler (yield and sleep, across several workers, so green threads also
 * resume on other OS threads). The registers are loaded and read by assembly (regcheck_*.S).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#include "../check.h"
#include "regcheck.h"
#include "runtime.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

enum { ROUNDS = 2000, GREENS = 4 };

static const char *const reg_names[REGCHECK_N] = REGCHECK_NAMES;

/* Patterns that differ between sides and rounds in every register. x86's control registers
 * take only valid values: rounding mode, flush-to-zero and denormals-are-zero in MXCSR;
 * precision and rounding control in the x87 control word. */
static void make_patterns(uint64_t *p, unsigned side, unsigned round)
{
	for (unsigned i = 0; i < REGCHECK_N; i++)
		p[i] = 0x9e3779b97f4a7c15ull * (side * 64 + i + 1) ^ ((uint64_t)round << 20);
#if defined(__x86_64__)
	unsigned v = (side + round) % 4;
	p[6] = 0x1F80 | (uint64_t)v << 13 | (uint64_t)(side & 1) << 15 | (uint64_t)(round & 1) << 6;
	p[7] = 0x007F | (uint64_t)v << 10 | (uint64_t)((side + 1) % 4) << 8;
	/* Valgrind emulates the rounding modes, but not flush-to-zero, denormals-are-zero or the
	 * x87 precision control: there, only the rounding modes can be checked. */
	if (RUNNING_ON_VALGRIND) {
		p[6] &= ~(uint64_t)(1 << 15 | 1 << 6);
		p[7] |= 3 << 8;
	}
#endif
}

/* Which register differs, or -1. The MXCSR exception flags are status, not state: ignored. */
static int first_difference(const uint64_t *want, const uint64_t *got)
{
	for (unsigned i = 0; i < REGCHECK_N; i++) {
		uint64_t mask = ~0ull;
#if defined(__x86_64__)
		if (i == 6)
			mask = ~0x3Full;
		if (i == 7)
			mask = 0x0F3F;
#endif
		if ((want[i] & mask) != (got[i] & mask))
			return (int)i;
	}
	return -1;
}

/* ---- raw switch between the main stack and one other ---- */

static struct fiber main_fiber, other_fiber;
static atomic_int other_bad_reg = -1;

static void main_to_other(void *arg)
{
	(void)arg;
	fiber_switch(&main_fiber, &other_fiber, false);
}

static void other_to_main(void *arg)
{
	(void)arg;
	fiber_switch(&other_fiber, &main_fiber, false);
}

static void other_entry(void *arg)
{
	(void)arg;
	fiber_started();
	for (unsigned round = 0;; round++) {
		uint64_t load[REGCHECK_N], store[REGCHECK_N];
		make_patterns(load, 1, round);
		regcheck_call(other_to_main, NULL, load, store);
		int bad = first_difference(load, store);
		if (bad >= 0 && atomic_load(&other_bad_reg) < 0)
			atomic_store(&other_bad_reg, bad);
	}
}

static bool raw_switch(void)
{
	size_t size = 256 * 1024;
	void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT(stack != MAP_FAILED, "a stack");
	fiber_init_thread(&main_fiber);
	fiber_create(&other_fiber, stack, size, other_entry, NULL);
	for (unsigned round = 0; round < ROUNDS; round++) {
		uint64_t load[REGCHECK_N], store[REGCHECK_N];
		make_patterns(load, 0, round);
		regcheck_call(main_to_other, NULL, load, store);
		int bad = first_difference(load, store);
		EXPECT(bad < 0, "%s = %#llx after switching back (was %#llx), round %u",
		       reg_names[bad], (unsigned long long)store[bad], (unsigned long long)load[bad],
		       round);
		bad = atomic_load(&other_bad_reg);
		EXPECT(bad < 0, "%s lost on the other stack", reg_names[bad]);
	}
	fiber_destroy(&other_fiber);     /* never resumed: its stack can go */
	munmap(stack, size);
	return true;
}

/* ---- through the scheduler ---- */

static atomic_int sched_failures;
static _Atomic unsigned migrations;

static void do_yield(void *arg)
{
	(void)arg;
	green_yield();
}

static void do_sleep(void *arg)
{
	(void)arg;
	green_sleep_ms(1);
}

static void checker(void *arg)
{
	unsigned side = (unsigned)(uintptr_t)arg, last_worker = green_thread_id();
	for (unsigned round = 0; round < ROUNDS; round++) {
		uint64_t load[REGCHECK_N], store[REGCHECK_N];
		make_patterns(load, side, round);
		regcheck_call(round % 100 == 99 ? do_sleep : do_yield, NULL, load, store);
		int bad = first_difference(load, store);
		if (bad >= 0) {
			fprintf(stderr, "  green thread %u: %s = %#llx after round %u (was %#llx)\n",
			        side, reg_names[bad], (unsigned long long)store[bad], round,
			        (unsigned long long)load[bad]);
			atomic_fetch_add(&sched_failures, 1);
			return;
		}
		if (green_thread_id() != last_worker)
			atomic_fetch_add(&migrations, 1);
		last_worker = green_thread_id();
	}
}

static void spawn_checkers(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < GREENS; i++)
		green_spawn(checker, (void *)(uintptr_t)(i + 2));
}

static bool through_scheduler(void)
{
	struct green_config cfg = { .workers = 3 };
	EXPECT(green_run(&cfg, spawn_checkers, NULL) == 0, "the runtime to run");
	EXPECT(atomic_load(&sched_failures) == 0, "no register lost (see above)");
	printf("  (%u resumptions on another worker)\n", atomic_load(&migrations));
	return true;
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "raw-switch-preserves-callee-saved-registers", raw_switch },
		{ "scheduler-preserves-callee-saved-registers", through_scheduler },
	};
	return run_cases(cases, sizeof cases / sizeof cases[0], argc, argv);
}
