/*
 * http_parse.h - a resumable HTTP/1.1 response parser that allocates nothing.
 *
 * The parser is a state machine in a caller-owned struct (embed it; ~8.3 KiB,
 * most of it the header buffer). The caller feeds the bytes of the
 * connection in whatever pieces they arrive (TLS records, io_uring
 * completions, one byte at a time): the parser keeps its state between
 * calls, and the events it reports, the errors it returns and the byte at
 * which it stops do not depend on where the stream was cut.
 *
 * What it reports, through one callback, in this order for a response:
 *
 *   STATUS  HEADER*  HEADERS_DONE          (repeated for each 1xx response)
 *   STATUS  HEADER*  HEADERS_DONE  BODY*  TRAILER*  DONE
 *
 * Framing (RFC 9112 section 6): no body for a HEAD request (the caller says
 * so, see IVCS_HTTP_REQ_HEAD), for 1xx, 204 and 304; else chunked when
 * Transfer-Encoding ends in "chunked"; else Content-Length; else the body
 * runs until the peer closes the connection (call ivcs_http_parser_eof).
 * BODY carries the de-chunked payload, pointing into the caller's buffer
 * (no copy). Chunk extensions are checked and skipped; trailer fields are
 * reported as TRAILER events.
 *
 * Strict: anything malformed stops the parser with IVCS_ERR_HTTP_PARSE (a
 * bad status line, a bare LF or CR, a NUL or other control byte, obs-fold,
 * whitespace before a colon, a bad or overflowing Content-Length, differing
 * Content-Length values, Content-Length together with Transfer-Encoding,
 * Transfer-Encoding in an HTTP/1.0 response, chunked not last or twice, a
 * bad chunk size or missing CRLF after chunk data). A header block or
 * trailer block (or a chunk-size line) larger than IVCS_HTTP_HEADER_MAX
 * gives IVCS_ERR_TOO_LONG. Transfer codings other than chunked and a 101
 * (protocol switch) give IVCS_ERR_UNSUPPORTED: ivcs asks for neither.
 * Errors are sticky: every later feed returns the same code until reset.
 *
 * Threads: a parser is used by one thread at a time; there is no global
 * state.
 */
#ifndef IVCS_NET_HTTP_PARSE_H
#define IVCS_NET_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest header block (status line + fields + empty line), trailer block
 * or chunk-size line, in bytes, CRLFs included. */
#define IVCS_HTTP_HEADER_MAX 8192

/* Flags of ivcs_http_parser_init/reset: what the request was. */
#define IVCS_HTTP_REQ_HEAD 0x1u /* a HEAD request: the response has no body */

typedef enum ivcs_http_event_type {
    IVCS_HTTP_EV_STATUS = 1,   /* status line: status, version_minor, value = reason */
    IVCS_HTTP_EV_HEADER,       /* one header field: name, value (OWS trimmed) */
    IVCS_HTTP_EV_HEADERS_DONE, /* end of a header block; for a final response the
                                  framing fields of the parser are now set */
    IVCS_HTTP_EV_BODY,         /* payload bytes: data, len (never 0) */
    IVCS_HTTP_EV_TRAILER,      /* one trailer field after the last chunk: name, value */
    IVCS_HTTP_EV_DONE,         /* the final response is complete */
} ivcs_http_event_type;

/* One event. Pointers are valid only during the callback: name/value point
 * into the parser's buffer, data into the buffer given to feed. Strings are
 * not NUL-terminated. */
typedef struct ivcs_http_event {
    ivcs_http_event_type type;
    int status;        /* status code of the response this event belongs to */
    int informational; /* 1 for the events of a 1xx response */
    int version_minor; /* 0 or 1 (HTTP/1.x) */
    const char *name;
    size_t name_len;
    const char *value; /* HEADER/TRAILER value, or the STATUS reason phrase */
    size_t value_len;
    const uint8_t *data; /* BODY */
    size_t len;
} ivcs_http_event;

/* The event callback. Return 0 to go on; any other value stops the parser:
 * feed returns that value if it is negative (use an ivcs error code), else
 * IVCS_ERR_CANCELLED. The callback must not call feed/eof/reset on the
 * same parser. */
typedef int (*ivcs_http_event_fn)(void *user, const ivcs_http_event *ev);

