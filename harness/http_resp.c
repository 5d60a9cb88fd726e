/*
 * http_resp.c: the response parser, one byte at a time through the head (so a head split
 * across reads needs no buffer) and in bulk through the body.
 */
#include "http_resp.h"

#include <string.h>

enum state {
	S_VERSION, S_CODE, S_AFTER_CODE, S_REASON, S_STATUS_LF,
	S_FIELD_START, S_NAME, S_VALUE, S_FIELD_LF, S_HEAD_LF,
	S_BODY_LENGTH, S_BODY_UNTIL_CLOSE,
	S_CHUNK_SIZE, S_CHUNK_EXT, S_CHUNK_SIZE_LF, S_CHUNK_DATA, S_CHUNK_DATA_CR, S_CHUNK_DATA_LF,
	S_TRAILER_START, S_TRAILER, S_TRAILER_LF, S_TRAILER_END_LF,
	S_DONE,
};

/* The header fields that frame the response; every other one is only checked and skipped. */
enum header { H_OTHER, H_CONTENT_LENGTH, H_TRANSFER_ENCODING, H_CONNECTION };

/* A Content-Length or chunk size past this is an attack, not a body. */
#define MAX_LENGTH (UINT64_C(1) << 60)

static const char version_prefix[] = "HTTP/1.";

