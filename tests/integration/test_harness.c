/* The integration harness itself: mock cluster, producer, offsets, the
 * MinIO generator, waiting, body comparison, files and child processes. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "bridge/util.h"
#include "tests/integration/lib_harness.h"

#define TOPIC      "minio-events"
#define PARTITIONS 4

static struct json_object *get_path(struct json_object *o, const char *a,
                                    const char *b, const char *c) {
        const char *names[] = {a, b, c};
        int i;

        for (i = 0; i < 3 && names[i] && o; i++)
                if (!json_object_object_get_ex(o, names[i], &o))
                        return NULL;
        return o;
}

/* Checks one generated value against FORMATS.md 1.1 and returns the raw
 * object name MinIO's Key member carries (after "<bucket>/"). */
static void check_minio_value(const char *value, size_t len, const char *bucket,
                              const char *raw_key, const char *event_name) {
        struct json_tokener *tok = json_tokener_new();
        struct json_object *root, *rec, *obj, *v;
        char key[2200];
        char *escaped = br_h_query_escape(raw_key);
        struct json_object_iterator it, end;
        const char *order[] = {"EventName", "Key", "Records"};
        int i               = 0;

        assert_non_null(tok);
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
                                        JSON_TOKENER_VALIDATE_UTF8);
        root = json_tokener_parse_ex(tok, value, (int)len);
        assert_non_null(root);
        assert_int_equal(json_tokener_get_parse_end(tok), len);
        json_tokener_free(tok);
        assert_null(memchr(value, '\n', len));
        assert_null(strstr(value, "\\/"));

        /* the envelope's members, in MinIO's order */
        it  = json_object_iter_begin(root);
        end = json_object_iter_end(root);
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
                assert_string_equal(json_object_iter_peek_name(&it),
                                    order[i++]);
        assert_int_equal(i, 3);
        snprintf(key, sizeof(key), "%s/%s", bucket, raw_key);
        assert_string_equal(
            json_object_get_string(get_path(root, "EventName", NULL, NULL)),
            event_name);
        assert_string_equal(
            json_object_get_string(get_path(root, "Key", NULL, NULL)), key);
        v = get_path(root, "Records", NULL, NULL);
        assert_true(json_object_is_type(v, json_type_array));
        assert_int_equal(json_object_array_length(v), 1);
        rec = json_object_array_get_idx(v, 0);
        assert_string_equal(
            json_object_get_string(get_path(rec, "eventSource", NULL, NULL)),
            "minio:s3");
        assert_string_equal(
            json_object_get_string(get_path(rec, "eventVersion", NULL, NULL)),
            "2.0");
        assert_string_equal(
            json_object_get_string(get_path(rec, "eventName", NULL, NULL)),
            event_name);
        assert_string_equal(
            json_object_get_string(get_path(rec, "s3", "bucket", "name")),
            bucket);
        obj = get_path(rec, "s3", "object", NULL);
        assert_non_null(obj);
        assert_string_equal(
            json_object_get_string(get_path(obj, "key", NULL, NULL)), escaped);
        assert_non_null(get_path(obj, "sequencer", NULL, NULL));
        if (strstr(event_name, "ObjectRemoved")) {
                assert_int_equal(json_object_object_length(obj), 2);
        } else {
                assert_true(json_object_is_type(
                    get_path(obj, "size", NULL, NULL), json_type_int));
                assert_int_equal(strlen(json_object_get_string(
                                     get_path(obj, "eTag", NULL, NULL))),
                                 32);
        }
        json_object_put(root);
        free(escaped);
}

static void test_query_escape(void **state) {
        static const struct {
                const char *raw, *escaped;
        } rows[] = {
            {"reports/2024 Q1/\xc3\x9c"
             "berblick & Zahlen+final 100%.pdf",
             "reports%2F2024+Q1%2F%C3%9Cberblick+%26+Zahlen%2Bfinal+100%25."
             "pdf"},
            {"photos/\xf0\x9f\x90\xb1 cat.jpg",
             "photos%2F%F0%9F%90%B1+cat.jpg"},
            {"AZaz09-_.~", "AZaz09-_.~"},
            {"a=b(c)d:e;f,g'h\"i", "a%3Db%28c%29d%3Ae%3Bf%2Cg%27h%22i"},
            {"", ""},
        };
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
                char *got = br_h_query_escape(rows[i].raw);

                assert_non_null(got);
                assert_string_equal(got, rows[i].escaped);
                free(got);
        }
}

