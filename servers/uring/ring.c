/* ring.c: setting up io_uring, and the provided buffer ring (ring.h). */
#include "ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>

/* Submission queue entries; completions get four times as many slots. */
enum { SQ_ENTRIES = 1024 };

/* SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1): only this thread submits, and the kernel runs
 * completion work when we wait, in a batch, rather than interrupting us for each. Older
 * kernels refuse the flags (EINVAL): then without them. */
int uring_ring_init(struct io_uring *ring)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
	                                      IORING_SETUP_DEFER_TASKRUN,
	                             .cq_entries = 4 * SQ_ENTRIES };
	int err = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
	if (err == -EINVAL) {
		p = (struct io_uring_params){ .flags = IORING_SETUP_CQSIZE, .cq_entries = 4 * SQ_ENTRIES };
		err = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
	}
	return err;
}

const char *uring_refusal(int err)
{
	if (err == -ENOSYS)
		return "io_uring refused: the kernel has none: built without it, or a seccomp filter "
		       "hides it (ENOSYS)";
	if (err != -EPERM) {
		static char why[128];
		snprintf(why, sizeof why, "io_uring_setup failed: %s", strerror(-err));
		return why;
	}
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
	int disabled = 0;
	if (f) {
		if (fscanf(f, "%d", &disabled) != 1)
			disabled = 0;
		fclose(f);
	}
	if (disabled == 2)
		return "io_uring refused: disabled for everyone (sysctl kernel.io_uring_disabled=2: EPERM)";
	if (disabled == 1)
		return "io_uring refused: disabled for this user (sysctl kernel.io_uring_disabled=1, "
		       "not in kernel.io_uring_group: EPERM)";
	return "io_uring refused: a seccomp profile (a container's or a sandbox's) forbids "
	       "io_uring_setup (EPERM)";
}

/* Multishot receive came in Linux 6.0; older kernels would fail only at the first receive. */
static bool kernel_is_6_or_later(void)
{
	struct utsname u;
	return uname(&u) == 0 && atoi(u.release) >= 6;
}

const char *uring_unavailable(void)
{
	struct io_uring ring;
	int err = uring_ring_init(&ring);
	if (err < 0)
		return uring_refusal(err);
	io_uring_queue_exit(&ring);
	if (!kernel_is_6_or_later())
		return "multishot receive needs Linux 6.0 or later";
	return NULL;
}

struct io_uring_sqe *uring_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	while (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

/* ---- The provided buffer ring ---- */

static char *buf_of(struct bufring *b, int bid)
{
	return b->bufs + (size_t)bid * BUFRING_SIZE;
}

static void add(struct bufring *b, int bid, int offset)
{
	io_uring_buf_ring_add(b->br, buf_of(b, bid), BUFRING_SIZE, (unsigned short)bid,
	                      io_uring_buf_ring_mask(b->count), offset);
}

/* Fails if the kernel has no provided buffer rings (Linux 5.19) or memory ran out. */
int bufring_init(struct bufring *b, struct io_uring *ring, unsigned count, unsigned short group)
{
	size_t ring_size = count * sizeof(struct io_uring_buf);
	void *br = mmap(NULL, ring_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	*b = (struct bufring){ .br = br == MAP_FAILED ? NULL : br, .count = count,
	                       .bufs = malloc((size_t)count * BUFRING_SIZE),
	                       .held_next = calloc(count, sizeof *b->held_next),
	                       .held_len = calloc(count, sizeof *b->held_len) };
	if (!b->br || !b->bufs || !b->held_next || !b->held_len)
		return -ENOMEM;
	struct io_uring_buf_reg reg = { .ring_addr = (uintptr_t)br, .ring_entries = count,
	                                .bgid = group };
	int err = io_uring_register_buf_ring(ring, &reg, 0);
	if (err < 0)
		return err;
	io_uring_buf_ring_init(b->br);
	for (unsigned bid = 0; bid < count; bid++)
		add(b, (int)bid, (int)bid);
	io_uring_buf_ring_advance(b->br, (int)count);
	return 0;
}

void bufring_give_back(struct bufring *b, int bid)
{
	add(b, bid, 0);
	io_uring_buf_ring_advance(b->br, 1);
}

void bufring_free(struct bufring *b, bool kernel_done)
{
	if (kernel_done)   /* else the kernel may still hold a pointer: leave them */
		free(b->bufs);
	if (b->br)
		munmap(b->br, b->count * sizeof(struct io_uring_buf));
	free(b->held_next);
	free(b->held_len);
}

/* ---- Held input ---- */

void held_push(struct bufring *b, struct held *h, int bid, unsigned len)
{
	b->held_next[bid] = -1;
	b->held_len[bid] = len;
	if (h->tail >= 0)
		b->held_next[h->tail] = bid;
	else
		h->head = bid, h->off = 0;
	h->tail = bid;
}

size_t held_copy(struct bufring *b, struct held *h, char *dst, size_t room)
{
	int bid = h->head;
	size_t n = b->held_len[bid] - h->off;
	if (n > room)
		n = room;
	if (n)
		memcpy(dst, buf_of(b, bid) + h->off, n);
	h->off += (unsigned)n;
	if (h->off == b->held_len[bid]) {
		h->head = b->held_next[bid];
		h->off = 0;
		if (h->head < 0)
			h->tail = -1;
		bufring_give_back(b, bid);
	}
	return n;
}

void held_drop(struct bufring *b, struct held *h)
{
	while (h->head >= 0) {
		int bid = h->head;
		h->head = b->held_next[bid];
		bufring_give_back(b, bid);
	}
	h->tail = -1;
}
