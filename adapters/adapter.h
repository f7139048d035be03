/* Notification dialects: pure functions from a parsed message to normalised
 * object events.  No I/O, no logging, no configuration, no state. */
#ifndef BR_ADAPTER_H
#define BR_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

struct json_object;
struct json_tokener;

enum br_dialect {
        BR_DIALECT_MINIO,
        BR_DIALECT_CEPH,
        BR_DIALECT_AWS_S3,
        BR_DIALECT_AWS_EVENTBRIDGE,
        BR_DIALECT_ALIBABA_OSS,
        BR_DIALECT__CNT
};

/* What happened to the object, normalised across dialects.  The default
 * forward set (FORMATS.md 5.3) is BR_KIND_CREATED only. */
enum br_event_kind {
        BR_KIND_CREATED,     /* content written: put, post, copy, complete
                              * multipart, OSS append */
        BR_KIND_REMOVED,     /* delete, delete marker, expiration */
        BR_KIND_ACCESSED,    /* get, head, OSS download */
        BR_KIND_TAGGING,     /* tags put/deleted (metadata only) */
        BR_KIND_RETENTION,   /* retention, legal hold, ACL (metadata only) */
        BR_KIND_PART,        /* multipart initiate/part: object incomplete */
        BR_KIND_RESTORE,     /* archive restore */
        BR_KIND_REPLICATION, /* replication status events */
        BR_KIND_LIFECYCLE,   /* transition, tiering, scanner, ILM */
        BR_KIND_TEST,        /* s3:TestEvent */
        BR_KIND_OTHER,       /* anything else (bucket events, symlinks...) */
        BR_KIND__CNT
};

#define BR_KIND_BIT(k)      (1u << (unsigned)(k))
#define BR_KIND_DEFAULT_SET BR_KIND_BIT(BR_KIND_CREATED)

/* One object event as the payload states it.  Every string is owned by the
 * list it sits in (freed by br_event_list_clear()). */
struct br_object_event {
        enum br_dialect dialect;
        enum br_event_kind kind;
        int record;       /* index of the record in its message */
        char *event_name; /* as written, e.g. "s3:ObjectCreated:Put" */
        char *bucket;     /* NULL only when rejected */
        char *key;        /* decoded, valid UTF-8, NUL-terminated */
        size_t key_len;   /* bytes, without the NUL */
        int64_t size;     /* -1 when the payload gives none */
        char *etag;       /* NULL when absent */
        char *version_id; /* NULL when absent */
        char *sequencer;  /* NULL when absent */
        char *reject;     /* non-NULL: this record is unusable, and why */
};

struct br_strblock; /* private to adapters/registry.c */

struct br_event_list {
        struct br_object_event *v;
        size_t cnt;
        size_t cap;
        /* the events' strings live in blocks owned by the list, so a
         * message costs no malloc per string once the list has warmed up */
        struct br_strblock *strings;
        int oom; /* an allocation failed: the list is incomplete */
        /* the parser, kept between messages: making one costs more than
         * a small message's parse (a reused list owns it) */
        struct json_tokener *tok;
        int tok_depth;
};

/* Input limits, decided by configuration and handed in by the caller. */
struct br_parse_limits {
        size_t max_message_bytes; /* 0 = unlimited */
        int max_depth;            /* JSON nesting */
        size_t max_records;       /* records per message */
        size_t max_key_bytes;     /* decoded key, S3 limit 1024 */
};

struct br_adapter {
        const char *name; /* "minio" */
        enum br_dialect dialect;
        int (*match)(struct json_object *root); /* borrowed; cheap, pure */
        /* Appends 0..N events (records in order).  Returns 0, or -1 with
         * errstr when the whole message is unusable. */
        int (*extract)(struct json_object *root,
                       const struct br_parse_limits *limits,
                       struct br_event_list *out, char *errstr,
                       size_t errstr_size);
};

/* NULL-terminated, in detection order. */
extern const struct br_adapter *const br_adapters[];

const char *br_dialect_name(enum br_dialect dialect);
const char *br_kind_name(enum br_event_kind kind);
/* Returns the kind for a normalised name ("created"), or -1. */
int br_kind_parse(const char *name);

void br_event_list_init(struct br_event_list *list);
/* Frees the events' strings, keeps the array for reuse. */
void br_event_list_clear(struct br_event_list *list);
void br_event_list_free(struct br_event_list *list);

/* Parses one Kafka message value strictly (length-bounded, UTF-8, depth,
 * size), picks the adapter by shape and extracts its events into out
 * (cleared first).  On success returns 0 and sets *adapter_out.  On a
 * message-level problem returns -1 with a reason naming the dialect and the
 * field when known, e.g. "minio: Records: expected an array"; *adapter_out
 * is then the adapter that refused it, or NULL when no shape matched.
 * When memory runs out it returns -1 and sets out->oom. */
int br_adapters_parse(const char *buf, size_t len,
                      const struct br_parse_limits *limits,
                      struct br_event_list *out,
                      const struct br_adapter **adapter_out, char *errstr,
                      size_t errstr_size);

#endif
