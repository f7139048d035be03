/* Dead-letter sinks: a Kafka topic (own idempotent producer) and/or a file
 * of JSON lines (fsynced).  One interface: submit an entry, get exactly one
 * completion per accepted entry through br_dlq_serve(), ok only when every
 * configured sink has it durably.  No struct br_ctx: what it needs comes
 * in as parameters, so it tests alone. */
#ifndef BR_DLQ_H
#define BR_DLQ_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "bridge/conf.h"
#include "bridge/event.h"

/* The response body kept in a dead-letter entry. */
#define BR_DLQ_MAX_RESPONSE 4096

/* Header names on the dead-letter topic.  The file sink's JSON members are
 * the same names without the "bucketbridge." prefix. */
#define BR_DLQ_H_REASON        "bucketbridge.reason"
#define BR_DLQ_H_CLASS         "bucketbridge.class"
#define BR_DLQ_H_TOPIC         "bucketbridge.topic"
#define BR_DLQ_H_PARTITION     "bucketbridge.partition"
#define BR_DLQ_H_OFFSET        "bucketbridge.offset"
#define BR_DLQ_H_RECORD        "bucketbridge.record"
#define BR_DLQ_H_HTTP_STATUS   "bucketbridge.http_status"
#define BR_DLQ_H_RESPONSE      "bucketbridge.response"
#define BR_DLQ_H_REQUEST       "bucketbridge.request"
#define BR_DLQ_H_ATTEMPTS      "bucketbridge.attempts"
#define BR_DLQ_H_FIRST_ATTEMPT "bucketbridge.first_attempt"
#define BR_DLQ_H_LAST_ATTEMPT  "bucketbridge.last_attempt"

struct br_dlq_entry {    /* everything borrowed for the duration of submit */
        const void *key; /* original Kafka message key, may be NULL */
        size_t key_len;
        const void *value; /* original value, as is (NULL when empty) */
        size_t value_len;
        const char *reason; /* NUL-terminated, may be NULL */
        enum br_dlq_class cls;
        const char *topic; /* original topic */
        int32_t partition;
        int64_t offset;
        int record;           /* -1 for the whole message */
        long http_status;     /* 0 when none */
        const char *response; /* truncated to BR_DLQ_MAX_RESPONSE here */
        size_t response_len;
        const char *request; /* body POSTed, NULL when none */
        size_t request_len;
        int attempts;                  /* 0 = never sent */
        int64_t first_attempt_wall_us; /* 0 = none */
        int64_t last_attempt_wall_us;  /* 0 = none */
};

/* Called once per accepted entry from br_dlq_serve(): ok = 1 when every
 * configured sink has it, else 0 with err (the caller decides to retry;
 * a retried entry may then appear twice in the sink that had taken it). */
typedef void(br_dlq_done_cb)(void *cb_opaque, void *entry_opaque, int ok,
                             const char *err);

/* Opens the sinks configured in conf->dead_letter (topic and/or file; none
 * is allowed: entries then complete at once with ok = 1).  The producer
 * takes kafka.properties (consumer-only ones skipped), bootstrap from
 * brokers_override when non-NULL (the embedded cluster) else
 * conf->kafka.brokers, enable.idempotence=true and acks=all.  Its logs go
 * to stderr at conf->log.level, through br_log, from br_dlq_serve().
 * Configured api keys are remembered only to blank them ("***") out of
 * reasons, responses and requests.  NULL with errstr on failure. */
struct br_dlq *br_dlq_new(const struct br_conf *conf,
                          const char *brokers_override, char *errstr,
                          size_t errstr_size);
/* Flushes (bounded by shutdown.grace, at most 30 s), then frees.  Entries
 * still open are dropped without a completion.  NULL-safe. */
void br_dlq_destroy(struct br_dlq *dlq);

/* Queues an entry; opaque comes back in its completion.  Returns 0 (one
 * completion will follow), or -1 with errstr when nothing was queued
 * (producer queue full, fatal error, out of memory, message too large):
 * then no completion follows. */
int br_dlq_submit(struct br_dlq *dlq, const struct br_dlq_entry *e,
                  void *opaque, char *errstr, size_t errstr_size);

/* Serves delivery reports, producer logs and errors, fsyncs the file once
 * for every line written since the last call, then calls done for each
 * finished entry.  Never blocks on Kafka (the fsync is the only wait).
 * Entries finished while done runs (done may submit again) are reported
 * by the next call; the fd is readable again by then.  Returns the number
 * of completions made. */
int br_dlq_serve(struct br_dlq *dlq, br_dlq_done_cb *done, void *cb_opaque);

/* Readable when br_dlq_serve() has work: producer events or finished
 * entries.  For curl_multi_poll's extra fds; serve drains it.  Always a
 * valid fd for a live dlq. */
int br_dlq_fd(const struct br_dlq *dlq);

/* Waits up to timeout_ms for every queued entry to reach its sinks (the
 * completions come from the next br_dlq_serve()).  0 when nothing is
 * left outstanding, -1 on timeout. */
int br_dlq_flush(struct br_dlq *dlq, int timeout_ms);

/* 1 once the producer reported ERR__FATAL: the caller stops; submit fails
 * from then on. */
int br_dlq_fatal(const struct br_dlq *dlq);

/* Called by br_dlq_destroy() for each entry still open (no completion
 * will come), so the owner can free what the entry stood for. */
void br_dlq_set_abandon(struct br_dlq *dlq,
                        void (*abandon)(void *cb_opaque, void *entry_opaque),
                        void *cb_opaque);

/* Entries accepted and not yet reported through done. */
size_t br_dlq_pending(const struct br_dlq *dlq);

/* The dead-letter producer, NULL without a topic sink (tests, stats). */
rd_kafka_t *br_dlq_producer(struct br_dlq *dlq);

#endif
