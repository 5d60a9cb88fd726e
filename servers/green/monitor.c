/*
 * monitor.c: Go's sysmon. A thread of its own, outside the scheduler, that looks at every OS
 * thread now and then and takes the worker away from one that has not come back to its
 * scheduler for too long: a green thread in a blocking call nobody wrapped in
 * green_blocking() (a read of a slow file, getaddrinfo(), a sleep), or in a long
 * computation. The worker, with its run queue, goes to a spare OS thread, and the other green
 * threads go on (sched.c: retake). The stuck green thread keeps its OS thread; when it
 * returns to the scheduler, that thread becomes a spare, as after green_blocking().
 *
 * The cheap path stays cheap: a worker pays a store before it switches to a green thread and
 * a store and a load after, on words of its own (m->tick, Go's schedtick, and m->retake), with
 * no fence and no locked instruction: the monitor pays for the fence, with membarrier(), when
 * it takes a worker (sched.c: keep_worker). A system call that returns at once pays nothing. The monitor pays the rest: it looks every 20 us while it
 * finds something to do, backs off, doubling its nap to 10 ms once 50 looks in a row found
 * nothing, and sleeps outright when no green thread runs, until a worker leaves its idle
 * state (monitor_wake). An idle server costs it no CPU at all.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

enum {
	NAP_MIN_US = 20,             /* Go's values: 20 us while there is something to do... */
	NAP_MAX_US = 10000,          /* ...doubling up to 10 ms... */
	QUIET_LOOKS = 50,            /* ...once this many looks in a row found nothing */
	STILL_LOOKS = 2,             /* looks without a switch anywhere before it sleeps outright */
};

static struct {
	pthread_t thread;
	bool started;
	_Atomic uint32_t asleep;     /* futex word: 1 while it sleeps until a worker wakes */
	_Atomic uint32_t stop;       /* futex word: 1 to end it */
} mon;

static void futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *timeout)
{
	syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

/*
 * Until a worker leaves its idle state, or the runtime stops. The pattern of sched.c's idle
 * workers: announce (asleep = 1), then look once more; a worker leaving idle does the
 * opposite (its RMW on the idle count or the polling flag, then monitor_wake() reads asleep).
 * All of it sequentially consistent, so at least one of the two sees the other.
 */
static void sleep_until_work(void)
{
	atomic_exchange(&mon.asleep, 1);
	if (!sched_all_idle() || atomic_load(&mon.stop)) {
		atomic_store(&mon.asleep, 0);
		return;
	}
	while (atomic_load(&mon.asleep) && !atomic_load(&mon.stop))
		futex(&mon.asleep, FUTEX_WAIT_PRIVATE, 1, NULL);
}

void monitor_wake(void)
{
	if (atomic_load(&mon.asleep) && atomic_exchange(&mon.asleep, 0))
		futex(&mon.asleep, FUTEX_WAKE_PRIVATE, 1, NULL);
}

static void *monitor_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "green-monitor");
	unsigned nap_us = NAP_MIN_US, quiet = 0, still = 0;
	while (!atomic_load(&mon.stop)) {
		struct timespec nap = { 0, (long)nap_us * 1000 };
		futex(&mon.stop, FUTEX_WAIT_PRIVATE, 0, &nap);
		bool moved;
		if (sched_retake(&moved)) {
			nap_us = NAP_MIN_US;
			quiet = 0;
		} else if (++quiet > QUIET_LOOKS) {
			nap_us = nap_us * 2 < NAP_MAX_US ? nap_us * 2 : NAP_MAX_US;
		}
		/* Backed off, and no green thread switched in the last two looks: maybe all idle.
		 * It wakes still backed off: it has found nothing to do yet. */
		still = moved ? 0 : still + 1;
		if (nap_us == NAP_MAX_US && still >= STILL_LOOKS && sched_all_idle()) {
			sleep_until_work();
			still = 0;
		}
	}
	return NULL;
}

int monitor_start(void)
{
	atomic_store(&mon.stop, 0);
	atomic_store(&mon.asleep, 0);
	int rc = pthread_create(&mon.thread, NULL, monitor_main, NULL);
	mon.started = rc == 0;
	if (rc != 0)
		fprintf(stderr, "green: cannot start the monitor thread (%s): a blocking call or a "
		        "long computation will hold up its worker's green threads\n", strerror(rc));
	return rc == 0 ? 0 : -1;
}

void monitor_stop(void)
{
	if (!mon.started)
		return;
	atomic_store(&mon.stop, 1);
	futex(&mon.stop, FUTEX_WAKE_PRIVATE, 1, NULL);
	atomic_store(&mon.asleep, 0);
	futex(&mon.asleep, FUTEX_WAKE_PRIVATE, 1, NULL);
	pthread_join(mon.thread, NULL);
	mon.started = false;
}
