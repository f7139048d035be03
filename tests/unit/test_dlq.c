/* dlq.c: the file sink (JSON lines, base64 for non-UTF-8, 4 KiB responses,
 * fsync before done, write failures), the Kafka sink against the
 * librdkafka mock cluster (key, value, every header, read back by a plain
 * consumer), both sinks, no sink, secrets, fatal errors. */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bridge/dlq.h"

#define DEADLINE_MS 30000
#define MAX_SLOTS   16

static char s_dlq_topic[64];
static char s_embedded[]  = "embedded";
static char s_api_key[]   = "SEKRET-API-KEY-1234";
static char s_route_key[] = "ROUTE-KEY-5678";
static char s_origin[]    = "test.yaml";

/* Completions seen, one slot per submitted entry. */
struct slot {
        int calls;
        int ok;
        char err[256];
};

struct results {
        struct slot slots[MAX_SLOTS];
        int done;
};

struct fixture {
        rd_kafka_t *mock_rk;
        rd_kafka_mock_cluster_t *mock;
        char brokers[256];
        char path[64];
        int topic_seq;
};

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_done(void *cb_opaque, void *entry_opaque, int ok,
                    const char *err) {
        struct results *r = cb_opaque;
        struct slot *s    = entry_opaque;

        s->calls++;
        s->ok = ok;
        snprintf(s->err, sizeof(s->err), "%s", err ? err : "");
        r->done++;
        assert_true(ok ? err == NULL : err != NULL);
}

/* Serves until `want` completions arrived, waiting on the dlq's fd: no
 * sleeping; the deadline only catches hangs. */
static void serve_until(struct br_dlq *dlq, struct results *r, int want) {
        int64_t deadline = now_ms() + DEADLINE_MS;

        br_dlq_serve(dlq, on_done, r);
        while (r->done < want && now_ms() < deadline) {
                struct pollfd pfd = {br_dlq_fd(dlq), POLLIN, 0};

                poll(&pfd, 1, 200);
                br_dlq_serve(dlq, on_done, r);
        }
        assert_int_equal(r->done, want);
}

static void base_conf(struct br_conf *conf) {
        memset(conf, 0, sizeof(*conf));
        conf->origin            = s_origin;
        conf->log.level         = BR_LOG_WARN;
        conf->kafka.brokers     = s_embedded;
        conf->webhook.api_key   = s_api_key;
        conf->shutdown.grace_ms = 5000;
}

static const char FULL_VALUE[] =
    "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"bucket/a b.txt\"}";
static const char FULL_RESPONSE[] =
    "{\"responseMessage\":\"The storage could not be found\"}";
static const char FULL_REQUEST[] =
    "{\"storageClientId\":\"0c54\",\"metadata\":\"{\\\"s3\\\":{\\\"object\\\":"
    "{\\\"key\\\":\\\"a b.txt\\\"}}}\"}";

static struct br_dlq_entry full_entry(void) {
        struct br_dlq_entry e;

        memset(&e, 0, sizeof(e));
        e.key                   = "bucket/a b.txt";
        e.key_len               = strlen("bucket/a b.txt");
        e.value                 = FULL_VALUE;
        e.value_len             = strlen(FULL_VALUE);
        e.reason                = "HTTP 404: The storage could not be found";
        e.cls                   = BR_DLQ_REJECTED;
        e.topic                 = "minio-events";
        e.partition             = 3;
        e.offset                = 12345;
        e.record                = 1;
        e.http_status           = 404;
        e.response              = FULL_RESPONSE;
        e.response_len          = strlen(FULL_RESPONSE);
        e.request               = FULL_REQUEST;
        e.request_len           = strlen(FULL_REQUEST);
        e.attempts              = 2;
        e.first_attempt_wall_us = 1700000000123456LL;
        e.last_attempt_wall_us  = 1700000005000000LL;
        return e;
}

static struct br_dlq_entry minimal_entry(void) {
        struct br_dlq_entry e;

        memset(&e, 0, sizeof(e));
        e.value     = "not json";
        e.value_len = 8;
        e.reason    = "malformed: not JSON";
        e.cls       = BR_DLQ_MALFORMED;
        e.topic     = "minio-events";
        e.partition = 0;
        e.offset    = 7;
        e.record    = -1;
        return e;
}

/* ---- file helpers ----------------------------------------------------- */

static char *slurp(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        char *buf;
        long n;

        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n >= 0);
        rewind(f);
        buf = malloc((size_t)n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
        buf[n] = '\0';
        fclose(f);
        *len = (size_t)n;
        return buf;
}

/* Line number `idx` of the file, parsed strictly. */
static struct json_object *file_line(const char *path, int idx) {
        size_t len = 0;
        char *buf = slurp(path, &len), *line = buf, *nl;
        struct json_object *o;
        int i;

