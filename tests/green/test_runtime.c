/*
 * test_runtime.c: the scheduler, the netpoller, timers and blocking calls, by behaviour.
 * Nothing here asserts a duration: where time matters, the test checks an order of events
 * (B happened while A was still in progress), and the watchdog in check.h only turns hangs
 * into failures. GREEN_TEST_SCALE (default 1.0) shrinks the big counts for slow runs
 * (Valgrind, qemu).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>

#include "../check.h"
#include "green.h"

static unsigned scaled(unsigned n)
{
	const char *s = getenv("GREEN_TEST_SCALE");
	double f = s ? atof(s) : 1.0;
	unsigned v = (unsigned)(n * f);
	return v ? v : 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned os_threads(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/task");
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Threads left over from green_run, given the kernel (or an emulator finishing a thread's
 * exit after it was joined, as qemu-user does) up to a second to forget joined threads. */
static unsigned threads_before;

static unsigned extra_threads(void)
{
	unsigned n = os_threads();
	for (int i = 0; i < 100 && n > threads_before; i++) {
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
		n = os_threads();
	}
	return n > threads_before ? n - threads_before : 0;
}

/* Threads of the process before green_run: qemu-user and ThreadSanitizer have their own. */

static void *nop_thread(void *arg)
{
	return arg;
}

static bool monitor_off;         /* the next run()s without the runtime's monitor thread */
static bool membarrier_off;      /* ...or with the retake's fallback fences */

static bool run(unsigned workers, void (*fn)(void *), void *arg)
{
	struct green_config cfg = { .workers = workers, .no_monitor = monitor_off,
	                            .no_membarrier = membarrier_off };
	pthread_t t;
	/* TSan starts its background thread with the first pthread_create: have it now. */
	if (pthread_create(&t, NULL, nop_thread, NULL) == 0)
		pthread_join(t, NULL);
	threads_before = os_threads();
	return green_run(&cfg, fn, arg) == 0;
}

/* ---- many green threads: spawn, sleep, exit ---- */

static unsigned spawn_total;
static _Atomic unsigned alive, finished, slept_short;

static void sleeper(void *arg)
{
	unsigned ms = (unsigned)(uintptr_t)arg % 5;
	uint64_t t0 = now_ns();
	green_sleep_ms(ms);
	if (now_ns() - t0 < ms * 1000000ull)
		atomic_fetch_add(&slept_short, 1);  /* woke before its time */
	atomic_fetch_add(&finished, 1);
	atomic_fetch_sub(&alive, 1);
}

static void spawn_many(void *arg)
{
	unsigned max_alive = (unsigned)(uintptr_t)arg;
	for (unsigned i = 0; i < spawn_total; i++) {
		while (atomic_load(&alive) >= max_alive)
			green_sleep_ms(1);
		atomic_fetch_add(&alive, 1);
		if (!green_spawn(sleeper, (void *)(uintptr_t)i)) {
			perror("green_spawn");
			atomic_fetch_sub(&alive, 1);
			return;
		}
	}
}

static bool spawn_sleep_exit(void)
{
	spawn_total = scaled(100000);
	EXPECT(run(0, spawn_many, (void *)(uintptr_t)20000), "the runtime to run");
	EXPECT(atomic_load(&finished) == spawn_total, "all %u to finish, %u did", spawn_total,
	       atomic_load(&finished));
	EXPECT(atomic_load(&slept_short) == 0, "no sleep to end early, %u did",
	       atomic_load(&slept_short));
	unsigned extra = extra_threads();
	EXPECT(extra == 0, "no thread left after green_run, %u are", extra);
	return true;
}

/* ---- stealing: work spawned on one worker spreads to the others ---- */

static _Atomic unsigned ran_elsewhere, spinners_done;
static unsigned spawner_worker;

static void spinner(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		if (green_thread_id() != spawner_worker)
			atomic_fetch_add(&ran_elsewhere, 1);
		green_yield();
	}
	atomic_fetch_add(&spinners_done, 1);
}

static void spawn_spinners(void *arg)
{
	(void)arg;
	spawner_worker = green_thread_id();
	for (unsigned i = 0; i < scaled(10000); i++)
		green_spawn(spinner, NULL);
}

static bool stealing(void)
{
	EXPECT(run(4, spawn_spinners, NULL), "the runtime to run");
	EXPECT(atomic_load(&spinners_done) == scaled(10000), "all spinners to finish");
	EXPECT(atomic_load(&ran_elsewhere) > 0,
	       "green threads spawned on worker %u to run on another worker too", spawner_worker);
	return true;
}

