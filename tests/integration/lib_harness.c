/* Integration-test helpers; see lib_harness.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bridge/receiver.h"
#include "bridge/util.h"
#include "tests/integration/lib_harness.h"

struct br_h_cluster {
        rd_kafka_t *mock_rk; /* owns the mock cluster's bookkeeping */
        rd_kafka_mock_cluster_t *mcluster;
        int brokers;
        char *bootstraps;

        rd_kafka_conf_t *pconf; /* until the producer exists */
        rd_kafka_t *producer;   /* made on first produce, then kept */
        size_t delivered;
        size_t failed; /* since the last flush */
        rd_kafka_resp_err_t last_err;

        rd_kafka_t *checker; /* reads committed offsets for checker_group */
        char *checker_group;
};

static void complain(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void complain(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        fputs("harness: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

/* librdkafka chatter (connection refused while a broker is down, ...) is
 * expected in these tests; BR_H_VERBOSE=1 shows it. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
        (void)level;
        if (getenv("BR_H_VERBOSE"))
                fprintf(stderr, "harness: %s: %s: %s\n", rd_kafka_name(rk), fac,
                        buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        (void)opaque;
        if (getenv("BR_H_VERBOSE") || err == RD_KAFKA_RESP_ERR__FATAL)
                fprintf(stderr, "harness: %s: %s: %s\n", rd_kafka_name(rk),
                        rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name,
                    const char *value) {
        char errstr[256];

        if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
                complain("%s=%s: %s", name, value, errstr);
                return -1;
        }
        return 0;
}

static rd_kafka_conf_t *quiet_conf(void) {
        rd_kafka_conf_t *conf = rd_kafka_conf_new();

        rd_kafka_conf_set_log_cb(conf, on_log);
        rd_kafka_conf_set_error_cb(conf, on_error);
        return conf;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
        struct br_h_cluster *c = opaque;

        (void)rk;
        if (m->err) {
                c->failed++;
                c->last_err = m->err;
        } else {
                c->delivered++;
        }
}

struct br_h_cluster *br_h_cluster_new(int brokers, const char *topic,
                                      int partitions) {
        struct br_h_cluster *c = calloc(1, sizeof(*c));
        rd_kafka_conf_t *conf  = NULL;
        char errstr[256];

        if (!c)
                return NULL;
        c->brokers = brokers;
        /* the mock cluster needs a handle for bookkeeping only */
        conf = quiet_conf();
        if (conf_set(conf, "client.id", "harness-mock") == -1)
                goto fail;
        c->mock_rk =
            rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!c->mock_rk) {
                complain("rd_kafka_new: %s", errstr);
                goto fail;
        }
        conf        = NULL; /* the handle took it */
        c->mcluster = rd_kafka_mock_cluster_new(c->mock_rk, brokers);
        if (!c->mcluster) {
                complain("rd_kafka_mock_cluster_new failed");
                goto fail;
        }
        c->bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(c->mcluster));
        if (!c->bootstraps)
                goto fail;
        if (topic && br_h_topic_create(c, topic, partitions) == -1)
                goto fail;

        c->pconf = quiet_conf();
        rd_kafka_conf_set_opaque(c->pconf, c);
        rd_kafka_conf_set_dr_msg_cb(c->pconf, on_delivery);
        if (conf_set(c->pconf, "bootstrap.servers", c->bootstraps) ||
            conf_set(c->pconf, "client.id", "harness-producer") ||
            conf_set(c->pconf, "linger.ms", "5") ||
            conf_set(c->pconf, "message.timeout.ms", "30000"))
                goto fail;
        return c;
fail:
        rd_kafka_conf_destroy(conf);
        br_h_cluster_destroy(c);
        return NULL;
}

static void checker_close(struct br_h_cluster *c) {
        if (c->checker) {
                rd_kafka_consumer_close(c->checker);
                rd_kafka_destroy(c->checker);
        }
        c->checker = NULL;
        free(c->checker_group);
        c->checker_group = NULL;
}