        for (i = 0; i < idx; i++) {
                nl = strchr(line, '\n');
                assert_non_null(nl);
                line = nl + 1;
        }
        nl = strchr(line, '\n');
        assert_non_null(nl); /* every line is complete */
        *nl = '\0';
        o   = json_tokener_parse(line);
        assert_non_null(o);
        free(buf);
        return o;
}

static int file_lines(const char *path) {
        size_t len = 0, i;
        char *buf  = slurp(path, &len);
        int n      = 0;

        for (i = 0; i < len; i++)
                n += buf[i] == '\n';
        free(buf);
        return n;
}

static const char *jstr(struct json_object *o, const char *name) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, name, &v))
                return NULL;
        assert_true(json_object_is_type(v, json_type_string));
        return json_object_get_string(v);
}

static int64_t jint(struct json_object *o, const char *name) {
        struct json_object *v;

        assert_true(json_object_object_get_ex(o, name, &v));
        assert_true(json_object_is_type(v, json_type_int));
        return json_object_get_int64(v);
}

static int jhas(struct json_object *o, const char *name) {
        return json_object_object_get_ex(o, name, NULL);
}

/* ---- Kafka helpers ---------------------------------------------------- */

static const char *new_topic(struct fixture *fx) {
        snprintf(s_dlq_topic, sizeof(s_dlq_topic), "dead-letters-%d",
                 ++fx->topic_seq);
        assert_int_equal(
            rd_kafka_mock_topic_create(fx->mock, s_dlq_topic, 1, 1),
            RD_KAFKA_RESP_ERR_NO_ERROR);
        return s_dlq_topic;
}

/* A consumed message, copied: librdkafka's rd_kafka_destroy() waits for
 * every message of the handle to be destroyed first. */
struct got {
        void *key; /* NULL when the message had none */
        size_t key_len;
        void *payload;
        size_t len;
        rd_kafka_headers_t *headers;
};

static void got_free(struct got *g) {
        free(g->key);
        free(g->payload);
        if (g->headers)
                rd_kafka_headers_destroy(g->headers);
        memset(g, 0, sizeof(*g));
}

static void *dup_bytes(const void *p, size_t len) {
        void *c;

        if (!p)
                return NULL;
        c = malloc(len ? len : 1);
        assert_non_null(c);
        memcpy(c, p, len);
        return c;
}

/* Reads messages of topic partition 0 from the start until `want` came,
 * then a little longer to catch extras; returns how many came (at most
 * want are kept). */