/* ---- wake-ups from many workers at once: rings of green threads passing a token over
 * socketpairs, and sleepers, on 4 workers. A lost wake-up hangs (the watchdog fails it); a
 * double one aborts in the runtime ("woken while not parked"); a miscounted one shows. ---- */

enum { RING = 8 };

struct ring {
	int fd[RING][2];             /* member i reads fd[i][0]; member i-1 writes fd[i][1] */
	unsigned laps;
	_Atomic unsigned done;
};

struct member {
	struct ring *r;
	unsigned i;
};

static _Atomic unsigned tokens_passed;

static void ring_member(void *arg)
{
	struct member *m = arg;
	struct ring *r = m->r;
	int in = r->fd[m->i][0], out = r->fd[(m->i + 1) % RING][1];
	if (m->i == 0 && green_write(out, "t", 1) != 1)
		return;
	for (unsigned lap = 0; lap < r->laps; lap++) {
		char c;
		if (green_read(in, &c, 1) != 1)
			return;
		atomic_fetch_add(&tokens_passed, 1);
		if (m->i == 0 && lap + 1 == r->laps)
			break;               /* the last lap ends here */
		if (green_write(out, &c, 1) != 1)
			return;
		if (lap % 16 == 0)
			green_sleep_ms(0);
	}
	atomic_fetch_add(&r->done, 1);
}

static void rings(void *arg)
{
	unsigned nrings = (unsigned)(uintptr_t)arg;
	struct ring *r = calloc(nrings, sizeof *r);
	struct member *m = calloc((size_t)nrings * RING, sizeof *m);
	for (unsigned k = 0; k < nrings; k++) {
		r[k].laps = scaled(500);
		for (unsigned i = 0; i < RING; i++)
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, r[k].fd[i]) < 0)
				abort();
		for (unsigned i = 0; i < RING; i++) {
			m[k * RING + i] = (struct member){ &r[k], i };
			green_spawn(ring_member, &m[k * RING + i]);
		}
	}
	for (unsigned k = 0; k < nrings; k++)
		while (atomic_load(&r[k].done) < RING)
			green_sleep_ms(2);
	for (unsigned k = 0; k < nrings; k++)
		for (unsigned i = 0; i < RING; i++) {
			green_close(r[k].fd[i][0]);
			green_close(r[k].fd[i][1]);
		}
	free(m);
	free(r);
}

static bool many_wakeups(void)
{
	unsigned nrings = 16;
	EXPECT(run(4, rings, (void *)(uintptr_t)nrings), "the runtime to run");
	unsigned want = nrings * RING * scaled(500);
	EXPECT(atomic_load(&tokens_passed) == want, "%u tokens passed, got %u", want,
	       atomic_load(&tokens_passed));
	return true;
}

/* ---- close while a green thread waits on the fd ---- */

struct closer_case {
	int fd[2];
	_Atomic int reader_errno, writer_errno;
	_Atomic bool reader_parked;
};

static void blocked_reader(void *arg)
{
	struct closer_case *c = arg;
	char buf[16];
	atomic_store(&c->reader_parked, true);
	ssize_t n = green_read(c->fd[0], buf, sizeof buf);
	atomic_store(&c->reader_errno, n < 0 ? errno : -1);
}

static void blocked_writer(void *arg)
{
	struct closer_case *c = arg;
	static char chunk[65536];
	ssize_t n;
	while ((n = green_write(c->fd[1], chunk, sizeof chunk)) > 0)
		;                        /* until the socket buffer is full and we park */
	atomic_store(&c->writer_errno, n < 0 ? errno : -1);
}

static void close_while_waiting_main(void *arg)
{
	struct closer_case *c = arg;
	int other[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, other) < 0)
		abort();
	c->fd[1] = other[0];         /* the writer fills other[0] -> other[1], never read */
	green_spawn(blocked_reader, c);
	green_spawn(blocked_writer, c);
	green_sleep_ms(50);          /* let both park (they would park at any later time too) */
	green_close(c->fd[0]);
	green_close(c->fd[1]);
	close(other[1]);
}

static bool close_while_waiting(void)
{
	struct closer_case c = { .reader_errno = 0, .writer_errno = 0 };
	int pair[2];
	EXPECT(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0, "a socketpair");
	c.fd[0] = pair[0];
	EXPECT(run(2, close_while_waiting_main, &c), "the runtime to run");
	close(pair[1]);
	EXPECT(atomic_load(&c.reader_errno) == EBADF, "the parked reader to get EBADF, got %d",
	       atomic_load(&c.reader_errno));
	EXPECT(atomic_load(&c.writer_errno) == EBADF, "the parked writer to get EBADF, got %d",
	       atomic_load(&c.writer_errno));
	return true;
}

