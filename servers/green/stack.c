/*
 * stack.c: green-thread stacks and what happens when one overflows.
 *
 * A stack is an anonymous mapping with a guard page below it (stacks grow down). Touching the
 * guard faults, and the SIGSEGV handler, running on an alternate signal stack because the
 * faulting one is full, checks whether the address lies in the guard page of the green
 * thread running on this OS thread. If so it names that green thread and dies; otherwise the
 * fault is someone else's and the previous handler (default, or a sanitizer's) gets it.
 *
 * The guard is installed with MADV_GUARD_INSTALL where the kernel has it (Linux 6.13): that
 * keeps the whole stack one mapping, so adjacent stacks merge into one kernel VMA. The
 * fallback, mprotect(PROT_NONE), splits each stack into two VMAs, and the kernel's
 * vm.max_map_count (65530 by default) then caps a process at about 32,000 stacks.
 *
 * Only pages a green thread touches become resident; the rest of its stack is address space.
 * Transparent huge pages are refused, or one touch could make 2 MiB resident.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "runtime.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define GREEN_VALGRIND 1
#endif
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

enum { ALTSTACK_SIZE = 64 * 1024 };

/* 1: try MADV_GUARD_INSTALL, 2: it works here, 0: it does not (old kernel, emulator) */
static _Atomic int guard_madvise = 1;

size_t page_size(void)
{
	static _Atomic size_t cached;
	size_t p = atomic_load_explicit(&cached, memory_order_relaxed);
	if (!p) {
		p = (size_t)sysconf(_SC_PAGESIZE);
		atomic_store_explicit(&cached, p, memory_order_relaxed);
	}
	return p;
}

/* True if the guard really faults. An emulator (qemu-user) may accept an madvise() it does not
 * implement; reading the page through the kernel tells: a guard region gives EFAULT. */
static bool guard_faults(char *guard)
{
	char byte;
	struct iovec local = { &byte, 1 }, remote = { guard, 1 };
	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) < 0 && errno == EFAULT;
}

static int install_guard(char *guard, size_t len)
{
	int state = atomic_load_explicit(&guard_madvise, memory_order_relaxed);
	if (state != 0) {
		if (madvise(guard, len, MADV_GUARD_INSTALL) == 0 && (state == 2 || guard_faults(guard))) {
			atomic_store_explicit(&guard_madvise, 2, memory_order_relaxed);
			return 0;
		}
		atomic_store_explicit(&guard_madvise, 0, memory_order_relaxed);
	}
	return mprotect(guard, len, PROT_NONE);
}

int stack_map(struct stack *s, size_t usable)
{
	size_t page = page_size();
	size_t len = page + ((usable + page - 1) & ~(page - 1));
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	if (install_guard(p, page) < 0) {
		int err = errno;
		munmap(p, len);
		errno = err;
		return -1;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	s->base = p;
	s->len = len;
	s->valgrind_id = 0;
#ifdef GREEN_VALGRIND
	s->valgrind_id = VALGRIND_STACK_REGISTER(s->base + page, s->base + len);
#endif
	return 0;
}

void stack_unmap(struct stack *s)
{
#ifdef GREEN_VALGRIND
	VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
	munmap(s->base, s->len);
	s->base = NULL;
}

/* ---- the stack-overflow report ---- */

static struct sigaction previous_segv;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static __thread void *altstack;

/* snprintf is not async-signal-safe; these two are all the formatting the report needs. */
static char *put_str(char *p, char *end, const char *s)
{
	while (*s && p < end)
		*p++ = *s++;
	return p;
}

static char *put_num(char *p, char *end, uintptr_t v, unsigned base)
{
	char digits[24];
	int n = 0;
	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (base == 16)
		p = put_str(p, end, "0x");
	while (n && p < end)
		*p++ = digits[--n];
	return p;
}

static void report_overflow(const struct green *g, const void *addr)
{
	char msg[256], *p = msg, *end = msg + sizeof msg - 1;
	p = put_str(p, end, "green: stack overflow in green thread #");
	p = put_num(p, end, g->id, 10);
	p = put_str(p, end, " (");
	p = put_str(p, end, g->name ? g->name : "unnamed");
	p = put_str(p, end, "): its ");
	p = put_num(p, end, (g->stack.len - page_size()) / 1024, 10);
	p = put_str(p, end, " KiB stack is full (fault at ");
	p = put_num(p, end, (uintptr_t)addr, 16);
	p = put_str(p, end, ", in its guard page)\n");
	ssize_t unused = write(STDERR_FILENO, msg, (size_t)(p - msg));
	(void)unused;
}

static void on_segv(int sig, siginfo_t *si, void *uctx)
{
	const struct green *g = green_current_for_signal();
	const char *addr = si->si_addr;

	if (g && addr >= g->stack.base && addr < g->stack.base + page_size()) {
		report_overflow(g, addr);
		signal(SIGSEGV, SIG_DFL);       /* returning re-runs the access: the default kills */
		return;
	}
	/* Not ours: let whoever was there before have it, or the default (a core dump). */
	if ((previous_segv.sa_flags & SA_SIGINFO) && previous_segv.sa_sigaction) {
		previous_segv.sa_sigaction(sig, si, uctx);
		return;
	}
	if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN &&
	    previous_segv.sa_handler) {
		previous_segv.sa_handler(sig);
		return;
	}
	signal(SIGSEGV, SIG_DFL);
}

static void install_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &previous_segv);
}

int stack_guard_thread_init(void)
{
	pthread_once(&handler_once, install_handler);
	if (altstack)
		return 0;
	void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	               -1, 0);
	if (p == MAP_FAILED)
		return -1;
	stack_t ss = { .ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0 };
	if (sigaltstack(&ss, NULL) < 0) {
		munmap(p, ALTSTACK_SIZE);
		return -1;
	}
	altstack = p;
	return 0;
}

void stack_guard_thread_exit(void)
{
	if (!altstack)
		return;
	stack_t ss = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
	sigaltstack(&ss, NULL);
	munmap(altstack, ALTSTACK_SIZE);
	altstack = NULL;
}