static int consume(struct fixture *fx, const char *topic, struct got *out,
                   int want) {
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *parts;
        int64_t deadline = now_ms() + DEADLINE_MS;
        char err[512];
        rd_kafka_t *rk;
        int n = 0, extra = 0;

        assert_int_equal(rd_kafka_conf_set(kc, "bootstrap.servers", fx->brokers,
                                           err, sizeof(err)),
                         RD_KAFKA_CONF_OK);
        assert_int_equal(
            rd_kafka_conf_set(kc, "group.id", "test-reader", err, sizeof(err)),
            RD_KAFKA_CONF_OK);
        assert_int_equal(rd_kafka_conf_set(kc, "enable.auto.commit", "false",
                                           err, sizeof(err)),
                         RD_KAFKA_CONF_OK);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof(err));
        assert_non_null(rk);
        parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, topic, 0)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
        assert_int_equal(rd_kafka_assign(rk, parts),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(parts);
        /* after the expected ones, a short extra look for unexpected ones */
        while (now_ms() < deadline) {
                rd_kafka_message_t *m =
                    rd_kafka_consumer_poll(rk, n < want ? 200 : 300);
                rd_kafka_headers_t *h = NULL;

                if (!m) {
                        if (n >= want)
                                break;
                        continue;
                }
                if (!m->err && n < want) {
                        out[n].key     = dup_bytes(m->key, m->key_len);
                        out[n].key_len = m->key_len;
                        out[n].payload = dup_bytes(m->payload, m->len);
                        out[n].len     = m->len;
                        if (rd_kafka_message_headers(m, &h) ==
                            RD_KAFKA_RESP_ERR_NO_ERROR)
                                out[n].headers = rd_kafka_headers_copy(h);
                        n++;
                } else if (!m->err) {
                        extra++;
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return n + extra;
}

/* The header's value as a NUL-terminated copy, NULL when absent. */
static char *header(const struct got *g, const char *name, size_t *len) {
        const void *val;
        size_t size;
        char *copy;

        if (!g->headers ||
            rd_kafka_header_get_last(g->headers, name, &val, &size) !=
                RD_KAFKA_RESP_ERR_NO_ERROR)
                return NULL;
        copy = malloc(size + 1);
        assert_non_null(copy);
        memcpy(copy, val, size);
        copy[size] = '\0';
        if (len)
                *len = size;
        return copy;
}

static void expect_header(const struct got *g, const char *name,
                          const char *want) {
        char *v = header(g, name, NULL);

        if (!want) {
                assert_null(v);
                return;
        }
        assert_non_null(v);
        assert_string_equal(v, want);
        free(v);
}

static void kafka_conf(struct fixture *fx, struct br_conf *conf,
                       struct br_kv *props, size_t prop_cnt) {
        base_conf(conf);
        conf->kafka.brokers      = fx->brokers;
        conf->dead_letter.topic  = (char *)(uintptr_t)new_topic(fx);
        conf->kafka.properties   = props;
        conf->kafka.property_cnt = prop_cnt;
}

/* ---- fixtures --------------------------------------------------------- */

static int group_setup(void **state) {
        struct fixture *fx = calloc(1, sizeof(*fx));
        rd_kafka_conf_t *kc;
        char err[512];

        if (!fx)
                return -1;
        kc = rd_kafka_conf_new();
        rd_kafka_conf_set(kc, "log_level", "3", err, sizeof(err));
        /* the mock cluster needs a handle for its bookkeeping only */
        fx->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
        if (!fx->mock_rk)
                return -1;
        fx->mock = rd_kafka_mock_cluster_new(fx->mock_rk, 1);
        if (!fx->mock)
                return -1;
        snprintf(fx->brokers, sizeof(fx->brokers), "%s",
                 rd_kafka_mock_cluster_bootstraps(fx->mock));
        *state = fx;
        return 0;
}

static int group_teardown(void **state) {
        struct fixture *fx = *state;

        rd_kafka_mock_cluster_destroy(fx->mock);
        rd_kafka_destroy(fx->mock_rk);
        free(fx);
        return 0;
}

static int file_setup(void **state) {
        struct fixture *fx = *state;
        int fd;

        snprintf(fx->path, sizeof(fx->path), "/tmp/test_dlq.XXXXXX");
        fd = mkstemp(fx->path);
        if (fd == -1)
                return -1;
        close(fd);
        return 0;
}

static int file_teardown(void **state) {
        struct fixture *fx = *state;

        unlink(fx->path);
        return 0;
}

/* ---- file sink -------------------------------------------------------- */

static void test_file_every_field(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = full_entry(), m = minimal_entry();
        struct results r;
        struct json_object *o;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512];

        memset(&r, 0, sizeof(r));
        base_conf(&conf);
        conf.dead_letter.file = fx->path;
        dlq                   = br_dlq_new(&conf, NULL, err, sizeof(err));
        assert_non_null(dlq);
        assert_null(br_dlq_producer(dlq));
        assert_true(br_dlq_fd(dlq) >= 0);
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        assert_int_equal(br_dlq_submit(dlq, &m, &r.slots[1], err, sizeof(err)),
                         0);
        /* written but not yet fsynced: not done */
        assert_int_equal(r.done, 0);
        assert_int_equal(br_dlq_pending(dlq), 2);
        serve_until(dlq, &r, 2);
        assert_int_equal(r.slots[0].calls, 1);
        assert_int_equal(r.slots[0].ok, 1);
        assert_int_equal(r.slots[1].ok, 1);
        assert_int_equal(br_dlq_pending(dlq), 0);
        /* done means on disk: read it back without closing anything */
        assert_int_equal(file_lines(fx->path), 2);

        o = file_line(fx->path, 0);
        assert_non_null(jstr(o, "time"));
        assert_string_equal(jstr(o, "reason"),
                            "HTTP 404: The storage could not be found");
        assert_string_equal(jstr(o, "class"), "rejected");
        assert_string_equal(jstr(o, "topic"), "minio-events");
        assert_int_equal(jint(o, "partition"), 3);
        assert_int_equal(jint(o, "offset"), 12345);
        assert_int_equal(jint(o, "record"), 1);
        assert_int_equal(jint(o, "http_status"), 404);
        assert_string_equal(jstr(o, "response"), FULL_RESPONSE);
        assert_string_equal(jstr(o, "request"), FULL_REQUEST);
        assert_int_equal(jint(o, "attempts"), 2);
        assert_string_equal(jstr(o, "first_attempt"),
                            "2023-11-14T22:13:20.123Z");
        assert_string_equal(jstr(o, "last_attempt"),
                            "2023-11-14T22:13:25.000Z");
        assert_string_equal(jstr(o, "key"), "bucket/a b.txt");
        assert_string_equal(jstr(o, "value"), FULL_VALUE);
        assert_false(jhas(o, "value_base64"));
        json_object_put(o);

        /* absent members stay absent */
        o = file_line(fx->path, 1);
        assert_string_equal(jstr(o, "class"), "malformed");
        assert_int_equal(jint(o, "record"), -1);
        assert_int_equal(jint(o, "offset"), 7);
        assert_int_equal(jint(o, "attempts"), 0);
        assert_string_equal(jstr(o, "value"), "not json");
        assert_false(jhas(o, "key"));
        assert_false(jhas(o, "key_base64"));
        assert_false(jhas(o, "http_status"));
        assert_false(jhas(o, "response"));
        assert_false(jhas(o, "request"));
        assert_false(jhas(o, "first_attempt"));
        assert_false(jhas(o, "last_attempt"));
        json_object_put(o);
        br_dlq_destroy(dlq);
}

static void test_file_non_utf8_base64(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = minimal_entry();
        struct results r;
        struct json_object *o;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512];

        memset(&r, 0, sizeof(r));
        base_conf(&conf);
        conf.dead_letter.file = fx->path;
        assert_non_null(dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        e.value        = "\xff\xfe\x00"
                         "abc";
        e.value_len    = 6;
        e.key          = "\xc3\x28";
        e.key_len      = 2;
        e.response     = "\x80\x81";
        e.response_len = 2;
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        /* valid UTF-8 with a NUL stays a string */
        e.value     = "a\0b";
        e.value_len = 3;
        e.key       = "";
        e.key_len   = 0;
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[1], err, sizeof(err)),
                         0);
        /* 1- and 2-byte tails of base64 padding */
        e.value     = "\xff";
        e.value_len = 1;
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[2], err, sizeof(err)),
                         0);
        e.value     = "\xff\xff";
        e.value_len = 2;
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[3], err, sizeof(err)),
                         0);
        serve_until(dlq, &r, 4);
        br_dlq_destroy(dlq);

        o = file_line(fx->path, 0);
        assert_string_equal(jstr(o, "value_base64"), "//4AYWJj");
        assert_false(jhas(o, "value"));
        assert_string_equal(jstr(o, "key_base64"), "wyg=");
        assert_false(jhas(o, "key"));
        assert_string_equal(jstr(o, "response_base64"), "gIE=");
        json_object_put(o);
        o = file_line(fx->path, 1);
        {
                struct json_object *v;

                assert_true(json_object_object_get_ex(o, "value", &v));
                assert_int_equal(json_object_get_string_len(v), 3);
                assert_memory_equal(json_object_get_string(v), "a\0b", 3);
        }
        assert_string_equal(jstr(o, "key"), "");
        json_object_put(o);
        o = file_line(fx->path, 2);
        assert_string_equal(jstr(o, "value_base64"), "/w==");
        json_object_put(o);
        o = file_line(fx->path, 3);
        assert_string_equal(jstr(o, "value_base64"), "//8=");
        json_object_put(o);
}