/* ---- I/O deadline ---- */

static _Atomic int timeout_errno;
static _Atomic bool timeout_then_read;

static void timeout_main(void *arg)
{
	(void)arg;
	int pair[2];
	char c;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0)
		abort();
	green_fd_timeout(pair[0], 50);
	ssize_t n = green_read(pair[0], &c, 1);
	atomic_store(&timeout_errno, n < 0 ? errno : 0);
	/* the fd still works after a timeout */
	if (write(pair[1], "x", 1) == 1 && green_read(pair[0], &c, 1) == 1 && c == 'x')
		atomic_store(&timeout_then_read, true);
	green_close(pair[0]);
	close(pair[1]);
}

static bool io_deadline(void)
{
	EXPECT(run(1, timeout_main, NULL), "the runtime to run");
	EXPECT(atomic_load(&timeout_errno) == ETIMEDOUT, "ETIMEDOUT, got %d",
	       atomic_load(&timeout_errno));
	EXPECT(atomic_load(&timeout_then_read), "a read after the timeout to work");
	return true;
}

/* ---- I/O deadlines after many waits ----
 * A wait moves the fd's deadline later but arms its timer only if it is not armed early
 * enough already (timer_arm_by's lock-free check). Whatever path the waits took (the first
 * one arming, later ones skipping the lock, the timer firing with no wait pending and
 * disarming, or firing early and re-arming for the pending deadline), a read that then finds
 * nothing must still time out. A guard writes a byte after 10 s, so that a lost deadline
 * fails the test instead of hanging it. */

enum { BUSY_TIMEOUT_MS = 100 };

static int busy_pair[2];
static _Atomic bool busy_done;
static _Atomic int busy_result = -2, busy_errno;

static void deadline_guard(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000 && !atomic_load(&busy_done); i++)
		green_sleep_ms(10);
	if (!atomic_load(&busy_done) && write(busy_pair[1], "late", 4) != 4)
		abort();
}

/* n reads that each find one byte. Each is short, so each next read waits first (with a
 * deadline), but does not park: the byte came before it. */
static bool read_bytes(int n)
{
	for (int i = 0; i < n; i++) {
		char buf[8];
		if (write(busy_pair[1], "x", 1) != 1 ||
		    green_read(busy_pair[0], buf, sizeof buf) != 1)
			return false;
	}
	return true;
}

static void busy_deadline_main(void *arg)
{
	(void)arg;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, busy_pair) < 0)
		abort();
	green_fd_timeout(busy_pair[0], BUSY_TIMEOUT_MS);
	green_spawn(deadline_guard, NULL);
	char buf[8];
	int ok = read_bytes(100);                   /* arms once, then skips the lock */
	green_sleep_ms(2 * BUSY_TIMEOUT_MS);        /* it fires with no wait pending: disarmed */
	ok = ok && read_bytes(100);                 /* armed again */
	green_sleep_ms(BUSY_TIMEOUT_MS / 2);
	ok = ok && read_bytes(1);                   /* a later deadline: the lock is skipped */
	/* It fires half-way through this wait, and must re-arm for the wait's own deadline. */
	ssize_t n = green_read(busy_pair[0], buf, sizeof buf);
	atomic_store(&busy_errno, n < 0 ? errno : 0);
	atomic_store(&busy_result, ok ? (int)n : -3);
	atomic_store(&busy_done, true);
	green_close(busy_pair[0]);
	close(busy_pair[1]);
}

static bool io_deadline_after_waits(void)
{
	EXPECT(run(1, busy_deadline_main, NULL), "the runtime to run");
	EXPECT(atomic_load(&busy_result) != -3, "each read with a byte waiting to get it");
	EXPECT(atomic_load(&busy_result) == -1 && atomic_load(&busy_errno) == ETIMEDOUT,
	       "the read that found nothing to time out; got %d (errno %d)",
	       atomic_load(&busy_result), atomic_load(&busy_errno));
	return true;
}

/* ---- data and an end of file under one epoll edge: the reader must get both ----
 * With one worker, the writer's write() and shutdown() both happen before the worker polls
 * again, so the parked reader is woken once for both. A reader that took its short read as
 * "the socket is empty" would then wait for an edge that never comes (the watchdog fails it). */

static int eof_pair[2];
static _Atomic int eof_reads[2] = { -2, -2 };

static void eof_reader(void *arg)
{
	(void)arg;
	char buf[64];
	atomic_store(&eof_reads[0], (int)green_read(eof_pair[0], buf, sizeof buf));
	atomic_store(&eof_reads[1], (int)green_read(eof_pair[0], buf, sizeof buf));
}

