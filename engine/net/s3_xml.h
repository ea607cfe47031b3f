/*
 * s3_xml.h - the S3 XML ivcs reads and writes on the control path.
 *
 * Reading uses expat, fed incrementally: hand it the body bytes as they
 * arrive (straight from the HTTP parser's BODY events) in any pieces; the
 * results do not depend on the split. Two documents are understood:
 *
 *   <Error>: Code, Message, RequestId, HostId, Key, BucketName, Resource
 *   into fixed-size fields of ivcs_s3_error (cut to fit at a UTF-8
 *   boundary, `truncated` set: an error body is for reporting).
 *
 *   <ListBucketResult> (ListObjectsV2): every <Contents> and every
 *   <CommonPrefixes> is handed to a callback as soon as its end tag is
 *   parsed, from one reused record, so a 1000-key page needs one record of
 *   memory; the page's own fields (Name, Prefix, KeyCount, IsTruncated,
 *   NextContinuationToken, ...) land in ivcs_s3_list_result. S3 may send
 *   those after the entries, so read them after ivcs_s3_xml_finish. Values
 *   that do not fit their field are an error here (IVCS_ERR_TOO_LONG): a cut
 *   key would name another object.
 *
 * Expat allocates (a few KiB per parser); that is accepted on the S3
 * control path, never on the push path. Its memory comes from the
 * ivcs allocator given at init. Documents with a DOCTYPE are refused (S3
 * never sends one; it rules out entity tricks), as is nesting deeper than
 * 32 elements. Element names are matched without namespace processing, as
 * S3 sends them (default namespace, no prefix).
 *
 * Writing: a bounded XML writer into a caller buffer (no allocation), and
 * the PutBucketLifecycleConfiguration body built with it.
 *
 * Threads: a parser or writer is used by one thread at a time; different
 * threads may use different parsers at once.
 */
#ifndef IVCS_NET_S3_XML_H
#define IVCS_NET_S3_XML_H

#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_S3_KEY_MAX 1024   /* S3's limit on a key, in UTF-8 bytes */
#define IVCS_S3_TOKEN_MAX 2048 /* continuation tokens (radosgw: the last key) */

/* ---------------------------------------------------------------- reading */

/* An S3 error body. All strings NUL-terminated, "" when absent. */
typedef struct ivcs_s3_error {
    char code[64]; /* e.g. "NoSuchKey", "SignatureDoesNotMatch" */
    char message[512];
    char request_id[128];
    char host_id[256];
    char key[IVCS_S3_KEY_MAX + 1];
    char bucket[256]; /* BucketName */
    char resource[IVCS_S3_KEY_MAX + 1];
    int truncated; /* a value was longer than its field and was cut */
} ivcs_s3_error;

typedef enum ivcs_s3_entry_kind {
    IVCS_S3_ENTRY_OBJECT = 1, /* a <Contents> */
    IVCS_S3_ENTRY_PREFIX = 2, /* a <CommonPrefixes>: only key (the prefix) is set */
} ivcs_s3_entry_kind;

/* One listed object or common prefix. Strings NUL-terminated. */
typedef struct ivcs_s3_list_entry {
    ivcs_s3_entry_kind kind;
    char key[IVCS_S3_KEY_MAX + 1]; /* URL-decoded if IVCS_S3_LIST_URL_DECODE */
    size_t key_len;
    char etag[80];            /* without the surrounding quotes */
    char last_modified[40];   /* as sent, e.g. "2024-05-01T12:00:00.000Z" */
    int64_t last_modified_ms; /* the same in ms since the epoch; -1 if unparsable */
    uint64_t size;
    char storage_class[32];
} ivcs_s3_list_entry;

/* Called for each entry in document order. The record is reused: copy what
 * you keep. Return 0 to go on; anything else stops the parse (a negative
 * value is returned as is, a positive one as IVCS_ERR_CANCELLED). */
typedef int (*ivcs_s3_list_entry_fn)(void *user, const ivcs_s3_list_entry *e);

