/*
 * switch_ucontext.c: the portable fallback for green_ctx_switch, on getcontext/makecontext/
 * swapcontext. Used on targets without a hand-written switch, or on request with
 * `make GREEN_SWITCH=ucontext`. Correct, but every swapcontext() makes a sigprocmask system
 * call, which is why the assembly versions exist (compare them with `make bench-micro`).
 */
#include "context.h"

#ifdef GREEN_UCONTEXT

#include <stdint.h>
#include <stdlib.h>

/* makecontext() passes only int arguments, so entry and arg travel as 32-bit halves. */
static void start(unsigned e_hi, unsigned e_lo, unsigned a_hi, unsigned a_lo)
{
	void (*entry)(void *) = (void (*)(void *))(((uintptr_t)e_hi << 32) | e_lo);
	void *arg = (void *)(((uintptr_t)a_hi << 32) | a_lo);
	entry(arg);
	abort();                     /* entry must not return */
}

void green_ctx_init(struct green_ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
{
	uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;

	getcontext(&c->uc);
	c->uc.uc_stack.ss_sp = lo;
	c->uc.uc_stack.ss_size = size;
	c->uc.uc_link = NULL;
	makecontext(&c->uc, (void (*)(void))start, 4, (unsigned)(e >> 32), (unsigned)e,
	            (unsigned)(a >> 32), (unsigned)a);
}

void green_ctx_switch(struct green_ctx *from, struct green_ctx *to)
{
	swapcontext(&from->uc, &to->uc);
}

#else
/* ISO C forbids an empty translation unit. */
typedef int green_switch_ucontext_unused;
#endif