static void test_minio_event_shape(void **state) {
        const char *raw = "reports/2024 Q1/\xc3\x9c"
                          "berblick & Zahlen+final 100%.pdf";
        size_t len;
        char *v;

        (void)state;
        v = br_h_minio_event("invoices", raw, NULL, &len);
        assert_non_null(v);
        assert_int_equal(strlen(v), len);
        check_minio_value(v, len, "invoices", raw, "s3:ObjectCreated:Put");
        free(v);

        v = br_h_minio_event("b", "x/y z.txt", "s3:ObjectRemoved:Delete", &len);
        assert_non_null(v);
        check_minio_value(v, len, "b", "x/y z.txt", "s3:ObjectRemoved:Delete");
        free(v);
}

static void test_event_key(void **state) {
        char key[64];

        (void)state;
        br_h_event_key(key, sizeof(key), "in/", 42);
        assert_string_equal(key, "in/doc 000042+\xc3\xbc.pdf");
        br_h_event_key(key, sizeof(key), NULL, 7);
        assert_string_equal(key, "doc 000007+\xc3\xbc.pdf");
}

struct consumed {
        rd_kafka_t *rk;
        int n;
        int bad;
        char seen[100];
};

static int got_all(void *arg) {
        struct consumed *c = arg;

        return c->n >= 100;
}

/* Finds i in a key "bucket/t/doc NNNNNN+ü.pdf" and checks the value. */
static void take(struct consumed *c, const rd_kafka_message_t *m) {
        char key[256], raw[256];
        int i = -1;

        if (!m->key || m->key_len >= sizeof(key) || m->key_len < 11) {
                c->bad++;
                return;
        }
        memcpy(key, m->key, m->key_len);
        key[m->key_len] = '\0';
        if (sscanf(key, "bkt/t/doc %d", &i) != 1 || i < 0 || i >= 100 ||
            c->seen[i]) {
                c->bad++;
                return;
        }
        br_h_event_key(raw, sizeof(raw), "t/", i);
        check_minio_value(m->payload, m->len, "bkt", raw,
                          "s3:ObjectCreated:Put");
        c->seen[i] = 1;
        c->n++;
}

static void poll_once(void *arg) {
        struct consumed *c    = arg;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 100);

        if (!m)
                return;
        if (!m->err)
                take(c, m);
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                c->bad++;
        rd_kafka_message_destroy(m);
}

static void test_produce_and_consume_back(void **state) {
        struct br_h_cluster *c = br_h_cluster_new(1, TOPIC, PARTITIONS);
        rd_kafka_topic_partition_list_t *sub;
        struct consumed got;
        int64_t end[PARTITIONS];
        char group[64];
        int i, used = 0;

        (void)state;
        assert_non_null(c);
        assert_non_null(strstr(br_h_bootstraps(c), "127.0.0.1:"));
        assert_int_equal(
            br_h_produce_minio_n(c, TOPIC, "bkt", "t/", 100, 30000), 0);
        assert_int_equal(br_h_produced(c), 100);
        assert_int_equal(br_h_end_offsets(c, TOPIC, PARTITIONS, end, 5000), 0);
        assert_int_equal(br_h_offsets_sum(end, PARTITIONS), 100);
        /* keyed by object: spread over the partitions, not all in one */
        for (i = 0; i < PARTITIONS; i++)
                used += end[i] > 0;
        assert_true(used > 1);

        memset(&got, 0, sizeof(got));
        snprintf(group, sizeof(group), "harness-%d", (int)getpid());
        got.rk = br_h_consumer_new(c, group);
        assert_non_null(got.rk);
        sub = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(sub, TOPIC, RD_KAFKA_PARTITION_UA);
        assert_int_equal(rd_kafka_subscribe(got.rk, sub), 0);
        rd_kafka_topic_partition_list_destroy(sub);
        assert_int_equal(
            br_h_wait(got_all, &got, BR_H_JOIN_MS + 20000, poll_once, &got), 0);
        assert_int_equal(got.n, 100);
        assert_int_equal(got.bad, 0);
        rd_kafka_consumer_close(got.rk);
        rd_kafka_destroy(got.rk);
        br_h_cluster_destroy(c);
}