/* The fields of one ListObjectsV2 page, complete after finish. */
typedef struct ivcs_s3_list_result {
    char name[256]; /* bucket */
    char prefix[IVCS_S3_KEY_MAX + 1];
    char delimiter[256];
    char start_after[IVCS_S3_KEY_MAX + 1];
    char next_token[IVCS_S3_TOKEN_MAX + 1]; /* NextContinuationToken, "" if none */
    int64_t key_count;                      /* KeyCount, -1 if absent */
    int64_t max_keys;                       /* MaxKeys, -1 if absent */
    int is_truncated;                       /* IsTruncated: more pages follow */
    int url_encoded;                        /* the server said EncodingType=url */
    uint64_t objects;                       /* <Contents> reported */
    uint64_t prefixes;                      /* <CommonPrefixes> reported */
} ivcs_s3_list_result;

/* Flags of ivcs_s3_xml_init_list. */
#define IVCS_S3_LIST_URL_DECODE                                                                    \
    0x1u /* the request had encoding-type=url:                                                     \
            percent-decode Key, Prefix, Delimiter,                                                 \
            StartAfter (AWS encodes these) */

/* A streaming parser; embed it, or keep it on the stack. Private fields. */
typedef struct ivcs_s3_xml {
    void *expat; /* XML_Parser */
    const ivcs_allocator_s *alloc;
    int kind;
    unsigned flags;
    int err; /* sticky result */
    unsigned long err_line;
    int depth;
    int in_entry; /* 0, or the kind of the entry being read */
    int entry_has_key;
    int field; /* the element whose text is being collected, 0 none */
    char *dst; /* where it goes (cap + 1 bytes) */
    size_t cap, len;
    int overflow;
    char num[24]; /* text of numeric and boolean fields */
    ivcs_s3_error *error;
    ivcs_s3_list_result *list;
    ivcs_s3_list_entry_fn cb;
    void *user;
    ivcs_s3_list_entry entry;
} ivcs_s3_xml;

/* Starts parsing an S3 error body into *out (zeroed now). alloc NULL: the
 * default allocator. Returns 0, IVCS_ERR_INVALID_ARG, or
 * IV_ERR_SYS_MALLOC_FAIL. On success call ivcs_s3_xml_cleanup eventually. */
IVCS_MUST_CHECK int ivcs_s3_xml_init_error(ivcs_s3_xml *x, ivcs_s3_error *out,
                                           const ivcs_allocator_s *alloc);

/* Starts parsing a ListObjectsV2 body: entries go to cb(user, entry), the
 * page fields to *out (zeroed now). flags: IVCS_S3_LIST_*. cb may be NULL
 * (only the page fields and counts are wanted). Errors as for init_error. */
IVCS_MUST_CHECK int ivcs_s3_xml_init_list(ivcs_s3_xml *x, ivcs_s3_list_result *out, unsigned flags,
                                          ivcs_s3_list_entry_fn cb, void *user,
                                          const ivcs_allocator_s *alloc);

/* Feeds the next len bytes of the document. Returns 0, or (sticky)
 * IVCS_ERR_XML (not well-formed, not the expected root element, a DOCTYPE,
 * a bad number/boolean, an entry without its key, bad %-escape),
 * IVCS_ERR_TOO_LONG (a list value longer than its field), a callback's
 * code, or IV_ERR_SYS_MALLOC_FAIL. */
IVCS_MUST_CHECK int ivcs_s3_xml_feed(ivcs_s3_xml *x, const void *data, size_t len);

/* Ends the document: 0 if it was complete and well-formed, else the codes
 * of feed (an empty or cut-short document is IVCS_ERR_XML). After an error
 * the output struct holds what had been parsed so far: use it for logs at
 * most (entries already reported stay valid). */
IVCS_MUST_CHECK int ivcs_s3_xml_finish(ivcs_s3_xml *x);

/* Line of the document where expat found an error (0 if none): for logs. */
unsigned long ivcs_s3_xml_error_line(const ivcs_s3_xml *x);