/* RFC 9110 token characters. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* What may appear in a field value or reason phrase: visible ASCII, space, tab, obs-text. */
static bool is_text(unsigned char c)
{
	return c == '\t' || (c >= ' ' && c != 0x7f);
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* A byte of a line whose content is only checked (a reason phrase, a chunk extension, a
 * trailer field): the CR ends it and moves to `next`. */
static const char *text_byte(struct http_resp *r, unsigned char c, enum state next, const char *bad)
{
	if (c == '\r')
		r->state = (unsigned char)next;
	else if (!is_text(c))
		return bad;
	return NULL;
}

/* Starts a head afresh: the first, or the final one after an interim 1xx response. */
static void reset_head(struct http_resp *r)
{
	r->state = S_VERSION;
	r->pos = 0;
	r->status = 0;
	r->has_length = r->te_seen = r->te_chunked = false;
	r->conn_close = r->conn_keep_alive = false;
	r->length = 0;
}

void http_resp_init(struct http_resp *r, bool head_request)
{
	memset(r, 0, sizeof *r);
	r->head_request = head_request;
	reset_head(r);
}

bool http_resp_at_start(const struct http_resp *r)
{
	return r->state == S_VERSION && r->pos == 0 && r->head_len == 0;
}

static enum http_resp_result fail(struct http_resp *r, const char *why)
{
	r->error = why;
	return HTTP_RESP_ERROR;
}

static bool token_is(const struct http_resp *r, const char *name)
{
	return r->token_len == strlen(name) && memcmp(r->token, name, r->token_len) == 0;
}

/* Appends to the token being read; one too long to be interesting matches nothing. */
static void token_add(struct http_resp *r, unsigned char c)
{
	if (r->token_len < sizeof r->token)
		r->token[r->token_len] = (char)lower(c);
	if (r->token_len <= sizeof r->token)
		r->token_len++;
}

/* A list element of Transfer-Encoding or Connection has ended. */
static void list_token_end(struct http_resp *r)
{
	if (r->token_len == 0)
		return;
	if (r->header == H_TRANSFER_ENCODING) {
		/* Only a final "chunked" frames the body (RFC 9112 6.3). */
		r->te_chunked = token_is(r, "chunked");
	} else if (token_is(r, "close")) {
		r->conn_close = true;
	} else if (token_is(r, "keep-alive")) {
		r->conn_keep_alive = true;
	}
	r->token_len = 0;
}

static void name_end(struct http_resp *r)
{
	if (token_is(r, "content-length"))
		r->header = H_CONTENT_LENGTH;
	else if (token_is(r, "transfer-encoding"))
		r->header = H_TRANSFER_ENCODING;
	else if (token_is(r, "connection"))
		r->header = H_CONNECTION;
	else
		r->header = H_OTHER;
	r->token_len = 0;
	r->pos = 0;                  /* Content-Length: 0 before the digits, 1 in, 2 after */
	r->value = 0;
	if (r->header == H_TRANSFER_ENCODING)
		r->te_seen = true;
}

/* One byte of a Content-Length value: digits between optional white space. */
static const char *content_length_byte(struct http_resp *r, unsigned char c)
{
	if (c >= '0' && c <= '9') {
		if (r->pos == 2)
			return "Content-Length with a space inside";
		r->value = r->value * 10 + (uint64_t)(c - '0');
		if (r->value > MAX_LENGTH)
			return "Content-Length too large";
		r->pos = 1;
		return NULL;
	}
	if (c == ' ' || c == '\t') {
		if (r->pos == 1)
			r->pos = 2;
		return NULL;
	}
	return "Content-Length is not a number";
}

static const char *value_byte(struct http_resp *r, unsigned char c)
{
	if (!is_text(c))
		return "control character in a header field";
	switch (r->header) {
	case H_CONTENT_LENGTH:
		return content_length_byte(r, c);
	case H_TRANSFER_ENCODING:
	case H_CONNECTION:
		if (c == ',' || c == ' ' || c == '\t')
			list_token_end(r);
		else
			token_add(r, c);
		return NULL;
	default:
		return NULL;
	}
}

static const char *field_end(struct http_resp *r)
{
	if (r->header == H_CONTENT_LENGTH) {
		if (r->pos == 0)
			return "empty Content-Length";
		if (r->has_length && r->value != r->length)
			return "conflicting Content-Length fields";
		r->has_length = true;
		r->length = r->value;
	} else if (r->header != H_OTHER) {
		list_token_end(r);
	}
	return NULL;
}

/* The head is complete: decide how the body is framed (RFC 9112 section 6.3). */
static const char *head_end(struct http_resp *r)
{
	if (r->status < 200) {
		if (r->status == 101)
			return "101 Switching Protocols: the load generator does not upgrade";
		reset_head(r);           /* interim: the final response follows */
		return NULL;
	}
	r->keep_alive = r->minor_version == 1 ? !r->conn_close : r->conn_keep_alive && !r->conn_close;
	if (r->has_length && r->te_seen)
		return "both Content-Length and Transfer-Encoding";
	if (r->head_request || r->status == 204 || r->status == 304) {
		r->state = S_DONE;
	} else if (r->te_seen && r->te_chunked) {
		r->state = S_CHUNK_SIZE;
		r->length = 0;
		r->got_digit = false;
	} else if (r->has_length) {
		r->state = r->length ? S_BODY_LENGTH : S_DONE;
	} else {
		r->state = S_BODY_UNTIL_CLOSE;   /* no length: the close ends it */
		r->keep_alive = false;
	}
	return NULL;
}

/* One byte of the status line or a header field. */
static const char *head_byte(struct http_resp *r, unsigned char c)
{
	if (++r->head_len > HTTP_RESP_MAX_HEAD)
		return "response head too long";
	switch (r->state) {
	case S_VERSION:
		if (r->pos < sizeof version_prefix - 1) {
			if (r->pos == 5 && c >= '0' && c <= '9' && c != '1')
				return "unsupported HTTP version";
			if (c != (unsigned char)version_prefix[r->pos++])
				return "not an HTTP/1.x status line";
		} else if (r->pos == sizeof version_prefix - 1) {
			if (c != '0' && c != '1')
				return "unsupported HTTP version";
			r->minor_version = c - '0';
			r->pos++;
		} else {
			if (c != ' ')
				return "no space after the HTTP version";
			r->state = S_CODE;
			r->pos = 0;
		}
		return NULL;
	case S_CODE:
		if (c < '0' || c > '9' || (r->pos == 0 && c == '0'))
			return "bad status code";
		r->status = r->status * 10 + (c - '0');
		if (++r->pos == 3)
			r->state = S_AFTER_CODE;
		return NULL;
	case S_AFTER_CODE:
		if (c == ' ')
			r->state = S_REASON;
		else if (c == '\r')
			r->state = S_STATUS_LF;  /* no reason phrase, and not even its space: tolerated */
		else
			return "bad status code";
		return NULL;
	case S_REASON:
		return text_byte(r, c, S_STATUS_LF, "control character in the reason phrase");
	case S_STATUS_LF:
	case S_FIELD_LF:
		if (c != '\n')
			return "CR not followed by LF";
		if (r->state == S_FIELD_LF) {
			const char *why = field_end(r);
			if (why)
				return why;
		}
		r->state = S_FIELD_START;
		return NULL;
	case S_FIELD_START:
		if (c == '\r') {
			r->state = S_HEAD_LF;
		} else if (is_tchar(c)) {
			r->token_len = 0;
			token_add(r, c);
			r->state = S_NAME;
		} else {
			return c == ' ' || c == '\t' ? "obsolete line folding" : "bad header field name";
		}
		return NULL;
	case S_NAME:
		if (c == ':') {
			name_end(r);
			r->state = S_VALUE;
		} else if (is_tchar(c)) {
			token_add(r, c);
		} else {
			return "bad header field name";
		}
		return NULL;
	case S_VALUE:
		if (c == '\r') {
			r->state = S_FIELD_LF;
			return NULL;
		}
		return value_byte(r, c);
	case S_HEAD_LF:
		if (c != '\n')
			return "CR not followed by LF";
		return head_end(r);
	default:
		return "parser state corrupt";
	}
}

/* One byte of chunked framing (not of chunk data, which is skipped in bulk). */
static const char *chunk_byte(struct http_resp *r, unsigned char c)
{
	switch (r->state) {
	case S_CHUNK_SIZE: {
		if (++r->line_len > HTTP_RESP_MAX_CHUNK_LINE)
			return "chunk-size line too long";
		int digit = hex_value(c);
		if (digit >= 0) {
			if (r->length > (MAX_LENGTH >> 4))
				return "chunk too large";
			r->length = r->length * 16 + (uint64_t)digit;
			r->got_digit = true;
		} else if (!r->got_digit) {
			return "bad chunk size";
		} else if (c == '\r') {
			r->state = S_CHUNK_SIZE_LF;
		} else if (c == ';' || c == ' ' || c == '\t') {
			r->state = S_CHUNK_EXT;
		} else {
			return "bad chunk size";
		}
		return NULL;
	}
	case S_CHUNK_EXT:
		if (++r->line_len > HTTP_RESP_MAX_CHUNK_LINE)
			return "chunk-size line too long";
		return text_byte(r, c, S_CHUNK_SIZE_LF, "control character in a chunk extension");
	case S_CHUNK_SIZE_LF:
		if (c != '\n')
			return "CR not followed by LF";
		r->line_len = 0;
		r->state = r->length ? S_CHUNK_DATA : S_TRAILER_START;
		return NULL;
	case S_CHUNK_DATA_CR:
		if (c != '\r')
			return "chunk data longer than its size";
		r->state = S_CHUNK_DATA_LF;
		return NULL;
	case S_CHUNK_DATA_LF:
		if (c != '\n')
			return "CR not followed by LF";
		r->state = S_CHUNK_SIZE;
		r->length = 0;
		r->got_digit = false;
		return NULL;
	default:
		break;
	}
	/* Trailer fields: skipped line by line, within HTTP_RESP_MAX_TRAILER in all. */
	if (++r->line_len > HTTP_RESP_MAX_TRAILER)
		return "trailer fields too long";
	switch (r->state) {
	case S_TRAILER_START:
		if (c == '\r')
			r->state = S_TRAILER_END_LF;
		else if (is_tchar(c))
			r->state = S_TRAILER;
		else
			return "bad trailer field";
		return NULL;
	case S_TRAILER:
		return text_byte(r, c, S_TRAILER_LF, "control character in a trailer field");
	case S_TRAILER_LF:
	case S_TRAILER_END_LF:
		if (c != '\n')
			return "CR not followed by LF";
		r->state = r->state == S_TRAILER_LF ? S_TRAILER_START : S_DONE;
		return NULL;
	default:
		return "parser state corrupt";
	}
}

enum http_resp_result http_resp_feed(struct http_resp *r, const char *in, size_t len, size_t *used)
{
	size_t i = 0;
	const char *why = NULL;
	while (i < len && r->state != S_DONE) {
		if (r->state == S_BODY_LENGTH || r->state == S_CHUNK_DATA) {
			size_t take = len - i < r->length ? len - i : (size_t)r->length;
			r->length -= take;
			r->body_len += take;
			i += take;
			if (r->length == 0)
				r->state = r->state == S_BODY_LENGTH ? S_DONE : S_CHUNK_DATA_CR;
			continue;
		}
		if (r->state == S_BODY_UNTIL_CLOSE) {
			r->body_len += len - i;
			i = len;
			break;
		}
		unsigned char c = (unsigned char)in[i++];
		why = r->state < S_BODY_LENGTH ? head_byte(r, c) : chunk_byte(r, c);
		if (why) {
			*used = i;
			return fail(r, why);
		}
	}
	*used = i;
	return r->state == S_DONE ? HTTP_RESP_DONE : HTTP_RESP_MORE;
}

enum http_resp_result http_resp_eof(struct http_resp *r)
{
	if (r->state == S_DONE)
		return HTTP_RESP_DONE;
	if (r->state == S_BODY_UNTIL_CLOSE) {
		r->state = S_DONE;
		return HTTP_RESP_DONE;
	}
	return fail(r, "connection closed in the middle of a response");
}
