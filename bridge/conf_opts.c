/* THE option table.  Every option bucketbridge reads is one row here; the
 * loader, the defaults, the bounds, help-config, dump-config and
 * CONFIGURATION.md all come from these rows (conf.c has no option names). */
#include <stddef.h>

#include "bridge/conf.h"

/* Each offset macro gives two initialisers, the value's offset and its
 * count's, so a row reads: name, type, offset, default, min, max, enum,
 * flags, doc. */
#define BR_OFF(F)       offsetof(struct br_conf, F), 0
#define BR_OFF_N(F, N)  offsetof(struct br_conf, F), offsetof(struct br_conf, N)
#define BR_ROUTE_OFF(F) offsetof(struct br_route, F), 0

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)
#define KIB  1024LL
#define MIB  (1024 * KIB)

/* The loader writes enums through an int. */
_Static_assert(sizeof(enum br_format) == sizeof(int), "enum br_format");
_Static_assert(sizeof(enum br_log_level) == sizeof(int), "enum br_log_level");

/* In enum br_log_level order. */
static const char *const log_levels[] = {"error", "warn", "info", "debug",
                                         NULL};

/* In enum br_format order. */
static const char *const formats[] = {"auto", "s3", "alibaba", "generic", NULL};

/* bucketbridge sets these itself: at-least-once depends on the first two,
 * and the others have their own options (metadata.broker.list is
 * librdkafka's alias of bootstrap.servers). */
static const char *const owned_properties[] = {
    "enable.auto.offset.store", "enable.auto.commit",   "group.id",
    "bootstrap.servers",        "metadata.broker.list", NULL};

const struct br_conf_opt br_conf_opts[] = {
    /* name, type, offset, default, min, max, enum, flags, doc */
    {"kafka.brokers", BR_T_STRING, BR_OFF(kafka.brokers), NULL, 0, 0, NULL,
     BR_O_REQUIRED,
     "Kafka bootstrap servers, `host:port[,host:port...]`, or `embedded` "
     "for an in-process mock cluster (demos and tests)."},
    {"kafka.group", BR_T_STRING, BR_OFF(kafka.group), "bucketbridge", 0, 0,
     NULL, 0,
     "Consumer group id. Offsets are committed to this group only after "
     "each record was delivered or dead-lettered."},
    {"kafka.topics", BR_T_STRLIST, BR_OFF_N(kafka.topics, kafka.topic_cnt),
     NULL, 1, 1000, NULL, BR_O_REQUIRED,
     "Topics carrying bucket notifications."},
    {"kafka.properties", BR_T_MAP,
     BR_OFF_N(kafka.properties, kafka.property_cnt), NULL, 0, 1000,
     owned_properties, 0,
     "librdkafka properties passed to `rd_kafka_conf_set()` as written "
     "(e.g. `security.protocol`, `sasl.password`); a property librdkafka "
     "rejects stops startup. Values of names containing `password`, "
     "`secret`, `.pem` or `oauthbearer.config` are shown as `***`."},

    {"webhook.url", BR_T_STRING, BR_OFF(webhook.url), NULL, 0, 0, NULL,
     BR_O_REQUIRED | BR_O_URL,
     "MDSS real-time webhook endpoint, e.g. "
     "`https://mdss.example.com/api/webhook/realtime`."},
    {"webhook.api_key", BR_T_STRING, BR_OFF(webhook.api_key), NULL, 0, 0, NULL,
     BR_O_REQUIRED | BR_O_SECRET,
     "Sent as the `ApiKey` header. Use `${VAR}` to keep it out of the "
     "file."},
    {"webhook.timeout", BR_T_DURATION, BR_OFF(webhook.timeout_ms), "10s", 100,
     5 * MIN, NULL, 0, "Limit for one request, connect included."},
    {"webhook.connect_timeout", BR_T_DURATION,
     BR_OFF(webhook.connect_timeout_ms), "5s", 100, 5 * MIN, NULL, 0,
     "Limit for establishing the connection."},
    {"webhook.max_in_flight", BR_T_INT, BR_OFF(webhook.max_in_flight), "64", 1,
     10000, NULL, 0, "Requests running at once, over kept-alive connections."},
    {"webhook.max_pending", BR_T_INT, BR_OFF(webhook.max_pending), "2048", 1,
     1000000, NULL, 0,
     "Records held in memory: in flight, queued, waiting for a retry or "
     "held by an outage.  At this many, Kafka partitions are paused until "
     "half have finished; the backlog waits in Kafka.  At least "
     "webhook.max_in_flight."},
    {"webhook.max_response_bytes", BR_T_SIZE,
     BR_OFF(webhook.max_response_bytes), "64K", 1 * KIB, 16 * MIB, NULL, 0,
     "Response bodies are cut at this size (kept for classification and "
     "dead-letter headers)."},
    {"webhook.ca_file", BR_T_STRING, BR_OFF(webhook.ca_file), NULL, 0, 0, NULL,
     0,
     "PEM file of the certificate authorities trusted for https:// webhook "
     "URLs (a private CA); unset: the system's."},
    {"webhook.tls_verify", BR_T_BOOL, BR_OFF(webhook.tls_verify), "true", 0, 0,
     NULL, 0,
     "Verify the webhook's TLS certificate and host name.  false is for "
     "tests only: anyone on the path could read the API key."},

    {"routes", BR_T_ROUTES, BR_OFF_N(routes, route_cnt), NULL, 1, 10000, NULL,
     BR_O_REQUIRED,
     "Where each bucket's events go: a list of maps with the keys below. "
     "The first route whose bucket, prefix and suffix match an event wins; "
     "an event no route matches is dead-lettered."},
    {"events", BR_T_KINDS, BR_OFF(events), "created", 1, 0, NULL, 0,
     "Event kinds forwarded to MDSS (others are skipped and committed). "
     "MDSS scans content, so only `created` is useful by default."},

    {"limits.max_message_bytes", BR_T_SIZE, BR_OFF(limits.max_message_bytes),
     "1M", 1 * KIB, 64 * MIB, NULL, 0,
     "Larger Kafka messages are dead-lettered unread."},
    {"limits.max_depth", BR_T_INT, BR_OFF(limits.max_depth), "32", 4, 512, NULL,
     0, "Deepest JSON nesting accepted in a message."},
    {"limits.max_records", BR_T_INT, BR_OFF(limits.max_records), "1000", 1,
     100000, NULL, 0, "Most records accepted in one message."},
    {"limits.max_key_bytes", BR_T_INT, BR_OFF(limits.max_key_bytes), "1024", 1,
     65536, NULL, 0,
     "Longest decoded object key accepted (S3 allows 1024 bytes)."},

    {"retry.initial_backoff", BR_T_DURATION, BR_OFF(retry.initial_backoff_ms),
     "100ms", 1, 10 * MIN, NULL, 0,
     "Base of the exponential backoff (full jitter) between attempts; at "
     "most retry.max_backoff."},
    {"retry.max_backoff", BR_T_DURATION, BR_OFF(retry.max_backoff_ms), "30s", 1,
     1 * DAY, NULL, 0,
     "Cap of the backoff, and the probe interval of a storage unit on hold "
     "after an outage answer."},
    {"retry.max_attempts", BR_T_INT, BR_OFF(retry.max_attempts), "0", 0,
     1000000, NULL, 0,
     "Attempts per record before it is dead-lettered; 0 = unlimited."},
    {"retry.max_age", BR_T_DURATION, BR_OFF(retry.max_age_ms), "0s", 0,
     30 * DAY, NULL, 0,
     "Time since the first attempt after which a record is dead-lettered; "
     "0 = forever."},
    {"retry.max_retry_after", BR_T_DURATION, BR_OFF(retry.max_retry_after_ms),
     "5m", 0, 1 * DAY, NULL, 0,
     "Longest server `Retry-After` honoured (it may exceed "
     "retry.max_backoff)."},
    {"retry.circuit_failures", BR_T_INT, BR_OFF(retry.circuit_failures), "5", 1,
     1000, NULL, 0,
     "Consecutive failures of one endpoint that open its circuit."},

    {"dead_letter.topic", BR_T_STRING, BR_OFF(dead_letter.topic), NULL, 0, 0,
     NULL, 0,
     "Kafka topic receiving rejected records (original key and value, "
     "reasons in headers)."},
    {"dead_letter.file", BR_T_STRING, BR_OFF(dead_letter.file), NULL, 0, 0,
     NULL, 0, "File receiving rejected records, one JSON line each, fsynced."},
    {"dead_letter.none", BR_T_BOOL, BR_OFF(dead_letter.none), "false", 0, 0,
     NULL, 0,
     "Set to true to run without a dead-letter sink: rejected records are "
     "only logged, then committed."},

    {"shutdown.grace", BR_T_DURATION, BR_OFF(shutdown.grace_ms), "10s", 0,
     10 * MIN, NULL, 0,
     "On SIGTERM, time allowed for in-flight deliveries before offsets are "
     "stored and the consumer closes."},

    {"log.level", BR_T_ENUM, BR_OFF(log.level), "info", 0, 0, log_levels, 0,
     "Least severe level written to stderr."},
    {NULL, BR_T_STRING, 0, 0, NULL, 0, 0, NULL, 0, NULL},
};

