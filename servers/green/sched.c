/*
 * sched.c: the scheduler. Workers, OS threads, run queues, stealing, parking and idling.
 *
 * Vocabulary (Go's P, M and G):
 *   worker   a run queue and what goes with it; there are exactly cfg.workers of them.
 *            A green thread runs only on an OS thread that holds a worker.
 *   thread   an OS thread (struct m). Each runs the scheduler loop on its own stack (g0) and
 *            switches from there to one green thread at a time, and back. Normally there is
 *            one thread per worker; green_blocking() hands a worker to a spare thread (see
 *            blocking.c), so there can be more threads than workers.
 *   green    a green thread: a stack and a saved context.
 *
 * Every switch goes through g0: green thread -> g0 -> next green thread. The detour is what
 * makes parking safe. A green thread that waits for something cannot publish itself to the
 * waker before it has switched away: a waker on another worker could resume it while its
 * registers are still live on this one, and two threads would run on one stack. So it says
 * what it waits for in m->after and switches to g0, and g0, now that the green thread's
 * context is saved, runs the commit that makes it wakeable. A wake-up that arrives before the
 * commit makes the commit fail and the green thread resumes at once. That is Go's
 * gopark/park_m, and why netpoll.c's wait slots have a WAIT state.
 *
 * Where a worker finds work, in order: its own run queue (and, one time in 61, the global
 * queue first, so a busy local queue cannot starve it); the global queue; due timers; ready
 * fds (a non-blocking epoll_wait, unless it is the only worker); half the run queue of
 * another worker. With nothing, it idles: one idle worker blocks in epoll_wait until the next
 * timer (the "poller"); the others sleep on a futex and cost no CPU.
 *
 * No wake-up is lost: whoever makes work runnable then looks for an idle worker to wake
 * (wakep), and an idle worker, after announcing itself idle, looks for work once more before
 * it sleeps (the store-then-load pattern of Dekker's algorithm). At least one of the two sees
 * the other because both touch the idle count (or the polling flag) with a read-modify-write:
 * an RMW always reads the latest value, so either the waker's RMW comes later and sees the
 * idle worker, or the idle worker's RMW reads from the waker's and so also sees the work the
 * waker published before it. (Fences would say the same, but ThreadSanitizer cannot check
 * programs that rely on fences.)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpus.h"   /* servers/core/: header-only */
#include "runq.h"
#include "runtime.h"

enum {
	LOCAL_CACHE = 32,            /* exited green threads a worker keeps for reuse */
	GLOBAL_CACHE = 1024,         /* ...and all workers together beyond that */
	STEAL_ROUNDS = 4,
	FAIRNESS_TICK = 61,          /* Go's number: prime, so it beats no periodic pattern */
};

/* What g0 does after a green thread switched to it. */
enum after { AFTER_NONE, AFTER_PARK, AFTER_YIELD, AFTER_EXIT, AFTER_BLOCKING };

struct worker {
	unsigned id;
	struct runq runq;
	struct green *cache;         /* exited green threads, stacks mapped, for green_spawn */
	unsigned ncache;
	unsigned tick;
	uint32_t rng;
	/* Green threads spawned and exited here, written only by the thread holding the worker:
	 * the live count without a locked instruction (see all_exited), and the spawn count
	 * numbers them. */
	_Atomic uint64_t spawned, exited;
	_Atomic uint32_t wake;       /* futex word: set to 1 to end an idle sleep */
	struct worker *idle_next;    /* under sched.lock; also links sched.orphans */
	bool idle;                   /* under sched.lock: on the idle list */
};

/*
 * m->tick, what the monitor watches (monitor.c): a count of the green threads m has switched
 * to (in steps of TICK_STEP), and m's state in the low bits. Only m writes it, with plain
 * stores. The monitor takes m's worker only from a RUNNING tick that has not moved for long
 * enough, and m->retake says how far it got: see keep_worker() and take_worker().
 */
enum {
	TICK_SCHED = 0,              /* on g0, or in green_blocking(): nothing to take */
	TICK_RUNNING = 1,            /* a green thread runs: the monitor may take its worker */
	TICK_HELD = 2,               /* a green thread touches its worker: wait */
	TICK_STATE = 3,
	TICK_STEP = 4,
};

/* m->retake: written by the monitor, and set back to NONE by m once it has seen TAKEN. */
enum { RETAKE_NONE, RETAKE_DECIDING, RETAKE_TAKEN };

struct m {
	pthread_t thread;
	unsigned id;                 /* in [0, max_threads): green_thread_id() */
	_Atomic uint32_t tick;       /* see above */
	_Atomic uint32_t retake;     /* RETAKE_*: see above */
	uint32_t ticks;              /* m's own copy of the count */
	pid_t tid;                   /* the kernel's id of the thread, for the monitor... */
	clockid_t cpu_clock;         /* ...and its CPU time */
	uint32_t seen_tick;          /* the monitor's: tick at its last look... */
	uint64_t seen_at, seen_cpu;  /* ...since when, and the thread's CPU time then */
	struct fiber g0;             /* this thread's own stack, where the scheduler runs */
	/* The worker it serves, NULL while spare or blocked. Atomic for the monitor, which reads it
	 * while m runs; only m writes it, rarely, and reads of it cost what plain ones do. */
	_Atomic(struct worker *) w;
	struct green *g;             /* the green thread on it, NULL on g0 */
	enum after after;            /* set by the green thread for g0 */
	bool (*commit)(struct green *g, void *arg);
	void *commit_arg;
	_Atomic uint32_t wake;       /* futex word: set to 1 when handed a worker (or stopping) */
	struct m *spare_next;        /* under sched.lock */
	struct m *all_next;          /* under sched.lock */
};