static void test_committed_offsets(void **state) {
        struct br_h_cluster *c = br_h_cluster_new(1, TOPIC, PARTITIONS);
        rd_kafka_topic_partition_list_t *list;
        int64_t offs[PARTITIONS];
        rd_kafka_t *rk;
        int i;

        (void)state;
        assert_non_null(c);
        assert_int_equal(br_h_produce_minio_n(c, TOPIC, "b", "", 20, 30000), 0);
        for (i = 0; i < PARTITIONS; i++)
                offs[i] = 12345;
        assert_int_equal(
            br_h_committed(c, "nobody-ever", TOPIC, PARTITIONS, offs, 5000), 0);
        for (i = 0; i < PARTITIONS; i++)
                assert_int_equal(offs[i], RD_KAFKA_OFFSET_INVALID);
        assert_int_equal(offs[0], -1001);
        assert_int_equal(
            br_h_committed_sum(c, "nobody-ever", TOPIC, PARTITIONS, 5000), 0);

        /* a commit made outside the group is read back per partition */
        rk = br_h_consumer_new(c, "committer");
        assert_non_null(rk);
        list = rd_kafka_topic_partition_list_new(2);
        rd_kafka_topic_partition_list_add(list, TOPIC, 1)->offset = 3;
        rd_kafka_topic_partition_list_add(list, TOPIC, 2)->offset = 2;
        assert_int_equal(rd_kafka_commit(rk, list, 0), 0);
        rd_kafka_topic_partition_list_destroy(list);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        assert_int_equal(
            br_h_committed(c, "committer", TOPIC, PARTITIONS, offs, 5000), 0);
        assert_int_equal(offs[0], RD_KAFKA_OFFSET_INVALID);
        assert_int_equal(offs[1], 3);
        assert_int_equal(offs[2], 2);
        assert_int_equal(offs[3], RD_KAFKA_OFFSET_INVALID);
        assert_int_equal(
            br_h_committed_sum(c, "committer", TOPIC, PARTITIONS, 5000), 5);
        br_h_cluster_destroy(c);
}

struct tally {
        int n;
        int64_t bytes;
};

static int count_msg(const rd_kafka_message_t *m, void *arg) {
        struct tally *t = arg;

        t->n++;
        t->bytes += (int64_t)m->len;
        return 0;
}

static void test_read_topic_and_second_topic(void **state) {
        struct br_h_cluster *c = br_h_cluster_new(1, NULL, 0);
        struct tally t         = {0, 0};
        int64_t t0;
        int i;

        (void)state;
        assert_non_null(c);
        assert_non_null(br_h_mock(c));
        assert_int_equal(br_h_topic_create(c, "dlq", 2), 0);
        assert_int_equal(br_h_producer_set(c, "compression.codec", "gzip"), 0);
        for (i = 0; i < 10; i++)
                assert_int_equal(
                    br_h_produce(c, "dlq", i % 2, "k", 1, "0123456789", 10), 0);
        /* keyless messages are accepted too */
        assert_int_equal(br_h_produce(c, "dlq", -1, NULL, 0, "x", 1), 0);
        assert_int_equal(br_h_flush(c, 10000), 0);
        assert_int_equal(br_h_producer_set(c, "linger.ms", "1"), -1);
        t0 = br_now_us();
        assert_int_equal(br_h_read_topic(c, "dlq", 2, 10000, count_msg, &t),
                         11);
        assert_int_equal(t.n, 11);
        assert_int_equal(t.bytes, 101);
        /* no group, so no join wait */
        assert_true(br_now_us() - t0 < 3000000);
        br_h_cluster_destroy(c);
}