static void eof_main(void *arg)
{
	(void)arg;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, eof_pair) < 0)
		abort();
	green_fd_timeout(eof_pair[0], 10000);   /* registers it; a hang ends as ETIMEDOUT */
	green_spawn(eof_reader, NULL);
	green_yield();                          /* the reader runs and parks */
	if (write(eof_pair[1], "abc", 3) != 3 || shutdown(eof_pair[1], SHUT_WR) < 0)
		abort();
	while (atomic_load(&eof_reads[1]) == -2)
		green_sleep_ms(1);
	green_close(eof_pair[0]);
	close(eof_pair[1]);
}

static bool eof_after_data(void)
{
	EXPECT(run(1, eof_main, NULL), "the runtime to run");
	EXPECT(atomic_load(&eof_reads[0]) == 3, "the data first, got %d", atomic_load(&eof_reads[0]));
	EXPECT(atomic_load(&eof_reads[1]) == 0, "then the end of file, got %d",
	       atomic_load(&eof_reads[1]));
	return true;
}

/* ---- green_interrupt ends a sleep ---- */

static _Atomic int interrupted_errno;
static _Atomic bool sleeper_started;

static void long_sleeper(void *arg)
{
	(void)arg;
	atomic_store(&sleeper_started, true);
	int rc = green_sleep_ms(60000);
	atomic_store(&interrupted_errno, rc < 0 ? errno : 0);
}

static void interrupt_main(void *arg)
{
	(void)arg;
	struct green *g = green_spawn(long_sleeper, NULL);
	while (!atomic_load(&sleeper_started))
		green_sleep_ms(1);
	green_sleep_ms(10);
	green_interrupt(g);
}

static bool interrupt_sleep(void)
{
	EXPECT(run(2, interrupt_main, NULL), "the runtime to run (a hang means the sleep went on)");
	EXPECT(atomic_load(&interrupted_errno) == EINTR, "EINTR, got %d",
	       atomic_load(&interrupted_errno));
	return true;
}

/* ---- blocking calls: the other green threads keep running ---- */

static _Atomic bool blocking_now;
static _Atomic unsigned ticks_during_block;
static _Atomic bool block_over;

static _Atomic uint64_t longest_stall_ns;
static bool spin_instead;        /* blocker_main computes for spin_ms() instead of sleeping */

/* 200 ms of CPU time, or GREEN_TEST_SPIN_MS: under Valgrind, which runs one thread at a time,
 * the monitor's retake comes some 130 ms into the computation, and a loaded machine left the
 * ticker no time after it. */
static unsigned spin_ms(void)
{
	const char *s = getenv("GREEN_TEST_SPIN_MS");
	int ms = s ? atoi(s) : 0;
	return ms > 0 ? (unsigned)ms : 200;
}

