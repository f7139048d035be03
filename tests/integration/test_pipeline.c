/* The spine, end to end over real TCP: the mock Kafka cluster, the bridge's
 * loop in process (or the daemon as a child), the local MDSS stand-in.
 * Every event arrives with the right body, and the committed offsets equal
 * the end offsets; a second run on the same group delivers nothing new. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "tests/integration/lib_bridge.h"

#define TOPIC      "minio-events"
#define PARTITIONS 4
#define EVENTS     1000
#define API_KEY    "it-secret-key-1"

struct env {
        struct br_h_cluster *cluster;
        struct br_receiver *recv;
        char url[256];
};

static int setup(void **state) {
        struct env *e = calloc(1, sizeof(*e));
        char errstr[256];

        assert_non_null(e);
        e->cluster = br_h_cluster_new(1, TOPIC, PARTITIONS);
        assert_non_null(e->cluster);
        e->recv = br_receiver_new(NULL, 0, errstr, sizeof(errstr));
        assert_non_null(e->recv);
        br_receiver_set_api_key(e->recv, API_KEY);
        br_receiver_url(e->recv, e->url, sizeof(e->url));
        *state = e;
        return 0;
}

static int teardown(void **state) {
        struct env *e = *state;

        br_receiver_destroy(e->recv);
        br_h_cluster_destroy(e->cluster);
        free(e);
        return 0;
}

static void start_run(struct env *e, struct br_b_run *r, const char *group) {
        char yaml[2048];

        /* the api key comes through ${VAR}, as users are told to do */
        setenv("BR_IT_API_KEY", API_KEY, 1);
        snprintf(yaml, sizeof(yaml),
                 "kafka:\n"
                 "  brokers: %s\n"
                 "  group: %s\n"
                 "  topics: [" TOPIC "]\n"
                 "  properties:\n"
                 "    session.timeout.ms: 6000\n"
                 "webhook:\n"
                 "  url: %s\n"
                 "  api_key: ${BR_IT_API_KEY}\n"
                 "  max_in_flight: 32\n"
                 "routes:\n"
                 "  - bucket: invoices\n"
                 "    storage_client_id: sc-int-1\n"
                 "dead_letter:\n"
                 "  none: true\n"
                 "log:\n"
                 "  level: warn\n",
                 br_h_bootstraps(e->cluster), group, e->url);
        assert_int_equal(br_b_start(r, yaml), 0);
}

/* Graceful stop: stores, commits, closes; the loop must exit cleanly. */
static void stop_run(struct br_b_run *r) {
        assert_int_equal(br_b_stop(r, 30000), 0);
}

struct want {
        struct br_b_run *run;
        struct br_receiver *recv;
        size_t finished;
        size_t posted;
};

static int finished_and_posted(void *arg) {
        struct want *w = arg;

        return w->run->finished >= w->finished &&
               br_receiver_count_status(w->recv, 2) >= w->posted;
}

static void expected_key(char *buf, size_t size, int i) {
        br_h_event_key(buf, size, "batch/", i);
}

/* Every received body is a right one, for a distinct expected key. */
static void check_bodies(struct br_receiver *recv, size_t from, size_t n) {
        char *seen = calloc(EVENTS, 1);
        size_t i;

        assert_non_null(seen);
        for (i = from; i < from + n; i++) {
                struct br_received rec;
                char want[2048], key[512];
                int idx;

                assert_int_equal(br_receiver_get(recv, i, &rec), 0);
                assert_int_equal(rec.status, 200);
                assert_string_equal(rec.api_key, API_KEY);
                assert_string_equal(rec.content_type, "application/json");
                assert_non_null(rec.key);
                assert_int_equal(sscanf(rec.key, "batch/doc %d", &idx), 1);
                assert_true(idx >= 0 && idx < EVENTS);
                expected_key(key, sizeof(key), idx);
                assert_string_equal(rec.key, key);
                {
                        json_object *meta = json_object_new_object();
                        json_object *s3   = json_object_new_object();
                        json_object *obj  = json_object_new_object();
                        json_object *body = json_object_new_object();

                        json_object_object_add(obj, "key",
                                               json_object_new_string(key));
                        json_object_object_add(s3, "object", obj);
                        json_object_object_add(meta, "s3", s3);
                        json_object_object_add(
                            body, "metadata",
                            json_object_new_string(
                                json_object_to_json_string_ext(
                                    meta, JSON_C_TO_STRING_PLAIN)));
                        json_object_object_add(
                            body, "storageClientId",
                            json_object_new_string("sc-int-1"));
                        snprintf(want, sizeof(want), "%s",
                                 json_object_to_json_string_ext(
                                     body, JSON_C_TO_STRING_PLAIN));
                        json_object_put(body);
                        json_object_put(meta);
                }
                if (!br_h_body_equal(rec.body, want))
                        fail_msg("body %zu: got %s want %s", i, rec.body, want);
                seen[idx]++;
                br_received_free(&rec);
        }
        free(seen);
}