void br_h_cluster_destroy(struct br_h_cluster *c) {
        if (!c)
                return;
        checker_close(c);
        if (c->producer) {
                /* a test that failed half-way leaves messages behind;
                 * do not let them hold up the teardown */
                rd_kafka_purge(c->producer, RD_KAFKA_PURGE_F_QUEUE |
                                                RD_KAFKA_PURGE_F_INFLIGHT);
                rd_kafka_poll(c->producer, 0);
                rd_kafka_destroy(c->producer);
        }
        if (c->pconf)
                rd_kafka_conf_destroy(c->pconf);
        if (c->mcluster)
                rd_kafka_mock_cluster_destroy(c->mcluster);
        if (c->mock_rk)
                rd_kafka_destroy(c->mock_rk);
        free(c->bootstraps);
        free(c);
}

const char *br_h_bootstraps(const struct br_h_cluster *c) {
        return c->bootstraps;
}

rd_kafka_mock_cluster_t *br_h_mock(struct br_h_cluster *c) {
        return c->mcluster;
}

int br_h_topic_create(struct br_h_cluster *c, const char *topic,
                      int partitions) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
            c->mcluster, topic, partitions, c->brokers < 3 ? c->brokers : 3);

        if (err) {
                complain("create topic %s: %s", topic, rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

int br_h_producer_set(struct br_h_cluster *c, const char *name,
                      const char *value) {
        if (!c->pconf) {
                complain("producer property %s set after the first produce",
                         name);
                return -1;
        }
        return conf_set(c->pconf, name, value);
}

static int producer_start(struct br_h_cluster *c) {
        char errstr[256];

        if (c->producer)
                return 0;
        c->producer =
            rd_kafka_new(RD_KAFKA_PRODUCER, c->pconf, errstr, sizeof(errstr));
        if (!c->producer) {
                complain("producer: %s", errstr);
                return -1;
        }
        c->pconf = NULL; /* the handle took it */
        return 0;
}

int br_h_produce(struct br_h_cluster *c, const char *topic, int partition,
                 const void *key, size_t keylen, const void *value,
                 size_t len) {
        int64_t until = br_now_us() + 30 * 1000000LL;
        rd_kafka_resp_err_t err;

        if (producer_start(c) == -1)
                return -1;
        for (;;) {
                err = rd_kafka_producev(
                    c->producer, RD_KAFKA_V_TOPIC(topic),
                    RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA
                                                       : partition),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_KEY(key, key ? keylen : 0),
                    RD_KAFKA_V_VALUE((void *)(uintptr_t)value, len),
                    RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL ||
                    br_now_us() >= until)
                        break;
                /* delivery reports make room; this blocks until one */
                rd_kafka_poll(c->producer, 100);
        }
        if (err) {
                complain("produce to %s: %s", topic, rd_kafka_err2str(err));
                return -1;
        }
        rd_kafka_poll(c->producer, 0);
        return 0;
}

int br_h_flush(struct br_h_cluster *c, int timeout_ms) {
        rd_kafka_resp_err_t err;
        size_t failed;

        if (!c->producer)
                return 0;
        err       = rd_kafka_flush(c->producer, timeout_ms);
        failed    = c->failed;
        c->failed = 0;
        if (err) {
                complain("flush: %s (%d messages left)", rd_kafka_err2str(err),
                         rd_kafka_outq_len(c->producer));
                return -1;
        }
        if (failed) {
                complain("flush: %zu messages failed, last: %s", failed,
                         rd_kafka_err2str(c->last_err));
                return -1;
        }
        return 0;
}

size_t br_h_produced(const struct br_h_cluster *c) {
        return c->delivered;
}

int br_h_produce_minio(struct br_h_cluster *c, const char *topic,
                       const char *bucket, const char *raw_key,
                       const char *event_name) {
        size_t len, klen = strlen(bucket) + 1 + strlen(raw_key);
        char *value = br_h_minio_event(bucket, raw_key, event_name, &len);
        char *key   = malloc(klen + 1);
        int ret     = -1;

        if (value && key) {
                snprintf(key, klen + 1, "%s/%s", bucket, raw_key);
                ret = br_h_produce(c, topic, -1, key, klen, value, len);
        }
        free(value);
        free(key);
        return ret;
}

void br_h_event_key(char *buf, size_t size, const char *prefix, int i) {
        snprintf(buf, size, "%sdoc %06d+\xc3\xbc.pdf", prefix ? prefix : "", i);
}

int br_h_produce_minio_n(struct br_h_cluster *c, const char *topic,
                         const char *bucket, const char *prefix, int n,
                         int timeout_ms) {
        char key[1100];
        int i;

        for (i = 0; i < n; i++) {
                br_h_event_key(key, sizeof(key), prefix, i);
                if (br_h_produce_minio(c, topic, bucket, key, NULL) == -1)
                        return -1;
        }
        return br_h_flush(c, timeout_ms);
}

/* ------------------------------------------------------------------ */

char *br_h_query_escape(const char *raw) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n                = strlen(raw);
        char *out               = malloc(n * 3 + 1);
        char *o                 = out;
        const unsigned char *p;

        if (!out)
                return NULL;
        for (p = (const unsigned char *)raw; *p; p++) {
                if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
                    *p == '.' || *p == '~') {
                        *o++ = (char)*p;
                } else if (*p == ' ') {
                        *o++ = '+';
                } else {
                        *o++ = '%';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 0xf];
                }
        }
        *o = '\0';
        return out;
}

