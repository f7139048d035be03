/* Helpers every integration test uses: a librdkafka mock cluster on real
 * TCP, a producer of real-shaped MinIO events, committed and end offsets
 * read from outside the bridge, polling with a deadline, semantic body
 * comparison, temporary files and a child-process runner.
 *
 * Mock cluster limits (shared/bench/README.md): at most 5 MiB per
 * partition, a new group waits ~3 s for its first assignment, a restarted
 * member waits session.timeout.ms (use 6000 in tests), listeners on
 * 127.0.0.1 only.
 *
 * Errors are reported on stderr with a "harness:" prefix, since every
 * caller is a test that only needs to fail. */
#ifndef BR_LIB_HARNESS_H
#define BR_LIB_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>
/* rdkafka_mock.h relies on rdkafka.h being included first */
#include <librdkafka/rdkafka_mock.h>

/* Session timeout the harness's consumers use, and tests should give the
 * bridge: a restarted member waits this long on the mock cluster. */
#define BR_H_SESSION_TIMEOUT_MS 6000
/* The mock cluster's fixed wait before a new group's first assignment,
 * plus margin: a floor for deadlines that include a group join. */
#define BR_H_JOIN_MS 10000

/* ------------------------------------------------------------------ */
/* Mock cluster and producer                                           */

struct br_h_cluster;

/* A mock cluster of `brokers` brokers; when topic is non-NULL, that topic
 * is created with `partitions` partitions (replication min(brokers, 3)).
 * NULL on failure. */
struct br_h_cluster *br_h_cluster_new(int brokers, const char *topic,
                                      int partitions);
/* Purges unsent messages, closes the harness's clients, stops the
 * cluster.  NULL-safe. */
void br_h_cluster_destroy(struct br_h_cluster *c);
/* "127.0.0.1:PORT[,...]", owned by the cluster. */
const char *br_h_bootstraps(const struct br_h_cluster *c);
/* For rd_kafka_mock_broker_set_down/up, push_request_errors, ... */
rd_kafka_mock_cluster_t *br_h_mock(struct br_h_cluster *c);
/* Creates another topic.  0/-1. */
int br_h_topic_create(struct br_h_cluster *c, const char *topic,
                      int partitions);

/* Sets a property of the harness's producer (e.g. compression.codec=gzip
 * to fit more than ~4000 MinIO events per partition).  Only before the
 * first br_h_produce*; -1 after it or when librdkafka rejects it. */
int br_h_producer_set(struct br_h_cluster *c, const char *name,
                      const char *value);
/* Enqueues one message (copied).  partition -1 = chosen from the key by
 * librdkafka's partitioner (random when keyless).  key may be NULL.
 * Waits for queue room if needed.  0/-1.  Call br_h_flush to deliver. */
int br_h_produce(struct br_h_cluster *c, const char *topic, int partition,
                 const void *key, size_t keylen, const void *value, size_t len);
/* Waits until every enqueued message has a delivery report.  0 when all
 * were delivered, -1 on timeout or if any delivery failed since the last
 * flush. */
int br_h_flush(struct br_h_cluster *c, int timeout_ms);
/* Messages delivered successfully so far. */
size_t br_h_produced(const struct br_h_cluster *c);

/* One MinIO event as MinIO's Kafka target sends it: value from
 * br_h_minio_event, key "<bucket>/<raw_key>".  event_name NULL means
 * s3:ObjectCreated:Put.  Not flushed. */
int br_h_produce_minio(struct br_h_cluster *c, const char *topic,
                       const char *bucket, const char *raw_key,
                       const char *event_name);
/* n s3:ObjectCreated:Put events for objects br_h_event_key(prefix, i),
 * i = 0..n-1, partitioned by key, then flushed within timeout_ms.  0/-1. */
int br_h_produce_minio_n(struct br_h_cluster *c, const char *topic,
                         const char *bucket, const char *prefix, int n,
                         int timeout_ms);
/* The raw object name of generated event i: "<prefix>doc NNNNNN+ü.pdf"
 * (a space, a plus and a two-byte UTF-8 letter, so every test goes
 * through MinIO's key escaping).  Truncated to size. */
void br_h_event_key(char *buf, size_t size, const char *prefix, int i);

/* ------------------------------------------------------------------ */
/* MinIO payloads                                                      */

/* A MinIO notification value exactly shaped like FORMATS.md 1.1:
 * {"EventName","Key","Records":[one record]} with Records[0].s3.object.key
 * escaped by br_h_query_escape.  ObjectRemoved events carry only key and
 * sequencer in the object member, as MinIO's do.  json-c does not escape
 * <, >, & as Go does; the JSON value is the same.  Returns a malloc'd
 * NUL-terminated string and its length in *len (len may be NULL); NULL
 * when memory runs out. */
char *br_h_minio_event(const char *bucket, const char *raw_key,
                       const char *event_name, size_t *len);
/* Go's url.QueryEscape: A-Z a-z 0-9 - _ . ~ kept, space -> +, every other
 * byte (including '/') -> %XX upper-case.  malloc'd, NULL on OOM. */
char *br_h_query_escape(const char *raw);

/* ------------------------------------------------------------------ */
/* Offsets and reading back                                            */

