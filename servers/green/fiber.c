/*
 * fiber.c: green_ctx_switch() with the bookkeeping that lets AddressSanitizer and
 * ThreadSanitizer follow a switch of stacks. Without it ASan takes the new stack for a buffer
 * overflow and TSan mixes up the shadow call stacks of unrelated green threads. Both cost
 * nothing in a normal build: the hooks compile to nothing. (Valgrind needs stacks registered,
 * not switches announced: see stack.c.)
 */
#include <pthread.h>

#include "runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#define GREEN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GREEN_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define GREEN_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GREEN_TSAN 1
#endif
#endif

#ifdef GREEN_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef GREEN_TSAN
#include <sanitizer/tsan_interface.h>
#endif

void fiber_init_thread(struct fiber *f)
{
	*f = (struct fiber){0};
#ifdef GREEN_ASAN
	/* ASan needs the bounds of the stack it switches back to. */
	pthread_attr_t attr;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		pthread_attr_getstack(&attr, &f->stack_lo, &f->stack_size);
		pthread_attr_destroy(&attr);
	}
#endif
#ifdef GREEN_TSAN
	f->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void fiber_create(struct fiber *f, void *lo, size_t size, void (*entry)(void *), void *arg)
{
	f->stack_lo = lo;
	f->stack_size = size;
	f->asan_fake_stack = NULL;
	green_ctx_init(&f->ctx, lo, size, entry, arg);
#ifdef GREEN_TSAN
	f->tsan_fiber = __tsan_create_fiber(0);
#endif
}

void fiber_started(void)
{
#ifdef GREEN_ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
}

void fiber_switch(struct fiber *from, struct fiber *to, bool from_exits)
{
#ifdef GREEN_ASAN
	__sanitizer_start_switch_fiber(from_exits ? NULL : &from->asan_fake_stack, to->stack_lo,
	                               to->stack_size);
#endif
#ifdef GREEN_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
	(void)from_exits;
	green_ctx_switch(&from->ctx, &to->ctx);
	/* Back in `from`, possibly on another OS thread. */
#ifdef GREEN_ASAN
	__sanitizer_finish_switch_fiber(from->asan_fake_stack, NULL, NULL);
#endif
}

void fiber_destroy(struct fiber *f)
{
#ifdef GREEN_TSAN
	if (f->tsan_fiber)
		__tsan_destroy_fiber(f->tsan_fiber);
	f->tsan_fiber = NULL;
#else
	(void)f;
#endif
}