static void real_sleep(void *arg)
{
	struct timespec ts = { 0, (long)(uintptr_t)arg * 1000000L };
	atomic_store(&blocking_now, true);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	atomic_store(&blocking_now, false);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Computes for ms of the thread's CPU time (on a loaded machine, that takes longer). */
static void spin(uint64_t ms)
{
	uint64_t end = thread_cpu_ns() + ms * 1000000u;
	atomic_store(&blocking_now, true);
	while (thread_cpu_ns() < end)
		;
	atomic_store(&blocking_now, false);
}

static void ticker(void *arg)
{
	(void)arg;
	uint64_t last = now_ns();
	while (!atomic_load(&block_over)) {
		if (atomic_load(&blocking_now))
			atomic_fetch_add(&ticks_during_block, 1);
		green_sleep_ms(5);
		uint64_t now = now_ns();
		if (now - last > atomic_load(&longest_stall_ns))
			atomic_store(&longest_stall_ns, now - last);
		last = now;
	}
}

static void blocker_main(void *arg)
{
	bool wrapped = arg != NULL;
	green_spawn(ticker, NULL);
	green_sleep_ms(10);
	if (wrapped)
		green_blocking(real_sleep, (void *)(uintptr_t)300);
	else if (spin_instead)
		spin(spin_ms());
	else
		real_sleep((void *)(uintptr_t)300);
	atomic_store(&block_over, true);
}

static bool blocking_case(unsigned workers, bool wrapped)
{
	atomic_store(&ticks_during_block, 0);
	atomic_store(&longest_stall_ns, 0);
	atomic_store(&block_over, false);
	EXPECT(run(workers, blocker_main, wrapped ? (void *)1 : NULL), "the runtime to run");
	return true;
}

static bool blocking_call_workers1(void)
{
	if (!blocking_case(1, true))
		return false;
	EXPECT(atomic_load(&ticks_during_block) > 0,
	       "the ticker to run while the only worker's thread sat in a blocking call");
	unsigned extra = extra_threads();
	EXPECT(extra == 0, "no thread left, %u are", extra);
	return true;
}

static bool blocking_call_workers2(void)
{
	if (!blocking_case(2, true))
		return false;
	EXPECT(atomic_load(&ticks_during_block) > 0, "the ticker to run during the blocking call");
	return true;
}

/*
 * The same call unwrapped (a 300 ms nanosleep), or a 200 ms computation, on the only worker:
 * the monitor notices that its thread has not come back to its scheduler and hands the worker
 * to another thread, so the ticker goes on. The control experiment: without the monitor, the
 * ticker stalls until the call ends. That is what the monitor, or green_blocking(), is for.
 */
static bool stuck_case(bool spin, bool monitor)
{
	char computation[64];
	snprintf(computation, sizeof computation, "a %u ms computation", spin_ms());
	const char *what = spin ? computation : "an unwrapped 300 ms nanosleep";
	spin_instead = spin;
	monitor_off = !monitor;
	bool ran = blocking_case(1, false);
	spin_instead = monitor_off = false;
	if (!ran)
		return false;
	unsigned ticks = atomic_load(&ticks_during_block);
	if (!monitor) {
		EXPECT(ticks == 0, "%s to stall the only worker without the monitor (ticks: %u)", what,
		       ticks);
		return true;
	}
	EXPECT(ticks > 0, "the ticker to run during %s on the only worker", what);
	printf("  (%u ticks of 5 ms during %s; longest stall %.1f ms: information)\n", ticks, what,
	       atomic_load(&longest_stall_ns) / 1e6);
	return true;
}

static bool unwrapped_blocking_retaken(void)
{
	return stuck_case(false, true);
}

static bool unwrapped_blocking_stalls_without_monitor(void)
{
	return stuck_case(false, false);
}

static bool long_computation_retaken(void)
{
	return stuck_case(true, true);
}

static bool long_computation_stalls_without_monitor(void)
{
	return stuck_case(true, false);
}

static bool unwrapped_blocking_retaken_with_fences(void)
{
	membarrier_off = true;
	bool ok = stuck_case(false, true);
	membarrier_off = false;
	return ok;
}

/*
 * The retake against the switch: green threads on the only worker sleep for a tenth of a
 * millisecond unwrapped (long enough for the monitor to start taking the worker), then spawn
 * and yield, so that a thread coming back to its scheduler, or holding its worker to spawn,
 * often meets the monitor in the middle of a retake. A worker owned twice, or lost, shows as
 * a crash ("scheduled while not runnable"), a hang, or a child that never ran.
 */
enum { NAPPERS = 4 };
static unsigned nap_rounds;
static _Atomic unsigned children_ran, moves;

static void child(void *arg)
{
	(void)arg;
	atomic_fetch_add(&children_ran, 1);
}

static void napper(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < nap_rounds; i++) {
		struct timespec ts = { 0, 100000 };
		unsigned before = green_thread_id();
		nanosleep(&ts, NULL);
		if (!green_spawn(child, NULL))
			return;
		green_yield();
		if (green_thread_id() != before)
			atomic_fetch_add(&moves, 1);   /* the worker went on without it */
	}
}

static void nappers_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < NAPPERS; i++)
		green_spawn(napper, NULL);
}

static bool retake_races_switch(bool fences)
{
	nap_rounds = scaled(1000);
	atomic_store(&children_ran, 0);
	atomic_store(&moves, 0);
	membarrier_off = fences;
	bool ran = run(1, nappers_main, NULL);
	membarrier_off = false;
	EXPECT(ran, "the runtime to run");
	unsigned want = NAPPERS * nap_rounds, got = atomic_load(&children_ran);
	EXPECT(got == want, "every child spawned to run once: %u of %u did", got, want);
	printf("  (%u of %u naps ended on another OS thread, their worker retaken: "
	       "information)\n", atomic_load(&moves), want);
	return true;
}

static bool retake_races_switch_membarrier(void)
{
	return retake_races_switch(false);
}

static bool retake_races_switch_fences(void)
{
	return retake_races_switch(true);
}

/* ---- the stop: two last exits at once ---- */

static _Atomic unsigned at_gate;

/* Both children wait here until both run, each on its own worker if the other stole it, so
 * that they exit together: the runtime must still see that nothing is left and stop. On x86
 * the locked instructions on the way from an exit to idle() hide a missing fence in
 * all_exited(); a weaker machine, or a leaner path to idle(), would hang here. */