static void test_broker_down_fails_flush(void **state) {
        struct br_h_cluster *c = br_h_cluster_new(1, "t", 1);

        (void)state;
        assert_non_null(c);
        assert_int_equal(br_h_produce(c, "t", 0, NULL, 0, "a", 1), 0);
        assert_int_equal(br_h_flush(c, 10000), 0);
        assert_int_equal(rd_kafka_mock_broker_set_down(br_h_mock(c), 1), 0);
        assert_int_equal(br_h_produce(c, "t", 0, NULL, 0, "b", 1), 0);
        assert_int_equal(br_h_flush(c, 300), -1);
        assert_int_equal(rd_kafka_mock_broker_set_up(br_h_mock(c), 1), 0);
        assert_int_equal(br_h_flush(c, 20000), 0);
        assert_int_equal(br_h_produced(c), 2);
        br_h_cluster_destroy(c);
}

static void test_body_equal(void **state) {
        const char *a = "{\"storageClientId\":\"sc\",\"metadata\":"
                        "\"{\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":\\\"a/"
                        "\xc3\xbc\\\"}}}\"}";
        const char *b = "{ \"metadata\" : \"{ \\\"s3\\\": { \\\"object\\\": "
                        "{ \\\"key\\\": \\\"a/\\\\u00fc\\\" } } }\", "
                        "\"storageClientId\": \"sc\" }";
        const char *other_key =
            "{\"storageClientId\":\"sc\",\"metadata\":"
            "\"{\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":\\\"a/u\\\"}}}\"}";
        const char *extra =
            "{\"storageClientId\":\"sc\",\"scanId\":\"1\",\"metadata\":"
            "\"{\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":\\\"a/"
            "\xc3\xbc\\\"}}}\"}";

        (void)state;
        assert_true(br_h_body_equal(a, b));
        assert_true(br_h_body_equal(b, a));
        assert_false(br_h_body_equal(a, other_key));
        assert_false(br_h_body_equal(a, extra));
        assert_false(br_h_body_equal(extra, a));
        assert_false(br_h_body_equal(a, "not json"));
        assert_true(br_h_body_equal("[1,2]", "[1, 2]"));
        assert_false(br_h_body_equal("[1,2]", "[2,1]"));
}

struct counter {
        int calls;
        int needed;
};

static int reached(void *arg) {
        struct counter *k = arg;

        return k->calls >= k->needed;
}

static void bump(void *arg) {
        ((struct counter *)arg)->calls++;
}

static int never(void *arg) {
        (void)arg;
        return 0;
}

static void test_wait(void **state) {
        struct counter k = {0, 5};
        int64_t t0;

        (void)state;
        assert_int_equal(br_h_wait(reached, &k, 5000, bump, &k), 0);
        assert_int_equal(k.calls, 5);
        t0 = br_now_us();
        assert_int_equal(br_h_wait(never, NULL, 60, NULL, NULL), -1);
        assert_true(br_now_us() - t0 >= 60000);
        assert_true(br_now_us() - t0 < 5000000);
}

static void test_files(void **state) {
        char dir[64], path[128], sub[128];
        size_t len;
        char *text;

        (void)state;
        assert_int_equal(br_h_tmpdir(dir, sizeof(dir)), 0);
        assert_int_equal(strncmp(dir, "/tmp/bbtest.", 12), 0);
        assert_int_equal(br_h_path(path, sizeof(path), dir, "a.yaml"), 0);
        assert_int_equal(br_h_write_file(path, "abc\0def", 7), 0);
        text = br_h_read_file(path, &len);
        assert_non_null(text);
        assert_int_equal(len, 7);
        assert_memory_equal(text, "abc\0def", 7);
        free(text);
        assert_true(br_h_file_contains(path, "abc"));
        assert_false(br_h_file_contains(path, "zzz"));
        assert_int_equal(br_h_path(sub, sizeof(sub), dir, "nested"), 0);
        assert_int_equal(mkdir(sub, 0700), 0);
        assert_int_equal(br_h_path(path, sizeof(path), sub, "b"), 0);
        assert_int_equal(br_h_write_file(path, "x", 1), 0);
        assert_int_equal(br_h_path(path, 8, dir, "a-long-name"), -1);
        assert_int_equal(br_h_rmtree(dir), 0);
        assert_int_equal(access(dir, F_OK), -1);
        assert_int_equal(br_h_rmtree("/etc"), -1);
        assert_int_equal(br_h_rmtree("/tmp/../etc"), -1);
        assert_int_equal(br_h_rmtree(NULL), 0);
        assert_null(br_h_read_file("/nonexistent/file", NULL));
}

