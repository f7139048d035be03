/* Configuration: one table (conf_opts.c) drives parsing, defaults, bounds,
 * help-config, dump-config and CONFIGURATION.md. */
#ifndef BR_CONF_H
#define BR_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum br_format {
        BR_FORMAT_AUTO,    /* alibaba for OSS events, s3 for the rest */
        BR_FORMAT_S3,      /* {"s3":{"object":{"key":K}}} */
        BR_FORMAT_ALIBABA, /* {"oss":{"object":{"key":K}}} */
        BR_FORMAT_GENERIC  /* {"Name":K} */
};

enum br_log_level { BR_LOG_ERROR, BR_LOG_WARN, BR_LOG_INFO, BR_LOG_DEBUG };

/* A key/value pair from a YAML map, with where it was written. */
struct br_kv {
        char *key;
        char *value;
        int line;
        int col;
};

struct br_route {
        char *bucket;            /* exact name or fnmatch(3) glob */
        char *prefix;            /* NULL = any key */
        char *suffix;            /* NULL = any key */
        char *storage_client_id; /* required */
        enum br_format format;
        char *scan_id;     /* NULL = no scanId member */
        char *webhook_url; /* NULL = webhook.url */
        char *api_key;     /* NULL = webhook.api_key (secret) */
        unsigned events;   /* BR_KIND_BIT set; 0 = top-level events */
        int line;          /* where the entry starts, for messages */
        size_t index;      /* position in routes */
};

struct br_conf {
        char *origin; /* file name, or "<string>" */
        struct {
                char *brokers; /* host:port list, or "embedded" */
                char *group;
                char **topics;
                size_t topic_cnt;
                struct br_kv *properties; /* passed to rd_kafka_conf_set */
                size_t property_cnt;
        } kafka;
        struct {
                char *url;
                char *api_key; /* secret */
                int64_t timeout_ms;
                int64_t connect_timeout_ms;
                int max_in_flight; /* concurrent requests */
                int max_pending;   /* records held before pausing */
                int64_t max_response_bytes;
                char *ca_file;  /* NULL: the system's CAs */
                int tls_verify; /* 0 only for tests */
        } webhook;
        struct br_route *routes; /* first match wins */
        size_t route_cnt;
        unsigned events; /* default forward set, BR_KIND_BIT */
        struct {
                int64_t max_message_bytes;
                int max_depth;
                int max_records;
                int max_key_bytes;
        } limits;
        struct {
                int64_t initial_backoff_ms;
                int64_t max_backoff_ms;
                int max_attempts;   /* 0 = unlimited */
                int64_t max_age_ms; /* 0 = forever */
                int64_t max_retry_after_ms;
                int circuit_failures; /* consecutive, opens circuit */
        } retry;
        struct {
                char *topic;
                char *file;
                int none; /* explicitly accept logging-only rejects */
        } dead_letter;
        struct {
                int64_t grace_ms;
        } shutdown;
        struct {
                enum br_log_level level;
        } log;
};

/* The option table (conf_opts.c): one row per option drives parsing,
 * defaults, bounds, help-config, dump-config and CONFIGURATION.md. */
enum br_conf_type {
        BR_T_STRING,   /* char *, NULL = unset; never empty */
        BR_T_BOOL,     /* int 0/1 */
        BR_T_INT,      /* int */
        BR_T_DURATION, /* int64_t milliseconds: "250ms", "10s", "2m", "1h" */
        BR_T_SIZE,     /* int64_t bytes: "512", "64K", "1M", "1G" */
        BR_T_ENUM,     /* int: index of the value in enums */
        BR_T_STRLIST,  /* char **, count at cnt_offset */
        BR_T_MAP,      /* struct br_kv *, count at cnt_offset; enums lists
                        * the keys bucketbridge owns (refused) */
        BR_T_KINDS,    /* unsigned BR_KIND_BIT set of event kinds */
        BR_T_ROUTES    /* struct br_route *, count at cnt_offset; keys from
                        * br_conf_route_opts */
};

#define BR_O_REQUIRED 0x1 /* must be set (unless BR_CONF_F_PARTIAL) */
#define BR_O_SECRET   0x2 /* never echoed: errors, dumps, logs */
#define BR_O_URL      0x4 /* must start with http:// or https:// */

struct br_conf_opt {
        const char *name; /* dotted path, e.g. "webhook.timeout" */
        enum br_conf_type type;
        size_t offset;     /* of the value in its struct */
        size_t cnt_offset; /* lists and maps: of the size_t count */
        const char *def;   /* default, in the syntax a user writes; NULL */
        int64_t min;       /* numbers: lowest value; lists: fewest items */
        int64_t max;       /* numbers: highest value; lists: most items */
        const char *const *enums; /* NULL-terminated */
        unsigned flags;           /* BR_O_* */
        const char *doc;
};

/* Both end with a row whose name is NULL. */
extern const struct br_conf_opt br_conf_opts[];
extern const struct br_conf_opt br_conf_route_opts[];

/* Load flags. */
#define BR_CONF_F_PARTIAL 0x1 /* skip required options (transform) */

/* Parses YAML from (buf, len); origin names it in messages.  Returns NULL
 * and writes every problem, one per line as "ORIGIN:LINE:COL: message",
 * into errstr. */
struct br_conf *br_conf_load(const char *buf, size_t len, const char *origin,
                             int flags, char *errstr, size_t errstr_size);
struct br_conf *br_conf_load_file(const char *path, int flags, char *errstr,
                                  size_t errstr_size);
void br_conf_destroy(struct br_conf *conf);

/* First route matching bucket and key, or NULL. */
const struct br_route *br_conf_route_match(const struct br_conf *conf,
                                           const char *bucket, const char *key);

/* help-config: every option with type, default and doc. */
void br_conf_help(FILE *out, int markdown);
/* The effective configuration, secrets as "***". */
void br_conf_dump(const struct br_conf *conf, FILE *out);

#endif
