/*
 * fuzz_session.c: libFuzzer target for the session, through the model loop.
 *
 * Input: a flags byte (bit 0: echo protocol; bit 1: the client half-closes at the end),
 * eight bytes seeding how the bytes arrive and leave, then what the client sends. The
 * session is run twice, by session_driver.c: once with everything arriving at once, once in
 * the seeded random pieces. session_driver.c checks every promise of session.h on every
 * step (no read with output pending, room to read, bounded buffers, none held when idle,
 * progress); here, both runs must keep them and must answer the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/session_driver.h"

/* Enough for any answer but a big /bytes or echo, which is cut short there, after several
 * buffers (a larger limit only slows the fuzzer down: the pieces leave a byte at a time). */
enum { OUT_LIMIT = 64 << 10 };

static size_t random_piece(struct driver *d, size_t avail)
{
	switch (driver_rand(d, 4)) {
	case 0: return avail;
	case 1: return 1;
	case 2: return 1 + driver_rand(d, 16);
	default: return 1 + driver_rand(d, avail);
	}
}

static void run(struct driver *d)
{
	driver_converse(d);
	if (d->broken) {
		fprintf(stderr, "fuzz_session: broken promise: %s (after %zu of %zu bytes in, "
		        "%llu out)\n", d->broken, d->in_pos, d->in_len,
		        (unsigned long long)d->out_total);
		abort();
	}
	driver_mask_dates(d->out, d->out_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 9)
		return 0;
	const char *in = (const char *)data + 9;
	size_t len = size - 9;
	/* /work burns real CPU time (up to a second) and says nothing the others do not. */
	if (memmem(in, len, "work", 4))
		return 0;
	uint64_t seed;
	memcpy(&seed, data + 1, sizeof seed);

	struct driver whole = {
		.proto = data[0] & 1 ? PROTO_ECHO : PROTO_HTTP,
		.in = in,
		.in_len = len,
		.eof = data[0] & 2,
		.out_limit = OUT_LIMIT,
	};
	struct driver pieces = whole;
	pieces.read_size = pieces.write_size = random_piece;
	pieces.rng = seed;
	run(&whole);
	run(&pieces);

	/* The same answers, unless a chunked echo's chunks fell differently (they follow the
	 * pieces the body arrived in: the only difference allowed, and not worth undoing). */
	if (!whole.out_len || !memmem(whole.out, whole.out_len, "chunked\r\n", 9)) {
		if (whole.out_len != pieces.out_len ||
		    (whole.out_len && memcmp(whole.out, pieces.out, whole.out_len) != 0)) {
			fprintf(stderr, "fuzz_session: answers differ with the pieces (%zu vs %zu bytes)\n",
			        whole.out_len, pieces.out_len);
			abort();
		}
	}
	free(whole.out);
	free(pieces.out);
	return 0;
}
