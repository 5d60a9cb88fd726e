/*
 * deadline.c: a binary min-heap of deadlines, keyed on when they are due.
 *
 * Each deadline remembers its slot, so it can be moved or cancelled in O(log n) without a
 * search. Slots are 1-based so that 0 can mean "not armed".
 */
#include "deadline.h"

#include <stdlib.h>

static void place(struct deadline_heap *h, size_t i, struct deadline *d)
{
	h->items[i] = d;
	d->slot = i + 1;
}

static void sift_up(struct deadline_heap *h, size_t i)
{
	struct deadline *d = h->items[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (h->items[parent]->at_ms <= d->at_ms)
			break;
		place(h, i, h->items[parent]);
		i = parent;
	}
	place(h, i, d);
}

static void sift_down(struct deadline_heap *h, size_t i)
{
	struct deadline *d = h->items[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= h->len)
			break;
		if (child + 1 < h->len && h->items[child + 1]->at_ms < h->items[child]->at_ms)
			child++;
		if (d->at_ms <= h->items[child]->at_ms)
			break;
		place(h, i, h->items[child]);
		i = child;
	}
	place(h, i, d);
}

int deadline_set(struct deadline_heap *h, struct deadline *d, uint64_t at_ms)
{
	if (d->slot) {
		uint64_t was = d->at_ms;
		d->at_ms = at_ms;
		if (at_ms < was)
			sift_up(h, d->slot - 1);
		else
			sift_down(h, d->slot - 1);
		return 0;
	}
	if (h->len == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		struct deadline **items = realloc(h->items, cap * sizeof *items);
		if (!items)
			return -1;
		h->items = items;
		h->cap = cap;
	}
	d->at_ms = at_ms;
	place(h, h->len++, d);
	sift_up(h, h->len - 1);
	return 0;
}

void deadline_cancel(struct deadline_heap *h, struct deadline *d)
{
	if (!d->slot)
		return;
	size_t i = d->slot - 1;
	d->slot = 0;
	struct deadline *last = h->items[--h->len];
	if (i == h->len)
		return;
	place(h, i, last);
	sift_up(h, i);
	sift_down(h, last->slot - 1);
}

struct deadline *deadline_pop_due(struct deadline_heap *h, uint64_t now)
{
	if (h->len == 0 || h->items[0]->at_ms > now)
		return NULL;
	struct deadline *d = h->items[0];
	deadline_cancel(h, d);
	return d;
}

int deadline_timeout_ms(const struct deadline_heap *h, uint64_t now)
{
	if (h->len == 0)
		return -1;
	uint64_t at = h->items[0]->at_ms;
	if (at <= now)
		return 0;
	return at - now > 1000000 ? 1000000 : (int)(at - now);
}

void deadline_heap_free(struct deadline_heap *h)
{
	for (size_t i = 0; i < h->len; i++)
		h->items[i]->slot = 0;
	free(h->items);
	*h = (struct deadline_heap){ 0 };
}