const struct br_conf_opt br_conf_route_opts[] = {
    /* name, type, offset, default, min, max, enum, flags, doc */
    {"bucket", BR_T_STRING, BR_ROUTE_OFF(bucket), NULL, 0, 0, NULL,
     BR_O_REQUIRED,
     "Bucket name, or an fnmatch(3) glob such as `uploads-*` (`/` is not "
     "special)."},
    {"prefix", BR_T_STRING, BR_ROUTE_OFF(prefix), NULL, 0, 0, NULL, 0,
     "Only object keys starting with this (decoded key)."},
    {"suffix", BR_T_STRING, BR_ROUTE_OFF(suffix), NULL, 0, 0, NULL, 0,
     "Only object keys ending with this."},
    {"storage_client_id", BR_T_STRING, BR_ROUTE_OFF(storage_client_id), NULL, 0,
     0, NULL, BR_O_REQUIRED,
     "MDSS storage unit id, sent as `storageClientId`."},
    {"format", BR_T_ENUM, BR_ROUTE_OFF(format), "auto", 0, 0, formats, 0,
     "Shape of `metadata`: `s3`, `alibaba` (OSS storage units), `generic`, "
     "or `auto` (alibaba for OSS events, s3 for the rest)."},
    {"scan_id", BR_T_STRING, BR_ROUTE_OFF(scan_id), NULL, 0, 0, NULL, 0,
     "Sent as `scanId` when set."},
    {"webhook_url", BR_T_STRING, BR_ROUTE_OFF(webhook_url), NULL, 0, 0, NULL,
     BR_O_URL, "Endpoint for this route instead of webhook.url."},
    {"api_key", BR_T_STRING, BR_ROUTE_OFF(api_key), NULL, 0, 0, NULL,
     BR_O_SECRET, "ApiKey for this route instead of webhook.api_key."},
    {"events", BR_T_KINDS, BR_ROUTE_OFF(events), NULL, 1, 0, NULL, 0,
     "Event kinds forwarded for this route instead of the top-level "
     "events."},
    {NULL, BR_T_STRING, 0, 0, NULL, 0, 0, NULL, 0, NULL},
};
