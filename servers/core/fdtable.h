/*
 * fdtable.h: a table indexed by file descriptor, the way an event loop finds the connection
 * a socket belongs to (Redis's ae does the same). Descriptors are small and dense, so an
 * array grown by doubling is all it takes. Belongs to one thread: no lock.
 */
#ifndef C10K_FDTABLE_H
#define C10K_FDTABLE_H

#include <stdbool.h>
#include <stddef.h>

struct fdtable {
	void **slots;               /* NULL where no connection has the fd */
	size_t cap;
};

/* Makes room for fd; false when memory ran out (the table is unchanged). */
bool fdtable_reserve(struct fdtable *t, int fd);

static inline void *fdtable_get(const struct fdtable *t, int fd)
{
	return fd >= 0 && (size_t)fd < t->cap ? t->slots[fd] : NULL;
}

/* fd must have been reserved. */
static inline void fdtable_set(struct fdtable *t, int fd, void *p)
{
	t->slots[fd] = p;
}

void fdtable_free(struct fdtable *t);

#endif
