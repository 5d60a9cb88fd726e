/* fdtable.c: see fdtable.h. */
#include "fdtable.h"

#include <stdlib.h>

bool fdtable_reserve(struct fdtable *t, int fd)
{
	if ((size_t)fd < t->cap)
		return true;
	size_t cap = t->cap ? t->cap : 1024;
	while (cap <= (size_t)fd)
		cap *= 2;
	void **slots = realloc(t->slots, cap * sizeof *slots);
	if (!slots)
		return false;
	for (size_t i = t->cap; i < cap; i++)
		slots[i] = NULL;
	t->slots = slots;
	t->cap = cap;
	return true;
}

void fdtable_free(struct fdtable *t)
{
	free(t->slots);
	*t = (struct fdtable){ 0 };
}