static void test_file_response_truncated(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = full_entry();
        size_t big_len        = 10000, i;
        char *big             = malloc(big_len);
        struct results r;
        struct json_object *o;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512];
        const char *s;

        assert_non_null(big);
        memset(&r, 0, sizeof(r));
        base_conf(&conf);
        conf.dead_letter.file = fx->path;
        assert_non_null(dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        memset(big, 'r', big_len);
        e.response     = big;
        e.response_len = big_len;
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        /* 3-byte characters: 4096 is not a multiple, cut between them */
        for (i = 0; i + 3 <= 6000; i += 3)
                memcpy(big + i, "\xe2\x82\xac", 3);
        e.response_len = 6000;
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[1], err, sizeof(err)),
                         0);
        /* exactly 4 KiB stays whole */
        memset(big, 'x', 4096);
        e.response_len = 4096;
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[2], err, sizeof(err)),
                         0);
        serve_until(dlq, &r, 3);
        br_dlq_destroy(dlq);

        o = file_line(fx->path, 0);
        s = jstr(o, "response");
        assert_non_null(s);
        assert_int_equal(strlen(s), BR_DLQ_MAX_RESPONSE);
        assert_int_equal(strspn(s, "r"), BR_DLQ_MAX_RESPONSE);
        json_object_put(o);
        o = file_line(fx->path, 1);
        s = jstr(o, "response");
        assert_non_null(s); /* still valid UTF-8, not base64 */
        assert_int_equal(strlen(s), 4095);
        json_object_put(o);
        o = file_line(fx->path, 2);
        assert_int_equal(strlen(jstr(o, "response")), 4096);
        json_object_put(o);
        free(big);
}