/* Deterministic 32-hex "ETag" so the same object always looks the same. */
static void fake_etag(const char *s, char out[33]) {
        uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
        const unsigned char *p;

        for (p = (const unsigned char *)s; *p; p++) {
                h1 = (h1 ^ *p) * 0x100000001b3ULL;
                h2 = (h2 ^ *p) * 0x100000001b3ULL + 7;
        }
        snprintf(out, 33, "%016llx%016llx", (unsigned long long)h1,
                 (unsigned long long)h2);
}

/* Adds name -> v to obj; on failure drops v and returns -1, so a chain of
 * adds can be or-ed together. */
static int add(struct json_object *obj, const char *name,
               struct json_object *v) {
        if (!v)
                return -1;
        if (json_object_object_add(obj, name, v) != 0) {
                json_object_put(v);
                return -1;
        }
        return 0;
}

static int add_str(struct json_object *obj, const char *name, const char *s) {
        return add(obj, name, json_object_new_string(s));
}

static struct json_object *principal(void) {
        struct json_object *o = json_object_new_object();

        if (o && add_str(o, "principalId", "svc-uploader") == -1) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static struct json_object *minio_object(const char *bucket, const char *raw_key,
                                        int removed, int64_t wall_us) {
        struct json_object *obj = json_object_new_object();
        struct json_object *um  = json_object_new_object();
        char *escaped           = br_h_query_escape(raw_key);
        char full[2200], etag[33], seq[32];
        int bad = !obj || !um || !escaped;

        snprintf(full, sizeof(full), "%s/%s", bucket, raw_key);
        fake_etag(full, etag);
        /* MinIO: upper-case hex of the ModTime in nanoseconds */
        snprintf(seq, sizeof(seq), "%llX",
                 (unsigned long long)wall_us * 1000ULL);
        if (!bad)
                bad |= add_str(obj, "key", escaped);
        if (!bad && !removed) {
                bad |=
                    add(obj, "size",
                        json_object_new_int64(1024 + (int64_t)strlen(raw_key)));
                bad |= add_str(obj, "eTag", etag);
                bad |= add_str(obj, "contentType", "application/pdf");
                bad |= add_str(um, "content-type", "application/pdf");
                bad |= add(obj, "userMetadata", um);
                um = NULL;
        }
        if (!bad)
                bad |= add_str(obj, "sequencer", seq);
        json_object_put(um);
        free(escaped);
        if (bad) {
                json_object_put(obj);
                return NULL;
        }
        return obj;
}

static struct json_object *minio_record(const char *bucket, const char *raw_key,
                                        const char *event_name) {
        struct json_object *rec  = json_object_new_object();
        struct json_object *req  = json_object_new_object();
        struct json_object *resp = json_object_new_object();
        struct json_object *s3   = json_object_new_object();
        struct json_object *bkt  = json_object_new_object();
        struct json_object *src  = json_object_new_object();
        int64_t wall             = br_wallclock_us();
        char when[40], reqid[32], arn[300];
        int bad = !rec || !req || !resp || !s3 || !bkt || !src;

        br_rfc3339(wall, when, sizeof(when));
        snprintf(reqid, sizeof(reqid), "%016llX",
                 (unsigned long long)wall * 1000ULL);
        snprintf(arn, sizeof(arn), "arn:aws:s3:::%s", bucket);
        if (!bad) {
                bad |= add_str(req, "principalId", "svc-uploader");
                bad |= add_str(req, "region", "us-east-1");
                bad |= add_str(req, "sourceIPAddress", "127.0.0.1");
                bad |= add_str(resp, "x-amz-id-2",
                               "dd9025bab4ad464b049177c95eb6ebf374d3b3fd1a"
                               "f9251148b658df7ac2e3e8");
                bad |= add_str(resp, "x-amz-request-id", reqid);
                bad |= add_str(resp, "x-minio-deployment-id",
                               "8f2c6a0e-5d4b-4c3a-9e1f-7a6b5c4d3e2f");
                bad |= add_str(resp, "x-minio-origin-endpoint",
                               "http://127.0.0.1:9000");
                bad |= add_str(bkt, "name", bucket);
                bad |= add(bkt, "ownerIdentity", principal());
                bad |= add_str(bkt, "arn", arn);
                bad |= add_str(src, "host", "127.0.0.1");
                bad |= add_str(src, "port", "");
                bad |= add_str(src, "userAgent",
                               "MinIO (linux; amd64) minio-go/v7.0.80");
        }
        if (!bad) {
                bad |= add_str(s3, "s3SchemaVersion", "1.0");
                bad |= add_str(s3, "configurationId", "Config");
                bad |= add(s3, "bucket", bkt);
                bkt = NULL;
                bad |=
                    add(s3, "object",
                        minio_object(
                            bucket, raw_key,
                            strstr(event_name, "ObjectRemoved") != NULL, wall));
        }
        /* member order as MinIO's struct Event declares it */
        if (!bad) {
                bad |= add_str(rec, "eventVersion", "2.0");
                bad |= add_str(rec, "eventSource", "minio:s3");
                bad |= add_str(rec, "awsRegion", "us-east-1");
                bad |= add_str(rec, "eventTime", when);
                bad |= add_str(rec, "eventName", event_name);
                bad |= add(rec, "userIdentity", principal());
                bad |= add(rec, "requestParameters", req);
                req = NULL;
                bad |= add(rec, "responseElements", resp);
                resp = NULL;
                bad |= add(rec, "s3", s3);
                s3 = NULL;
                bad |= add(rec, "source", src);
                src = NULL;
        }
        json_object_put(req);
        json_object_put(resp);
        json_object_put(s3);
        json_object_put(bkt);
        json_object_put(src);
        if (bad) {
                json_object_put(rec);
                return NULL;
        }
        return rec;
}

char *br_h_minio_event(const char *bucket, const char *raw_key,
                       const char *event_name, size_t *len) {
        const char *ev = event_name ? event_name : "s3:ObjectCreated:Put";
        struct json_object *top = json_object_new_object();
        struct json_object *arr = json_object_new_array();
        size_t klen             = strlen(bucket) + 1 + strlen(raw_key);
        char *key               = malloc(klen + 1);
        char *out               = NULL;
        const char *text;
        size_t tlen;
        int bad = !top || !arr || !key;

        if (!bad) {
                struct json_object *rec = minio_record(bucket, raw_key, ev);

                snprintf(key, klen + 1, "%s/%s", bucket, raw_key);
                if (!rec || json_object_array_add(arr, rec) != 0) {
                        json_object_put(rec);
                        bad = 1;
                }
        }
        if (!bad) {
                bad |= add_str(top, "EventName", ev);
                bad |= add_str(top, "Key", key);
                bad |= add(top, "Records", arr);
                arr = NULL;
        }
        if (!bad) {
                /* compact, '/' not escaped: as Go's encoding/json */
                text = json_object_to_json_string_length(
                    top,
                    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
                    &tlen);
                out = text ? malloc(tlen + 1) : NULL;
                if (out) {
                        memcpy(out, text, tlen + 1);
                        if (len)
                                *len = tlen;
                }
        }
        json_object_put(arr);
        json_object_put(top);
        free(key);
        return out;
}

/* ------------------------------------------------------------------ */

rd_kafka_t *br_h_consumer_new(struct br_h_cluster *c, const char *group) {
        rd_kafka_conf_t *conf = quiet_conf();
        char errstr[256], timeout[16];
        rd_kafka_t *rk;

        snprintf(timeout, sizeof(timeout), "%d", BR_H_SESSION_TIMEOUT_MS);
        if (conf_set(conf, "bootstrap.servers", c->bootstraps) ||
            (group && conf_set(conf, "group.id", group)) ||
            conf_set(conf, "client.id", "harness-consumer") ||
            conf_set(conf, "auto.offset.reset", "earliest") ||
            conf_set(conf, "enable.auto.commit", "false") ||
            conf_set(conf, "session.timeout.ms", timeout) ||
            conf_set(conf, "fetch.wait.max.ms", "50")) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk) {
                complain("consumer: %s", errstr);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_poll_set_consumer(rk);
        return rk;
}

/* The checker is a consumer that never subscribes: rd_kafka_committed
 * asks the group coordinator without joining, so the bridge's group is
 * left alone.  One is kept per group to spare reconnects while polling. */
static rd_kafka_t *checker_for(struct br_h_cluster *c, const char *group) {
        if (c->checker && strcmp(c->checker_group, group) == 0)
                return c->checker;
        checker_close(c);
        c->checker_group = strdup(group);
        if (!c->checker_group)
                return NULL;
        c->checker = br_h_consumer_new(c, group);
        return c->checker;
}

int br_h_committed(struct br_h_cluster *c, const char *group, const char *topic,
                   int partitions, int64_t *offsets_out, int timeout_ms) {
        rd_kafka_t *rk = checker_for(c, group);
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t err;
        int i, ret = -1;

        if (!rk)
                return -1;
        list = rd_kafka_topic_partition_list_new(partitions);
        for (i = 0; i < partitions; i++)
                rd_kafka_topic_partition_list_add(list, topic, i);
        err = rd_kafka_committed(rk, list, timeout_ms);
        if (err) {
                complain("committed offsets of %s: %s", group,
                         rd_kafka_err2str(err));
                goto done;
        }
        for (i = 0; i < partitions; i++) {
                if (list->elems[i].err) {
                        complain("committed offset of %s [%d]: %s", topic, i,
                                 rd_kafka_err2str(list->elems[i].err));
                        goto done;
                }
                offsets_out[list->elems[i].partition] = list->elems[i].offset;
        }
        ret = 0;
done:
        rd_kafka_topic_partition_list_destroy(list);
        return ret;
}

int br_h_end_offsets(struct br_h_cluster *c, const char *topic, int partitions,
                     int64_t *offsets_out, int timeout_ms) {
        int64_t lo, hi;
        int i;

        if (producer_start(c) == -1)
                return -1;
        for (i = 0; i < partitions; i++) {
                rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
                    c->producer, topic, i, &lo, &hi, timeout_ms);

                if (err) {
                        complain("watermarks of %s [%d]: %s", topic, i,
                                 rd_kafka_err2str(err));
                        return -1;
                }
                offsets_out[i] = hi;
        }
        return 0;
}

