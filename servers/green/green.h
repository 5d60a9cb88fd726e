/*
 * green.h: M:N green threads with a netpoller, the way Go's runtime does it.
 *
 * Many green threads run on a few OS threads ("workers"). A green thread is written as plain
 * blocking code: green_read() on a socket with nothing to read parks the green thread, its
 * worker runs another one, and when epoll says the socket is readable the green thread is
 * made runnable again and its read is retried. docs/green.md explains the design.
 *
 *     static void echo(void *arg)
 *     {
 *         int fd = (int)(intptr_t)arg;
 *         char buf[4096];
 *         ssize_t n;
 *         while ((n = green_read(fd, buf, sizeof buf)) > 0)
 *             if (green_write(fd, buf, n) < 0)     // (a real server loops on short writes)
 *                 break;
 *         green_close(fd);
 *     }
 *     ... green_spawn(echo, (void *)(intptr_t)client_fd);
 *
 * Rules of the road:
 * - Every call below except green_run() is made from a green thread.
 * - A green thread may run on a different OS thread after any call that can park it (I/O,
 *   sleep, yield, green_blocking). Thread-local variables, errno and pthread_self() are those
 *   of the current OS thread at each point; never keep their address across such a call.
 * - One green thread at a time reads a given fd, and one at a time writes it.
 * - fds used with these calls are made non-blocking; close them with green_close().
 * - A plain blocking system call stalls its whole worker: wrap it in green_blocking().
 */
#ifndef GREEN_H
#define GREEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct green;                                /* a green thread */

/* Default stack, guard page not included. The server's deepest path (parse a request head
 * with its table of header pointers, format an answer) uses a few KiB; 64 leaves room for
 * user code and libc. Only the pages a green thread touches become resident. Sanitizers
 * make frames several times bigger, so their builds get more. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define GREEN_STACK_DEFAULT_KIB 256
#else
#define GREEN_STACK_DEFAULT_KIB 64
#endif
enum {
	GREEN_STACK_DEFAULT = GREEN_STACK_DEFAULT_KIB * 1024,
	GREEN_STACK_MIN = 16 * 1024,
};

/* OS threads at most, for the workers and for the blocking calls that hold one each (Go's
 * SetMaxThreads). */
enum { GREEN_MAX_THREADS_DEFAULT = 10000 };

struct green_config {
	unsigned workers;            /* OS threads running green threads; 0: the CPUs available */
	size_t stack_size;           /* per green thread, without its guard page; 0: the default */
	unsigned max_threads;        /* 0: GREEN_MAX_THREADS_DEFAULT; at least workers */
	bool no_monitor;             /* no monitor thread: a stuck worker stays stuck (experiments) */
	bool no_membarrier;          /* as where membarrier() is refused: a fence on each side of a
	                              * retake instead (sched.c: keep_worker), for tests */
};

/* Starts the runtime, runs main_fn(arg) as the first green thread and returns once every
 * green thread has exited and every worker thread is gone. Returns 0, or -1 with errno when
 * the runtime cannot start. One runtime per process at a time. */
int green_run(const struct green_config *cfg, void (*main_fn)(void *), void *arg);

/* Starts fn(arg) in a new green thread. Returns it, or NULL with errno set (ENOMEM or EAGAIN:
 * no memory or address-space mapping for its stack). The pointer is valid until fn returns. */
struct green *green_spawn(void (*fn)(void *), void *arg);

/* A static name shown, with the green thread's number, in crash messages such as a stack
 * overflow. */
void green_set_name(const char *name);
void green_yield(void);
/* When the calling green thread exits, its stack is unmapped rather than cached for the next
 * spawn: for one that ends because its work went quiet for long, whose stack's touched pages
 * nobody is about to reuse (a cached stack keeps them resident). */
void green_exit_unmapped(void);

/* Sleeps without holding a worker. Returns 0, or -1 with errno EINTR when green_interrupt()
 * cut it short. */
int green_sleep_ms(uint64_t ms);
/* Wakes g from green_sleep_ms() (or makes its next one return at once). For shutting down.
 * g must not have exited. */
void green_interrupt(struct green *g);

/*
 * The OS thread running the caller, as an index in [0, green_threads_max()). Valid until the
 * next call that can park: use it to pick per-thread state (e.g. a buffer pool) that needs
 * no lock. Per thread, not per worker: the monitor may hand a worker to another thread at any
 * moment, while a green thread never leaves its OS thread between parks.
 */
unsigned green_thread_id(void);
unsigned green_threads_max(void);

/*
 * I/O. Same arguments, results and errors as the system calls, but where the call would
 * block, the green thread parks until the fd is ready. Extra errors: EBADF when another green
 * thread green_close()s the fd meanwhile; ETIMEDOUT after a green_fd_timeout().
 */
ssize_t green_read(int fd, void *buf, size_t len);
ssize_t green_write(int fd, const void *buf, size_t len);
int green_accept(int fd, struct sockaddr *addr, socklen_t *addrlen);
int green_connect(int fd, const struct sockaddr *addr, socklen_t addrlen);
/* Wakes any green thread waiting on fd (they get EBADF), waits until none is inside a call on
 * it, forgets it, and closes it. */
int green_close(int fd);
/* green_close() without the close(2): hands fd back to the caller, blocking-mode unchanged. */
void green_fd_release(int fd);

enum green_dir { GREEN_IN, GREEN_OUT };
/* For a call the runtime does not wrap: after it failed with EAGAIN, parks until the fd is
 * ready in that direction. Returns 0 (then retry the call), or -1 with errno. */
int green_wait(int fd, enum green_dir dir);
/* Parks until a read would find data, without reading, unless the last green_read() may have
 * left some. A server waits with it on an idle connection so that it holds no buffer. */
int green_wait_input(int fd);
/* Each wait on fd from now on gives up after ms milliseconds, with ETIMEDOUT; 0: never. */
int green_fd_timeout(int fd, unsigned ms);

/* errno of the OS thread running the caller, read anew. glibc declares errno's accessor
 * const, so a compiler may fetch errno's address once per function and, after the green
 * thread migrated, read another thread's errno. In a function that parks and also reads
 * errno, read it through this. */
int green_errno(void);

/*
 * Runs fn(arg), a call that may block for a long time (a disk read, a lock, a sleep(3)), on the
 * calling green thread, after handing the worker's run queue to another OS thread so that the
 * other green threads keep running. fn must not call into this runtime.
 */
void green_blocking(void (*fn)(void *), void *arg);

#endif
