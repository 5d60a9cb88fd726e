/*
 * context.h: the lowest layer of the runtime: a suspended execution context and the switch
 * between two of them. Nothing here knows about green threads, schedulers or sanitizers.
 *
 * A context is a stack pointer. Switching pushes the callee-saved state of the ABI (the only
 * state a C caller expects to survive a call) onto the current stack, saves the stack pointer,
 * loads the other one and pops. Everything else (caller-saved registers, flags) the compiler
 * already treats as clobbered by the call to green_ctx_switch(), so it costs nothing to drop.
 *
 *   x86-64 (switch_x86_64.S):   rbx rbp r12-r15, MXCSR and x87 control words, rsp
 *   aarch64 (switch_aarch64.S): x19-x30, d8-d15, sp
 *   elsewhere (switch_ucontext.c, or `make GREEN_SWITCH=ucontext`): getcontext/swapcontext,
 *   correct everywhere but slow: swapcontext makes a sigprocmask system call on every switch.
 */
#ifndef GREEN_CONTEXT_H
#define GREEN_CONTEXT_H

#include <stddef.h>

#if !defined(GREEN_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define GREEN_UCONTEXT 1
#endif

#ifdef GREEN_UCONTEXT
#include <ucontext.h>
struct green_ctx {
	ucontext_t uc;
};
#else
struct green_ctx {
	void *sp;                    /* the saved registers sit at the top of the stack it points to */
};
#endif

/* Prepares c so that the first switch to it calls entry(arg) on the stack [lo, lo + size).
 * entry must never return: a context ends by switching away for good. */
void green_ctx_init(struct green_ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg);

/* Saves the running context in *from and resumes *to. Returns when something switches back
 * to *from. A context that has never run needs no init to be switched *from*: the running
 * thread's own stack becomes a context the first time it switches away. */
void green_ctx_switch(struct green_ctx *from, struct green_ctx *to);

#endif
