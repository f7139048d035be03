/* Replay: records dead-lettered because a route pointed at the wrong
 * storage unit are re-sent by `bucketbridge replay` once the route is
 * fixed, from the dead-letter topic and from the dead-letter file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/integration/lib_bridge.h"

#define TOPIC  "replay-events"
#define DLQ    "replay-dlq"
#define EVENTS 6

struct env {
        struct br_h_cluster *cluster;
        struct br_receiver *recv;
        char url[256];
        char dir[256];
};

static int setup(void **state) {
        struct env *e                 = calloc(1, sizeof(*e));
        struct br_receiver_rule wrong = {0};
        char errstr[256];

        assert_non_null(e);
        e->cluster = br_h_cluster_new(1, TOPIC, 2);
        assert_non_null(e->cluster);
        assert_int_equal(br_h_topic_create(e->cluster, DLQ, 1), 0);
        e->recv = br_receiver_new(NULL, 0, errstr, sizeof(errstr));
        assert_non_null(e->recv);
        br_receiver_url(e->recv, e->url, sizeof(e->url));
        /* the misconfigured storage unit does not exist on MDSS */
        wrong.storage_client_id = "sc-wrong";
        wrong.count             = -1;
        wrong.status            = 404;
        wrong.body              = BR_RECEIVER_BODY_STORAGE_NOT_FOUND;
        assert_int_equal(br_receiver_add_rule(e->recv, &wrong), 0);
        assert_int_equal(br_h_tmpdir(e->dir, sizeof(e->dir)), 0);
        *state = e;
        return 0;
}

static int teardown(void **state) {
        struct env *e = *state;

        br_receiver_destroy(e->recv);
        br_h_cluster_destroy(e->cluster);
        br_h_rmtree(e->dir);
        free(e);
        return 0;
}

static void config(struct env *e, char *buf, size_t size, const char *group,
                   const char *scid, const char *dead_letter) {
        snprintf(buf, size,
                 "kafka:\n"
                 "  brokers: %s\n"
                 "  group: %s\n"
                 "  topics: [" TOPIC "]\n"
                 "  properties: {session.timeout.ms: 6000}\n"
                 "webhook:\n"
                 "  url: %s\n"
                 "  api_key: replay-key\n"
                 "routes:\n"
                 "  - bucket: \"*\"\n"
                 "    storage_client_id: %s\n"
                 "dead_letter: %s\n"
                 "log: {level: warn}\n",
                 br_h_bootstraps(e->cluster), group, e->url, scid, dead_letter);
}

static void dead_letter_everything(struct env *e, const char *group,
                                   const char *dead_letter) {
        char yaml[2048];
        struct br_b_run r;

        config(e, yaml, sizeof(yaml), group, "sc-wrong", dead_letter);
        assert_int_equal(br_b_start(&r, yaml), 0);
        assert_int_equal(br_b_wait_finished(&r, EVENTS, 60000), 0);
        assert_int_equal(r.ctx->stats.delivered, 0);
        assert_int_equal(r.ctx->stats.dead_lettered, EVENTS);
        assert_int_equal(br_b_stop(&r, 30000), 0);
}

static size_t count_for(struct br_receiver *recv, const char *scid,
                        int status) {
        size_t i, n = 0, total = br_receiver_count(recv);

        for (i = 0; i < total; i++) {
                struct br_received rec;

                if (br_receiver_get(recv, i, &rec))
                        continue;
                if (rec.storage_client_id &&
                    !strcmp(rec.storage_client_id, scid) &&
                    rec.status == status)
                        n++;
                br_received_free(&rec);
        }
        return n;
}

/* Runs `bucketbridge replay ARGS...` with a fixed route; returns its exit
 * code, output in out. */