/* Committed offsets of group for partitions 0..partitions-1 of topic,
 * read by a consumer that never joins the group.  Partitions without a
 * commit read RD_KAFKA_OFFSET_INVALID (-1001).  0/-1. */
int br_h_committed(struct br_h_cluster *c, const char *group, const char *topic,
                   int partitions, int64_t *offsets_out, int timeout_ms);
/* High watermarks (next offset to be written) per partition.  0/-1. */
int br_h_end_offsets(struct br_h_cluster *c, const char *topic, int partitions,
                     int64_t *offsets_out, int timeout_ms);
/* Sum of the real offsets, logical ones (< 0) counting as 0. */
int64_t br_h_offsets_sum(const int64_t *offsets, int partitions);
/* Sum of the group's committed offsets, -1 when they cannot be read. */
int64_t br_h_committed_sum(struct br_h_cluster *c, const char *group,
                           const char *topic, int partitions, int timeout_ms);

/* Called per message by br_h_read_topic; non-zero stops the read. */
typedef int (*br_h_msg_cb)(const rd_kafka_message_t *msg, void *arg);
/* Reads every message of topic that exists when called (from the start of
 * each partition to its current end), without a group, so no join wait.
 * Returns the number read, or -1 on error or timeout. */
int br_h_read_topic(struct br_h_cluster *c, const char *topic, int partitions,
                    int timeout_ms, br_h_msg_cb cb, void *arg);
/* A consumer for this cluster (group.id = group, earliest offsets, no
 * auto commit, session.timeout.ms = BR_H_SESSION_TIMEOUT_MS).  Caller
 * closes and destroys it.  NULL on failure. */
rd_kafka_t *br_h_consumer_new(struct br_h_cluster *c, const char *group);

/* ------------------------------------------------------------------ */
/* Waiting without sleeping                                            */

/* Checks cond(arg) until it returns non-zero (0) or timeout_ms passes
 * (-1).  Between checks it calls step(step_arg), which should do one unit
 * of work that may block briefly (one br_loop_run_once(), or
 * br_h_step_receiver); with no step it pauses 5 ms.  cond is checked once
 * more after the last step, so work done at the deadline still counts. */
int br_h_wait(int (*cond)(void *), void *arg, int timeout_ms,
              void (*step)(void *), void *step_arg);
/* A step for br_h_wait: blocks until the struct br_receiver * in arg sees
 * one more request, at most 20 ms. */
void br_h_step_receiver(void *receiver);

/* ------------------------------------------------------------------ */
/* MDSS bodies                                                         */

/* 1 when a and b are the same JSON value, member order ignored, with a
 * "metadata" string member compared as the JSON it contains; 0 otherwise
 * (also when either does not parse). */
int br_h_body_equal(const char *a, const char *b);

/* ------------------------------------------------------------------ */
/* Files                                                               */

/* mkdtemp("/tmp/bbtest.XXXXXX") into buf.  0/-1. */
int br_h_tmpdir(char *buf, size_t size);
/* Removes a tree made by br_h_tmpdir; refuses paths outside /tmp/.
 * NULL-safe.  0/-1. */
int br_h_rmtree(const char *path);
/* "<dir>/<name>" into buf; -1 if it does not fit. */
int br_h_path(char *buf, size_t size, const char *dir, const char *name);
/* Writes (creates or truncates) a whole file.  0/-1. */
int br_h_write_file(const char *path, const void *data, size_t len);
/* Reads a whole file, NUL-terminated; NULL on error.  len may be NULL. */
char *br_h_read_file(const char *path, size_t *len);
/* 1 when the file exists and contains needle. */
int br_h_file_contains(const char *path, const char *needle);

/* ------------------------------------------------------------------ */
/* Child processes                                                     */

struct br_h_proc {
        pid_t pid;  /* 0: none */
        int pidfd;  /* readable when the child exits; -1 if unsupported */
        int status; /* waitpid status once reaped */
        int reaped;
};

/* Starts argv[0] (a path) with argv, stdin from /dev/null and stdout and
 * stderr appended to out_path (NULL: inherited).  Signals are reset to
 * default and unblocked in the child, and it is killed if the test dies.
 * 0/-1. */
int br_h_spawn(struct br_h_proc *p, char *const argv[], const char *out_path);
/* The daemon binary: $BR_BIN (set by tests/run-tests.sh), else
 * $BUILD/bucketbridge, else build/bucketbridge (relative to the repository
 * root, where make test runs). */
const char *br_h_bridge_path(char *buf, size_t size);
/* br_h_spawn of `<bridge> run -c config_path`. */
int br_h_spawn_bridge(struct br_h_proc *p, const char *config_path,
                      const char *out_path);
/* kill(pid, sig) while the child is not reaped.  0/-1. */
int br_h_proc_signal(struct br_h_proc *p, int sig);
/* Waits for the child to exit, at most timeout_ms (blocking on its
 * pidfd).  0 once reaped, -1 on timeout. */
int br_h_proc_wait(struct br_h_proc *p, int timeout_ms);
/* Exit code once reaped; 128 + signal if killed; -1 before. */
int br_h_proc_exit_code(const struct br_h_proc *p);
/* SIGKILL and reap if still running, then release.  NULL-safe. */
void br_h_proc_kill(struct br_h_proc *p);

#endif
