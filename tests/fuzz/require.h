/*
 * require.h: the fuzz targets' one assertion. A broken invariant is a crash, which is what
 * libFuzzer looks for: it saves the input that caused it.
 */
#ifndef C10K_FUZZ_REQUIRE_H
#define C10K_FUZZ_REQUIRE_H

#include <stdio.h>
#include <stdlib.h>

#define REQUIRE(cond)                                                                         \
	do {                                                                                      \
		if (!(cond)) {                                                                        \
			fprintf(stderr, "%s:%d: broken: %s\n", __FILE__, __LINE__, #cond);                \
			abort();                                                                          \
		}                                                                                     \
	} while (0)

#endif
