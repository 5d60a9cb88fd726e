/*
 * chunked.h: an incremental decoder for Transfer-Encoding: chunked bodies.
 *
 * A pure state machine: feed it whatever bytes have arrived, split anywhere, and it hands
 * back the data inside the chunks, in place, without copying. Chunk extensions and trailer
 * fields are skipped, within bounds, so a client cannot make it buffer or loop without end.
 */
#ifndef C10K_CHUNKED_H
#define C10K_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

enum {
	CHUNKED_MAX_LINE = 4096,     /* a chunk-size line, extensions included */
	CHUNKED_MAX_TRAILER = 8192,  /* all trailer fields together */
};

struct chunked {
	int state;
	uint64_t left;               /* data bytes left in the current chunk */
	size_t line_len;             /* bytes seen of the current size or trailer line */
	size_t trailer_len;
	uint64_t total;              /* data bytes decoded so far */
};

enum chunked_status { CHUNKED_MORE, CHUNKED_DONE, CHUNKED_ERROR };

void chunked_init(struct chunked *c);

/*
 * Decodes from in[0, len), taking at most max_data body bytes (so the caller takes only what
 * it has room for). *used is set to the bytes consumed, framing and data together; the data
 * among them, if any, is *data[0, *data_len), pointing into `in`. Returns CHUNKED_DONE after
 * the last chunk and its trailers, CHUNKED_ERROR on malformed framing (answer 400), and
 * CHUNKED_MORE when it wants more input or handed back data (call again with the rest).
 */
enum chunked_status chunked_decode(struct chunked *c, const char *in, size_t len, size_t max_data,
                                   size_t *used, const char **data, size_t *data_len);

#endif