/* How the body of the final response is delimited (valid from HEADERS_DONE). */
typedef enum ivcs_http_body_mode {
    IVCS_HTTP_BODY_NONE = 0, /* HEAD, 1xx, 204, 304, or Content-Length: 0 */
    IVCS_HTTP_BODY_LENGTH,   /* Content-Length > 0 */
    IVCS_HTTP_BODY_CHUNKED,  /* Transfer-Encoding: chunked */
    IVCS_HTTP_BODY_CLOSE,    /* until the peer closes the connection */
} ivcs_http_body_mode;

/* The parser. Fields marked "out" may be read by the caller (after the
 * event named); everything else is private. */
typedef struct ivcs_http_parser {
    /* out, from STATUS of the current response */
    int status;
    int version_minor;
    /* out, from HEADERS_DONE of the final response */
    ivcs_http_body_mode body_mode;
    int64_t content_length; /* the Content-Length value, -1 if none was sent */
    int keep_alive;         /* connection reusable after DONE (HTTP/1.1 without
                               "Connection: close", or HTTP/1.0 with keep-alive,
                               and the body not delimited by close) */
    /* out, any time */
    uint64_t nread;      /* bytes consumed since the last reset (0: the peer sent
                            nothing, e.g. a stale keep-alive connection closed).
                            After an error: the offset at which it was found,
                            the same however the stream was cut */
    uint64_t body_bytes; /* payload bytes reported so far */

    /* private */
    ivcs_http_event_fn cb;
    void *user;
    unsigned req_flags;
    int state;
    int err;
    unsigned hflags;     /* header semantics seen in this block */
    uint64_t remaining;  /* bytes left in the body or the current chunk */
    uint32_t buf_len;    /* bytes in buf */
    uint32_t line_start; /* where the current line begins in buf */
    char buf[IVCS_HTTP_HEADER_MAX];
} ivcs_http_parser;

/* Prepares p for the response to one request. flags: IVCS_HTTP_REQ_*.
 * cb must not be NULL. Never fails for valid arguments: IVCS_ERR_INVALID_ARG
 * if p or cb is NULL or flags has unknown bits. */
IVCS_MUST_CHECK int ivcs_http_parser_init(ivcs_http_parser *p, unsigned flags,
                                          ivcs_http_event_fn cb, void *user);

/* Starts over for the response to the next request on the same connection
 * (keeps cb and user). Call it after DONE, or after an error to reuse the
 * struct for a new connection. flags as for init. */
void ivcs_http_parser_reset(ivcs_http_parser *p, unsigned flags);

/* Feeds len bytes of the response stream (data may be NULL when len is 0).
 * Reports the events these bytes complete, then returns how many bytes it
 * consumed: len, or fewer when the final response ended inside data (the
 * rest belongs to whatever follows on the connection: for a client that does
 * not pipeline that is a protocol error, so close the connection).
 * Returns len with ivcs_http_parser_done() == 0 when it needs more bytes.
 * Errors (negative): IVCS_ERR_HTTP_PARSE, IVCS_ERR_TOO_LONG,
 * IVCS_ERR_UNSUPPORTED, a callback's code, IVCS_ERR_STATE if called after
 * DONE (reset first). */
IVCS_MUST_CHECK int64_t ivcs_http_parser_feed(ivcs_http_parser *p, const void *data, size_t len);

/* Tells the parser the peer closed the connection (clean EOF). For a body
 * delimited by close this completes it (DONE is reported) and returns 0.
 * Returns 0 if the response was already complete, IVCS_ERR_CLOSED if it was
 * cut short (check nread == 0 to tell "closed before any byte" -- a stale
 * keep-alive connection, safe to retry -- from a truncated response), or the
 * sticky error. */
IVCS_MUST_CHECK int ivcs_http_parser_eof(ivcs_http_parser *p);

/* 1 once the final response is complete (DONE was reported). */
int ivcs_http_parser_done(const ivcs_http_parser *p);

/* Case-insensitive comparison of a header name (name, len) with a
 * NUL-terminated lowercase literal; 1 if equal. For use in callbacks. */
int ivcs_http_name_is(const char *name, size_t len, const char *lower);

/* Parses an HTTP-date in the IMF-fixdate form every server sends
 * ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 5.6.7; the obsolete forms are
 * refused) of exactly len bytes into Unix seconds. Years 1970..9999, fields
 * range-checked (a leap second 60 is accepted). 0 on success, else
 * IVCS_ERR_HTTP_PARSE and *out untouched. */
int ivcs_http_date_parse(const char *s, size_t len, int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
