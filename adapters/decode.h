/* Shared by the adapters: strict JSON parsing, key decoding, the event
 * list's string storage and the Records[] reader used by MinIO, Ceph and
 * AWS S3.  Internal to adapters/ (and their tests); everything is pure. */
#ifndef BR_DECODE_H
#define BR_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "bridge/util.h"

struct json_object;

/* br_utf8_check() is in bridge/util.h, shared with the dead-letter
 * sink and the classifier. */

/* Decodes application/x-www-form-urlencoded text (Go url.QueryUnescape,
 * Python unquote_plus): "+" is a space, "%XX" the byte 0xXX, every other
 * byte itself.  Strict: "%" needs two hex digits, the result must be
 * valid UTF-8 and hold no NUL byte.  out must have room for in_len bytes
 * (decoding never grows); it is not NUL-terminated.  Returns 0 with
 * *out_len set, or -1 with a reason whose offsets count bytes of the
 * encoded input, e.g. "invalid percent-encoding at byte 12". */
int br_form_decode(const char *in, size_t in_len, char *out, size_t *out_len,
                   char *errstr, size_t errstr_size);

/* Writes s[0..len) into buf as a double-quoted, printable-ASCII string for
 * a reason text (quotes, backslashes and non-printable bytes as \xNN),
 * shortened to about 64 bytes with "..." so hostile payloads stay small
 * in logs.  Returns buf. */
const char *br_quote(char *buf, size_t size, const char *s, size_t len);

/* Parses one JSON document with STYLE.md 6's rules: explicit length, size
 * cap, strict UTF-8 and no raw control characters (checked here because
 * json-c's checks are looser), json-c strict mode with a depth limit, and
 * the whole input consumed.  The root must be an object.  The tokener is
 * list's, made on first use and kept (it holds no reference once a parse
 * is over, so an SNS envelope's inner document reuses it).  Returns 0 and a
 * new reference in *root, or -1 with a reason ("empty message", "not valid
 * UTF-8 at byte 57", "nested deeper than 32 levels", ...). */
int br_json_parse(struct br_event_list *list, const char *buf, size_t len,
                  const struct br_parse_limits *limits,
                  struct json_object **root, char *errstr, size_t errstr_size);

/* Member name of obj as a string with its length, or NULL when obj is not
 * an object, the member is absent, null or not a string.  Borrowed. */
const char *br_json_str(struct json_object *obj, const char *name, size_t *len);
/* Member of obj when obj is an object and the member is present and not
 * null, else NULL.  Borrowed. */
struct json_object *br_json_get(struct json_object *obj, const char *name);
/* A size member: a non-negative integer, or a string of decimal digits
 * (Ceph's documentation shows "1024").  -1 when absent or unusable. */
int64_t br_json_size(struct json_object *val);

/* Event list plumbing.  br_event_list_add() appends a zeroed event with
 * size -1 and record set to index; NULL when memory runs out (list->oom
 * is then set).  Strings are copied into the list's blocks. */
struct br_object_event *br_event_list_add(struct br_event_list *list,
                                          int index);
char *br_event_list_strdup(struct br_event_list *list, const char *s,
                           size_t len);
/* Reserves n bytes; br_event_list_trim() gives back the tail of the most
 * recent reservation once its real size is known. */
char *br_event_list_alloc(struct br_event_list *list, size_t n);
void br_event_list_trim(struct br_event_list *list, char *p, size_t used);
/* Sets ev->reject to the formatted reason (copied into the list). */
void br_event_reject(struct br_event_list *list, struct br_object_event *ev,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Takes the object key from the payload: form-decoded when form is set,
 * else raw; checks non-empty, valid UTF-8, no NUL, at most
 * limits->max_key_bytes after decoding.  Sets ev->key/key_len and returns
 * 0, or returns -1 with the problem in why (no path prefix), or -1 with
 * list->oom set. */
int br_event_take_key(struct br_event_list *list, struct br_object_event *ev,
                      const char *raw, size_t raw_len, int form,
                      const struct br_parse_limits *limits, char *why,
                      size_t why_size);

/* Event name to kind: rules are tried in order, a name ending in '*'
 * matches by prefix, the NULL row gives the default. */
struct br_kind_rule {
        const char *name;
        enum br_event_kind kind;
};
enum br_event_kind br_kind_lookup(const struct br_kind_rule *rules,
                                  const char *name);

/* How one S3-style dialect writes Records[] (minio.c, ceph.c, aws_s3.c). */
struct br_records_dialect {
        enum br_dialect dialect;
        const char *name;         /* adapter name, reason prefix */
        const char *event_source; /* "minio:s3" */
        int form_encoded;         /* object keys form-encoded */
        const struct br_kind_rule *kinds;
};

extern const struct br_records_dialect br_minio_records;
extern const struct br_records_dialect br_ceph_records;
extern const struct br_records_dialect br_aws_s3_records;

/* eventSource of Records[0], or NULL.  Borrowed; for match(). */
const char *br_records_first_source(struct json_object *root);

/* Reads root.Records: each record is handled per its own eventSource;
 * envelope is the message's dialect (used for reason prefixes and for
 * records without eventSource; NULL when unknown).  where prefixes paths
 * ("" or "Message: " for an SNS envelope).  Bad records become rejected
 * events; returns -1 with errstr only for message-level problems (Records
 * missing or not an array, more than limits->max_records). */
int br_records_extract(struct json_object *root,
                       const struct br_records_dialect *envelope,
                       const char *where, const struct br_parse_limits *limits,
                       struct br_event_list *out, char *errstr,
                       size_t errstr_size);

extern const struct br_adapter br_adapter_minio;
extern const struct br_adapter br_adapter_ceph;
extern const struct br_adapter br_adapter_aws_s3;
extern const struct br_adapter br_adapter_aws_eventbridge;
extern const struct br_adapter br_adapter_alibaba_oss;

#endif
