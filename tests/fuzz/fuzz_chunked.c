/*
 * fuzz_chunked.c: libFuzzer target for the chunked-body decoder.
 *
 * The first byte chooses how the input arrives (piece sizes) and how much data the caller
 * takes per call; the rest is the body. Whatever it is: every call stays within its input,
 * hands back data in place and no more than asked, always gets somewhere, and the outcome
 * (status, bytes consumed, data) is the same as when the body arrives all at once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"
#include "require.h"

struct outcome {
	enum chunked_status status;
	size_t used;
	char *data;                  /* the data handed back, concatenated */
	size_t data_len;
	uint64_t total;
};

/* Decodes in[0, len) arriving in pieces of up to `piece` bytes (0: at once), taking at most
 * `max_data` bytes of data per call. */
static struct outcome decode(const char *in, size_t len, size_t piece, size_t max_data)
{
	struct outcome o = { .status = CHUNKED_MORE, .data = malloc(len + 1) };
	struct chunked c;
	chunked_init(&c);
	size_t arrived = piece && piece < len ? piece : len;
	while (o.status == CHUNKED_MORE) {
		size_t avail = arrived - o.used, used = SIZE_MAX, n = SIZE_MAX;
		const char *data = in;
		o.status = chunked_decode(&c, in + o.used, avail, max_data, &used, &data, &n);
		REQUIRE(o.status == CHUNKED_MORE || o.status == CHUNKED_DONE ||
		        o.status == CHUNKED_ERROR);
		REQUIRE(used <= avail);
		REQUIRE(n <= max_data && n <= used);
		if (n) {
			REQUIRE(data >= in + o.used && data + n <= in + o.used + used);
			memcpy(o.data + o.data_len, data, n);
			o.data_len += n;
		} else {
			REQUIRE(data == NULL);
		}
		o.used += used;
		/* A call with input and room always gets somewhere. */
		if (o.status == CHUNKED_MORE && used == 0) {
			REQUIRE(avail == 0);
			if (arrived == len)
				break;
			arrived = piece < len - arrived ? arrived + piece : len;
		}
	}
	REQUIRE(c.total == o.data_len);
	o.total = c.total;
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned mode = data[0];
	size_t len = size - 1;
	char *in = malloc(len ? len : 1);   /* exactly the body: reads past it are caught */
	memcpy(in, data + 1, len);

	struct outcome whole = decode(in, len, 0, SIZE_MAX);
	size_t piece = 1 + (mode & 15) * (mode & 16 ? 37 : 1);
	size_t max_data = mode & 32 ? 1 + (mode >> 6) * 5 : SIZE_MAX;
	struct outcome split = decode(in, len, piece, max_data);

	REQUIRE(split.status == whole.status);
	REQUIRE(split.used == whole.used);
	REQUIRE(split.data_len == whole.data_len);
	REQUIRE(memcmp(split.data, whole.data, whole.data_len) == 0);
	if (whole.status == CHUNKED_DONE)
		REQUIRE(whole.used >= 5);   /* "0\r\n\r\n" at least */

	free(whole.data);
	free(split.data);
	free(in);
	return 0;
}
