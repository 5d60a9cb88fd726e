/*
 * chunked.c: Transfer-Encoding: chunked, decoded one byte of framing at a time.
 *
 *   chunk     = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last      = 1*"0" [ chunk-ext ] CRLF
 *   trailers  = *( field-line CRLF ) CRLF
 *
 * Framing is walked byte by byte, so it may be split anywhere; data is handed back as one
 * span, in place. Every line has a bound, so the decoder's work per byte is constant.
 */
#include "chunked.h"

#include <stdbool.h>

enum state {
	SIZE,            /* hex digits of the chunk size */
	SIZE_WS,         /* white space after them: only more of it, ';' or CR may follow */
	EXT,             /* a chunk extension, skipped up to CR */
	SIZE_LF,         /* the LF ending the size line */
	DATA,            /* `left` bytes of data */
	DATA_CR, DATA_LF,
	TRAILER,         /* at the start of a trailer line, or the final empty line */
	TRAILER_LINE,    /* inside a trailer field, skipped up to CR */
	TRAILER_LF,      /* the LF ending a trailer field */
	END_LF,          /* the LF of the final empty line */
	DONE,
};

void chunked_init(struct chunked *c)
{
	*c = (struct chunked){ .state = SIZE };
}

static int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* What an extension or a trailer field may hold: visible bytes, obs-text, space and tab; not
 * NUL, not DEL, no control character. (CR ends the line; a bare LF is an error.) */
static bool is_field_char(char ch)
{
	unsigned char c = (unsigned char)ch;
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A byte of framing that must be `want` (a CR or LF): then the state `next`. */
static bool expect(struct chunked *c, char ch, char want, enum state next)
{
	c->state = next;
	return ch == want;
}

/* A byte of a line of field bytes (an extension, a trailer field), skipped up to the CR that
 * ends it, then the state `at_cr`; *len counts the line against its bound. */
static bool field_line(struct chunked *c, char ch, enum state at_cr, size_t *len, size_t max)
{
	if (ch == '\r')
		c->state = at_cr;
	else if (!is_field_char(ch))
		return false;
	return ++*len <= max;
}

/* One byte of framing. Returns false when it cannot be valid. */
static bool step(struct chunked *c, char ch)
{
	switch (c->state) {
	case SIZE: {
		int v = hex_value(ch);
		if (v >= 0) {
			if (c->left > (UINT64_MAX >> 4))
				return false;
			c->left = c->left << 4 | (uint64_t)v;
		} else if (c->line_len == 0) {
			return false;                  /* a size needs at least one digit */
		} else if (ch == ' ' || ch == '\t') {
			c->state = SIZE_WS;            /* "5 6" is not a size */
		} else if (ch == ';') {
			c->state = EXT;
		} else if (ch == '\r') {
			c->state = SIZE_LF;
		} else {
			return false;
		}
		return ++c->line_len <= CHUNKED_MAX_LINE;
	}
	case SIZE_WS:
		if (ch == ';')
			c->state = EXT;
		else if (ch == '\r')
			c->state = SIZE_LF;
		else if (ch != ' ' && ch != '\t')
			return false;
		return ++c->line_len <= CHUNKED_MAX_LINE;
	case EXT:
		return field_line(c, ch, SIZE_LF, &c->line_len, CHUNKED_MAX_LINE);
	case SIZE_LF:
		if (ch != '\n')
			return false;
		c->line_len = 0;
		c->state = c->left ? DATA : TRAILER;
		return true;
	case DATA_CR:
		return expect(c, ch, '\r', DATA_LF);
	case DATA_LF:
		return expect(c, ch, '\n', SIZE);
	case TRAILER:
		if (ch == '\r') {
			c->state = END_LF;
			return true;
		}
		c->state = TRAILER_LINE;
		return is_field_char(ch) && ++c->trailer_len <= CHUNKED_MAX_TRAILER;
	case TRAILER_LINE:
		return field_line(c, ch, TRAILER_LF, &c->trailer_len, CHUNKED_MAX_TRAILER);
	case TRAILER_LF:
		return expect(c, ch, '\n', TRAILER);
	case END_LF:
		return expect(c, ch, '\n', DONE);
	default:
		return false;   /* DATA and DONE take no framing bytes */
	}
}

enum chunked_status chunked_decode(struct chunked *c, const char *in, size_t len, size_t max_data,
                                   size_t *used, const char **data, size_t *data_len)
{
	size_t i = 0;
	*data = NULL;
	*data_len = 0;
	while (i < len && c->state != DONE) {
		if (c->state == DATA) {
			uint64_t n = len - i;
			if (n > c->left)
				n = c->left;
			if (n > max_data)
				n = max_data;
			if (n == 0)
				break;   /* the caller has no room for data now */
			*data = in + i;
			*data_len = (size_t)n;
			i += (size_t)n;
			c->left -= n;
			c->total += n;
			if (c->left == 0)
				c->state = DATA_CR;
			break;
		}
		if (!step(c, in[i++])) {
			*used = i;
			return CHUNKED_ERROR;
		}
	}
	*used = i;
	return c->state == DONE ? CHUNKED_DONE : CHUNKED_MORE;
}