static void test_process(void **state) {
        char dir[64], out[128];
        char sh[] = "/bin/sh", dash_c[] = "-c",
             script[]    = "echo hello from child; exit 3";
        char sleep_bin[] = "/bin/sleep", secs[] = "60";
        char *argv1[] = {sh, dash_c, script, NULL};
        char *argv2[] = {sleep_bin, secs, NULL};
        struct br_h_proc p;
        int64_t t0;

        (void)state;
        assert_int_equal(br_h_tmpdir(dir, sizeof(dir)), 0);
        assert_int_equal(br_h_path(out, sizeof(out), dir, "out.log"), 0);

        assert_int_equal(br_h_spawn(&p, argv1, out), 0);
        assert_int_equal(br_h_proc_exit_code(&p), -1);
        assert_int_equal(br_h_proc_wait(&p, 10000), 0);
        assert_int_equal(br_h_proc_exit_code(&p), 3);
        assert_true(br_h_file_contains(out, "hello from child"));
        br_h_proc_kill(&p);

        /* a child that would run for a minute: the wait times out, then
         * a signal ends it at once */
        assert_int_equal(br_h_spawn(&p, argv2, NULL), 0);
        t0 = br_now_us();
        assert_int_equal(br_h_proc_wait(&p, 50), -1);
        assert_true(br_now_us() - t0 >= 50000);
        assert_int_equal(br_h_proc_signal(&p, SIGTERM), 0);
        assert_int_equal(br_h_proc_wait(&p, 10000), 0);
        assert_int_equal(br_h_proc_exit_code(&p), 128 + SIGTERM);
        assert_int_equal(br_h_proc_signal(&p, SIGTERM), -1);
        br_h_proc_kill(&p);

        assert_int_equal(br_h_spawn(&p, argv2, NULL), 0);
        br_h_proc_kill(&p);
        assert_int_equal(br_h_proc_exit_code(&p), 128 + SIGKILL);
        br_h_proc_kill(NULL);

        assert_int_equal(br_h_rmtree(dir), 0);
}

/* Sets or unsets an environment variable from a saved copy. */
static void restore_env(const char *name, int had, const char *value) {
        if (had)
                setenv(name, value, 1);
        else
                unsetenv(name);
}

static void test_bridge_path(void **state) {
        char buf[256], bin[256] = "", build[256] = "";
        const char *v;
        int had_bin, had_build;

        (void)state;
        v       = getenv("BR_BIN");
        had_bin = v != NULL;
        if (v)
                snprintf(bin, sizeof(bin), "%s", v);
        v         = getenv("BUILD");
        had_build = v != NULL;
        if (v)
                snprintf(build, sizeof(build), "%s", v);

        setenv("BR_BIN", "/x/bb", 1);
        assert_string_equal(br_h_bridge_path(buf, sizeof(buf)), "/x/bb");
        unsetenv("BR_BIN");
        setenv("BUILD", "build-asan", 1);
        assert_string_equal(br_h_bridge_path(buf, sizeof(buf)),
                            "build-asan/bucketbridge");
        unsetenv("BUILD");
        assert_string_equal(br_h_bridge_path(buf, sizeof(buf)),
                            "build/bucketbridge");
        restore_env("BR_BIN", had_bin, bin);
        restore_env("BUILD", had_build, build);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_query_escape),
            cmocka_unit_test(test_minio_event_shape),
            cmocka_unit_test(test_event_key),
            cmocka_unit_test(test_body_equal),
            cmocka_unit_test(test_wait),
            cmocka_unit_test(test_files),
            cmocka_unit_test(test_process),
            cmocka_unit_test(test_bridge_path),
            cmocka_unit_test(test_read_topic_and_second_topic),
            cmocka_unit_test(test_broker_down_fails_flush),
            cmocka_unit_test(test_committed_offsets),
            cmocka_unit_test(test_produce_and_consume_back),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
