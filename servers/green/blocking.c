/*
 * blocking.c: green_blocking(), for calls that block the OS thread (a disk read, a lock held
 * elsewhere, a deliberate sleep(3)).
 *
 * Such a call cannot be turned into a park: the kernel, not the runtime, holds the thread. So
 * the runtime gets out of its way, the way Go's entersyscallblock does: before the call, the
 * OS thread gives its worker (its run queue, its place in the scheduler) to a spare OS thread,
 * waking one or starting one, and that thread goes on running the worker's other green
 * threads. The call then runs on the green thread's own stack, on a thread that holds no
 * worker. When it returns, the green thread switches to its thread's scheduler stack, which
 * puts it on the global run queue for any worker to pick up, and the thread becomes a spare.
 *
 * Handing off on entry costs two thread wake-ups per call, which is why it is opt-in: Go
 * instead lets every system call start without a hand-off and has a monitor thread (sysmon)
 * take the worker away from calls that last more than 20 us. For calls that are meant to
 * block, handing off at once is simpler and loses no time. With --workers 1 it is what keeps
 * the server answering while a /block request sits in its sleep.
 *
 * If no thread can be started, the call runs in place and the worker waits with it.
 */
#include "runtime.h"

void green_blocking(void (*fn)(void *), void *arg)
{
	struct worker *w = sched_detach_worker();   /* NULL: the monitor took it already */
	if (w && sched_handoff(w) < 0) {
		sched_reattach_worker(w);
		fn(arg);
		return;
	}
	fn(arg);
	sched_after_blocking();
}