static void test_file_secrets_blanked(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = full_entry();
        struct br_route route;
        struct results r;
        struct br_conf conf;
        struct br_dlq *dlq;
        size_t len = 0;
        char err[512], response[8192], *all;

        memset(&r, 0, sizeof(r));
        memset(&route, 0, sizeof(route));
        base_conf(&conf);
        conf.dead_letter.file = fx->path;
        route.api_key         = s_route_key;
        conf.routes           = &route;
        conf.route_cnt        = 1;
        assert_non_null(dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        e.reason = "HTTP 401: bad key SEKRET-API-KEY-1234";
        snprintf(response, sizeof(response),
                 "{\"responseMessage\":\"key %s or %s rejected\"}", s_api_key,
                 s_route_key);
        e.response     = response;
        e.response_len = strlen(response);
        e.request      = "ROUTE-KEY-5678";
        e.request_len  = strlen("ROUTE-KEY-5678");
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        /* a secret straddling the 4 KiB cut is blanked, not half kept */
        memset(response, 'p', sizeof(response));
        memcpy(response + BR_DLQ_MAX_RESPONSE - 5, s_api_key,
               strlen(s_api_key));
        e.response_len = sizeof(response);
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[1], err, sizeof(err)),
                         0);
        serve_until(dlq, &r, 2);
        br_dlq_destroy(dlq);

        all = slurp(fx->path, &len);
        assert_null(strstr(all, "SEKRET"));
        assert_null(strstr(all, "ROUTE-KEY"));
        assert_null(strstr(all, "KEY-1234"));
        assert_null(strstr(all, "KEY-5678"));
        free(all);
        {
                struct json_object *o = file_line(fx->path, 0);

                assert_string_equal(jstr(o, "reason"), "HTTP 401: bad key ***");
                assert_string_equal(
                    jstr(o, "response"),
                    "{\"responseMessage\":\"key *** or *** rejected\"}");
                assert_string_equal(jstr(o, "request"), "***");
                json_object_put(o);
                o = file_line(fx->path, 1);
                assert_non_null(strstr(jstr(o, "response"), "ppppp***pp"));
                assert_int_equal(strlen(jstr(o, "response")),
                                 BR_DLQ_MAX_RESPONSE);
                json_object_put(o);
        }
}

static void test_file_write_failure(void **state) {
        struct br_dlq_entry e = full_entry();
        struct results r;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512], path[] = "/dev/full";

        (void)state;
        memset(&r, 0, sizeof(r));
        base_conf(&conf);
        conf.dead_letter.file = path;
        assert_non_null(dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        /* accepted, then completed as a failure */
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        serve_until(dlq, &r, 1);
        assert_int_equal(r.slots[0].ok, 0);
        assert_non_null(strstr(r.slots[0].err, "/dev/full"));
        assert_non_null(strstr(r.slots[0].err, "No space left"));
        br_dlq_destroy(dlq);
}

static void test_file_open_failure(void **state) {
        struct br_conf conf;
        char err[512], path[] = "/nonexistent-dir/dlq.jsonl";

        (void)state;
        base_conf(&conf);
        conf.dead_letter.file = path;
        assert_null(br_dlq_new(&conf, NULL, err, sizeof(err)));
        assert_non_null(strstr(err, "dead_letter.file"));
        assert_non_null(strstr(err, path));
}

static void test_no_sink_completes(void **state) {
        struct br_dlq_entry e = minimal_entry();
        struct results r;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512];
        struct pollfd pfd;

        (void)state;
        memset(&r, 0, sizeof(r));
        base_conf(&conf);
        assert_non_null(dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        /* the fd says so at once */
        pfd.fd      = br_dlq_fd(dlq);
        pfd.events  = POLLIN;
        pfd.revents = 0;
        assert_int_equal(poll(&pfd, 1, 0), 1);
        assert_int_equal(br_dlq_serve(dlq, on_done, &r), 1);
        assert_int_equal(r.slots[0].ok, 1);
        /* drained */
        assert_int_equal(poll(&pfd, 1, 0), 0);
        assert_int_equal(br_dlq_serve(dlq, on_done, &r), 0);
        br_dlq_destroy(dlq);
}

/* done may submit again: that one is reported by the next serve */
struct resubmit {
        struct results r;
        struct br_dlq *dlq;
};

static void on_done_resubmit(void *cb_opaque, void *entry_opaque, int ok,
                             const char *err) {
        struct resubmit *rs = cb_opaque;
        char e2[256];
        struct br_dlq_entry e = minimal_entry();

        on_done(&rs->r, entry_opaque, ok, err);
        if (rs->r.done == 1)
                assert_int_equal(
                    br_dlq_submit(rs->dlq, &e, &rs->r.slots[1], e2, sizeof(e2)),
                    0);
}