int64_t br_h_offsets_sum(const int64_t *offsets, int partitions) {
        int64_t sum = 0;
        int i;

        for (i = 0; i < partitions; i++)
                if (offsets[i] > 0)
                        sum += offsets[i];
        return sum;
}

int64_t br_h_committed_sum(struct br_h_cluster *c, const char *group,
                           const char *topic, int partitions, int timeout_ms) {
        int64_t *offs = calloc((size_t)partitions, sizeof(*offs));
        int64_t sum   = -1;

        if (offs &&
            br_h_committed(c, group, topic, partitions, offs, timeout_ms) == 0)
                sum = br_h_offsets_sum(offs, partitions);
        free(offs);
        return sum;
}

int br_h_read_topic(struct br_h_cluster *c, const char *topic, int partitions,
                    int timeout_ms, br_h_msg_cb cb, void *arg) {
        int64_t until = br_now_us() + (int64_t)timeout_ms * 1000;
        int64_t *end  = calloc((size_t)partitions, sizeof(*end));
        int64_t *next = calloc((size_t)partitions, sizeof(*next));
        rd_kafka_topic_partition_list_t *list = NULL;
        rd_kafka_t *rk                        = NULL;
        rd_kafka_resp_err_t err;
        int i, done = 0, count = 0, ret = -1;

        if (!end || !next ||
            br_h_end_offsets(c, topic, partitions, end, timeout_ms) == -1)
                goto out;
        /* librdkafka 2.0.2 wants a group.id even to assign; it is never
         * joined, and nothing is committed */
        rk = br_h_consumer_new(c, "harness-reader");
        if (!rk)
                goto out;
        list = rd_kafka_topic_partition_list_new(partitions);
        for (i = 0; i < partitions; i++)
                rd_kafka_topic_partition_list_add(list, topic, i)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
        err = rd_kafka_assign(rk, list);
        if (err) {
                complain("assign %s: %s", topic, rd_kafka_err2str(err));
                goto out;
        }
        while (!done) {
                rd_kafka_message_t *m;
                int remaining = (int)((until - br_now_us()) / 1000);

                for (done = 1, i = 0; i < partitions; i++)
                        if (next[i] < end[i])
                                done = 0;
                if (done)
                        break;
                if (remaining <= 0) {
                        complain("reading %s: timed out after %d messages",
                                 topic, count);
                        goto out;
                }
                m = rd_kafka_consumer_poll(rk,
                                           remaining < 100 ? remaining : 100);
                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (m->err) {
                        complain("reading %s: %s", topic,
                                 rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        goto out;
                }
                if (m->partition >= 0 && m->partition < partitions &&
                    m->offset < end[m->partition]) {
                        next[m->partition] = m->offset + 1;
                        count++;
                        if (cb && cb(m, arg)) {
                                rd_kafka_message_destroy(m);
                                break;
                        }
                }
                rd_kafka_message_destroy(m);
        }
        ret = count;
out:
        if (list)
                rd_kafka_topic_partition_list_destroy(list);
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        free(end);
        free(next);
        return ret;
}

/* ------------------------------------------------------------------ */

/* The pause between checks when there is no step: a timed wait that
 * nothing signals, bounded and short. */
static void pause_ms(int ms) {
        pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        pthread_cond_t cv  = PTHREAD_COND_INITIALIZER;
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&mu);
        while (pthread_cond_timedwait(&cv, &mu, &ts) == 0)
                ;
        pthread_mutex_unlock(&mu);
        pthread_cond_destroy(&cv);
        pthread_mutex_destroy(&mu);
}

