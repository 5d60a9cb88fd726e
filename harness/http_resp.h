/*
 * http_resp.h: an incremental HTTP/1.x response parser for the load generator.
 *
 * A pure state machine, no I/O and no allocation: feed it the bytes as they arrive, split
 * anywhere, and it says where the response ends, so the next pipelined one can start there.
 * It keeps nothing of the response but what a load generator needs: the status, whether the
 * connection stays open, and how many bytes the head and the body took. The body itself is
 * skipped (Content-Length, chunked, or until the server closes), never buffered.
 *
 * It is strict where a server bug would hide (CRLF line ends, one Content-Length, not both
 * Content-Length and Transfer-Encoding, no obs-fold, no control bytes) and bounded where a
 * server could make it loop or grow (the head, chunk extensions, trailers).
 *
 * It shares no code with the servers' parser and chunked decoder (servers/core/http_parser.c,
 * chunked.c), though they read the same grammar, on purpose: the load generator is a witness
 * of what the servers send. Had it the servers' code, a bug there (a miscounted chunk, a
 * Content-Length off by one) would be made the same way on both sides and pass unseen; written
 * apart, from RFC 9112, a mistake in either shows up as the two disagreeing.
 */
#ifndef C10K_HTTP_RESP_H
#define C10K_HTTP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	HTTP_RESP_MAX_HEAD = 65536,      /* a head longer than this, interim ones included: error */
	HTTP_RESP_MAX_CHUNK_LINE = 4096, /* a chunk-size line with its extensions */
	HTTP_RESP_MAX_TRAILER = 8192,    /* all trailer fields together */
};

enum http_resp_result { HTTP_RESP_MORE, HTTP_RESP_DONE, HTTP_RESP_ERROR };

struct http_resp {
	/* The response, valid once HTTP_RESP_DONE is returned (status and version as soon as the
	 * status line has been read). */
	int status;                  /* 100..999 */
	int minor_version;           /* HTTP/1.0 or HTTP/1.1 */
	bool keep_alive;             /* the server keeps the connection open after this response */
	uint64_t head_len;           /* bytes of head, interim 1xx responses included */
	uint64_t body_len;           /* bytes of body data (chunked framing not counted) */
	const char *error;           /* why HTTP_RESP_ERROR, for a message */

	/* Parser state: private. */
	unsigned char state, header, pos, token_len;
	bool head_request, has_length, te_seen, te_chunked, conn_close, conn_keep_alive, got_digit;
	char token[18];              /* the header name or list token being read, lowercased */
	uint64_t value;              /* the Content-Length or chunk size being read */
	uint64_t length;             /* Content-Length, then the bytes left of the body or chunk */
	size_t line_len;             /* bytes of the current chunk line, or of all trailers */
};

/* Prepares for the next response; head_request: it answers a HEAD request (no body). */
void http_resp_init(struct http_resp *r, bool head_request);

/*
 * Parses in[0, len) as the continuation of the response. *used is set to the bytes that
 * belong to this response. HTTP_RESP_DONE: the response ended at in + *used (the rest is the
 * next response's); HTTP_RESP_MORE: all of `in` was used, more is needed; HTTP_RESP_ERROR:
 * the response is malformed (r->error says how) and the connection must be closed.
 */
enum http_resp_result http_resp_feed(struct http_resp *r, const char *in, size_t len, size_t *used);

/* The server closed the connection: DONE if that ends the body (no length given), ERROR if
 * the response was cut short. */
enum http_resp_result http_resp_eof(struct http_resp *r);

/* Nothing of a response has been read yet: an EOF here is a clean close, not a cut. */
bool http_resp_at_start(const struct http_resp *r);

#endif