static void test_done_may_resubmit(void **state) {
        struct br_dlq_entry e = minimal_entry();
        struct resubmit rs;
        struct br_conf conf;
        char err[512];

        (void)state;
        memset(&rs, 0, sizeof(rs));
        base_conf(&conf);
        assert_non_null(rs.dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        assert_int_equal(
            br_dlq_submit(rs.dlq, &e, &rs.r.slots[0], err, sizeof(err)), 0);
        assert_int_equal(br_dlq_serve(rs.dlq, on_done_resubmit, &rs), 1);
        assert_int_equal(rs.r.slots[1].calls, 0);
        assert_int_equal(br_dlq_serve(rs.dlq, on_done_resubmit, &rs), 1);
        assert_int_equal(rs.r.slots[1].calls, 1);
        br_dlq_destroy(rs.dlq);
}

static void test_destroy_with_open_entries(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = full_entry();
        struct results r;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512];

        memset(&r, 0, sizeof(r));
        base_conf(&conf);
        conf.dead_letter.file = fx->path;
        assert_non_null(dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        /* no serve: destroy frees it without a completion (ASan checks) */
        br_dlq_destroy(dlq);
        assert_int_equal(r.done, 0);
        br_dlq_destroy(NULL);
}

static void test_class_names(void **state) {
        (void)state;
        assert_string_equal(br_dlq_class_name(BR_DLQ_MALFORMED), "malformed");
        assert_string_equal(br_dlq_class_name(BR_DLQ_NO_ROUTE), "no_route");
        assert_string_equal(br_dlq_class_name(BR_DLQ_REJECTED), "rejected");
        assert_string_equal(br_dlq_class_name(BR_DLQ_EXHAUSTED), "exhausted");
}

/* ---- Kafka sink ------------------------------------------------------- */

static void test_kafka_key_value_headers(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = full_entry(), m = minimal_entry();
        char k1[] = "group.id", v1[] = "ignored-by-producer";
        char k2[] = "linger.ms", v2[] = "1";
        char k3[] = "acks", v3[] = "0"; /* ours wins */
        struct br_kv props[] = {{k1, v1, 3, 5}, {k2, v2, 4, 5}, {k3, v3, 5, 5}};
        struct got msgs[4]   = {{0}};
        const char *topic;
        struct results r;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512], *v;
        int i, n;

        memset(&r, 0, sizeof(r));
        kafka_conf(fx, &conf, props, 3);
        topic = conf.dead_letter.topic;
        dlq   = br_dlq_new(&conf, NULL, err, sizeof(err));
        assert_non_null(dlq);
        assert_non_null(br_dlq_producer(dlq));
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        assert_int_equal(br_dlq_submit(dlq, &m, &r.slots[1], err, sizeof(err)),
                         0);
        assert_int_equal(br_dlq_pending(dlq), 2);
        serve_until(dlq, &r, 2);
        assert_int_equal(r.slots[0].ok, 1);
        assert_int_equal(r.slots[1].ok, 1);
        assert_int_equal(r.slots[0].calls, 1);
        assert_int_equal(br_dlq_flush(dlq, 1000), 0);
        br_dlq_destroy(dlq);

        n = consume(fx, topic, msgs, 2);
        assert_int_equal(n, 2);
        /* one partition: in submit order */
        assert_int_equal(msgs[0].key_len, strlen("bucket/a b.txt"));
        assert_memory_equal(msgs[0].key, "bucket/a b.txt", msgs[0].key_len);
        assert_int_equal(msgs[0].len, strlen(FULL_VALUE));
        assert_memory_equal(msgs[0].payload, FULL_VALUE, msgs[0].len);
        expect_header(&msgs[0], BR_DLQ_H_REASON,
                      "HTTP 404: The storage could not be found");
        expect_header(&msgs[0], BR_DLQ_H_CLASS, "rejected");
        expect_header(&msgs[0], BR_DLQ_H_TOPIC, "minio-events");
        expect_header(&msgs[0], BR_DLQ_H_PARTITION, "3");
        expect_header(&msgs[0], BR_DLQ_H_OFFSET, "12345");
        expect_header(&msgs[0], BR_DLQ_H_RECORD, "1");
        expect_header(&msgs[0], BR_DLQ_H_HTTP_STATUS, "404");
        expect_header(&msgs[0], BR_DLQ_H_RESPONSE, FULL_RESPONSE);
        expect_header(&msgs[0], BR_DLQ_H_REQUEST, FULL_REQUEST);
        expect_header(&msgs[0], BR_DLQ_H_ATTEMPTS, "2");
        expect_header(&msgs[0], BR_DLQ_H_FIRST_ATTEMPT,
                      "2023-11-14T22:13:20.123Z");
        expect_header(&msgs[0], BR_DLQ_H_LAST_ATTEMPT,
                      "2023-11-14T22:13:25.000Z");

        assert_null(msgs[1].key);
        assert_int_equal(msgs[1].len, 8);
        assert_memory_equal(msgs[1].payload, "not json", 8);
        expect_header(&msgs[1], BR_DLQ_H_REASON, "malformed: not JSON");
        expect_header(&msgs[1], BR_DLQ_H_CLASS, "malformed");
        expect_header(&msgs[1], BR_DLQ_H_RECORD, "-1");
        expect_header(&msgs[1], BR_DLQ_H_OFFSET, "7");
        expect_header(&msgs[1], BR_DLQ_H_PARTITION, "0");
        expect_header(&msgs[1], BR_DLQ_H_ATTEMPTS, "0");
        expect_header(&msgs[1], BR_DLQ_H_HTTP_STATUS, NULL);
        expect_header(&msgs[1], BR_DLQ_H_RESPONSE, NULL);
        expect_header(&msgs[1], BR_DLQ_H_REQUEST, NULL);
        expect_header(&msgs[1], BR_DLQ_H_FIRST_ATTEMPT, NULL);
        expect_header(&msgs[1], BR_DLQ_H_LAST_ATTEMPT, NULL);
        v = header(&msgs[1], "bucketbridge.nonexistent", NULL);
        assert_null(v);
        for (i = 0; i < (int)(sizeof(msgs) / sizeof(msgs[0])); i++)
                got_free(&msgs[i]);
}

