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

enum br_log_level {
        BR_LOG_ERROR,
        BR_LOG_WARN,
        BR_LOG_INFO,
        BR_LOG_DEBUG
};

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
        char *scan_id;           /* NULL = no scanId member */
        char *webhook_url;       /* NULL = webhook.url */
        char *api_key;           /* NULL = webhook.api_key (secret) */
        unsigned events;         /* BR_KIND_BIT set; 0 = top-level events */
        int line;                /* where the entry starts, for messages */
        size_t index;            /* position in routes */
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
                int max_in_flight;
                int64_t max_response_bytes;
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
                int max_attempts;          /* 0 = unlimited */
                int64_t max_age_ms;        /* 0 = forever */
                int64_t max_retry_after_ms;
                int circuit_failures;      /* consecutive, opens circuit */
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
                                           const char *bucket,
                                           const char *key);

/* help-config: every option with type, default and doc. */
void br_conf_help(FILE *out, int markdown);
/* The effective configuration, secrets as "***". */
void br_conf_dump(const struct br_conf *conf, FILE *out);

#endif
