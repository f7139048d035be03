/* Helpers for integration tests that run the bridge's loop in process:
 * start a ctx from a YAML string, step its loop until a condition holds
 * (never sleeping: every wait has a deadline only to catch hangs), stop
 * it, and read back what reached the dead-letter sinks and the receiver.
 *
 * Errors are reported on stderr with a "bridge-it:" prefix; every caller
 * is a test that only needs to fail. */
#ifndef BR_LIB_BRIDGE_H
#define BR_LIB_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "bridge/ctx.h"
#include "bridge/receiver.h"
#include "tests/integration/lib_harness.h"

/* ------------------------------------------------------------------ */
/* A bridge run                                                        */

struct br_b_run {
        struct br_conf *conf;
        struct br_ctx *ctx;
        size_t finished; /* messages finished: delivered or dead-lettered */
};

/* Loads yaml (origin "<it>") and makes a ctx whose finished messages are
 * counted in r->finished.  0, or -1 with the reason on stderr (r is then
 * empty). */
int br_b_start(struct br_b_run *r, const char *yaml);
/* One turn of the loop, waiting at most 20 ms: a step for br_h_wait. */
void br_b_step(void *run);
/* Steps the loop until cond(arg) holds (0) or timeout_ms passes (-1). */
int br_b_wait(struct br_b_run *r, int (*cond)(void *), void *arg,
              int timeout_ms);
/* Steps the loop until at least n messages finished.  0/-1. */
int br_b_wait_finished(struct br_b_run *r, size_t n, int timeout_ms);
/* Steps the loop for ms milliseconds: an observation window in which the
 * bridge keeps working (not a sleep: nothing is waited for). */
void br_b_run_for(struct br_b_run *r, int ms);
/* Graceful stop (what SIGTERM does), stepping until the loop is done or
 * timeout_ms passes, then destroys the ctx (which stores and commits) and
 * the conf.  Returns the ctx's exit code, or -1 when the loop did not
 * finish in time (the ctx is destroyed anyway).  NULL-safe on an empty
 * run. */
int br_b_stop(struct br_b_run *r, int timeout_ms);
/* Destroys whatever r holds without a graceful stop (teardown after a
 * failed test).  NULL-safe, idempotent. */
void br_b_destroy(struct br_b_run *r);

/* ------------------------------------------------------------------ */
/* Producing                                                           */

/* Produces one message to partition 0 of topic and flushes.  key and
 * value may be NULL.  0/-1. */
int br_b_produce(struct br_h_cluster *c, const char *topic, const char *key,
                 const void *value, size_t len);
/* One MinIO s3:ObjectCreated:Put of bucket/raw_key to partition 0, key
 * "<bucket>/<raw_key>", flushed.  0/-1. */
int br_b_produce_minio(struct br_h_cluster *c, const char *topic,
                       const char *bucket, const char *raw_key);

/* ------------------------------------------------------------------ */
/* Offsets                                                             */

/* 1 when the group's committed offsets equal the end offsets on every
 * partition of topic, else 0 (differences are printed). */
int br_b_committed_is_end(struct br_h_cluster *c, const char *group,
                          const char *topic, int partitions);

/* ------------------------------------------------------------------ */
/* The receiver's requests                                             */

/* Copies the recorded requests whose storageClientId is sc_id (NULL: all)
 * into a malloc'd array sorted by arrival_us; *cnt gets their number.
 * Free with br_b_requests_free.  NULL on error (or when *cnt is 0, which
 * is not an error). */
struct br_received *br_b_requests(struct br_receiver *recv, const char *sc_id,
                                  size_t *cnt);
void br_b_requests_free(struct br_received *reqs, size_t cnt);
/* Most requests in progress at once at the receiver, taking request i
 * as open from its arrival until decided + hold_us (the time the
 * receiver is known to have held it, e.g. a rule's delay). */
size_t br_b_max_concurrent(const struct br_received *reqs, size_t cnt,
                           int64_t hold_us);

/* ------------------------------------------------------------------ */
/* Dead-letter sinks                                                   */

struct br_b_header {
        char *name;
        char *value; /* NUL-terminated copy, NULL for a null header */
        size_t len;
};

/* One message of a dead-letter topic; byte copies are NUL-terminated. */
struct br_b_dlq_msg {
        char *key; /* NULL when keyless */
        size_t key_len;
        char *value; /* NULL when empty */
        size_t value_len;
        struct br_b_header *headers;
        size_t header_cnt;
};

/* Reads every message of a one-partition dead-letter topic into a
 * malloc'd array; *cnt gets their number.  0/-1. */
int br_b_dlq_topic(struct br_h_cluster *c, const char *topic,
                   struct br_b_dlq_msg **out, size_t *cnt);
void br_b_dlq_msgs_free(struct br_b_dlq_msg *msgs, size_t cnt);
/* Value of the header called name, NULL when absent. */
const char *br_b_dlq_header(const struct br_b_dlq_msg *m, const char *name);
/* How many headers are called name. */
size_t br_b_dlq_header_count(const struct br_b_dlq_msg *m, const char *name);

/* The dead-letter file's lines, each parsed, as one JSON array (empty
 * when the file is missing or empty).  NULL when a line is not a JSON
 * object.  Caller puts it. */
struct json_object *br_b_dlq_file(const char *path);
/* A string member of a JSON object, NULL when absent or not a string. */
const char *br_b_json_str(struct json_object *obj, const char *name);
/* An integer member, or def when absent or not an integer. */
int64_t br_b_json_int(struct json_object *obj, const char *name, int64_t def);

/* Parses "YYYY-MM-DDTHH:MM:SS.mmmZ" into wall-clock microseconds; -1
 * when text is not in that form. */
int64_t br_b_rfc3339_us(const char *text);

#endif