static void test_kafka_binary_and_truncated(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = full_entry();
        struct got msgs[2]    = {{0}};
        char *big             = malloc(10000), *v;
        const char *topic;
        struct results r;
        struct br_conf conf;
        struct br_dlq *dlq;
        size_t len = 0;
        char err[512];
        int i, n;

        assert_non_null(big);
        memset(&r, 0, sizeof(r));
        kafka_conf(fx, &conf, NULL, 0);
        topic = conf.dead_letter.topic;
        /* the embedded cluster's bootstrap comes as an override */
        conf.kafka.brokers = s_embedded;
        assert_non_null(dlq = br_dlq_new(&conf, fx->brokers, err, sizeof(err)));
        memset(big, 'q', 10000);
        memcpy(big + 100, s_api_key, strlen(s_api_key));
        e.value        = "\xff\xfe\x00"
                         "abc";
        e.value_len    = 6;
        e.response     = big;
        e.response_len = 10000;
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        serve_until(dlq, &r, 1);
        assert_int_equal(r.slots[0].ok, 1);
        br_dlq_destroy(dlq);

        n = consume(fx, topic, msgs, 1);
        assert_int_equal(n, 1);
        /* the value goes as is, bytes and all */
        assert_int_equal(msgs[0].len, 6);
        assert_memory_equal(msgs[0].payload,
                            "\xff\xfe\x00"
                            "abc",
                            6);
        v = header(&msgs[0], BR_DLQ_H_RESPONSE, &len);
        assert_non_null(v);
        assert_int_equal(len, BR_DLQ_MAX_RESPONSE);
        assert_null(strstr(v, "SEKRET"));
        assert_non_null(strstr(v, "q***q"));
        free(v);
        for (i = 0; i < (int)(sizeof(msgs) / sizeof(msgs[0])); i++)
                got_free(&msgs[i]);
        free(big);
}

static void test_kafka_and_file(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = full_entry();
        struct got msgs[2]    = {{0}};
        const char *topic;
        struct results r;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512];
        int n;

        memset(&r, 0, sizeof(r));
        kafka_conf(fx, &conf, NULL, 0);
        topic                 = conf.dead_letter.topic;
        conf.dead_letter.file = fx->path;
        assert_non_null(dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        serve_until(dlq, &r, 1);
        /* one completion for both sinks, after both had it */
        assert_int_equal(r.slots[0].calls, 1);
        assert_int_equal(r.slots[0].ok, 1);
        assert_int_equal(file_lines(fx->path), 1);
        br_dlq_destroy(dlq);
        n = consume(fx, topic, msgs, 1);
        assert_int_equal(n, 1);
        got_free(&msgs[0]);
}

static void test_kafka_file_fails_kafka_ok(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = full_entry();
        struct results r;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512], path[] = "/dev/full";

        memset(&r, 0, sizeof(r));
        kafka_conf(fx, &conf, NULL, 0);
        conf.dead_letter.file = path;
        assert_non_null(dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        serve_until(dlq, &r, 1);
        /* the topic has it, the file does not: not done */
        assert_int_equal(r.slots[0].ok, 0);
        assert_non_null(strstr(r.slots[0].err, "/dev/full"));
        br_dlq_destroy(dlq);
}

