/*
 * bufpool.c: a LIFO of spare buffers. The most recently returned buffer is handed out first,
 * because its memory is the most likely to still be in the cache.
 */
#include "bufpool.h"

#include <stdlib.h>

void *bufpool_get(struct bufpool *p)
{
	void *buf = p->spares;
	if (!buf)
		return malloc(BUFPOOL_BUF_SIZE);
	p->spares = *(void **)buf;
	p->count--;
	return buf;
}

void bufpool_put(struct bufpool *p, void *buf)
{
	if (p->count >= p->keep) {
		free(buf);
		return;
	}
	*(void **)buf = p->spares;
	p->spares = buf;
	p->count++;
}

void bufpool_drain(struct bufpool *p)
{
	while (p->spares) {
		void *next = *(void **)p->spares;
		free(p->spares);
		p->spares = next;
	}
	p->count = 0;
}
