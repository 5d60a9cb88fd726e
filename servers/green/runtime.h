/*
 * runtime.h: what the runtime's files share with each other. The API is green.h; nothing
 * here is for users of the runtime.
 *
 *   context.h + switch_*.S   the raw context switch
 *   fiber.c                  that switch, told to ASan, TSan and Valgrind
 *   stack.c                  stacks with guard pages, and the stack-overflow report
 *   runq.c                   the per-worker lock-free run queue
 *   sched.c                  workers, the global queue, stealing, parking, idling, spawn/exit
 *   blocking.c               green_blocking(): handing a worker to another OS thread
 *   monitor.c                Go's sysmon: takes the worker from a thread stuck too long
 *   timer.c                  one timer heap for sleeps and I/O deadlines
 *   netpoll.c                epoll and the per-fd wait slots (pollDesc)
 *   io.c                     green_read() and friends: a syscall, EAGAIN, park, retry
 */
#ifndef GREEN_RUNTIME_H
#define GREEN_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "green.h"

/* ---- fiber.c: a context plus what the debugging tools need to follow switches ---- */

struct fiber {
	struct green_ctx ctx;
	void *stack_lo;              /* the stack it runs on, for AddressSanitizer */
	size_t stack_size;
	void *asan_fake_stack;       /* ASan's per-fiber state, kept while switched away */
	void *tsan_fiber;            /* ThreadSanitizer's fiber */
};

/* The running OS thread's own stack as a fiber, to switch away from and back to. */
void fiber_init_thread(struct fiber *f);
/* A new fiber that will run entry(arg) on [lo, lo + size); it must call fiber_started()
 * first thing. */
void fiber_create(struct fiber *f, void *lo, size_t size, void (*entry)(void *), void *arg);
void fiber_started(void);
/* Switches from the running fiber to `to`. from_exits: `from` will never run again (its
 * sanitizer state can go). */
void fiber_switch(struct fiber *from, struct fiber *to, bool from_exits);
/* Releases what fiber_create() took; called from another fiber once f has exited. */
void fiber_destroy(struct fiber *f);

/* ---- stack.c ---- */

struct stack {
	char *base;                  /* the mapping: one guard page, then the usable stack */
	size_t len;                  /* of the whole mapping */
	unsigned valgrind_id;
};

size_t page_size(void);
/* Maps a stack of at least `usable` bytes above a guard page. 0, or -1 with errno. */
int stack_map(struct stack *s, size_t usable);
void stack_unmap(struct stack *s);
/* Installs the SIGSEGV handler that turns a guard-page hit into a report naming the green
 * thread, and gives the calling OS thread the alternate signal stack it needs (a thread
 * that overflowed its stack has none left to run a handler on). */
int stack_guard_thread_init(void);
void stack_guard_thread_exit(void);

/* ---- timer.c: one heap of deadlines for the whole runtime ---- */

struct timer {
	uint64_t when;               /* monotonic ns */
	size_t slot;                 /* heap index + 1; 0 while not armed */
	_Atomic uint64_t armed_when; /* when, while armed; 0 while not: readable without the lock */
	/* Called with the timer lock held, the timer already disarmed. Returns when to fire
	 * again, or 0 to stay disarmed. It may ready green threads; it must not take the lock. */
	uint64_t (*fire)(struct timer *t, uint64_t now);
};

uint64_t mono_ns(void);
void timers_init(void);
void timers_destroy(void);
/* Arms t for t->when unless *cancelled is set, both under the timer lock (so a canceller
 * that sets the flag and then calls timer_cancel() cannot miss it). Returns 1 when armed, 0
 * when cancelled, -1 when out of memory. */
int timer_arm_unless(struct timer *t, _Atomic bool *cancelled);
/* Makes sure t fires no later than `when`: arms it, or moves it earlier. Its fire() re-arms it
 * for whatever is still pending. If t is armed for `when` or earlier already, it returns at
 * once without the lock; the fire() that follows (unless t is cancelled) sees what the caller
 * stored before the call. Returns 0, or -1 when out of memory. */