static void exit_together(void *arg)
{
	(void)arg;
	atomic_fetch_add(&at_gate, 1);
	while (atomic_load(&at_gate) < 2)
		green_yield();
}

static void two_exits_main(void *arg)
{
	(void)arg;
	green_spawn(exit_together, NULL);
	green_spawn(exit_together, NULL);
}

static bool last_exits_race(void)
{
	unsigned runs = scaled(2000);
	for (unsigned i = 0; i < runs; i++) {
		atomic_store(&at_gate, 0);
		/* a hang here is the failure: check.h's watchdog turns it into one */
		EXPECT(run(2, two_exits_main, NULL), "run %u of %u to stop", i + 1, runs);
	}
	return true;
}

/* ---- the monitor costs nothing while nothing runs ----
 * The monitor naps, backs off to 10 ms naps, and sleeps outright once no green thread runs.
 * With the only green thread in a blocking call (its worker idle in the poller), it must sleep
 * through a whole second: a few wake-ups at most, and next to no CPU time. */

static pid_t monitor_tid(void)
{
	DIR *d = opendir("/proc/self/task");
	pid_t tid = 0;
	for (struct dirent *e; d && !tid && (e = readdir(d));) {
		char path[300], comm[32] = "";
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (f && fgets(comm, sizeof comm, f) && strncmp(comm, "green-monitor", 13) == 0)
			tid = (pid_t)atoi(e->d_name);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return tid;
}

/* The thread's CPU time in ns (schedstat) and its voluntary context switches. */
static bool thread_usage(pid_t tid, unsigned long long *cpu_ns, unsigned long *switches)
{
	char path[64], line[128];
	snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
	FILE *f = fopen(path, "r");
	bool ok = f && fscanf(f, "%llu", cpu_ns) == 1;
	if (f)
		fclose(f);
	snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	bool found = false;
	while (f && !found && fgets(line, sizeof line, f))
		found = sscanf(line, "voluntary_ctxt_switches: %lu", switches) == 1;
	if (f)
		fclose(f);
	return ok && found;
}

static _Atomic int idle_verdict;     /* 0: not measured, 1: ok, -1: failed (printed) */

static void measure_idle_monitor(void *arg)
{
	(void)arg;
	struct timespec settle = { 0, 300000000 }, second = { 1, 0 };
	nanosleep(&settle, NULL);    /* time to back off and fall asleep */
	pid_t tid = monitor_tid();
	unsigned long long cpu0, cpu1;
	unsigned long sw0, sw1;
	if (!tid || !thread_usage(tid, &cpu0, &sw0)) {
		fprintf(stderr, "  no green-monitor thread found, or no /proc/.../schedstat\n");
		atomic_store(&idle_verdict, -1);
		return;
	}
	nanosleep(&second, NULL);
	if (!thread_usage(tid, &cpu1, &sw1)) {
		atomic_store(&idle_verdict, -1);
		return;
	}
	bool ok = sw1 - sw0 <= 3 && cpu1 - cpu0 < 1000000;
	fprintf(ok ? stdout : stderr, "  %s over the idle second, the monitor woke %lu times and "
	        "ran %.3f ms\n", ok ? "(information)" : "expected a sleeping monitor:", sw1 - sw0,
	        (cpu1 - cpu0) / 1e6);
	atomic_store(&idle_verdict, ok ? 1 : -1);
}

static void idle_main(void *arg)
{
	(void)arg;
	green_blocking(measure_idle_monitor, NULL);
}

static bool monitor_sleeps_when_idle(void)
{
	EXPECT(run(1, idle_main, NULL), "the runtime to run");
	EXPECT(atomic_load(&idle_verdict) == 1, "the monitor to sleep through an idle second");
	return true;
}

/* ---- fairness: a green thread whose I/O never waits still lets the others run ----
 * /dev/zero always has data and /dev/null always takes it, so a green thread copying one to
 * the other never parks, like a connection whose client streams as fast as the server echoes.
 * The runtime does not preempt: with one worker, without io.c's budget that green thread
 * would hold the worker for good. Meanwhile another green thread is parked on a socket that
 * then gets data: it must be woken and run while the copier is still copying. */

static int fair_pair[2];
static _Atomic bool copier_done, fair_served, served_while_copying;
static _Atomic unsigned long copier_calls;

static void copier(void *arg)
{
	(void)arg;
	int in = open("/dev/zero", O_RDONLY), out = open("/dev/null", O_WRONLY);
	char buf[4096];
	uint64_t give_up = now_ns() + 10000000000u;   /* a failure ends, rather than hangs */
	while (in >= 0 && out >= 0 && !atomic_load(&fair_served) && now_ns() < give_up) {
		ssize_t n = green_read(in, buf, sizeof buf);
		if (n <= 0 || green_write(out, buf, (size_t)n) != n)
			break;
		atomic_fetch_add(&copier_calls, 2);
	}
	atomic_store(&copier_done, true);
	green_close(in);
	green_close(out);
}

static void fair_waiter(void *arg)
{
	(void)arg;
	char c;
	ssize_t n = green_read(fair_pair[0], &c, 1);
	atomic_store(&served_while_copying, n == 1 && !atomic_load(&copier_done));
	atomic_store(&fair_served, true);
}

static void fairness_main(void *arg)
{
	(void)arg;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fair_pair) < 0)
		abort();
	green_spawn(fair_waiter, NULL);
	green_yield();               /* one worker: the waiter runs, finds nothing, parks */
	if (write(fair_pair[1], "x", 1) != 1)
		abort();
	green_spawn(copier, NULL);
	while (!atomic_load(&fair_served) || !atomic_load(&copier_done))
		green_sleep_ms(1);       /* this parks too: it needs the copier to let go as well */
	green_close(fair_pair[0]);
	close(fair_pair[1]);
}

