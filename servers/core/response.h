/*
 * response.h: writing HTTP responses into a connection's output buffer.
 *
 * The caller checks response_room() before writing: these calls never grow the buffer and
 * never write past it. A response head with its short body fits in 1 KiB.
 */
#ifndef C10K_RESPONSE_H
#define C10K_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct response {
	char *buf;                   /* NULL while the connection holds no output buffer */
	size_t head, tail, cap;      /* unsent bytes are buf[head, tail) */
};

/* Content-Length value that means Transfer-Encoding: chunked instead. */
#define RESPONSE_CHUNKED UINT64_MAX
/* What chunk framing adds around chunk data: hex size, two CRLFs. */
enum { RESPONSE_CHUNK_OVERHEAD = 20 };
/* The most a response head takes (they are about 200 bytes). */
enum { RESPONSE_HEAD_MAX = 512 };

void response_attach(struct response *r, char *buf, size_t cap);
void response_detach(struct response *r);

size_t response_pending(const struct response *r);
size_t response_room(const struct response *r);
const char *response_data(const struct response *r);
void response_sent(struct response *r, size_t n);

/* Status line and headers: Server, Date, Content-Type (if type), Content-Length (or chunked),
 * Connection (if connection), Allow (if allow). */
void response_head(struct response *r, int status, const char *type, uint64_t content_length,
                   const char *connection, const char *allow);
void response_put(struct response *r, const void *data, size_t n);
/* "HTTP/1.1 100 Continue", for a client that asked before sending its body. */
void response_continue(struct response *r);
/* One chunk of a chunked body; n == 0 writes the last chunk. */
void response_chunk(struct response *r, const char *data, size_t n);
/* n bytes of the /bytes body, starting at body offset `offset`: a repeating 64-byte line. */
void response_pattern(struct response *r, uint64_t offset, size_t n);
/* The short text body of an error answer: "404 Not Found: why\n". Returns its length. */
size_t response_error_body(char *dst, size_t cap, int status, const char *why);

/* The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), formatted at most
 * once a second per thread. Returns 29, the length. */
size_t http_date(char dst[30]);

#endif