static void test_thousand_events_then_nothing_new(void **state) {
        struct env *e = *state;
        struct br_b_run r;
        struct want w;
        int64_t end[PARTITIONS], committed[PARTITIONS];
        size_t before;
        int i;

        assert_int_equal(br_h_produce_minio_n(e->cluster, TOPIC, "invoices",
                                              "batch/", EVENTS, 30000),
                         0);
        br_receiver_reset(e->recv);

        start_run(e, &r, "it-pipeline");
        w.run      = &r;
        w.recv     = e->recv;
        w.finished = EVENTS;
        w.posted   = EVENTS;
        assert_int_equal(
            br_h_wait(finished_and_posted, &w, 60000, br_b_step, &r), 0);
        assert_int_equal(r.ctx->stats.delivered, EVENTS);
        stop_run(&r);

        /* exactly once here: no failures were injected */
        assert_int_equal(br_receiver_count(e->recv), EVENTS);
        check_bodies(e->recv, 0, EVENTS);
        {
                /* distinct keys: every event, none twice */
                char *seen = calloc(EVENTS, 1);
                size_t j;

                for (j = 0; j < EVENTS; j++) {
                        struct br_received rec;
                        int idx;

                        br_receiver_get(e->recv, j, &rec);
                        sscanf(rec.key, "batch/doc %d", &idx);
                        assert_int_equal(seen[idx], 0);
                        seen[idx] = 1;
                        br_received_free(&rec);
                }
                free(seen);
        }

        assert_int_equal(
            br_h_end_offsets(e->cluster, TOPIC, PARTITIONS, end, 10000), 0);
        assert_int_equal(br_h_committed(e->cluster, "it-pipeline", TOPIC,
                                        PARTITIONS, committed, 10000),
                         0);
        for (i = 0; i < PARTITIONS; i++)
                assert_int_equal(committed[i], end[i]);
        assert_int_equal(br_h_offsets_sum(end, PARTITIONS), EVENTS);

        /* second run, same group: nothing old is delivered again.  Ten new
         * messages, spread over every partition, come after all the old
         * ones: once they are through, anything left over would be too. */
        before = br_receiver_count(e->recv);
        start_run(e, &r, "it-pipeline");
        for (i = 0; i < 10; i++) {
                char key[64];
                size_t len;
                char *value;

                snprintf(key, sizeof(key), "late/file %d.txt", i);
                value = br_h_minio_event("invoices", key, NULL, &len);
                assert_non_null(value);
                assert_int_equal(br_h_produce(e->cluster, TOPIC, i % PARTITIONS,
                                              NULL, 0, value, len),
                                 0);
                free(value);
        }
        assert_int_equal(br_h_flush(e->cluster, 10000), 0);
        w.finished = 10;
        w.posted   = before + 10;
        assert_int_equal(
            br_h_wait(finished_and_posted, &w, 30000, br_b_step, &r), 0);
        assert_int_equal(r.ctx->stats.messages, 10);
        stop_run(&r);
        assert_int_equal(br_receiver_count(e->recv), before + 10);
        assert_int_equal(br_h_committed(e->cluster, "it-pipeline", TOPIC,
                                        PARTITIONS, committed, 10000),
                         0);
        assert_int_equal(
            br_h_end_offsets(e->cluster, TOPIC, PARTITIONS, end, 10000), 0);
        for (i = 0; i < PARTITIONS; i++)
                assert_int_equal(committed[i], end[i]);
}

/* The daemon as users run it: `bucketbridge run -c FILE`, then SIGTERM:
 * exit 0 and every message's offset committed. */
static void test_daemon_sigterm_commits(void **state) {
        struct env *e = *state;
        struct br_h_proc proc;
        char dir[256], cfg[512], out[512], yaml[2048];
        int64_t end[PARTITIONS], committed[PARTITIONS];
        size_t base = br_receiver_count(e->recv);
        int i;

        assert_int_equal(br_h_tmpdir(dir, sizeof(dir)), 0);
        br_h_path(cfg, sizeof(cfg), dir, "bridge.yaml");
        br_h_path(out, sizeof(out), dir, "bridge.log");
        snprintf(yaml, sizeof(yaml),
                 "kafka:\n"
                 "  brokers: %s\n"
                 "  group: it-daemon\n"
                 "  topics: [" TOPIC "]\n"
                 "  properties: {session.timeout.ms: 6000}\n"
                 "webhook:\n"
                 "  url: %s\n"
                 "  api_key: " API_KEY "\n"
                 "routes:\n"
                 "  - bucket: \"*\"\n"
                 "    storage_client_id: sc-int-1\n"
                 "dead_letter: {none: true}\n",
                 br_h_bootstraps(e->cluster), e->url);
        assert_int_equal(br_h_write_file(cfg, yaml, strlen(yaml)), 0);
        assert_int_equal(
            br_h_produce_minio_n(e->cluster, TOPIC, "daemon", "d/", 200, 30000),
            0);
        assert_int_equal(
            br_h_end_offsets(e->cluster, TOPIC, PARTITIONS, end, 10000), 0);
        assert_int_equal(br_h_spawn_bridge(&proc, cfg, out), 0);
        /* a new group reads the whole topic, the previous test's too */
        assert_int_equal(
            br_receiver_wait(e->recv,
                             base + (size_t)br_h_offsets_sum(end, PARTITIONS),
                             60000),
            0);
        assert_int_equal(br_h_proc_signal(&proc, SIGTERM), 0);
        assert_int_equal(br_h_proc_wait(&proc, 20000), 0);
        assert_int_equal(br_h_proc_exit_code(&proc), 0);
        assert_int_equal(br_h_committed(e->cluster, "it-daemon", TOPIC,
                                        PARTITIONS, committed, 10000),
                         0);
        for (i = 0; i < PARTITIONS; i++)
                assert_int_equal(committed[i], end[i]);
        /* the key never reaches the log */
        assert_int_equal(br_h_file_contains(out, API_KEY), 0);
        br_h_rmtree(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_thousand_events_then_nothing_new),
            cmocka_unit_test(test_daemon_sigterm_commits),
        };

        return cmocka_run_group_tests_name("pipeline", tests, setup, teardown);
}