static void test_kafka_failed_report(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = full_entry();
        char k1[] = "message.timeout.ms", v1[] = "1000";
        struct br_kv props[] = {{k1, v1, 1, 1}};
        struct results r;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512];

        memset(&r, 0, sizeof(r));
        kafka_conf(fx, &conf, props, 1);
        rd_kafka_mock_topic_set_error(
            fx->mock, conf.dead_letter.topic,
            RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        assert_non_null(dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         0);
        serve_until(dlq, &r, 1);
        assert_int_equal(r.slots[0].ok, 0);
        assert_non_null(strstr(r.slots[0].err, conf.dead_letter.topic));
        rd_kafka_mock_topic_set_error(fx->mock, conf.dead_letter.topic,
                                      RD_KAFKA_RESP_ERR_NO_ERROR);
        br_dlq_destroy(dlq);
}

static void test_kafka_too_large_refused_at_once(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = full_entry();
        size_t big_len        = 2 * 1024 * 1024;
        char *big             = calloc(1, big_len);
        struct results r;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512];

        assert_non_null(big);
        memset(&r, 0, sizeof(r));
        kafka_conf(fx, &conf, NULL, 0);
        assert_non_null(dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        e.value     = big;
        e.value_len = big_len;
        err[0]      = '\0';
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, conf.dead_letter.topic));
        assert_int_equal(br_dlq_pending(dlq), 0);
        /* and no completion follows */
        assert_int_equal(br_dlq_serve(dlq, on_done, &r), 0);
        assert_int_equal(r.done, 0);
        br_dlq_destroy(dlq);
        free(big);
}

static void test_kafka_fatal(void **state) {
        struct fixture *fx    = *state;
        struct br_dlq_entry e = full_entry();
        int64_t deadline      = now_ms() + DEADLINE_MS;
        struct results r;
        struct br_conf conf;
        struct br_dlq *dlq;
        char err[512];

        memset(&r, 0, sizeof(r));
        kafka_conf(fx, &conf, NULL, 0);
        assert_non_null(dlq = br_dlq_new(&conf, NULL, err, sizeof(err)));
        assert_int_equal(br_dlq_fatal(dlq), 0);
        assert_int_equal(rd_kafka_test_fatal_error(
                             br_dlq_producer(dlq),
                             RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                             "injected by test_dlq"),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        while (!br_dlq_fatal(dlq) && now_ms() < deadline) {
                struct pollfd pfd = {br_dlq_fd(dlq), POLLIN, 0};

                poll(&pfd, 1, 200);
                br_dlq_serve(dlq, on_done, &r);
        }
        assert_int_equal(br_dlq_fatal(dlq), 1);
        assert_int_equal(br_dlq_submit(dlq, &e, &r.slots[0], err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "fatal"));
        br_dlq_destroy(dlq);
}

static void test_kafka_bad_property(void **state) {
        struct fixture *fx = *state;
        char k1[] = "no.such.property", v1[] = "1";
        struct br_kv props[] = {{k1, v1, 12, 9}};
        struct br_conf conf;
        char err[512];

        kafka_conf(fx, &conf, props, 1);
        assert_null(br_dlq_new(&conf, NULL, err, sizeof(err)));
        assert_non_null(strstr(err, "test.yaml:12:9: "
                                    "kafka.properties.no.such.property"));
}

static void test_kafka_embedded_needs_override(void **state) {
        struct fixture *fx = *state;
        struct br_conf conf;
        char err[512];

        kafka_conf(fx, &conf, NULL, 0);
        conf.kafka.brokers = s_embedded;
        assert_null(br_dlq_new(&conf, NULL, err, sizeof(err)));
        assert_non_null(strstr(err, "dead_letter.topic"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_file_every_field, file_setup,
                                            file_teardown),
            cmocka_unit_test_setup_teardown(test_file_non_utf8_base64,
                                            file_setup, file_teardown),
            cmocka_unit_test_setup_teardown(test_file_response_truncated,
                                            file_setup, file_teardown),
            cmocka_unit_test_setup_teardown(test_file_secrets_blanked,
                                            file_setup, file_teardown),
            cmocka_unit_test(test_file_write_failure),
            cmocka_unit_test(test_file_open_failure),
            cmocka_unit_test(test_no_sink_completes),
            cmocka_unit_test(test_done_may_resubmit),
            cmocka_unit_test_setup_teardown(test_destroy_with_open_entries,
                                            file_setup, file_teardown),
            cmocka_unit_test(test_class_names),
            cmocka_unit_test(test_kafka_key_value_headers),
            cmocka_unit_test(test_kafka_binary_and_truncated),
            cmocka_unit_test_setup_teardown(test_kafka_and_file, file_setup,
                                            file_teardown),
            cmocka_unit_test(test_kafka_file_fails_kafka_ok),
            cmocka_unit_test(test_kafka_failed_report),
            cmocka_unit_test(test_kafka_too_large_refused_at_once),
            cmocka_unit_test(test_kafka_fatal),
            cmocka_unit_test(test_kafka_bad_property),
            cmocka_unit_test(test_kafka_embedded_needs_override),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
