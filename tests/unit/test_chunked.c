/*
 * test_chunked.c: the chunked-body decoder: what it hands back, wherever its input is split,
 * and every way a body can be malformed or too long.
 */
#include <stdlib.h>

#include "../check.h"
#include "chunked.h"

/* What decoding a whole input produced. */
struct decoded {
	enum chunked_status status;
	size_t used;                 /* bytes consumed in all */
	char data[256];
	size_t data_len;             /* data handed back (counted past the end of `data` too) */
	uint64_t total;
	bool data_in_place;          /* every data span pointed into the input, within its piece */
	bool data_within_max;        /* no span was longer than max_data */
};

/*
 * Decodes `in` as it would arrive in pieces: the first piece is `first` bytes, the rest
 * `piece` bytes each (0: all at once). Each call is given the unconsumed bytes of what has
 * arrived, as a session would. Stops at DONE or ERROR, or when the input is used up.
 */
static struct decoded decode(const char *text, size_t len, size_t first, size_t piece,
                             size_t max_data)
{
	/* An exact heap copy, so that ASan and Valgrind catch any read past the input. */
	char *in = malloc(len ? len : 1);
	memcpy(in, text, len);
	struct decoded d = { .status = CHUNKED_MORE, .data_in_place = true, .data_within_max = true };
	struct chunked c;
	chunked_init(&c);
	size_t arrived = first && first < len ? first : len;
	if (piece && !first)
		arrived = piece < len ? piece : len;
	for (unsigned calls = 0; d.status == CHUNKED_MORE; calls++) {
		size_t used, n;
		const char *data;
		d.status = chunked_decode(&c, in + d.used, arrived - d.used, max_data, &used, &data, &n);
		if (n) {
			if (data < in + d.used || data + n > in + d.used + used)
				d.data_in_place = false;
			if (n > max_data)
				d.data_within_max = false;
			if (d.data_len + n <= sizeof d.data)
				memcpy(d.data + d.data_len, data, n);
			d.data_len += n;
		}
		d.used += used;
		if (used == 0 && d.status == CHUNKED_MORE) {
			if (arrived == len || max_data == 0)
				break;   /* wants more than there is */
			arrived += piece ? piece : len;
			if (arrived > len)
				arrived = len;
		}
		if (calls > 4 * len + 16) {
			d.status = -1;   /* no progress: cannot happen, but must not hang the test */
			break;
		}
	}
	d.total = c.total;
	free(in);
	return d;
}