static struct {
	pthread_mutex_t lock;
	struct green *gq_head, *gq_tail;     /* the global run queue, under lock */
	_Atomic size_t gq_len;               /* its length, readable without the lock */
	struct green *cache;                 /* exited green threads, under lock */
	size_t ncache;
	struct worker *idle;                 /* workers asleep on their futex, under lock */
	_Atomic unsigned nidle;
	_Atomic unsigned polling;            /* 1: a worker is (about to be) blocked in netpoll */
	struct m *spare;                     /* threads without a worker, under lock */
	struct m *all;                       /* every thread but the one in green_run */
	struct m *main_m;                    /* that one */
	unsigned nthreads, max_threads;      /* OS threads running the scheduler, under lock */
	bool said_max_threads;
	struct worker *orphans;              /* retaken workers waiting for a thread, under lock */
	struct worker *workers;
	unsigned nworkers;
	size_t stack_size;
	/* Green threads spawned and exited by threads without a worker (the workers count their
	 * own): see all_exited(). */
	_Atomic uint64_t spawned_outside, exited_outside;
	_Atomic uint64_t exit_check;         /* the fence of all_exited(): its value means nothing */
	bool asymmetric;                     /* membarrier() works: see keep_worker() */
	_Atomic bool stopping;
	_Atomic bool running;
} sched = { .lock = PTHREAD_MUTEX_INITIALIZER };

static __thread struct m *tls_m;

static void schedule(struct m *m);
static void stop_all(void);

/* ---- small helpers ---- */

