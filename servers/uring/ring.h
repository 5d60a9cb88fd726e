/*
 * ring.h: what uring.c needs from io_uring that is not its idea.
 *
 * - Setting the ring up, and saying why not in words a user can act on (no io_uring in the
 *   kernel, a sysctl, a seccomp profile, a kernel too old for multishot receive).
 * - The provided buffer ring: buffers registered with the kernel, which picks one for each
 *   multishot receive; and a connection's held input, the buffers received but not yet read,
 *   in order, which go back to the ring as they are used up.
 */
#ifndef C10K_URING_RING_H
#define C10K_URING_RING_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>

/* 0, or -errno from io_uring_setup(). */
int uring_ring_init(struct io_uring *ring);
/* Why io_uring_setup() failed with err, in one line. */
const char *uring_refusal(int err);
/* Why this machine cannot run the model, or NULL (struct model's .unavailable). */
const char *uring_unavailable(void);

/* A submission slot; when the queue is full, what is in it goes to the kernel first. */
struct io_uring_sqe *uring_sqe(struct io_uring *ring);

static inline struct __kernel_timespec uring_ts(unsigned ms)
{
	return (struct __kernel_timespec){ .tv_sec = ms / 1000,
	                                   .tv_nsec = (long long)(ms % 1000) * 1000000 };
}

struct bufring {
	struct io_uring_buf_ring *br;   /* shared with the kernel: the buffers it may pick */
	char *bufs;                     /* count buffers of BUFRING_SIZE */
	unsigned count;
	int *held_next;                 /* each held buffer's successor in its connection's list */
	unsigned *held_len;
};
/* Small buffers, because most messages are. */
enum { BUFRING_SIZE = 4096 };

/* Registers count buffers (a power of two) as group; 0 or -errno. */
int bufring_init(struct bufring *b, struct io_uring *ring, unsigned count, unsigned short group);
void bufring_give_back(struct bufring *b, int bid);
/* kernel_done: the kernel holds no pointer into the buffers any more, so they can go. */
void bufring_free(struct bufring *b, bool kernel_done);

/* A connection's held input: ring buffers received and not yet read, oldest first. */
struct held {
	int head, tail;                 /* buffer ids; -1: none */
	unsigned off;                   /* bytes of the head buffer already read */
};
#define HELD_NONE ((struct held){ .head = -1, .tail = -1 })

static inline bool held_any(const struct held *h)
{
	return h->head >= 0;
}

void held_push(struct bufring *b, struct held *h, int bid, unsigned len);
/* Copies at most room bytes of the oldest buffer to dst; a used-up buffer goes back. */
size_t held_copy(struct bufring *b, struct held *h, char *dst, size_t room);
/* Every held buffer back to the ring. */
void held_drop(struct bufring *b, struct held *h);

#endif