int br_h_wait(int (*cond)(void *), void *arg, int timeout_ms,
              void (*step)(void *), void *step_arg) {
        int64_t until = br_now_us() + (int64_t)timeout_ms * 1000;

        for (;;) {
                if (cond(arg))
                        return 0;
                if (br_now_us() >= until)
                        return -1;
                if (step)
                        step(step_arg);
                else
                        pause_ms(5);
        }
}

void br_h_step_receiver(void *receiver) {
        struct br_receiver *r = receiver;

        br_receiver_wait(r, br_receiver_count(r) + 1, 20);
}

/* ------------------------------------------------------------------ */

/* Parses a body and replaces a metadata string by the JSON it holds. */
static struct json_object *parse_normalised(const char *text) {
        struct json_object *root = json_tokener_parse(text);
        struct json_object *meta, *inner;

        if (root && json_object_is_type(root, json_type_object) &&
            json_object_object_get_ex(root, "metadata", &meta) &&
            json_object_is_type(meta, json_type_string)) {
                inner = json_tokener_parse(json_object_get_string(meta));
                /* add replaces (and releases) the string */
                if (inner &&
                    json_object_object_add(root, "metadata", inner) != 0)
                        json_object_put(inner);
        }
        return root;
}

int br_h_body_equal(const char *a, const char *b) {
        struct json_object *ja = parse_normalised(a);
        struct json_object *jb = parse_normalised(b);
        int eq                 = ja && jb && json_object_equal(ja, jb);

        json_object_put(ja);
        json_object_put(jb);
        return eq;
}