static int run_replay(struct env *e, const char *dead_letter,
                      const char *from_flag, const char *from,
                      const char *extra, const char *out) {
        char yaml[2048], cfg[512], bin[512];
        char args[7][600];
        char *argv[8];
        struct br_h_proc p;
        int n = 0, i;

        config(e, yaml, sizeof(yaml), "unused", "sc-right", dead_letter);
        br_h_path(cfg, sizeof(cfg), e->dir, "fixed.yaml");
        assert_int_equal(br_h_write_file(cfg, yaml, strlen(yaml)), 0);
        /* execv wants mutable strings */
        snprintf(args[n++], sizeof(args[0]), "%s",
                 br_h_bridge_path(bin, sizeof(bin)));
        snprintf(args[n++], sizeof(args[0]), "replay");
        snprintf(args[n++], sizeof(args[0]), "-c");
        snprintf(args[n++], sizeof(args[0]), "%s", cfg);
        snprintf(args[n++], sizeof(args[0]), "%s", from_flag);
        snprintf(args[n++], sizeof(args[0]), "%s", from);
        if (extra)
                snprintf(args[n++], sizeof(args[0]), "%s", extra);
        for (i = 0; i < n; i++)
                argv[i] = args[i];
        argv[n] = NULL;
        assert_int_equal(br_h_spawn(&p, argv, out), 0);
        assert_int_equal(br_h_proc_wait(&p, 60000), 0);
        return br_h_proc_exit_code(&p);
}

static void produce_events(struct env *e, const char *prefix) {
        assert_int_equal(br_h_produce_minio_n(e->cluster, TOPIC, "media",
                                              prefix, EVENTS, 30000),
                         0);
}

static void test_replay_from_topic_after_route_fix(void **state) {
        struct env *e = *state;
        char out[512];

        produce_events(e, "t/");
        dead_letter_everything(e, "replay-g1", "{topic: " DLQ "}");
        assert_int_equal(count_for(e->recv, "sc-wrong", 404), EVENTS);

        br_h_path(out, sizeof(out), e->dir, "replay-topic.out");
        assert_int_equal(
            run_replay(e, "{topic: " DLQ "}", "--from-topic", DLQ, NULL, out),
            0);
        /* every dead-lettered record reached the fixed storage unit */
        assert_int_equal(count_for(e->recv, "sc-right", 200), EVENTS);
        assert_int_equal(
            br_h_file_contains(out, "6 delivered, 0 dead-lettered again"), 1);
}

static void test_replay_from_file_dry_run_and_class(void **state) {
        struct env *e = *state;
        char dlq_file[512], dl[700], out[512];
        size_t before;

        br_receiver_reset(e->recv);
        br_h_path(dlq_file, sizeof(dlq_file), e->dir, "dead.jsonl");
        snprintf(dl, sizeof(dl), "{file: %s}", dlq_file);
        /* a new group reads the first test's events from the start and
         * dead-letters them again, now into the file */
        dead_letter_everything(e, "replay-g2", dl);

        /* a class that is not there: nothing is sent */
        br_h_path(out, sizeof(out), e->dir, "replay-class.out");
        assert_int_equal(run_replay(e, dl, "--from-file", dlq_file,
                                    "--class=exhausted", out),
                         0);
        assert_int_equal(count_for(e->recv, "sc-right", 200), 0);

        /* dry run prints the fixed bodies and sends nothing */
        br_h_path(out, sizeof(out), e->dir, "replay-dry.out");
        assert_int_equal(
            run_replay(e, dl, "--from-file", dlq_file, "--dry-run", out), 0);
        assert_int_equal(count_for(e->recv, "sc-right", 200), 0);
        assert_int_equal(br_h_file_contains(out, "\"sc-right\""), 1);

        before = br_receiver_count(e->recv);
        br_h_path(out, sizeof(out), e->dir, "replay-file.out");
        assert_int_equal(
            run_replay(e, dl, "--from-file", dlq_file, "--class=rejected", out),
            0);
        assert_int_equal(count_for(e->recv, "sc-right", 200), EVENTS);
        assert_int_equal(br_receiver_count(e->recv), before + EVENTS);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_replay_from_topic_after_route_fix),
            cmocka_unit_test(test_replay_from_file_dry_run_and_class),
        };

        return cmocka_run_group_tests_name("replay", tests, setup, teardown);
}
