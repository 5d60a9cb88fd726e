/* handoff.c: see handoff.h. */
#include "handoff.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

bool handoff_init(struct handoff *h, size_t cap)
{
	*h = (struct handoff){ .cap = cap, .queue = calloc(cap, sizeof *h->queue),
	                       .wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) };
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->ready, NULL);
	return h->queue && h->wake_fd >= 0;
}

void handoff_destroy(struct handoff *h)
{
	free(h->queue);
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	pthread_cond_destroy(&h->ready);
	pthread_mutex_destroy(&h->lock);
}

static void wake_loop(struct handoff *h)
{
	uint64_t one = 1;
	ssize_t ignored = write(h->wake_fd, &one, sizeof one);
	(void)ignored;
}

size_t handoff_room(struct handoff *h)
{
	pthread_mutex_lock(&h->lock);
	size_t n = h->cap - h->len;
	pthread_mutex_unlock(&h->lock);
	return n;
}

void handoff_put(struct handoff *h, struct handoff_item *it)
{
	pthread_mutex_lock(&h->lock);
	h->queue[(h->head + h->len) % h->cap] = it;
	h->len++;
	pthread_cond_signal(&h->ready);
	pthread_mutex_unlock(&h->lock);
}

struct handoff_item *handoff_take_returned(struct handoff *h)
{
	uint64_t count;
	ssize_t ignored = read(h->wake_fd, &count, sizeof count);
	(void)ignored;
	pthread_mutex_lock(&h->lock);
	struct handoff_item *list = h->returned;
	h->returned = NULL;
	pthread_mutex_unlock(&h->lock);
	return list;
}

void handoff_stop(struct handoff *h)
{
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_broadcast(&h->ready);
	pthread_mutex_unlock(&h->lock);
}

struct handoff_item *handoff_take(struct handoff *h)
{
	pthread_mutex_lock(&h->lock);
	while (h->len == 0 && !h->stopping)
		pthread_cond_wait(&h->ready, &h->lock);
	struct handoff_item *it = NULL;
	bool was_full = h->len == h->cap;
	if (!h->stopping) {
		it = h->queue[h->head];
		h->head = (h->head + 1) % h->cap;
		h->len--;
	}
	pthread_mutex_unlock(&h->lock);
	if (it && was_full)
		wake_loop(h);   /* it stopped taking work when the queue filled: there is room now */
	return it;
}

void handoff_give_back(struct handoff *h, struct handoff_item *it)
{
	pthread_mutex_lock(&h->lock);
	bool first = h->returned == NULL;   /* if not, the loop has been woken already */
	it->next = h->returned;
	h->returned = it;
	pthread_mutex_unlock(&h->lock);
	if (first)
		wake_loop(h);
}