__attribute__((noreturn, format(printf, 1, 2)))
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("green: runtime bug: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/*
 * The OS thread's state, read anew on each call. A green thread may resume on another OS
 * thread after any switch, and compilers cache the address of a thread-local variable across
 * calls they consider harmless (GCC does on aarch64): an inlined read here could return the
 * previous thread's m. noinline plus the empty asm keep every read a real one.
 */
__attribute__((noinline)) static struct m *cur_m(void)
{
	struct m *m = tls_m;
	__asm__ volatile("" ::: "memory");
	return m;
}

struct green *green_current(void)
{
	struct m *m = cur_m();
	return m ? m->g : NULL;
}

struct green *green_current_for_signal(void)
{
	return tls_m ? tls_m->g : NULL;
}

static void futex_wait(_Atomic uint32_t *word)
{
	while (atomic_load_explicit(word, memory_order_acquire) == 0)
		syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	atomic_store_explicit(word, 0, memory_order_relaxed);
}

static void futex_wake(_Atomic uint32_t *word)
{
	atomic_store_explicit(word, 1, memory_order_release);
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* ---- run queues ---- */

static void global_put(struct green *first, struct green *last, size_t n)
{
	last->next = NULL;
	pthread_mutex_lock(&sched.lock);
	if (sched.gq_tail)
		sched.gq_tail->next = first;
	else
		sched.gq_head = first;
	sched.gq_tail = last;
	atomic_fetch_add(&sched.gq_len, n);
	pthread_mutex_unlock(&sched.lock);
}

/* Puts g on w's queue; a full queue moves half of itself to the global queue (Go's
 * runqputslow), so the cost of the lock is paid once per RUNQ_SIZE/2 green threads. */
static void put_local(struct worker *w, struct green *g)
{
	struct green *batch[RUNQ_SIZE / 2 + 1];
	while (!runq_put(&w->runq, g)) {
		unsigned n = runq_grab(&w->runq, batch, RUNQ_SIZE / 2);
		if (n == 0)
			continue;
		batch[n++] = g;
		for (unsigned i = 0; i + 1 < n; i++)
			batch[i]->next = batch[i + 1];
		global_put(batch[0], batch[n - 1], n);
		return;
	}
}

/* Onto the queue of the worker this thread holds, or the global one when it holds none
 * (a thread that gave its worker away, or the runtime's outside callers). */
static void put_runnable(struct worker *w, struct green *g)
{
	if (w)
		put_local(w, g);
	else
		global_put(g, g, 1);
}

/* Takes a fair share of the global queue: one to run, and as many more as w's queue has room
 * for (at the fairness tick it may not be empty). */
static struct green *global_get(struct worker *w)
{
	if (atomic_load(&sched.gq_len) == 0)
		return NULL;
	pthread_mutex_lock(&sched.lock);
	size_t len = atomic_load(&sched.gq_len);
	size_t want = len / sched.nworkers + 1, n = 0;
	if (want > RUNQ_SIZE / 2)
		want = RUNQ_SIZE / 2;
	struct green *first = sched.gq_head;
	if (first) {
		sched.gq_head = first->next;
		n = 1;
	}
	while (n < want && sched.gq_head && runq_put(&w->runq, sched.gq_head)) {
		sched.gq_head = sched.gq_head->next;
		n++;
	}
	if (!sched.gq_head)
		sched.gq_tail = NULL;
	atomic_fetch_sub(&sched.gq_len, n);
	pthread_mutex_unlock(&sched.lock);
	return first;
}

static struct green *steal(struct worker *w)
{
	struct green *batch[RUNQ_SIZE / 2];
	for (int round = 0; round < STEAL_ROUNDS; round++) {
		w->rng = w->rng * 1103515245u + 12345u;
		unsigned start = (w->rng >> 16) % sched.nworkers;
		for (unsigned i = 0; i < sched.nworkers; i++) {
			struct worker *victim = &sched.workers[(start + i) % sched.nworkers];
			if (victim == w)
				continue;
			unsigned n = runq_grab(&victim->runq, batch, RUNQ_SIZE / 2);
			if (n == 0)
				continue;
			for (unsigned k = 1; k < n; k++)
				put_local(w, batch[k]);
			return batch[0];
		}
	}
	return NULL;
}

static bool work_visible(void)
{
	if (atomic_load(&sched.gq_len) > 0)
		return true;
	for (unsigned i = 0; i < sched.nworkers; i++)
		if (!runq_empty(&sched.workers[i].runq))
			return true;
	return false;
}

/* ---- counting green threads: the runtime stops when the last one has exited ---- */

/* Adds one to a counter that only the caller writes: no locked instruction. Returns the old
 * value. */
static uint64_t count_up(_Atomic uint64_t *c)
{
	uint64_t v = atomic_load_explicit(c, memory_order_relaxed);
	atomic_store_explicit(c, v + 1, memory_order_release);
	return v;
}

/*
 * True when every green thread spawned has exited. The exits are read before the spawns, and
 * each green thread's spawn happened before its exit (and before the spawns it made), so an
 * exit read has its spawn read too, and the sums are equal only if nothing is left: of a live
 * green thread, its spawn or that of an ancestor still alive is read and its exit is not. The
 * check runs where a worker finds nothing to do, which the last exit always leads to.
 *
 * Two last exits at once, on two threads, are the store-buffer pattern: each stores its own
 * count and then reads the other's, and without a full fence between the two both could read
 * the other's old count, both go to sleep and the runtime never stops. Every caller goes
 * through one read-modify-write on the same word first, so the later of the two sees the
 * earlier's exit. (An RMW, not atomic_thread_fence(), which ThreadSanitizer cannot follow;
 * it costs a locked instruction per idle spell, not per exit.)
 */
static bool all_exited(void)
{
	atomic_fetch_add(&sched.exit_check, 1);
	uint64_t exited = atomic_load(&sched.exited_outside);
	for (unsigned i = 0; i < sched.nworkers; i++)
		exited += atomic_load_explicit(&sched.workers[i].exited, memory_order_acquire);
	uint64_t spawned = atomic_load(&sched.spawned_outside);
	for (unsigned i = 0; i < sched.nworkers; i++)
		spawned += atomic_load_explicit(&sched.workers[i].spawned, memory_order_acquire);
	return spawned == exited;
}

/* ---- waking idle workers ---- */

/* Someone just made work runnable: make sure a worker will look at it. mine: the worker the
 * caller holds, if any. */
static void wakep(struct worker *mine)
{
	/* A lone worker that is running this code is neither idle nor polling. */
	if (sched.nworkers == 1 && mine)
		return;
	if (atomic_fetch_add(&sched.nidle, 0) > 0) {        /* an RMW: see the top */
		pthread_mutex_lock(&sched.lock);
		struct worker *w = sched.idle;
		if (w) {
			sched.idle = w->idle_next;
			w->idle = false;
			atomic_fetch_sub(&sched.nidle, 1);
		}
		pthread_mutex_unlock(&sched.lock);
		if (w) {
			futex_wake(&w->wake);
			return;
		}
	}
	if (atomic_fetch_or(&sched.polling, 0))
		netpoll_break();
}

static void leave_idle_list(struct worker *w)
{
	pthread_mutex_lock(&sched.lock);
	if (w->idle) {
		struct worker **p = &sched.idle;
		while (*p != w)
			p = &(*p)->idle_next;
		*p = w->idle_next;
		w->idle = false;
		atomic_fetch_sub(&sched.nidle, 1);
	}
	pthread_mutex_unlock(&sched.lock);
}

/* PARKED -> RUNNABLE. Each park is matched by exactly one ready: a second is a bug. */
static void make_runnable(struct green *g)
{
	int expect = G_PARKED;
	if (!atomic_compare_exchange_strong(&g->status, &expect, G_RUNNABLE))
		die("green thread #%llu woken while not parked (status %d): a wake-up was "
		    "delivered twice", (unsigned long long)g->id, expect);
}

/* Readies the green threads of a list; returns the first to run it now, queues the rest. */
static struct green *take_ready(struct green *list)
{
	if (!list)
		return NULL;
	make_runnable(list);
	green_ready_list(list->next);
	return list;
}

/* Green threads whose fds are ready, without blocking; unless a worker blocks in the poller
 * anyway, or nobody waits on an fd. */
static struct green *poll_ready(void)
{
	if (atomic_load(&sched.polling) || !netpoll_has_waiters())
		return NULL;
	return netpoll(0);
}

/*
 * Nothing to run: wait for something. One idle worker is the poller: it blocks in epoll_wait
 * until an fd is ready, the next timer is due, or netpoll_break(). The others sleep on their
 * futex until wakep() hands them work. Returns a green thread to run, or NULL to look again.
 * now: the clock as find_runnable() last read it, for the poller's time-out.
 */
static struct green *idle(struct worker *w, uint64_t now)
{
	if (all_exited()) {
		stop_all();
		return NULL;
	}
	if (!atomic_exchange(&sched.polling, 1)) {
		if (work_visible() || atomic_load(&sched.stopping)) {
			atomic_store(&sched.polling, 0);
			return NULL;
		}
		uint64_t next = timers_next();
		int timeout = -1;
		if (next != UINT64_MAX) {
			uint64_t ms = next > now ? (next - now + 999999) / 1000000 : 0;
			timeout = ms > INT_MAX ? INT_MAX : (int)ms;
		}
		struct green *list = netpoll(timeout);
		atomic_exchange(&sched.polling, 0);   /* an RMW: see sched_all_idle() */
		/* This worker is about to run something: let another idle one take over polling. */
		wakep(w);
		return take_ready(list);
	}

	pthread_mutex_lock(&sched.lock);
	w->idle = true;
	w->idle_next = sched.idle;
	sched.idle = w;
	atomic_fetch_add(&sched.nidle, 1);
	pthread_mutex_unlock(&sched.lock);
	/* Announced; now look once more, or a wakep() that ran before the announcement is lost.
	 * If nobody polls any more, become the poller instead of sleeping. */
	if (work_visible() || atomic_load(&sched.stopping) || !atomic_load(&sched.polling)) {
		leave_idle_list(w);
		return NULL;
	}
	futex_wait(&w->wake);
	/* Usually wakep() took us off the list; but the wake-up may be a stale one, from a wakep()
	 * that popped us while we were leaving on our own. Then we are still on it. */
	leave_idle_list(w);
	return NULL;
}

/* Idles (above), then wakes the monitor if it sleeps: this worker may run something now. */
static struct green *idle_then_wake_monitor(struct worker *w, uint64_t now)
{
	struct green *g = idle(w, now);
	monitor_wake();
	return g;
}

static struct green *find_runnable(struct worker *w)
{
	struct green *g;
	for (;;) {
		if (atomic_load(&sched.stopping))
			return NULL;
		if (++w->tick % FAIRNESS_TICK == 0) {
			/* Due timers and ready fds queue behind the local queue; the global one goes
			 * first. So a busy local queue starves none of them. */
			timers_run(mono_ns());
			green_ready_list(poll_ready());
			if ((g = global_get(w)))
				return g;
		}
		if ((g = runq_get(&w->runq)) || (g = global_get(w)))
			return g;
		/* One clock read per wake-up serves both the due timers and how long idle() may
		 * block (rounded up to a millisecond, so the microseconds since do not matter). */
		uint64_t now = mono_ns();
		if (timers_run(now) > 0)
			continue;
		/* Ready fds before stealing. A lone worker has nobody to steal from, and idle() polls
		 * at once: looking here too would cost it a second epoll_wait per wake-up. */
		if (sched.nworkers > 1 && (g = take_ready(poll_ready())))
			return g;
		if ((g = steal(w)) || (g = idle_then_wake_monitor(w, now)))
			return g;
	}
}

/* ---- green threads: life and death ---- */

static struct green *cache_get(struct worker *w)
{
	struct green *g = NULL;
	if (w && w->cache) {
		g = w->cache;
		w->cache = g->next;
		w->ncache--;
		return g;
	}
	pthread_mutex_lock(&sched.lock);
	if (sched.cache) {
		g = sched.cache;
		sched.cache = g->next;
		sched.ncache--;
	}
	pthread_mutex_unlock(&sched.lock);
	return g;
}

static void green_unmap(struct green *g)
{
	struct stack s = g->stack;   /* g lives inside the mapping */
	stack_unmap(&s);
}

static void cache_put(struct worker *w, struct green *g)
{
	if (w && w->ncache < LOCAL_CACHE) {
		g->next = w->cache;
		w->cache = g;
		w->ncache++;
		return;
	}
	pthread_mutex_lock(&sched.lock);
	if (sched.ncache < GLOBAL_CACHE) {
		g->next = sched.cache;
		sched.cache = g;
		sched.ncache++;
		g = NULL;
	}
	pthread_mutex_unlock(&sched.lock);
	if (g)
		green_unmap(g);
}

/* The green thread sits at the top of its own stack mapping: one mmap per green thread,
 * and the page holding it is the page the outermost frames use anyway. */
static struct green *green_alloc(struct worker *w)
{
	struct green *g = cache_get(w);
	if (g)
		return g;
	struct stack s;
	if (stack_map(&s, sched.stack_size) < 0)
		return NULL;
	uintptr_t top = (uintptr_t)(s.base + s.len);
	g = (struct green *)((top - sizeof(struct green)) & ~(uintptr_t)63);
	memset(g, 0, sizeof *g);
	g->stack = s;
	return g;
}

static void green_main(void *arg)
{
	struct green *g = arg;
	fiber_started();
	g->fn(g->arg);
	struct m *m = cur_m();
	m->after = AFTER_EXIT;
	fiber_switch(&g->fiber, &m->g0, true);
	die("exited green thread #%llu resumed", (unsigned long long)g->id);
}

static void finish_exit(struct worker *w, struct green *g)
{
	fiber_destroy(&g->fiber);
	/* Nobody reads a dead green thread's status: the cache hands g on by release or lock.
	 * A plain store, not the full fence of a sequentially consistent one (spawn + exit). */
	atomic_store_explicit(&g->status, G_DEAD, memory_order_relaxed);
	if (g->unmap_on_exit)
		green_unmap(g);
	else
		cache_put(w, g);
	if (w)
		count_up(&w->exited);
	else if (atomic_fetch_add(&sched.exited_outside, 1), all_exited())
		stop_all();              /* no worker here to find nothing to do */
}

static uint64_t sleep_fire(struct timer *t, uint64_t now);

/*
 * Who holds m's worker: m, or the monitor that takes it away (retake). Dekker's pattern: m
 * stores its tick, then reads m->retake; the monitor stores m->retake, then reads the tick
 * (take_worker). Each needs a full fence between its store and its load, or both could read
 * the old values. A fence, or a locked instruction, on every switch is the cost this avoids:
 * the monitor's membarrier() runs a full fence on every CPU that runs one of our threads,
 * which is as good as m having run one itself, so m's side is a compiler barrier only (an
 * asymmetric fence). Where membarrier() is refused, both sides are sequentially consistent.
 *
 * keep_worker() stores m's new tick (no longer RUNNING) and says whether m still holds its
 * worker. A retake in progress is decided within a few instructions of the monitor's: wait.
 */
static bool keep_worker(struct m *m, uint32_t tick)
{
	uint32_t r;
	if (sched.asymmetric) {
		atomic_store_explicit(&m->tick, tick, memory_order_release);
		atomic_signal_fence(memory_order_seq_cst);
		r = atomic_load_explicit(&m->retake, memory_order_acquire);
	} else {
		atomic_store(&m->tick, tick);
		r = atomic_load(&m->retake);
	}
	while (r == RETAKE_DECIDING) {
		sched_yield();
		r = atomic_load_explicit(&m->retake, memory_order_acquire);
	}
	return r == RETAKE_NONE;
}

/* The monitor's side: takes m's worker if m's tick still reads `seen`. */
static struct worker *take_worker(struct m *m, uint32_t seen)
{
	atomic_store(&m->retake, RETAKE_DECIDING);
	if (sched.asymmetric && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) < 0)
		die("membarrier: %s", strerror(errno));
	if (atomic_load(&m->tick) != seen) {
		atomic_store_explicit(&m->retake, RETAKE_NONE, memory_order_release);
		return NULL;             /* it moved on, or holds its worker: look again later */
	}
	/* m cannot change it now: the fence above ordered our DECIDING before any tick m stores
	 * next, so its keep_worker() reads DECIDING and waits for the decision. */
	struct worker *w = m->w;
	atomic_store_explicit(&m->retake, RETAKE_TAKEN, memory_order_release);
	return w;
}

/*
 * The worker of the calling thread, held: until put_worker(), the monitor cannot hand it to
 * another thread. On g0 a worker is never taken, so there is nothing to hold. NULL when m has
 * no worker, or the monitor took it: then the caller uses the global queue and cache.
 */
static struct worker *hold_worker(struct m *m)
{
	if (!m || !m->g)
		return m ? m->w : NULL;
	if (!m->w || !keep_worker(m, m->ticks | TICK_HELD))
		return NULL;
	return m->w;
}

/* Ends a hold_worker() that returned w. The count moves on: touching the worker is progress. */
static void put_worker(struct m *m, struct worker *w)
{
	if (w && m->g) {
		m->ticks += TICK_STEP;
		atomic_store_explicit(&m->tick, m->ticks | TICK_RUNNING, memory_order_release);
	}
}

struct green *green_spawn(void (*fn)(void *), void *arg)
{
	struct m *m = cur_m();
	struct worker *w = hold_worker(m);
	struct green *g = green_alloc(w);
	if (!g) {
		put_worker(m, w);
		return NULL;
	}
	char *lo = g->stack.base + page_size();
	g->next = NULL;
	g->fn = fn;
	g->arg = arg;
	g->id = w ? count_up(&w->spawned) * sched.nworkers + w->id + 1 : 0;
	g->name = NULL;
	g->sleep_timer = (struct timer){ .fire = sleep_fire };
	/* g is nobody else's until put_runnable() publishes it (a release, or the queue's lock):
	 * plain stores suffice, and spare spawn two fences. */
	atomic_store_explicit(&g->interrupted, false, memory_order_relaxed);
	g->unmap_on_exit = false;
	fiber_create(&g->fiber, lo, (size_t)((char *)g - lo), green_main, g);
	atomic_store_explicit(&g->status, G_RUNNABLE, memory_order_relaxed);
	if (!w)
		atomic_fetch_add(&sched.spawned_outside, 1);
	put_runnable(w, g);
	wakep(w);
	put_worker(m, w);
	return g;
}

void green_exit_unmapped(void)
{
	green_current()->unmap_on_exit = true;
}

/* ---- switching ---- */

static void switch_to_g0(struct m *m, struct green *g, enum after after)
{
	g->io_unparked = 0;          /* it gives up its worker: io.c's fairness budget starts over */
	m->after = after;
	fiber_switch(&g->fiber, &m->g0, false);
}

void green_park(bool (*commit)(struct green *g, void *arg), void *arg)
{
	struct m *m = cur_m();
	m->commit = commit;
	m->commit_arg = arg;
	switch_to_g0(m, m->g, AFTER_PARK);
}

void green_yield(void)
{
	struct m *m = cur_m();
	switch_to_g0(m, m->g, AFTER_YIELD);
}

/* Runs g until it switches back to g0, then does what it asked for. */
static void execute(struct m *m, struct green *g)
{
	for (;;) {
		/* No CAS: g came out of a run queue, which hands it over with an acquire, and only
		 * make_runnable()'s CAS puts a green thread in one. The check catches a bug. */
		int was = atomic_load_explicit(&g->status, memory_order_relaxed);
		if (was != G_RUNNABLE)
			die("green thread #%llu scheduled while not runnable (status %d)",
			    (unsigned long long)g->id, was);
		atomic_store_explicit(&g->status, G_RUNNING, memory_order_relaxed);
		m->g = g;
		m->ticks += TICK_STEP;
		atomic_store_explicit(&m->tick, m->ticks | TICK_RUNNING, memory_order_release);
		fiber_switch(&m->g0, &g->fiber, false);
		m->g = NULL;
		if (!keep_worker(m, m->ticks | TICK_SCHED)) {
			m->w = NULL;         /* another thread runs it now; m becomes a spare */
			atomic_store_explicit(&m->retake, RETAKE_NONE, memory_order_release);
		}
		enum after after = m->after;
		m->after = AFTER_NONE;
		switch (after) {
		case AFTER_PARK:
			/* No fence of its own, on every park: commit() publishes g with a release (a
			 * CAS, or a lock), and the waker's make_runnable() comes after that. */
			atomic_store_explicit(&g->status, G_PARKED, memory_order_relaxed);
			if (m->commit(g, m->commit_arg))
				return;      /* g now belongs to its waker: do not touch it */
			atomic_store(&g->status, G_RUNNABLE);
			continue;            /* what it waited for came already */
		case AFTER_YIELD:
			atomic_store(&g->status, G_RUNNABLE);
			if (m->w) {
				put_local(m->w, g);
				return;
			}
			global_put(g, g, 1);
			wakep(NULL);
			return;
		case AFTER_EXIT:
			finish_exit(m->w, g);
			return;
		case AFTER_BLOCKING:
			/* m gave its worker away (blocking.c): queue g for any worker. */
			atomic_store(&g->status, G_RUNNABLE);
			global_put(g, g, 1);
			wakep(NULL);
			return;
		case AFTER_NONE:
			break;
		}
		die("green thread #%llu switched to the scheduler without a reason",
		    (unsigned long long)g->id);
	}
}

void green_ready(struct green *g)
{
	g->next = NULL;
	green_ready_list(g);
}

void green_ready_list(struct green *list)
{
	if (!list)
		return;
	struct m *m = cur_m();
	struct worker *w = hold_worker(m);
	while (list) {
		struct green *g = list;
		list = list->next;
		make_runnable(g);
		put_runnable(w, g);
	}
	wakep(w);
	put_worker(m, w);
}

/* ---- sleeping ---- */

static uint64_t sleep_fire(struct timer *t, uint64_t now)
{
	(void)now;
	struct green *g = (struct green *)((char *)t - offsetof(struct green, sleep_timer));
	green_ready(g);
	return 0;
}

static bool sleep_commit(struct green *g, void *arg)
{
	(void)arg;
	return timer_arm_unless(&g->sleep_timer, &g->interrupted) == 1;
}

int green_sleep_ms(uint64_t ms)
{
	struct green *g = green_current();
	if (ms == 0 && !atomic_load(&g->interrupted)) {
		green_yield();
		return 0;
	}
	g->sleep_timer.when = mono_ns() + ms * 1000000u;
	/* The timer is armed by the commit, on g0: armed here, it could fire and ready g on
	 * another worker before g has switched away. */
	green_park(sleep_commit, NULL);
	if (atomic_exchange(&g->interrupted, false)) {
		green_set_errno(EINTR);
		return -1;
	}
	return 0;
}

void green_interrupt(struct green *g)
{
	atomic_store(&g->interrupted, true);
	/* Whoever takes the armed timer off the heap, this or its firing, readies g: once. */
	if (timer_cancel(&g->sleep_timer))
		green_ready(g);
}

/* ---- the blocking-call hand-off (blocking.c) ---- */

struct worker *sched_detach_worker(void)
{
	struct m *m = cur_m();
	struct worker *w = hold_worker(m);   /* NULL: the monitor took it already */
	m->w = NULL;
	atomic_store(&m->tick, m->ticks | TICK_SCHED);   /* nothing left to take */
	return w;
}

static void *thread_main(void *arg);

/* Counts a new thread in, within the limit; its id, or -1 (said once) at the limit. */
static int claim_thread_id(void)
{
	pthread_mutex_lock(&sched.lock);
	int id = sched.nthreads < sched.max_threads ? (int)sched.nthreads++ : -1;
	bool say = id < 0 && !sched.said_max_threads;
	sched.said_max_threads |= say;
	pthread_mutex_unlock(&sched.lock);
	if (say)
		fprintf(stderr, "green: at the limit of %u OS threads: a blocking call now holds up "
		        "its worker's green threads until a thread comes free\n", sched.max_threads);
	return id;
}

static struct m *new_thread(struct worker *w)
{
	int id = claim_thread_id();
	struct m *m = id < 0 ? NULL : calloc(1, sizeof *m);
	if (!m) {
		errno = id < 0 ? EAGAIN : ENOMEM;
		return NULL;
	}
	m->w = w;
	m->id = (unsigned)id;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	int rc = pthread_create(&m->thread, &attr, thread_main, m);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		free(m);
		errno = rc;
		return NULL;            /* its id stays counted: ids are never reused */
	}
	pthread_mutex_lock(&sched.lock);
	m->all_next = sched.all;
	sched.all = m;
	pthread_mutex_unlock(&sched.lock);
	return m;
}