/* Frees expat's memory. Safe on a zeroed struct and twice. */
void ivcs_s3_xml_cleanup(ivcs_s3_xml *x);

/* One-shot forms: init, feed, finish, cleanup. */
IVCS_MUST_CHECK int ivcs_s3_error_parse(const void *xml, size_t len, ivcs_s3_error *out,
                                        const ivcs_allocator_s *alloc);
IVCS_MUST_CHECK int ivcs_s3_list_parse(const void *xml, size_t len, unsigned flags,
                                       ivcs_s3_list_result *out, ivcs_s3_list_entry_fn cb,
                                       void *user, const ivcs_allocator_s *alloc);

/* "2024-05-01T12:00:00.000Z" (fraction optional, 1-9 digits, Z required)
 * to ms since the epoch; -1 if s is not in that form. */
int64_t ivcs_s3_parse_time(const char *s, size_t len);

/* ---------------------------------------------------------------- writing */

#define IVCS_XML_DEPTH_MAX 16

/* A bounded writer into buf[0..cap). Errors are sticky and reported by
 * ivcs_xml_writer_finish; after one, calls do nothing. Element names must
 * be [A-Za-z_][A-Za-z0-9._-]* and stay valid until closed (use literals). */
typedef struct ivcs_xml_writer {
    char *buf;
    size_t cap, len;
    int err;
    int depth;
    const char *open[IVCS_XML_DEPTH_MAX];
} ivcs_xml_writer;

void ivcs_xml_writer_init(ivcs_xml_writer *w, char *buf, size_t cap);
/* <?xml version="1.0" encoding="UTF-8"?> */
void ivcs_xml_decl(ivcs_xml_writer *w);
/* <name> or <name xmlns="xmlns"> (xmlns NULL: none). */
void ivcs_xml_open(ivcs_xml_writer *w, const char *name, const char *xmlns);
/* </name> of the innermost open element. */
void ivcs_xml_close(ivcs_xml_writer *w);
/* Escaped character data. s must be valid UTF-8 of XML 1.0 characters (no
 * control bytes but TAB/LF/CR, no U+FFFE/U+FFFF), else IVCS_ERR_INVALID_ARG.
 * & < > " ' are escaped, CR as &#13; so it survives line-end normalisation. */
void ivcs_xml_text(ivcs_xml_writer *w, const char *s, size_t len);
/* <name>escaped text</name>, and the same for a decimal number. */
void ivcs_xml_elem(ivcs_xml_writer *w, const char *name, const char *s, size_t len);
void ivcs_xml_elem_u64(ivcs_xml_writer *w, const char *name, uint64_t v);
/* The length written (the buffer is NUL-terminated), or the first error:
 * IVCS_ERR_TOO_LONG (cap too small; cap must leave room for the NUL),
 * IVCS_ERR_INVALID_ARG (bad text or name, close with nothing open, depth
 * over IVCS_XML_DEPTH_MAX, elements left open). */
IVCS_MUST_CHECK int64_t ivcs_xml_writer_finish(ivcs_xml_writer *w);

/* One rule of a lifecycle configuration: objects under `prefix` ("" for the
 * whole bucket) expire `days` (>= 1) days after creation. */
typedef struct ivcs_s3_lifecycle_rule {
    const char *id; /* 1..255 bytes */
    const char *prefix;
    uint32_t days;
    int enabled;
} ivcs_s3_lifecycle_rule;

/* Writes the PutBucketLifecycleConfiguration body for n (1..1000) rules:
 *   <LifecycleConfiguration xmlns=...><Rule><ID/><Filter><Prefix/></Filter>
 *   <Status>Enabled|Disabled</Status><Expiration><Days/></Expiration></Rule>
 * Returns its length, IVCS_ERR_INVALID_ARG, or IVCS_ERR_TOO_LONG. */
IVCS_MUST_CHECK int64_t ivcs_s3_lifecycle_xml(char *buf, size_t cap,
                                              const ivcs_s3_lifecycle_rule *rules, size_t n);

#ifdef __cplusplus
}
#endif
#endif
