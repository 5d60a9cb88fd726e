/*
 * test_netpoll.c: races of the wait slots (netpoll.h) that timing alone almost never
 * produces, forced at the exact point where they matter.
 *
 * This program is linked with -Wl,--wrap=mono_ns (mk/green.mk): every time the runtime reads
 * its clock it calls __wrap_mono_ns() below instead. pd_wait() reads the clock right after it
 * publishes its WAIT, to see whether its deadline has passed, so the wrapper can act inside
 * that window (make epoll report an edge) and then say that time has jumped past the
 * deadline. Everything runs on one worker, so nothing else runs meanwhile.
 *
 * Other threads read the clock too: the monitor does, every few microseconds while a worker
 * runs. The trap springs only on the thread that set it. Sprung by the monitor, it could
 * ready nothing (the WAIT may have become the parked thread meanwhile, and the wake-up it
 * collects is dropped) or write to a socket the case had already closed (an abort, seen
 * under qemu, where the window is wide).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../check.h"
#include "netpoll.h"

uint64_t __real_mono_ns(void);
uint64_t __wrap_mono_ns(void);

static const uint64_t HOUR_NS = 3600ull * 1000000000u;

static struct {
	struct pd *pd;               /* the fd whose wait the trap is set in */
	pthread_t owner;             /* the OS thread running the case: only it springs the trap */
	int peer;                    /* the other end of its socketpair */
	_Atomic bool armed, sprung;
	_Atomic uint64_t skew;       /* added to the clock once the trap has sprung */
	_Atomic uintptr_t slot_after;   /* the read slot after epoll reported the edge */
	_Atomic bool woke_someone;
} trap;

uint64_t __wrap_mono_ns(void)
{
	uint64_t now = __real_mono_ns() + atomic_load(&trap.skew);
	if (!atomic_load(&trap.armed) || !pthread_equal(pthread_self(), trap.owner) ||
	    atomic_load(&trap.pd->slot[GREEN_IN]) != PD_WAIT)
		return now;
	/* pd_wait() has published WAIT and asks whether its deadline has passed. Now data
	 * arrives and a poller sees the edge, then the clock says: long past. */
	atomic_store(&trap.armed, false);
	if (write(trap.peer, "x", 1) != 1)
		abort();
	atomic_store(&trap.woke_someone, netpoll(0) != NULL);
	atomic_store(&trap.slot_after, atomic_load(&trap.pd->slot[GREEN_IN]));
	atomic_store(&trap.sprung, true);
	atomic_store(&trap.skew, HOUR_NS);
	return now + HOUR_NS;
}

/* ---- an edge that arrives while a wait gives up at its deadline is not lost ----
 * The fd is edge-triggered: if the wait, withdrawing, overwrote the READY that the edge left
 * in its slot, epoll would never report that data again, and every later read would park
 * (the read before the wait proved the socket empty) with the data queued: it would time
 * out, over and over. */

static _Atomic ssize_t first_read = -2, retry_read = -2;
static _Atomic int first_errno;

static void edge_at_deadline_main(void *arg)
{
	(void)arg;
	int pair[2];
	char c = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) < 0)
		abort();
	green_fd_timeout(pair[0], 1000);         /* registers it; every wait gets a deadline */
	trap.pd = pd_acquire(pair[0]);
	trap.peer = pair[1];
	trap.owner = pthread_self();             /* one worker, no park before the wait: it stays */
	atomic_store(&trap.armed, true);
	ssize_t n = green_read(pair[0], &c, 1);  /* EAGAIN, then the wait the trap is set in */
	atomic_store(&first_errno, n < 0 ? errno : 0);
	atomic_store(&first_read, n == 1 && c == 'x' ? 1 : n);
	if (n < 0) {                             /* a caller that retries after ETIMEDOUT */
		n = green_read(pair[0], &c, 1);
		atomic_store(&retry_read, n == 1 && c == 'x' ? 1 : n);
	}
	atomic_store(&trap.armed, false);
	pd_release(trap.pd);
	green_close(pair[0]);
	close(pair[1]);
}

static bool edge_at_deadline(void)
{
	struct green_config cfg = { .workers = 1 };
	EXPECT(green_run(&cfg, edge_at_deadline_main, NULL) == 0, "the runtime to run");
	EXPECT(atomic_load(&trap.sprung), "the trap to spring inside pd_wait (its WAIT published)");
	EXPECT(atomic_load(&trap.slot_after) == PD_READY && !atomic_load(&trap.woke_someone),
	       "epoll's edge to turn the WAIT into READY (slot %#lx)",
	       (unsigned long)atomic_load(&trap.slot_after));
	ssize_t first = atomic_load(&first_read), retry = atomic_load(&retry_read);
	EXPECT(first == 1 || retry == 1,
	       "the byte that arrived to be read, by the read or by a retry after its time-out; "
	       "got %zd (errno %d), then %zd", first, atomic_load(&first_errno), retry);
	return true;
}

int main(int argc, char **argv)
{
	static const struct test_case cases[] = {
		{ "edge-at-deadline-not-lost", edge_at_deadline },
	};
	return run_cases(cases, sizeof cases / sizeof cases[0], argc, argv);
}
