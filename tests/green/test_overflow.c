/*
 * test_overflow.c: a green thread that overflows its stack. Run it and the process must die
 * with the runtime's report naming the green thread ("stack overflow in green thread #2
 * (recurser)"), not with a bare segfault somewhere else. tests/suites/40-green-runtime.sh
 * checks the message and the signal; this program cannot check its own death.
 */
#include <stdint.h>
#include <stdio.h>

#include "green.h"

/* Not a tail call, and a frame the compiler cannot shrink: each level really takes stack. */
__attribute__((noinline)) static unsigned recurse(unsigned depth)
{
	volatile char frame[256];
	frame[0] = (char)depth;
	if (depth == UINT32_MAX)     /* never: keeps the compiler from calling it infinite */
		return 0;
	return recurse(depth + 1) + frame[0];
}

static void recurser(void *arg)
{
	(void)arg;
	green_set_name("recurser");
	printf("%u\n", recurse(0));
}

static void start(void *arg)
{
	(void)arg;
	green_spawn(recurser, NULL);
}

int main(void)
{
	struct green_config cfg = { .workers = 2 };
	green_run(&cfg, start, NULL);
	puts("the overflow went unnoticed");
	return 0;
}
