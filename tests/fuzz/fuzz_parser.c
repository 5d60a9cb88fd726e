/*
 * fuzz_parser.c: libFuzzer target for the request-head parser.
 *
 * For any bytes: the scanner's answer is a head length within the input, "more", or one of
 * its three errors; fed the same bytes in pieces it reaches the same head; the parser's
 * answer is 0 or one of its statuses; and a request it accepts is consistent with itself
 * and with the bytes it points into.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"
#include "require.h"

static int within(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && n <= len && p + n <= buf + len;
}

static int is_token(const char *s, size_t n)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (!alnum && !(c && strchr(extra, c)))
			return 0;
	}
	return 1;
}

/* What any accepted request must satisfy. */
static void check_request(const struct http_request *r, const char *buf, size_t len)
{
	REQUIRE(r->method_id != HTTP_UNKNOWN && is_token(r->method, r->method_len));
	REQUIRE(within(r->method, r->method_len, buf, len));
	REQUIRE(within(r->target, r->target_len, buf, len));
	REQUIRE(r->target_len > 0 && r->target_len <= HTTP_MAX_TARGET);
	for (size_t i = 0; i < r->target_len; i++)
		REQUIRE((unsigned char)r->target[i] > 0x20 && (unsigned char)r->target[i] < 0x7f);
	/* The path is in the target, or it is the root of an absolute-form target with none. */
	REQUIRE(within(r->path, r->path_len, r->target, r->target_len) ||
	        (r->path_len == 1 && r->path[0] == '/'));
	if (r->query) {
		REQUIRE(within(r->query, r->query_len, r->target, r->target_len));
		REQUIRE(r->query[-1] == '?');
	} else {
		REQUIRE(r->query_len == 0);
	}
	REQUIRE(memchr(r->path, '?', r->path_len) == NULL);
	REQUIRE(r->minor_version == 0 || r->minor_version == 1);
	REQUIRE(r->num_headers <= HTTP_MAX_HEADERS);
	for (size_t i = 0; i < r->num_headers; i++) {
		const struct http_header *h = &r->headers[i];
		REQUIRE(within(h->name, h->name_len, buf, len) && is_token(h->name, h->name_len));
		REQUIRE(within(h->value, h->value_len, buf, len));
		for (size_t k = 0; k < h->value_len; k++) {
			unsigned char c = (unsigned char)h->value[k];
			REQUIRE(c == '\t' || (c >= 0x20 && c != 0x7f));
		}
		if (h->value_len)
			REQUIRE(h->value[0] != ' ' && h->value[0] != '\t' &&
			        h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t');
		/* Looking a header up by its own name finds it, or an earlier one of that name. */
		char name[256];
		if (h->name_len < sizeof name) {
			memcpy(name, h->name, h->name_len);
			name[h->name_len] = '\0';
			const struct http_header *found = http_find_header(r, name);
			REQUIRE(found && found <= h && found->name_len == h->name_len);
		}
	}
	REQUIRE(!(r->has_content_length && r->chunked));
	REQUIRE(!r->chunked || r->minor_version == 1);
	REQUIRE(r->has_content_length || r->content_length == 0);
}

static void check_status(int status)
{
	REQUIRE(status == 0 || status == 400 || status == 414 || status == 431 || status == 501 ||
	        status == 505);
}

/* The scanner fed buf[0, len) in pieces of the given sizes, as a session would. */
static long scan_in_pieces(const char *buf, size_t len, uint64_t seed)
{
	struct http_scan scanned = { 0 };
	size_t have = 0;
	for (;;) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		size_t piece = 1 + (size_t)((seed >> 33) % ((seed >> 62) ? 8 : 600));
		have = piece < len - have ? have + piece : len;
		long r = http_head_scan(buf, have, &scanned);
		if (r || have == len)
			return r;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly `size` bytes: a read past the input is an ASan report. */
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);

	struct http_scan scanned = { 0 };
	long whole = http_head_scan(buf, size, &scanned);
	REQUIRE(whole == 0 || whole == -400 || whole == -414 || whole == -431 ||
	        (whole > 0 && (size_t)whole <= size));
	if (whole > 0) {
		REQUIRE(scanned.line == 0 && scanned.searched == 0);
		REQUIRE(buf[whole - 1] == '\n' && buf[whole - 2] == '\r');
		struct http_request req;
		int status = http_parse_head(buf, (size_t)whole, &req);
		check_status(status);
		if (status == 0)
			check_request(&req, buf, (size_t)whole);
	}

	/* Arriving in pieces changes nothing: the same head, or an error as well. */
	uint64_t seed = size;
	for (size_t i = 0; i < size && i < 8; i++)
		seed = seed * 131 + (unsigned char)buf[i];
	long pieces = scan_in_pieces(buf, size, seed);
	REQUIRE(pieces == whole || (pieces < 0 && whole < 0));

	/* The parser on its own, on bytes no scanner vetted: robust all the same. */
	struct http_request raw;
	int status = http_parse_head(buf, size, &raw);
	check_status(status);
	if (status == 0)
		check_request(&raw, buf, size);

	free(buf);
	return 0;
}
