/*
 * test_deadline.c: the deadline heap against the plainest possible reference, an array
 * searched in full, through long random sequences of set, move, cancel and pop.
 */
#include <stdlib.h>

#include "../check.h"
#include "deadline.h"

enum { N = 200 };

struct model {
	bool armed[N];
	uint64_t at[N];
};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(uint64_t bound)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state % bound;
}

/* The earliest armed deadline in the reference, or -1. */
static int earliest(const struct model *m)
{
	int best = -1;
	for (int i = 0; i < N; i++)
		if (m->armed[i] && (best < 0 || m->at[i] < m->at[best]))
			best = i;
	return best;
}

static int expected_timeout(const struct model *m, uint64_t now)
{
	int e = earliest(m);
	if (e < 0)
		return -1;
	if (m->at[e] <= now)
		return 0;
	return m->at[e] - now > 1000000 ? 1000000 : (int)(m->at[e] - now);
}

/* Every deadline agrees with the reference on being armed and on when. */
static bool consistent(const struct deadline *d, const struct model *m,
                       const struct deadline_heap *h)
{
	size_t armed = 0;
	for (int i = 0; i < N; i++) {
		if ((d[i].slot != 0) != m->armed[i])
			return false;
		if (m->armed[i] && (d[i].at_ms != m->at[i] || h->items[d[i].slot - 1] != &d[i]))
			return false;
		armed += m->armed[i];
	}
	return armed == h->len;
}

/* One random run: `steps` operations over N deadlines, times drawn from a window of `spread`
 * milliseconds (small spreads make many ties). */
static void random_run(unsigned steps, uint64_t spread)
{
	struct deadline d[N];
	struct model m;
	memset(d, 0, sizeof d);
	memset(&m, 0, sizeof m);
	struct deadline_heap h = { 0 };
	uint64_t now = 1000;
	unsigned bad_step = 0, pops = 0;
	for (unsigned step = 1; step <= steps && !bad_step; step++) {
		int i = (int)rnd(N);
		switch (rnd(6)) {
		case 0: case 1: case 2:   /* set: arm or move, earlier or later */
			m.at[i] = now + rnd(spread);
			m.armed[i] = true;
			if (deadline_set(&h, &d[i], m.at[i]) != 0)
				bad_step = step;
			break;
		case 3:
			deadline_cancel(&h, &d[i]);   /* armed or not */
			m.armed[i] = false;
			break;
		case 4: {   /* the loop's turn: take everything due, earliest first */
			now += rnd(spread / 4 + 1);
			struct deadline *due;
			uint64_t last = 0;
			while ((due = deadline_pop_due(&h, now))) {
				int k = (int)(due - d);
				int e = earliest(&m);
				if (k < 0 || k >= N || !m.armed[k] || m.at[k] != m.at[e] || m.at[k] > now ||
				    m.at[k] < last || due->slot != 0)
					bad_step = step;
				last = m.at[k];
				m.armed[k] = false;
				pops++;
			}
			int e = earliest(&m);
			if (e >= 0 && m.at[e] <= now)
				bad_step = step;   /* something due was left behind */
			break;
		}
		case 5:
			if (deadline_timeout_ms(&h, now) != expected_timeout(&m, now))
				bad_step = step;
			break;
		}
		if (!consistent(d, &m, &h))
			bad_step = step;
	}
	check_case("%u steps over %llu ms", steps, (unsigned long long)spread);
	CHECK_EQ(bad_step, 0);
	CHECK(pops > 0);
	deadline_heap_free(&h);
	CHECK(h.len == 0 && h.items == NULL);
	bool all_disarmed = true;
	for (int i = 0; i < N; i++)
		all_disarmed &= d[i].slot == 0;
	CHECK(all_disarmed);
	check_case("%s", "");
}

static void test_basics(void)
{
	struct deadline_heap h = { 0 };
	struct deadline a = { 0 }, b = { 0 }, c = { 0 };
	CHECK_EQ(deadline_timeout_ms(&h, 0), -1);
	CHECK(deadline_pop_due(&h, UINT64_MAX) == NULL);
	deadline_cancel(&h, &a);   /* not armed: nothing happens */
	CHECK_EQ(deadline_set(&h, &a, 300), 0);
	CHECK_EQ(deadline_set(&h, &b, 100), 0);
	CHECK_EQ(deadline_set(&h, &c, 200), 0);
	CHECK_EQ(deadline_timeout_ms(&h, 50), 50);
	CHECK_EQ(deadline_timeout_ms(&h, 100), 0);
	CHECK_EQ(deadline_timeout_ms(&h, 150), 0);
	CHECK(deadline_pop_due(&h, 99) == NULL);
	CHECK(deadline_pop_due(&h, 250) == &b);
	CHECK(deadline_pop_due(&h, 250) == &c);
	CHECK(deadline_pop_due(&h, 250) == NULL);
	CHECK_EQ(deadline_set(&h, &a, 10), 0);   /* moved earlier */
	CHECK_EQ(deadline_set(&h, &b, 20), 0);
	CHECK_EQ(deadline_set(&h, &a, 30), 0);   /* moved later, past b */
	CHECK(deadline_pop_due(&h, 1000) == &b);
	CHECK(deadline_pop_due(&h, 1000) == &a);
	CHECK_EQ(h.len, 0);
	/* Far away: the wait is capped, so the int cannot overflow. */
	CHECK_EQ(deadline_set(&h, &a, UINT64_MAX), 0);
	CHECK_EQ(deadline_timeout_ms(&h, 0), 1000000);
	CHECK_EQ(deadline_set(&h, &a, 1000000), 0);
	CHECK_EQ(deadline_timeout_ms(&h, 1), 999999);
	deadline_cancel(&h, &a);
	CHECK_EQ(a.slot, 0);
	CHECK_EQ(deadline_timeout_ms(&h, 0), -1);
	deadline_heap_free(&h);
}

/* Enough deadlines to make the heap's array grow several times. */
static void test_growth(void)
{
	enum { MANY = 5000 };
	static struct deadline d[MANY];
	struct deadline_heap h = { 0 };
	bool all_set = true;
	for (int i = 0; i < MANY; i++)
		all_set &= deadline_set(&h, &d[i], (uint64_t)(i * 7919 % MANY)) == 0;
	CHECK(all_set);
	CHECK(h.cap >= MANY);
	uint64_t last = 0;
	bool ordered = true;
	for (int i = 0; i < MANY; i++) {
		struct deadline *due = deadline_pop_due(&h, MANY);
		ordered &= due != NULL && due->at_ms >= last;
		last = due ? due->at_ms : UINT64_MAX;
	}
	CHECK(ordered);
	CHECK_EQ(h.len, 0);
	deadline_heap_free(&h);
}

int main(void)
{
	test_basics();
	test_growth();
	random_run(20000, 1000);
	random_run(20000, 10);
	random_run(20000, 5000000);
	return check_report();
}