static bool busy_io_yields(void)
{
	EXPECT(run(1, fairness_main, NULL), "the runtime to run");
	EXPECT(atomic_load(&served_while_copying),
	       "the parked green thread to be woken while the copier still copied (it made %lu "
	       "I/O calls, none of which had to wait)", atomic_load(&copier_calls));
	return true;
}

/* ---- green_wait_input() on a fresh socket parks until data comes ----
 * A server waits with it before it borrows a buffer, so that an idle connection holds none;
 * on a connection that has not read yet, the runtime knows nothing, and must look. */

static int fresh_pair[2];
static _Atomic bool fresh_written, fresh_waited_for_data;

static void fresh_waiter(void *arg)
{
	(void)arg;
	int rc = green_wait_input(fresh_pair[0]);
	atomic_store(&fresh_waited_for_data, rc == 0 && atomic_load(&fresh_written));
}

static void fresh_main(void *arg)
{
	(void)arg;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fresh_pair) < 0)
		abort();
	green_spawn(fresh_waiter, NULL);
	green_sleep_ms(20);          /* one worker: the waiter runs first, and parks (or returns) */
	atomic_store(&fresh_written, true);
	if (write(fresh_pair[1], "x", 1) != 1)
		abort();
	green_sleep_ms(20);
	green_close(fresh_pair[0]);
	close(fresh_pair[1]);
}

static bool wait_input_fresh_socket(void)
{
	EXPECT(run(1, fresh_main, NULL), "the runtime to run");
	EXPECT(atomic_load(&fresh_waited_for_data),
	       "green_wait_input() on a fresh socket to return only once data was written");
	return true;
}

/* ---- a TCP echo server and clients over loopback: accept, connect, read, write ---- */

static _Atomic unsigned echoed;
static uint16_t echo_port;

static void echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[512];
	ssize_t n;
	while ((n = green_read(fd, buf, sizeof buf)) > 0)
		if (green_write(fd, buf, (size_t)n) != n)
			break;
	green_close(fd);
}

static void echo_server(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	for (;;) {
		int fd = green_accept(lfd, NULL, NULL);
		if (fd < 0)
			break;               /* closed by the main green thread: done */
		green_spawn(echo_conn, (void *)(intptr_t)fd);
	}
}

static void echo_client(void *arg)
{
	(void)arg;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(echo_port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || green_connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("connect");
		goto out;
	}
	for (int i = 0; i < 10; i++) {
		char msg[32], back[32];
		int len = snprintf(msg, sizeof msg, "message %d", i), got = 0;
		if (green_write(fd, msg, (size_t)len) != len)
			goto out;
		while (got < len) {
			ssize_t n = green_read(fd, back + got, (size_t)(len - got));
			if (n <= 0)
				goto out;
			got += (int)n;
		}
		if (memcmp(msg, back, (size_t)len) == 0)
			atomic_fetch_add(&echoed, 1);
	}
out:
	green_close(fd);
}

static void echo_main(void *arg)
{
	unsigned clients = (unsigned)(uintptr_t)arg;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 512) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		abort();
	echo_port = ntohs(sa.sin_port);
	green_spawn(echo_server, (void *)(intptr_t)lfd);
	for (unsigned i = 0; i < clients; i++)
		green_spawn(echo_client, NULL);
	while (atomic_load(&echoed) < clients * 10u) {
		green_sleep_ms(5);
		static unsigned waited;
		if (++waited > 2000)
			break;
	}
	green_close(lfd);            /* wakes the acceptor with EBADF */
}

