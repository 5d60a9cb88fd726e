/*
 * fuzz_http_resp: the load generator's response parser on arbitrary bytes.
 *
 * Beyond "does not crash": the input, read as a stream of pipelined responses, must parse the
 * same whether it arrives whole or in pieces of the size the first byte picks, and no
 * response may claim more bytes than it was given.
 */
#include <stdint.h>
#include <stdlib.h>

#include "http_resp.h"

struct trace {
	enum http_resp_result result;
	int status;
	bool keep_alive;
	uint64_t head_len, body_len;
	size_t end;                  /* offset where the response ended */
};

enum { MAX_RESPONSES = 64 };

/* Parses a stream of responses fed in pieces of `step` bytes; returns how many it recorded. */
static size_t run(const char *data, size_t len, bool head, size_t step, struct trace *out)
{
	size_t off = 0, n = 0;
	struct http_resp r;
	http_resp_init(&r, head);
	while (n < MAX_RESPONSES) {
		size_t piece = len - off < step ? len - off : step, used;
		enum http_resp_result res = http_resp_feed(&r, data + off, piece, &used);
		if (used > piece || (res == HTTP_RESP_MORE && used != piece))
			abort();
		off += used;
		if (res == HTTP_RESP_MORE && off < len)
			continue;
		if (res == HTTP_RESP_MORE)
			res = http_resp_eof(&r);
		if (res == HTTP_RESP_ERROR && (r.error == NULL || r.error[0] == '\0'))
			abort();
		out[n++] = (struct trace){ res, r.status, r.keep_alive, r.head_len, r.body_len, off };
		if (res != HTTP_RESP_DONE || off >= len)
			break;
		http_resp_init(&r, head);
	}
	return n;
}

static int same(const struct trace *a, const struct trace *b)
{
	return a->result == b->result && a->status == b->status && a->keep_alive == b->keep_alive &&
	       a->head_len == b->head_len && a->body_len == b->body_len && a->end == b->end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool head = data[0] & 0x80;
	size_t step = (size_t)(data[0] & 0x7f) + 1;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;

	static struct trace whole[MAX_RESPONSES], pieces[MAX_RESPONSES];
	size_t a = run(text, len, head, len ? len : 1, whole);
	size_t b = run(text, len, head, step, pieces);
	if (a != b)
		abort();
	for (size_t i = 0; i < a; i++)
		if (!same(&whole[i], &pieces[i]))
			abort();
	return 0;
}