static const struct valid_case {
	const char *why, *body, *data;
	size_t trailing;             /* bytes after the body, left unconsumed */
} VALID[] = {
	{ "one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", 0 },
	{ "empty body", "0\r\n\r\n", "", 0 },
	{ "two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0 },
	{ "lower-case hex", "a\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0 },
	{ "upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0 },
	{ "two hex digits", "1B\r\nabcdefghijklmnopqrstuvwxyz!\r\n0\r\n\r\n",
	  "abcdefghijklmnopqrstuvwxyz!", 0 },
	{ "leading zeros", "0005\r\nhello\r\n0000\r\n\r\n", "hello", 0 },
	{ "many leading zeros", "0000000000000000000001\r\nx\r\n0\r\n\r\n", "x", 0 },
	{ "extension", "5;name=value\r\nhello\r\n0\r\n\r\n", "hello", 0 },
	{ "extensions, quoted", "5;a;b=\"x;y\"\r\nhello\r\n0;last\r\n\r\n", "hello", 0 },
	{ "whitespace before extension", "5 ;a\r\nhello\r\n0\t;b\r\n\r\n", "hello", 0 },
	{ "whitespace after size", "5 \r\nhello\r\n0\r\n\r\n", "hello", 0 },
	{ "trailer", "5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n", "hello", 0 },
	{ "trailers", "5\r\nhello\r\n0\r\nA: 1\r\nB: 2\r\nC:\r\n\r\n", "hello", 0 },
	{ "data with CR LF inside", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", 0 },
	{ "next request follows", "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", "hello", 18 },
	{ "one-byte chunks", "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n", "abc", 0 },
};


static bool same(const struct decoded *a, const struct decoded *b)
{
	return a->status == b->status && a->used == b->used && a->data_len == b->data_len &&
	       memcmp(a->data, b->data, a->data_len) == 0 && a->total == b->total &&
	       a->data_in_place && b->data_in_place;
}

static void test_valid(void)
{
	for (size_t i = 0; i < sizeof VALID / sizeof VALID[0]; i++) {
		const struct valid_case *v = &VALID[i];
		size_t len = strlen(v->body), dlen = strlen(v->data);
		check_case("%s", v->why);
		struct decoded whole = decode(v->body, len, 0, 0, SIZE_MAX);
		CHECK_EQ(whole.status, CHUNKED_DONE);
		CHECK_EQ(whole.used, len - v->trailing);
		CHECK_MEM(whole.data, whole.data_len, v->data, dlen);
		CHECK_EQ(whole.total, dlen);
		CHECK(whole.data_in_place);

		/* Split in two at every byte, and a byte at a time: the same result. */
		size_t bad = len + 1;
		for (size_t k = 1; k < len && bad > len; k++) {
			struct decoded two = decode(v->body, len, k, 0, SIZE_MAX);
			if (!same(&two, &whole))
				bad = k;
		}
		CHECK_EQ(bad, len + 1);
		struct decoded bytewise = decode(v->body, len, 0, 1, SIZE_MAX);
		CHECK(same(&bytewise, &whole));
		CHECK(bytewise.data_within_max);

		/* Taking at most 1, 2 or 3 data bytes per call hands back the same data. */
		for (size_t max = 1; max <= 3; max++) {
			struct decoded limited = decode(v->body, len, 0, 0, max);
			CHECK(same(&limited, &whole));
			CHECK(limited.data_within_max);
		}
	}
	check_case("%s", "");
}

/* Every hex digit, in either case, means what it says. */
static void test_hex_digits(void)
{
	static const char digits[] = "0123456789abcdefABCDEF";
	for (const char *p = digits; *p; p++) {
		unsigned value = (unsigned)(strchr(digits, *p) - digits);
		value = 16 + (value < 16 ? value : value - 6);
		char body[128];
		size_t len = (size_t)sprintf(body, "1%c\r\n", *p);
		memset(body + len, 'd', value);
		len += value;
		len += (size_t)sprintf(body + len, "\r\n0\r\n\r\n");
		check_case("size 1%c", *p);
		struct decoded d = decode(body, len, 0, 0, SIZE_MAX);
		CHECK_EQ(d.status, CHUNKED_DONE);
		CHECK_EQ(d.data_len, value);
	}
	check_case("%s", "");
}

/* Data is bytes, NUL included. */
static void test_binary_data(void)
{
	static const char body[] = "3\r\na\0b\r\n0\r\n\r\n";
	struct decoded d = decode(body, sizeof body - 1, 0, 1, SIZE_MAX);
	CHECK_EQ(d.status, CHUNKED_DONE);
	CHECK_MEM(d.data, d.data_len, "a\0b", 3);
}

/* max_data = 0 while in a chunk's data: nothing taken, nothing lost, until there is room. */
static void test_no_room(void)
{
	const char *in = "5\r\nhello\r\n0\r\n\r\n";
	struct chunked c;
	chunked_init(&c);
	size_t used, n;
	const char *data;
	CHECK_EQ(chunked_decode(&c, in, strlen(in), 0, &used, &data, &n), CHUNKED_MORE);
	CHECK_EQ(used, 3);   /* the size line */
	CHECK_EQ(n, 0);
	CHECK_EQ(chunked_decode(&c, in + 3, strlen(in) - 3, 0, &used, &data, &n), CHUNKED_MORE);
	CHECK_EQ(used, 0);
	CHECK_EQ(chunked_decode(&c, in + 3, strlen(in) - 3, 2, &used, &data, &n), CHUNKED_MORE);
	CHECK(used == 2 && n == 2 && data == in + 3);
	CHECK_EQ(chunked_decode(&c, in + 5, strlen(in) - 5, SIZE_MAX, &used, &data, &n),
	         CHUNKED_MORE);
	CHECK(used == 3 && n == 3 && data == in + 5);   /* data ends the call */
	CHECK_EQ(chunked_decode(&c, in + 8, strlen(in) - 8, SIZE_MAX, &used, &data, &n),
	         CHUNKED_DONE);
	CHECK(used == strlen(in) - 8 && n == 0 && data == NULL);
	CHECK_EQ(c.total, 5);
}

static const struct error_case {
	const char *why, *body;
} ERRORS[] = {
	{ "no size", "\r\n" },
	{ "extension without size", ";a\r\n" },
	{ "non-hex size", "x\r\n" },
	{ "negative size", "-5\r\n" },
	{ "signed size", "+5\r\n" },
	{ "0x prefix", "0x5\r\n" },
	{ "space before size", " 5\r\n" },
	{ "bare LF after size", "5\nhello\r\n0\r\n\r\n" },
	{ "bare LF in extension", "5;a\nhello\r\n0\r\n\r\n" },
	{ "bare CR after size", "5\rhello\r\n" },
	{ "bare CR in extension", "5;a\rb\r\n" },
	{ "CR CR after size", "5\r\r\n" },
	{ "data longer than size", "5\r\nhelloX\r\n0\r\n\r\n" },
	{ "data shorter than size", "5\r\nhell\r\n0\r\n\r\n" },
	{ "bare LF after data", "5\r\nhello\n0\r\n\r\n" },
	{ "bare CR after data", "5\r\nhello\r0\r\n\r\n" },
	{ "no CRLF after data", "5\r\nhello0\r\n\r\n" },
	{ "bare LF ends body", "0\r\n\n" },
	{ "bare CR ends body", "0\r\n\rX" },
	{ "bare LF after last chunk", "0\n\r\n" },
	{ "two numbers", "5 6\r\nhello\r\n0\r\n\r\n" },
	{ "words after the size", "0 garbage\r\n\r\n" },
	{ "control byte in an extension", "5;a\x01\r\nhello\r\n0\r\n\r\n" },
	{ "DEL in a trailer", "0\r\nX-A: \x7f\r\n\r\n" },
	{ "control byte starting a trailer", "0\r\n\x01X: 1\r\n\r\n" },
	{ "bare LF in trailer", "0\r\nA: b\n\r\n" },
	{ "CR CR LF ends trailer", "0\r\nA: b\r\r\n" },
	{ "LF alone in trailer", "0\r\nA: b\r\n\n" },
	{ "size overflows 64 bits", "10000000000000000\r\n" },
	{ "size overflows 64 bits, long", "fffffffffffffffff\r\n" },
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof ERRORS / sizeof ERRORS[0]; i++) {
		const struct error_case *e = &ERRORS[i];
		size_t len = strlen(e->body);
		check_case("%s", e->why);
		struct decoded whole = decode(e->body, len, 0, 0, SIZE_MAX);
		CHECK_EQ(whole.status, CHUNKED_ERROR);
		CHECK(whole.used <= len);
		/* Arriving a byte at a time, it is refused at the same byte. */
		struct decoded bytewise = decode(e->body, len, 0, 1, SIZE_MAX);
		CHECK(same(&bytewise, &whole));
	}
	check_case("%s", "");

	/* The largest size that fits 64 bits is framing, not an error. */
	struct decoded d = decode("ffffffffffffffff\r\n", 18, 0, 0, SIZE_MAX);
	CHECK_EQ(d.status, CHUNKED_MORE);
	CHECK_EQ(d.used, 18);
	d = decode("0ffffffffffffffff\r\nab", 21, 0, 0, SIZE_MAX);
	CHECK(d.status == CHUNKED_MORE && d.used == 21 && d.data_len == 2);
}

/* A size line of `content` bytes, its CRLF, one byte of data. The line is the size "1" and
 * an extension, or (zeros) leading zeros and the size "1". */
static struct decoded size_line_of(size_t content, bool zeros)
{
	char *in = malloc(content + 16);
	memset(in, zeros ? '0' : 'e', content);
	if (zeros) {
		in[content - 1] = '1';
	} else {
		in[0] = '1';
		in[1] = ';';
	}
	memcpy(in + content, "\r\nx\r\n0\r\n\r\n", 10);
	struct decoded d = decode(in, content + 10, 0, 0, SIZE_MAX);
	free(in);
	return d;
}

/* A trailer section of fields totalling `content` bytes (CRLFs aside), in `fields` fields. */
static struct decoded trailers_of(size_t content, size_t fields)
{
	size_t len = 3 + content + 2 * fields + 2;
	char *in = malloc(len), *p = in;
	memcpy(p, "0\r\n", 3);
	p += 3;
	for (size_t f = 0; f < fields; f++) {
		size_t n = content / fields + (f < content % fields);
		memset(p, 'T', n);
		p[0] = 'X';
		p[1 % n] = ':';
		memcpy(p + n, "\r\n", 2);
		p += n + 2;
	}
	memcpy(p, "\r\n", 2);
	struct decoded d = decode(in, len, 0, 0, SIZE_MAX);
	struct decoded bytewise = decode(in, len, 0, 1, SIZE_MAX);
	if (!same(&d, &bytewise))
		d.status = -1;
	free(in);
	return d;
}

/*
 * The bounds on framing, exactly. As chunked.c counts them, a line's length is its bytes
 * before the CR, plus the CR (the LF is not counted):
 * - a chunk-size line (size and extensions) may be 4095 bytes before its CRLF, not 4096;
 * - the trailer fields may hold 8192 bytes in all, counted the same way per field.
 */
static void test_limits(void)
{
	size_t max_content = CHUNKED_MAX_LINE - 1;
	for (int zeros = 0; zeros <= 1; zeros++) {
		check_case("size line with %s", zeros ? "leading zeros" : "extension");
		struct decoded fits = size_line_of(max_content, zeros);
		CHECK_EQ(fits.status, CHUNKED_DONE);
		CHECK_MEM(fits.data, fits.data_len, "x", 1);
		struct decoded too_long = size_line_of(max_content + 1, zeros);
		CHECK_EQ(too_long.status, CHUNKED_ERROR);
		CHECK_EQ(too_long.used, CHUNKED_MAX_LINE + 1);   /* refused at the byte over */
	}

	size_t max_trailer = CHUNKED_MAX_TRAILER;
	for (size_t fields = 1; fields <= 3; fields++) {
		check_case("%zu trailer fields", fields);
		CHECK_EQ(trailers_of(max_trailer - fields, fields).status, CHUNKED_DONE);
		CHECK_EQ(trailers_of(max_trailer - fields + 1, fields).status, CHUNKED_ERROR);
	}
	check_case("%s", "");
}

/* Leading zeros count against the line limit, so a stream of them ends in an error. */
static void test_leading_zero_stream(void)
{
	size_t len = 3 * CHUNKED_MAX_LINE;
	char *in = malloc(len);
	memset(in, '0', len);
	struct decoded d = decode(in, len, 0, 7, SIZE_MAX);
	CHECK_EQ(d.status, CHUNKED_ERROR);
	CHECK_EQ(d.used, CHUNKED_MAX_LINE + 1);
	free(in);
}

/* Large chunks: the size is taken at its word, and data is handed back as it arrives. */
static void test_large_chunk(void)
{
	size_t n = 100000;
	char *in = malloc(n + 32);
	size_t head = (size_t)sprintf(in, "%zx\r\n", n);
	memset(in + head, 'd', n);
	memcpy(in + head + n, "\r\n0\r\n\r\n", 7);
	struct decoded d = decode(in, head + n + 7, 0, 1000, SIZE_MAX);
	CHECK_EQ(d.status, CHUNKED_DONE);
	CHECK_EQ(d.total, n);
	CHECK_EQ(d.used, head + n + 7);
	free(in);
}

int main(void)
{
	test_valid();
	test_hex_digits();
	test_binary_data();
	test_no_room();
	test_errors();
	test_limits();
	test_leading_zero_stream();
	test_large_chunk();
	return check_report();
}