int sched_handoff(struct worker *w)
{
	pthread_mutex_lock(&sched.lock);
	struct m *m = sched.spare;
	if (m)
		sched.spare = m->spare_next;
	pthread_mutex_unlock(&sched.lock);
	if (m) {
		m->w = w;            /* published to m by futex_wake's release store */
		futex_wake(&m->wake);
		return 0;
	}
	return new_thread(w) ? 0 : -1;
}

/* ---- the monitor's side (monitor.c) ---- */

/* Hands a retaken worker to another thread; at the thread limit, keeps it for a later look
 * (adopt_orphans). False then. */
static bool handoff_or_orphan(struct worker *w)
{
	if (sched_handoff(w) == 0)
		return true;
	pthread_mutex_lock(&sched.lock);
	w->idle_next = sched.orphans;
	sched.orphans = w;
	pthread_mutex_unlock(&sched.lock);
	return false;
}

static uint64_t thread_cpu_ns(struct m *m)
{
	struct timespec ts;
	if (clock_gettime(m->cpu_clock, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Is m's thread asleep in the kernel (a blocking call), rather than running or waiting for a
 * CPU? Its state in /proc, 'S' or 'D'. Read only for a thread that has run one green thread
 * since the monitor's last look.
 */
static bool thread_asleep(struct m *m)
{
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)m->tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');     /* after the name, which may hold anything */
	return paren && (paren[2] == 'S' || paren[2] == 'D');
}

/* Would a worker taken away now find something to do? Work queued, or nobody else to notice
 * ready fds and timers (Go's retake asks the same). */
static bool worker_needed(void)
{
	return !atomic_load(&sched.polling) || work_visible();
}

/*
 * One look at m (Go's retake). If m has run the same green thread since the last look, for
 * longer than RETAKE_BLOCKED_NS asleep in the kernel (a blocking call), or for
 * RETAKE_RUNNING_NS of CPU time (a computation), take its worker and hand it to another
 * thread. m keeps
 * the green thread; it finds out on g0 (execute) and becomes a spare, as after
 * green_blocking(). Returns true when it took the worker.
 */
static bool retake(struct m *m, uint64_t now, bool *moved)
{
	uint32_t t = atomic_load_explicit(&m->tick, memory_order_acquire);
	if (atomic_load_explicit(&m->retake, memory_order_acquire) != RETAKE_NONE)
		return false;            /* taken already; m has not come back to find out */
	if (t != m->seen_tick) {
		*moved = true;
		m->seen_tick = t;
		m->seen_at = now;
		m->seen_cpu = (t & TICK_STATE) == TICK_RUNNING ? thread_cpu_ns(m) : 0;
		return false;
	}
	if ((t & TICK_STATE) != TICK_RUNNING)
		return false;
	/* Blocked: asleep in the kernel, having used little CPU time since. Computing: that much
	 * CPU time. Neither: a thread that waits for a CPU on a busy machine, which another
	 * thread would not help. */
	uint64_t ran = now - m->seen_at, cpu = thread_cpu_ns(m) - m->seen_cpu;
	bool blocked = ran >= RETAKE_BLOCKED_NS && cpu < ran / 2 && thread_asleep(m);
	bool computing = cpu >= RETAKE_RUNNING_NS;
	if (!(blocked || computing) || !worker_needed())
		return false;
	struct worker *w = take_worker(m, t);
	if (!w)
		return false;
	handoff_or_orphan(w);
	return true;
}

/* Hands the workers that found no thread at their retake to one that has come free. */
static void adopt_orphans(void)
{
	for (;;) {
		pthread_mutex_lock(&sched.lock);
		struct worker *w = sched.orphans;
		if (w)
			sched.orphans = w->idle_next;
		pthread_mutex_unlock(&sched.lock);
		if (!w || !handoff_or_orphan(w))
			return;
	}
}

bool sched_retake(bool *moved)
{
	uint64_t now = mono_ns();
	bool took = false;
	*moved = false;
	adopt_orphans();
	pthread_mutex_lock(&sched.lock);
	struct m *all = sched.all;
	pthread_mutex_unlock(&sched.lock);
	/* Threads are only ever added at the head, and freed after the monitor stopped. */
	took |= retake(sched.main_m, now, moved);
	for (struct m *m = all; m; m = m->all_next)
		took |= retake(m, now, moved);
	return took;
}

/* No green thread runs: one worker polls, the others sleep (RMWs: see monitor_wake()). */
bool sched_all_idle(void)
{
	return atomic_fetch_or(&sched.polling, 0) == 1 &&
	       atomic_fetch_add(&sched.nidle, 0) == sched.nworkers - 1;
}

void sched_reattach_worker(struct worker *w)
{
	struct m *m = cur_m();
	m->w = w;
	m->ticks += TICK_STEP;
	atomic_store_explicit(&m->tick, m->ticks | TICK_RUNNING, memory_order_release);
}

void sched_after_blocking(void)
{
	struct m *m = cur_m();
	switch_to_g0(m, m->g, AFTER_BLOCKING);
}

/* A thread without a worker waits to be handed one. False when the runtime stops. */
static bool wait_for_worker(struct m *m)
{
	pthread_mutex_lock(&sched.lock);
	if (atomic_load(&sched.stopping)) {
		pthread_mutex_unlock(&sched.lock);
		return false;
	}
	m->spare_next = sched.spare;
	sched.spare = m;
	pthread_mutex_unlock(&sched.lock);
	futex_wait(&m->wake);
	return m->w != NULL;
}

/* ---- threads and the runtime's life ---- */

static void schedule(struct m *m)
{
	for (;;) {
		if (!m->w) {
			if (!wait_for_worker(m))
				return;
			continue;
		}
		struct green *g = find_runnable(m->w);
		if (!g)
			return;
		execute(m, g);
	}
}

static void *thread_main(void *arg)
{
	struct m *m = arg;
	m->tid = gettid();           /* before its first tick: the monitor reads them after one */
	pthread_getcpuclockid(pthread_self(), &m->cpu_clock);
	tls_m = m;
	fiber_init_thread(&m->g0);
	if (stack_guard_thread_init() < 0)
		perror("green: sigaltstack (stack overflows will not be reported)");
	schedule(m);
	stack_guard_thread_exit();
	return NULL;
}

/* The last green thread exited: every thread leaves its scheduler loop. Two threads may both
 * see it and call this at once: the second finds the lists empty. */
static void stop_all(void)
{
	atomic_store(&sched.stopping, true);
	pthread_mutex_lock(&sched.lock);
	struct worker *idle = sched.idle;
	struct m *spare = sched.spare;
	sched.idle = NULL;
	sched.spare = NULL;
	atomic_store(&sched.nidle, 0);
	for (struct worker *w = idle; w; w = w->idle_next)
		w->idle = false;
	pthread_mutex_unlock(&sched.lock);
	while (idle) {
		struct worker *next = idle->idle_next;
		futex_wake(&idle->wake);
		idle = next;
	}
	while (spare) {
		struct m *next = spare->spare_next;
		futex_wake(&spare->wake);
		spare = next;
	}
	netpoll_break();
}

unsigned green_thread_id(void)
{
	return cur_m()->id;
}

unsigned green_threads_max(void)
{
	return sched.max_threads;
}

void green_set_name(const char *name)
{
	green_current()->name = name;
}

static void release_all(void)
{
	struct green *g;
	for (unsigned i = 0; i < sched.nworkers; i++)
		while ((g = cache_get(&sched.workers[i])))
			green_unmap(g);
	while ((g = cache_get(NULL)))
		green_unmap(g);
	free(sched.workers);
	sched.workers = NULL;
	netpoll_destroy();
	timers_destroy();
}

int green_run(const struct green_config *cfg, void (*main_fn)(void *), void *arg)
{
	if (atomic_exchange(&sched.running, true)) {
		errno = EBUSY;
		return -1;
	}
	sched.nworkers = cfg && cfg->workers ? cfg->workers : cpus_available();
	sched.stack_size = cfg && cfg->stack_size ? cfg->stack_size : GREEN_STACK_DEFAULT;
	sched.max_threads = cfg && cfg->max_threads ? cfg->max_threads : GREEN_MAX_THREADS_DEFAULT;
	if (sched.max_threads < sched.nworkers)
		sched.max_threads = sched.nworkers;
	sched.nthreads = 1;          /* this one */
	sched.said_max_threads = false;
	sched.orphans = NULL;
	if (sched.stack_size < GREEN_STACK_MIN)
		sched.stack_size = GREEN_STACK_MIN;
	atomic_store(&sched.stopping, false);
	atomic_store(&sched.polling, 0);
	atomic_store(&sched.spawned_outside, 0);
	atomic_store(&sched.exited_outside, 0);
	sched.asymmetric = !(cfg && cfg->no_membarrier) &&
	                   syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	timers_init();
	sched.workers = calloc(sched.nworkers, sizeof *sched.workers);
	if (!sched.workers || netpoll_init() < 0) {
		int err = errno;
		free(sched.workers);
		atomic_store(&sched.running, false);
		errno = err;
		return -1;
	}
	for (unsigned i = 0; i < sched.nworkers; i++) {
		sched.workers[i].id = i;
		sched.workers[i].rng = i * 2654435761u + 1;
	}

	struct m self = { .w = &sched.workers[0], .id = 0 };
	self.tid = gettid();
	pthread_getcpuclockid(pthread_self(), &self.cpu_clock);
	sched.main_m = &self;
	tls_m = &self;
	fiber_init_thread(&self.g0);
	stack_guard_thread_init();

	int rc = 0;
	if (!green_spawn(main_fn, arg))
		rc = -1;
	for (unsigned i = 1; i < sched.nworkers && rc == 0; i++)
		if (!new_thread(&sched.workers[i]))
			rc = -1;
	int err = errno;
	if (rc == 0 && !(cfg && cfg->no_monitor))
		monitor_start();
	if (rc == 0)
		schedule(&self);
	else
		stop_all();
	monitor_stop();

	/* Every green thread has exited; join the threads (they are all leaving). */
	for (;;) {
		pthread_mutex_lock(&sched.lock);
		struct m *m = sched.all;
		if (m)
			sched.all = m->all_next;
		pthread_mutex_unlock(&sched.lock);
		if (!m)
			break;
		pthread_join(m->thread, NULL);
		free(m);
	}
	stack_guard_thread_exit();
	tls_m = NULL;
	release_all();
	atomic_store(&sched.gq_len, 0);
	sched.gq_head = sched.gq_tail = NULL;
	atomic_store(&sched.running, false);
	if (rc < 0)
		errno = err;
	return rc;
}