static bool tcp_echo(void)
{
	unsigned clients = scaled(200);
	EXPECT(run(2, echo_main, (void *)(uintptr_t)clients), "the runtime to run");
	EXPECT(atomic_load(&echoed) == clients * 10, "%u echoes, got %u", clients * 10,
	       atomic_load(&echoed));
	return true;
}

/* ---- green_exit_unmapped: the stack goes back to the kernel, not to the cache ---- */

static char *exited_stack[2];            /* a page of each child's stack, seen from inside it */
static atomic_uint exits_done;
static bool unmapped_gone, cached_there;  /* looked at inside the runtime: its end unmaps all */

static char *page_of(void *p)
{
	return (char *)((uintptr_t)p & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1));
}

static void exiting_child(void *arg)
{
	uintptr_t unmapped = (uintptr_t)arg;
	/* the frame, not a local: a sanitizer may keep locals on a stack of its own */
	exited_stack[unmapped] = page_of(__builtin_frame_address(0));
	if (unmapped)
		green_exit_unmapped();
	atomic_fetch_add(&exits_done, 1);
}

static bool mapped(char *page)
{
	unsigned char vec;
	return mincore(page, (size_t)sysconf(_SC_PAGESIZE), &vec) == 0;
}

static volatile unsigned deep_sum;

static unsigned deep(unsigned n)         /* ~16 KiB of stack: pages a fresh stack never had */
{
	volatile char pad[512];
	pad[0] = (char)n;
	return n ? deep(n - 1) + (unsigned)pad[0] : 0;
}

static void deep_child(void *arg)
{
	(void)arg;
	deep_sum = deep(30);
}

static void exit_unmapped_main(void *arg)
{
	(void)arg;
	green_spawn(exiting_child, (void *)(uintptr_t)0);
	green_spawn(exiting_child, (void *)(uintptr_t)1);
	/* exited, and then its worker finished the exit on its scheduler stack (bound: 10 s) */
	for (unsigned i = 0; i < 1000 && (atomic_load(&exits_done) < 2 || mapped(exited_stack[1]));
	     i++)
		green_sleep_ms(10);
	unmapped_gone = !mapped(exited_stack[1]);
	cached_there = mapped(exited_stack[0]);
	green_spawn(deep_child, NULL);   /* spawning still works, from a fresh mapping or the cache */
}

static bool exit_unmapped(void)
{
	EXPECT(run(1, exit_unmapped_main, NULL), "the runtime to run");
	EXPECT(atomic_load(&exits_done) == 2, "both children to exit, %u did",
	       atomic_load(&exits_done));
	EXPECT(unmapped_gone, "the stack of the one that called green_exit_unmapped() "
	       "to be unmapped");
	EXPECT(cached_there, "the control's stack to stay mapped (cached)");
	EXPECT(deep_sum == 30 * 31 / 2, "a deep call on a later green thread to work");
	return true;
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "spawn-sleep-exit-100000", spawn_sleep_exit },
		{ "idle-workers-steal", stealing },
		{ "wakeups-from-many-workers", many_wakeups },
		{ "close-while-waiting", close_while_waiting },
		{ "io-deadline", io_deadline },
		{ "io-deadline-after-many-waits", io_deadline_after_waits },
		{ "eof-after-data-under-one-edge", eof_after_data },
		{ "interrupt-sleep", interrupt_sleep },
		{ "blocking-call-workers-1", blocking_call_workers1 },
		{ "blocking-call-workers-2", blocking_call_workers2 },
		{ "unwrapped-blocking-call-retaken", unwrapped_blocking_retaken },
		{ "unwrapped-blocking-call-stalls-without-monitor",
		  unwrapped_blocking_stalls_without_monitor },
		{ "unwrapped-blocking-call-retaken-with-fences", unwrapped_blocking_retaken_with_fences },
		{ "retake-races-switch-membarrier", retake_races_switch_membarrier },
		{ "retake-races-switch-fences", retake_races_switch_fences },
		{ "last-exits-race-the-stop", last_exits_race },
		{ "long-computation-retaken", long_computation_retaken },
		{ "long-computation-stalls-without-monitor", long_computation_stalls_without_monitor },
		{ "monitor-sleeps-when-idle", monitor_sleeps_when_idle },
		{ "busy-io-does-not-starve-others", busy_io_yields },
		{ "wait-input-parks-on-a-fresh-socket", wait_input_fresh_socket },
		{ "tcp-echo-accept-connect", tcp_echo },
		{ "exit-unmapped-gives-its-stack-back", exit_unmapped },
	};
	return run_cases(cases, sizeof cases / sizeof cases[0], argc, argv);
}