/* ------------------------------------------------------------------ */

int br_h_tmpdir(char *buf, size_t size) {
        if (snprintf(buf, size, "/tmp/bbtest.XXXXXX") >= (int)size)
                return -1;
        if (!mkdtemp(buf)) {
                complain("mkdtemp: %s", strerror(errno));
                return -1;
        }
        return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw) {
        (void)st;
        (void)flag;
        (void)ftw;
        if (remove(path) == -1)
                complain("remove %s: %s", path, strerror(errno));
        return 0;
}

int br_h_rmtree(const char *path) {
        if (!path)
                return 0;
        /* a guard against a bad path argument deleting real data */
        if (strncmp(path, "/tmp/", 5) != 0 || strstr(path, "..")) {
                complain("refusing to remove %s", path);
                return -1;
        }
        return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

int br_h_path(char *buf, size_t size, const char *dir, const char *name) {
        return snprintf(buf, size, "%s/%s", dir, name) < (int)size ? 0 : -1;
}

int br_h_write_file(const char *path, const void *data, size_t len) {
        FILE *f = fopen(path, "wb");
        int ok;

        if (!f) {
                complain("open %s: %s", path, strerror(errno));
                return -1;
        }
        ok = fwrite(data, 1, len, f) == len;
        ok &= fclose(f) == 0;
        return ok ? 0 : -1;
}

char *br_h_read_file(const char *path, size_t *len) {
        FILE *f     = fopen(path, "rb");
        char *buf   = NULL, *n;
        size_t used = 0, cap = 0, got;

        if (!f)
                return NULL;
        do {
                if (cap - used < 4096) {
                        cap = cap ? cap * 2 : 8192;
                        n   = realloc(buf, cap + 1);
                        if (!n) {
                                free(buf);
                                fclose(f);
                                return NULL;
                        }
                        buf = n;
                }
                got = fread(buf + used, 1, cap - used, f);
                used += got;
        } while (got > 0);
        fclose(f);
        buf[used] = '\0';
        if (len)
                *len = used;
        return buf;
}

int br_h_file_contains(const char *path, const char *needle) {
        char *text = br_h_read_file(path, NULL);
        int found  = text && strstr(text, needle) != NULL;

        free(text);
        return found;
}

/* ------------------------------------------------------------------ */

int br_h_spawn(struct br_h_proc *p, char *const argv[], const char *out_path) {
        pid_t parent = getpid();
        int out_fd   = -1, null_fd;
        pid_t pid;

        memset(p, 0, sizeof(*p));
        p->pidfd = -1;
        null_fd  = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd == -1)
                return -1;
        if (out_path) {
                out_fd = open(out_path,
                              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (out_fd == -1) {
                        complain("open %s: %s", out_path, strerror(errno));
                        close(null_fd);
                        return -1;
                }
        }
        pid = fork();
        if (pid == 0) {
                /* the child of a threaded parent: async-signal-safe calls
                 * only until exec */
                sigset_t none;
                int sig;

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(127);
                for (sig = 1; sig < NSIG; sig++)
                        signal(sig, SIG_DFL);
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                dup2(null_fd, 0);
                if (out_fd != -1) {
                        dup2(out_fd, 1);
                        dup2(out_fd, 2);
                }
                execv(argv[0], argv);
                _exit(127);
        }
        close(null_fd);
        if (out_fd != -1)
                close(out_fd);
        if (pid == -1) {
                complain("fork: %s", strerror(errno));
                return -1;
        }
        p->pid   = pid;
        p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        return 0;
}

const char *br_h_bridge_path(char *buf, size_t size) {
        const char *bin   = getenv("BR_BIN");
        const char *build = getenv("BUILD");

        if (bin && *bin)
                snprintf(buf, size, "%s", bin);
        else
                snprintf(buf, size, "%s/bucketbridge",
                         build && *build ? build : "build");
        return buf;
}

int br_h_spawn_bridge(struct br_h_proc *p, const char *config_path,
                      const char *out_path) {
        char bin[1024], run[] = "run", dash_c[] = "-c";
        char *conf = strdup(config_path);
        char *argv[5];
        int ret;

        if (!conf)
                return -1;
        argv[0] = (char *)(uintptr_t)br_h_bridge_path(bin, sizeof(bin));
        argv[1] = run;
        argv[2] = dash_c;
        argv[3] = conf;
        argv[4] = NULL;
        ret     = br_h_spawn(p, argv, out_path);
        free(conf);
        return ret;
}

int br_h_proc_signal(struct br_h_proc *p, int sig) {
        if (!p->pid || p->reaped)
                return -1;
        return kill(p->pid, sig);
}

static int try_reap(struct br_h_proc *p) {
        pid_t got = waitpid(p->pid, &p->status, WNOHANG);

        if (got == p->pid) {
                p->reaped = 1;
                if (p->pidfd != -1)
                        close(p->pidfd);
                p->pidfd = -1;
                return 1;
        }
        return 0;
}

int br_h_proc_wait(struct br_h_proc *p, int timeout_ms) {
        int64_t until = br_now_us() + (int64_t)timeout_ms * 1000;

        if (!p->pid)
                return -1;
        while (!p->reaped && !try_reap(p)) {
                int64_t now = br_now_us();
                /* rounded up: a wait never ends before its deadline */
                int left = (int)((until - now + 999) / 1000);

                if (now >= until)
                        return -1;
                if (p->pidfd != -1) {
                        struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};

                        poll(&pfd, 1, left);
                } else {
                        pause_ms(left < 5 ? left : 5);
                }
        }
        return 0;
}

int br_h_proc_exit_code(const struct br_h_proc *p) {
        if (!p->reaped)
                return -1;
        if (WIFEXITED(p->status))
                return WEXITSTATUS(p->status);
        if (WIFSIGNALED(p->status))
                return 128 + WTERMSIG(p->status);
        return -1;
}

void br_h_proc_kill(struct br_h_proc *p) {
        if (!p || !p->pid)
                return;
        if (!p->reaped) {
                kill(p->pid, SIGKILL);
                br_h_proc_wait(p, 10000);
        }
        if (p->pidfd != -1)
                close(p->pidfd);
        p->pidfd = -1;
}
