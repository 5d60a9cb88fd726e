/*
 * test_bufpool.c: the buffer pool: whole buffers, most recent first, never more spares than
 * it may keep, and nothing left behind by a drain (Valgrind's leak check sees to that).
 */
#include <stdlib.h>

#include "bufpool.h"
#include "../check.h"

static void test_reuse(void)
{
	struct bufpool p = BUFPOOL_INIT(4);
	CHECK(p.spares == NULL && p.count == 0 && p.keep == 4);
	char *a = bufpool_get(&p), *b = bufpool_get(&p);
	CHECK(a && b && a != b);
	memset(a, 'a', BUFPOOL_BUF_SIZE);   /* the whole buffer is ours */
	memset(b, 'b', BUFPOOL_BUF_SIZE);
	CHECK_EQ(p.count, 0);
	bufpool_put(&p, a);
	bufpool_put(&p, b);
	CHECK_EQ(p.count, 2);
	CHECK(bufpool_get(&p) == b);   /* last in, first out: the one most likely cached */
	CHECK(bufpool_get(&p) == a);
	CHECK_EQ(p.count, 0);
	/* A spare's first bytes held the free list: the buffer is still whole to write. */
	memset(a, 'x', BUFPOOL_BUF_SIZE);
	bufpool_put(&p, a);
	bufpool_put(&p, b);
	bufpool_drain(&p);
	CHECK(p.spares == NULL && p.count == 0);
	bufpool_drain(&p);   /* twice is harmless */
}

/* Past `keep` spares, returned buffers are freed: a burst does not pin its peak memory. */
static void test_keep_bound(void)
{
	enum { BURST = 10 };
	struct bufpool p = BUFPOOL_INIT(3);
	void *bufs[BURST];
	for (int i = 0; i < BURST; i++)
		bufs[i] = bufpool_get(&p);
	bool bounded = true;
	for (int i = 0; i < BURST; i++) {
		bufpool_put(&p, bufs[i]);
		bounded &= p.count == (size_t)(i < 3 ? i + 1 : 3);
	}
	CHECK(bounded);
	CHECK(bufpool_get(&p) == bufs[2]);
	CHECK_EQ(p.count, 2);
	bufpool_put(&p, bufs[2]);
	bufpool_drain(&p);

	struct bufpool none = BUFPOOL_INIT(0);
	void *buf = bufpool_get(&none);
	CHECK(buf != NULL);
	bufpool_put(&none, buf);
	CHECK(none.count == 0 && none.spares == NULL);
}

/* A steady state of get and put never allocates: the same buffers go round. */
static void test_steady_state(void)
{
	struct bufpool p = BUFPOOL_INIT(8);
	void *first[2] = { bufpool_get(&p), bufpool_get(&p) };
	bufpool_put(&p, first[0]);
	bufpool_put(&p, first[1]);
	bool same_buffers = true;
	for (int i = 0; i < 1000; i++) {
		void *x = bufpool_get(&p), *y = bufpool_get(&p);
		same_buffers &= (x == first[0] || x == first[1]) && (y == first[0] || y == first[1]);
		bufpool_put(&p, y);
		bufpool_put(&p, x);
	}
	CHECK(same_buffers);
	CHECK_EQ(p.count, 2);
	bufpool_drain(&p);
}

int main(void)
{
	test_reuse();
	test_keep_bound();
	test_steady_state();
	return check_report();
}