int timer_arm_by(struct timer *t, uint64_t when);
/* Disarms t. True if it was armed: then its fire() will not run, and did not. */
bool timer_cancel(struct timer *t);
/* Runs the callback of every timer due at `now`. Returns how many fired. */
int timers_run(uint64_t now);
/* The earliest armed deadline, or UINT64_MAX: a lock-free hint for the poller's timeout. */
uint64_t timers_next(void);

/* ---- the green thread ---- */

enum green_status {
	G_RUNNABLE,                  /* in a run queue, or about to be */
	G_RUNNING,                   /* on a worker */
	G_PARKED,                    /* switched away, waiting for whoever will ready it */
	G_DEAD,                      /* exited; stack in a cache */
};

struct green {
	struct fiber fiber;
	struct green *next;          /* link in the global run queue and the free caches */
	_Atomic int status;          /* enum green_status; checked so no green thread runs twice */
	void (*fn)(void *);
	void *arg;
	uint64_t id;
	const char *name;
	struct stack stack;          /* this struct lives at the top of it */
	struct timer sleep_timer;
	_Atomic bool interrupted;
	unsigned io_unparked;        /* I/O calls since it last gave up its worker (io.c's budget) */
	bool unmap_on_exit;          /* green_exit_unmapped(): its stack is not cached */
};

/* ---- sched.c ---- */

/* The green thread running on this OS thread, or NULL on a scheduler stack or foreign
 * thread. Never inlined, so a caller that migrated reads the new thread's value. */
struct green *green_current(void);
/* The same, readable from a signal handler. */
struct green *green_current_for_signal(void);

/*
 * Parks the calling green thread. commit(g, arg) runs on the scheduler's stack after the
 * switch away, when g's registers are saved and it is safe for anyone to resume it; it
 * publishes g to whoever will wake it, with release ordering (a CAS or a lock: the status
 * written just before it is not fenced otherwise). If commit returns false (the event came
 * already), g resumes at once.
 */
void green_park(bool (*commit)(struct green *g, void *arg), void *arg);
/* Makes a parked green thread runnable. Each park is matched by exactly one ready. */
void green_ready(struct green *g);
/* Several at once, linked through ->next: one wake-up of an idle worker for all of them. */
void green_ready_list(struct green *list);
void sched_stack_overflow_report(void);

/* For blocking.c: the worker the calling green thread runs on is handed to another OS thread
 * before a blocking call, and the green thread queued again after it. */
struct worker;
struct worker *sched_detach_worker(void);
void sched_reattach_worker(struct worker *w);
int sched_handoff(struct worker *w);
void sched_after_blocking(void);

/* For monitor.c. sched_retake() takes the workers of the threads stuck since its last call
 * and hands them to other threads; true if it took any. *moved: some thread switched green
 * threads since the last call. sched_all_idle(): no green thread runs (one worker polls, the
 * others sleep), read with RMWs. */
bool sched_retake(bool *moved);
bool sched_all_idle(void);

/* ---- monitor.c ---- */

/* How long a worker may go without coming back to its scheduler before the monitor takes it:
 * in a blocking call (its thread asleep in the kernel), and in a computation (on a CPU).
 * Go's values. */
#define RETAKE_BLOCKED_NS 20000u
#define RETAKE_RUNNING_NS 10000000u
int monitor_start(void);
void monitor_stop(void);
/* A worker leaves its idle state: wakes the monitor if it sleeps. */
void monitor_wake(void);

/* ---- io.c ---- */

/* Sets errno of the OS thread running the caller, after a park (see green_errno()). */
void green_set_errno(int err);

/* ---- netpoll.c ---- */

int netpoll_init(void);
void netpoll_destroy(void);
/* Collects the green threads whose fds became ready, waiting up to timeout_ms (-1: forever,
 * 0: not at all). Returns them linked through ->next. */
struct green *netpoll(int timeout_ms);
/* Makes a netpoll() blocked in another thread return now. */
void netpoll_break(void);
/* True when some green thread is parked on an fd (otherwise a busy worker needn't poll). */
bool netpoll_has_waiters(void);

#endif
