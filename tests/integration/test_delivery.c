/* Delivery guarantees, one test per behaviour, each over real TCP: the
 * mock Kafka cluster (one for the file, a topic and a group per test), the
 * scripted MDSS stand-in, the bridge's loop stepped in process.  Retries
 * keep their backoff and Retry-After, permanent answers and unreadable
 * messages are dead-lettered once with their context, outages hold one
 * storage unit without touching the others, transport failures and
 * timeouts are retried, the in-flight cap holds, and every test ends with
 * the committed offsets at the end of its topic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bridge/ctx.h"
#include "bridge/dlq.h"
#include "bridge/receiver.h"
#include "bridge/util.h"
#include "tests/integration/lib_bridge.h"
#include "tests/integration/lib_harness.h"

#define API_KEY "it-delivery-key"
/* a group's first assignment plus the test's own work */
#define DEADLINE_MS (BR_H_JOIN_MS + 20000)
#define STOP_MS     15000

struct env {
        struct br_h_cluster *cluster;
        /* per test, released by teardown even after a failed assert */
        struct br_receiver *recv;
        struct br_receiver *late_recv;
        char url[256];
        char dir[256];
        char dlq_file[512];
        struct br_b_run run;
};

static int group_setup(void **state) {
        struct env *e = calloc(1, sizeof(*e));

        assert_non_null(e);
        e->cluster = br_h_cluster_new(1, NULL, 0);
        assert_non_null(e->cluster);
        *state = e;
        return 0;
}

static int group_teardown(void **state) {
        struct env *e = *state;

        br_h_cluster_destroy(e->cluster);
        free(e);
        return 0;
}

static int setup(void **state) {
        struct env *e = *state;
        char errstr[256];

        e->recv = br_receiver_new(NULL, 0, errstr, sizeof(errstr));
        if (!e->recv)
                fail_msg("receiver: %s", errstr);
        br_receiver_set_api_key(e->recv, API_KEY);
        br_receiver_url(e->recv, e->url, sizeof(e->url));
        assert_int_equal(br_h_tmpdir(e->dir, sizeof(e->dir)), 0);
        assert_int_equal(
            br_h_path(e->dlq_file, sizeof(e->dlq_file), e->dir, "dlq.jsonl"),
            0);
        return 0;
}

static int teardown(void **state) {
        struct env *e = *state;

        br_b_destroy(&e->run);
        br_receiver_destroy(e->recv);
        br_receiver_destroy(e->late_recv);
        e->recv      = NULL;
        e->late_recv = NULL;
        br_h_rmtree(e->dir);
        return 0;
}

/* What varies between the tests' configurations. */
struct cfg {
        const char *name;    /* topic "t-NAME", group "g-NAME" */
        const char *url;     /* NULL: the test's receiver */
        const char *webhook; /* extra "  key: value\n" lines under webhook */
        const char *retry;   /* lines under retry, NULL: none */
        const char *routes;  /* the routes list */
        const char *dlq;     /* lines under dead_letter; NULL: the file */
};

static void topic_of(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "t-%s", name);
}

static void group_of(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "g-%s", name);
}

/* Creates the test's topic (one partition: arrival order is offset
 * order) and starts the bridge on it. */
static void start(struct env *e, const struct cfg *c) {
        char yaml[4096], dlq[700], topic[128], group[128];
        int n;

        topic_of(topic, sizeof(topic), c->name);
        group_of(group, sizeof(group), c->name);
        if (c->dlq)
                snprintf(dlq, sizeof(dlq), "%s", c->dlq);
        else
                snprintf(dlq, sizeof(dlq), "  file: %s\n", e->dlq_file);
        n = snprintf(yaml, sizeof(yaml),
                     "kafka:\n"
                     "  brokers: %s\n"
                     "  group: %s\n"
                     "  topics: [%s]\n"
                     "  properties:\n"
                     "    session.timeout.ms: 6000\n"
                     /* commits show up quickly for tests that look at
                      * them while the bridge runs */
                     "    auto.commit.interval.ms: 100\n"
                     "webhook:\n"
                     "  url: %s\n"
                     "  api_key: " API_KEY "\n"
                     "%s"
                     "retry:\n"
                     "  initial_backoff: 50ms\n"
                     "%s"
                     "routes:\n"
                     "%s"
                     "dead_letter:\n"
                     "%s"
                     "log:\n"
                     "  level: error\n",
                     br_h_bootstraps(e->cluster), group, topic,
                     c->url ? c->url : e->url, c->webhook ? c->webhook : "",
                     c->retry ? c->retry : "", c->routes, dlq);
        assert_true(n > 0 && (size_t)n < sizeof(yaml));
        if (br_b_start(&e->run, yaml) == -1)
                fail_msg("bridge did not start; config:\n%s", yaml);
}

static void stop_and_check_committed(struct env *e, const char *name) {
        char topic[128], group[128];

        topic_of(topic, sizeof(topic), name);
        group_of(group, sizeof(group), name);
        assert_int_equal(br_b_stop(&e->run, STOP_MS), 0);
        assert_true(br_b_committed_is_end(e->cluster, group, topic, 1));
}

static void make_topic(struct env *e, const char *name) {
        char topic[128];

        topic_of(topic, sizeof(topic), name);
        assert_int_equal(br_h_topic_create(e->cluster, topic, 1), 0);
}

static void produce_minio(struct env *e, const char *name, const char *bucket,
                          const char *raw_key) {
        char topic[128];

        topic_of(topic, sizeof(topic), name);
        assert_int_equal(br_b_produce_minio(e->cluster, topic, bucket, raw_key),
                         0);
}

static void add_rule(struct env *e, const struct br_receiver_rule *rule) {
        assert_int_equal(br_receiver_add_rule(e->recv, rule), 0);
}

static size_t dlq_file_lines(struct env *e) {
        struct json_object *arr = br_b_dlq_file(e->dlq_file);
        size_t n;

        assert_non_null(arr);
        n = json_object_array_length(arr);
        json_object_put(arr);
        return n;
}

/* A port on 127.0.0.1 where nothing listens (bound once, then closed). */
static uint16_t closed_port(void) {
        struct sockaddr_in sa;
        socklen_t len = sizeof(sa);
        int fd        = socket(AF_INET, SOCK_STREAM, 0);

        assert_true(fd >= 0);
        memset(&sa, 0, sizeof(sa));
        sa.sin_family      = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        close(fd);
        return ntohs(sa.sin_port);
}

/* ---- 1: 503 three times, then 200 ------------------------------------- */

static void test_503_then_delivered_with_backoff(void **state) {
        struct env *e = *state;
        struct cfg c  = {
             .name   = "retry503",
             .retry  = "  max_backoff: 400ms\n",
             .routes = "  - bucket: retry\n"
                        "    storage_client_id: sc-retry\n",
        };
        struct br_receiver_rule rule = {
            .storage_client_id = "sc-retry", .count = 3, .status = 503};
        /* retry i waits uniformly in [50, min(400, 50 * 2^(i-1))] ms */
        static const int64_t window_ms[] = {0, 50, 100, 200};
        /* what a slow turn of the loop (and a sanitiser) may add */
        const int64_t slack_ms = 300;
        struct br_received *reqs;
        size_t n, i;

        make_topic(e, c.name);
        add_rule(e, &rule);
        produce_minio(e, c.name, "retry", "reports/q1.pdf");
        start(e, &c);
        assert_int_equal(br_b_wait_finished(&e->run, 1, DEADLINE_MS), 0);
        assert_int_equal(e->run.ctx->stats.delivered, 1);
        assert_int_equal(e->run.ctx->stats.retries, 3);
        assert_int_equal(e->run.ctx->stats.dead_lettered, 0);

        reqs = br_b_requests(e->recv, "sc-retry", &n);
        assert_non_null(reqs);
        assert_int_equal(n, 4); /* 3 failures + the delivery, no more */
        for (i = 0; i < n; i++) {
                assert_int_equal(reqs[i].status, i < 3 ? 503 : 200);
                assert_string_equal(reqs[i].key, "reports/q1.pdf");
                assert_string_equal(reqs[i].body, reqs[0].body);
        }
        for (i = 1; i < n; i++) {
                int64_t gap = reqs[i].arrival_us - reqs[i - 1].arrival_us;

                if (gap < 50 * 1000 || gap > (window_ms[i] + slack_ms) * 1000)
                        fail_msg("retry %zu came %lld ms after the previous "
                                 "attempt, want %d..%lld ms",
                                 i, (long long)(gap / 1000), 50,
                                 (long long)(window_ms[i] + slack_ms));
        }
        br_b_requests_free(reqs, n);
        stop_and_check_committed(e, c.name);
        assert_int_equal(dlq_file_lines(e), 0);
}

/* ---- 2: 429 with Retry-After ------------------------------------------ */

static void test_429_retry_after_honoured(void **state) {
        struct env *e = *state;
        struct cfg c  = {
             .name   = "retry429",
             .retry  = "  max_backoff: 400ms\n",
             .routes = "  - bucket: busy\n"
                        "    storage_client_id: sc-busy\n",
        };
        struct br_receiver_rule rule = {.storage_client_id = "sc-busy",
                                        .count             = 1,
                                        .status            = 429,
                                        .retry_after       = "2"};
        struct br_received *reqs;
        int64_t gap;
        size_t n;

        make_topic(e, c.name);
        add_rule(e, &rule);
        produce_minio(e, c.name, "busy", "a.bin");
        start(e, &c);
        assert_int_equal(br_b_wait_finished(&e->run, 1, DEADLINE_MS), 0);
        assert_int_equal(e->run.ctx->stats.delivered, 1);

        reqs = br_b_requests(e->recv, "sc-busy", &n);
        assert_non_null(reqs);
        assert_int_equal(n, 2);
        assert_int_equal(reqs[0].status, 429);
        assert_int_equal(reqs[1].status, 200);
        /* Retry-After (2 s) beats max_backoff (400 ms) */
        gap = reqs[1].arrival_us - reqs[0].arrival_us;
        if (gap < 2000000 || gap > 3000000)
                fail_msg("retry after %lld ms, want 2000..3000",
                         (long long)(gap / 1000));
        br_b_requests_free(reqs, n);
        stop_and_check_committed(e, c.name);
        assert_int_equal(dlq_file_lines(e), 0);
}

/* ---- 3: storage not found: dead-lettered, the other unit flows -------- */

#define NF_ROUTES                                                              \
        "  - bucket: bkt-a\n"                                                  \
        "    storage_client_id: sc-gone\n"                                     \
        "  - bucket: bkt-b\n"                                                  \
        "    storage_client_id: sc-here\n"

/* What the not-found tests compare the dead-letter entry with. */
struct nf_run {
        char *value; /* A's message value as produced */
        size_t value_len;
        char *request; /* the body A's request carried */
        int64_t wall_before;
        int64_t wall_after;
};

static void not_found_run(struct env *e, const struct cfg *c,
                          struct nf_run *out) {
        struct br_receiver_rule rule = {.storage_client_id = "sc-gone",
                                        .count             = -1,
                                        .status            = 404,
                                        .body =
                                            BR_RECEIVER_BODY_STORAGE_NOT_FOUND};
        struct br_received *reqs;
        char topic[128];
        size_t n, i;

        memset(out, 0, sizeof(*out));
        topic_of(topic, sizeof(topic), c->name);
        make_topic(e, c->name);
        add_rule(e, &rule);
        /* offsets: 0 B, 1 A, 2 B */
        produce_minio(e, c->name, "bkt-b", "one.pdf");
        out->value =
            br_h_minio_event("bkt-a", "dir/doc a+ü.pdf", NULL, &out->value_len);
        assert_non_null(out->value);
        assert_int_equal(br_b_produce(e->cluster, topic,
                                      "bkt-a/dir/doc a+ü.pdf", out->value,
                                      out->value_len),
                         0);
        produce_minio(e, c->name, "bkt-b", "two.pdf");

        out->wall_before = br_wallclock_us();
        start(e, c);
        assert_int_equal(br_b_wait_finished(&e->run, 3, DEADLINE_MS), 0);
        out->wall_after = br_wallclock_us();
        assert_int_equal(e->run.ctx->stats.delivered, 2);
        assert_int_equal(e->run.ctx->stats.dead_lettered, 1);
        assert_int_equal(e->run.ctx->stats.retries, 0);

        /* a permanent answer is not retried */
        reqs = br_b_requests(e->recv, "sc-gone", &n);
        assert_non_null(reqs);
        assert_int_equal(n, 1);
        assert_int_equal(reqs[0].status, 404);
        assert_string_equal(reqs[0].key, "dir/doc a+ü.pdf");
        out->request = strdup(reqs[0].body);
        assert_non_null(out->request);
        br_b_requests_free(reqs, n);
        reqs = br_b_requests(e->recv, "sc-here", &n);
        assert_non_null(reqs);
        assert_int_equal(n, 2);
        for (i = 0; i < n; i++)
                assert_int_equal(reqs[i].status, 200);
        br_b_requests_free(reqs, n);
        stop_and_check_committed(e, c->name);
}

static void nf_run_free(struct nf_run *r) {
        free(r->value);
        free(r->request);
}

static void check_time(const char *text, const struct nf_run *r) {
        int64_t t = br_b_rfc3339_us(text);

        if (t == -1)
                fail_msg("not an RFC 3339 time: %s", text ? text : "(none)");
        /* millisecond precision: allow the truncation */
        assert_true(t >= r->wall_before - 1000 && t <= r->wall_after);
}

static void test_storage_not_found_dead_lettered_to_topic(void **state) {
        struct env *e = *state;
        struct cfg c  = {
             .name   = "notfound-topic",
             .routes = NF_ROUTES,
             .dlq    = "  topic: dlq-notfound\n",
        };
        static const char *const names[] = {
            BR_DLQ_H_REASON,        BR_DLQ_H_CLASS,
            BR_DLQ_H_TOPIC,         BR_DLQ_H_PARTITION,
            BR_DLQ_H_OFFSET,        BR_DLQ_H_RECORD,
            BR_DLQ_H_HTTP_STATUS,   BR_DLQ_H_RESPONSE,
            BR_DLQ_H_REQUEST,       BR_DLQ_H_ATTEMPTS,
            BR_DLQ_H_FIRST_ATTEMPT, BR_DLQ_H_LAST_ATTEMPT};
        struct br_b_dlq_msg *msgs;
        struct nf_run r;
        size_t n, i;

        assert_int_equal(br_h_topic_create(e->cluster, "dlq-notfound", 1), 0);
        not_found_run(e, &c, &r);

        assert_int_equal(br_b_dlq_topic(e->cluster, "dlq-notfound", &msgs, &n),
                         0);
        assert_int_equal(n, 1); /* exactly once */
        assert_non_null(msgs[0].key);
        assert_string_equal(msgs[0].key, "bkt-a/dir/doc a+ü.pdf");
        assert_int_equal(msgs[0].value_len, r.value_len);
        assert_memory_equal(msgs[0].value, r.value, r.value_len);
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (br_b_dlq_header_count(&msgs[0], names[i]) != 1)
                        fail_msg("header %s appears %zu times", names[i],
                                 br_b_dlq_header_count(&msgs[0], names[i]));
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_REASON),
                            "HTTP 404: The storage could not be found");
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_CLASS),
                            "rejected");
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_TOPIC),
                            "t-notfound-topic");
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_PARTITION), "0");
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_OFFSET), "1");
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_RECORD), "0");
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_HTTP_STATUS),
                            "404");
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_RESPONSE),
                            BR_RECEIVER_BODY_STORAGE_NOT_FOUND);
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_REQUEST),
                            r.request);
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_ATTEMPTS), "1");
        check_time(br_b_dlq_header(&msgs[0], BR_DLQ_H_FIRST_ATTEMPT), &r);
        check_time(br_b_dlq_header(&msgs[0], BR_DLQ_H_LAST_ATTEMPT), &r);
        assert_true(
            br_b_rfc3339_us(
                br_b_dlq_header(&msgs[0], BR_DLQ_H_FIRST_ATTEMPT)) <=
            br_b_rfc3339_us(br_b_dlq_header(&msgs[0], BR_DLQ_H_LAST_ATTEMPT)));
        /* the api key is in no header */
        for (i = 0; i < msgs[0].header_cnt; i++)
                assert_null(msgs[0].headers[i].value
                                ? strstr(msgs[0].headers[i].value, API_KEY)
                                : NULL);
        br_b_dlq_msgs_free(msgs, n);
        nf_run_free(&r);
}

static void test_storage_not_found_dead_lettered_to_file(void **state) {
        struct env *e = *state;
        struct cfg c  = {
             .name   = "notfound-file",
             .routes = NF_ROUTES,
        };
        struct json_object *arr, *line;
        struct nf_run r;

        not_found_run(e, &c, &r);
        arr = br_b_dlq_file(e->dlq_file);
        assert_non_null(arr);
        assert_int_equal(json_object_array_length(arr), 1);
        line = json_object_array_get_idx(arr, 0);
        assert_string_equal(br_b_json_str(line, "reason"),
                            "HTTP 404: The storage could not be found");
        assert_string_equal(br_b_json_str(line, "class"), "rejected");
        assert_string_equal(br_b_json_str(line, "topic"), "t-notfound-file");
        assert_int_equal(br_b_json_int(line, "partition", -1), 0);
        assert_int_equal(br_b_json_int(line, "offset", -1), 1);
        assert_int_equal(br_b_json_int(line, "record", -2), 0);
        assert_int_equal(br_b_json_int(line, "http_status", -1), 404);
        assert_string_equal(br_b_json_str(line, "response"),
                            BR_RECEIVER_BODY_STORAGE_NOT_FOUND);
        assert_string_equal(br_b_json_str(line, "request"), r.request);
        assert_int_equal(br_b_json_int(line, "attempts", -1), 1);
        check_time(br_b_json_str(line, "first_attempt"), &r);
        check_time(br_b_json_str(line, "last_attempt"), &r);
        assert_string_equal(br_b_json_str(line, "key"),
                            "bkt-a/dir/doc a+ü.pdf");
        assert_non_null(br_b_json_str(line, "value"));
        assert_int_equal(strlen(br_b_json_str(line, "value")), r.value_len);
        assert_memory_equal(br_b_json_str(line, "value"), r.value, r.value_len);
        json_object_put(arr);
        nf_run_free(&r);
}

/* ---- 4: outage of one storage unit ------------------------------------ */

struct outage_want {
        struct env *e;
        int64_t committed;
};

static struct br_unit *unit_named(struct br_ctx *ctx, const char *sc) {
        struct br_unit *u;

        for (u = ctx->units; u; u = u->next)
                if (!strcmp(u->storage_client_id, sc))
                        return u;
        return NULL;
}

/* B's records are through and A is held (its first answers came). */
static int b_delivered(void *arg) {
        struct env *e = arg;

        struct br_unit *ua = unit_named(e->run.ctx, "sc-out-a");

        /* only B is answered 200 while A's rule stands */
        return br_receiver_count_status(e->recv, 200) >= 4 &&
               e->run.finished >= 4 && ua && ua->in_outage;
}

static int committed_reached(void *arg) {
        struct outage_want *w = arg;
        int64_t off[1];

        return br_h_committed(w->e->cluster, "g-outage", "t-outage", 1, off,
                              5000) == 0 &&
               off[0] == w->committed;
}

static void test_outage_holds_one_unit_and_probes(void **state) {
        struct env *e = *state;
        struct cfg c  = {
             .name   = "outage",
             .retry  = "  max_backoff: 300ms\n",
             .routes = "  - bucket: unit-a\n"
                        "    storage_client_id: sc-out-a\n"
                        "  - bucket: unit-b\n"
                        "    storage_client_id: sc-out-b\n",
        };
        struct br_receiver_rule rule = {.storage_client_id = "sc-out-a",
                                        .count             = -1,
                                        .status            = 400,
                                        .body =
                                            BR_RECEIVER_BODY_RTP_NOT_ENABLED};
        const int64_t interval_us = 300 * 1000, window_ms = 1500;
        struct outage_want w = {e, 1};
        struct br_received *reqs;
        struct br_unit *ua;
        size_t n_before, n_after, n, i;
        int64_t off[1];

        make_topic(e, c.name);
        add_rule(e, &rule);
        /* offsets: 0 B, 1 A, 2 B, 3 A, 4 B, 5 B */
        produce_minio(e, c.name, "unit-b", "b0.pdf");
        produce_minio(e, c.name, "unit-a", "a1.pdf");
        produce_minio(e, c.name, "unit-b", "b2.pdf");
        produce_minio(e, c.name, "unit-a", "a3.pdf");
        produce_minio(e, c.name, "unit-b", "b4.pdf");
        produce_minio(e, c.name, "unit-b", "b5.pdf");
        start(e, &c);

        /* B keeps flowing past A's held records */
        assert_int_equal(br_b_wait(&e->run, b_delivered, e, DEADLINE_MS), 0);
        ua = unit_named(e->run.ctx, "sc-out-a");
        assert_true(ua && ua->in_outage);
        /* held, not committed past offset 1 (A's first record) */
        assert_int_equal(br_b_wait(&e->run, committed_reached, &w, 10000), 0);

        /* probed about once per max_backoff, not hammered */
        reqs = br_b_requests(e->recv, "sc-out-a", &n_before);
        br_b_requests_free(reqs, n_before);
        br_b_run_for(&e->run, (int)window_ms);
        reqs = br_b_requests(e->recv, "sc-out-a", &n_after);
        assert_non_null(reqs);
        if (n_after - n_before < 2 ||
            n_after - n_before > (size_t)(window_ms * 1000 / interval_us + 1))
                fail_msg("%zu probes in %lld ms, want 2..%lld",
                         n_after - n_before, (long long)window_ms,
                         (long long)(window_ms * 1000 / interval_us + 1));
        /* the first two may go together (both sent before the first
         * answer); every probe after them waits the interval */
        for (i = 2; i < n_after; i++)
                if (reqs[i].arrival_us - reqs[i - 1].arrival_us < interval_us)
                        fail_msg("probe %zu came %lld ms after the previous "
                                 "one",
                                 i,
                                 (long long)((reqs[i].arrival_us -
                                              reqs[i - 1].arrival_us) /
                                             1000));
        br_b_requests_free(reqs, n_after);
        assert_int_equal(e->run.ctx->stats.dead_lettered, 0);
        assert_int_equal(e->run.finished, 4);
        assert_int_equal(
            br_h_committed(e->cluster, "g-outage", "t-outage", 1, off, 5000),
            0);
        assert_int_equal(off[0], 1);
        assert_int_equal(dlq_file_lines(e), 0);

        /* A recovers: its held records go through */
        br_receiver_clear_rules(e->recv);
        assert_int_equal(br_b_wait_finished(&e->run, 6, 10000), 0);
        assert_true(ua && !ua->in_outage);
        reqs = br_b_requests(e->recv, "sc-out-a", &n);
        assert_non_null(reqs);
        {
                int a1 = 0, a3 = 0;

                for (i = 0; i < n; i++) {
                        if (reqs[i].status != 200)
                                continue;
                        a1 += !strcmp(reqs[i].key, "a1.pdf");
                        a3 += !strcmp(reqs[i].key, "a3.pdf");
                }
                assert_int_equal(a1, 1);
                assert_int_equal(a3, 1);
        }
        br_b_requests_free(reqs, n);
        assert_int_equal(e->run.ctx->stats.delivered, 6);
        assert_int_equal(e->run.ctx->stats.dead_lettered, 0);
        stop_and_check_committed(e, c.name);
        assert_int_equal(dlq_file_lines(e), 0);
}

/* ---- 5: connection refused until the receiver comes up ---------------- */

static int retried_enough(void *arg) {
        struct env *e = arg;

        return e->run.ctx->stats.retries >= 6;
}

static void test_connection_refused_then_delivered(void **state) {
        struct env *e = *state;
        char url[128], errstr[256];
        uint16_t port = closed_port();
        struct cfg c  = {
             .name   = "refused",
             .url    = url,
             .retry  = "  max_backoff: 200ms\n",
             .routes = "  - bucket: late\n"
                        "    storage_client_id: sc-late\n",
        };
        struct br_received *reqs;
        size_t n, i, log_len;
        int seen[3] = {0, 0, 0};
        static char log_text[65536];
        FILE *log_out;

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/webhook/realtime",
                 (unsigned)port);
        make_topic(e, c.name);
        produce_minio(e, c.name, "late", "f0.txt");
        produce_minio(e, c.name, "late", "f1.txt");
        produce_minio(e, c.name, "late", "f2.txt");
        start(e, &c);
        /* the endpoint's state changes are logged, once each */
        log_out               = tmpfile();
        e->run.ctx->log.out   = log_out;
        e->run.ctx->log.level = BR_LOG_INFO;
        assert_non_null(log_out);
        assert_int_equal(br_b_wait(&e->run, retried_enough, e, DEADLINE_MS), 0);
        assert_int_equal(e->run.finished, 0);
        assert_int_equal(e->run.ctx->stats.delivered, 0);
        assert_int_equal(e->run.ctx->stats.dead_lettered, 0);

        e->late_recv = br_receiver_new(NULL, port, errstr, sizeof(errstr));
        if (!e->late_recv)
                fail_msg("receiver on port %u: %s", (unsigned)port, errstr);
        br_receiver_set_api_key(e->late_recv, API_KEY);
        assert_int_equal(br_b_wait_finished(&e->run, 3, 10000), 0);
        assert_int_equal(e->run.ctx->stats.delivered, 3);
        assert_int_equal(e->run.ctx->stats.dead_lettered, 0);
        reqs = br_b_requests(e->late_recv, "sc-late", &n);
        assert_non_null(reqs);
        assert_int_equal(n, 3);
        for (i = 0; i < n; i++) {
                int k;

                assert_int_equal(reqs[i].status, 200);
                assert_int_equal(sscanf(reqs[i].key, "f%d.txt", &k), 1);
                assert_true(k >= 0 && k < 3);
                seen[k]++;
        }
        assert_int_equal(seen[0] + seen[1] + seen[2], 3);
        assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
        br_b_requests_free(reqs, n);
        e->run.ctx->log.out   = stderr;
        e->run.ctx->log.level = BR_LOG_ERROR;
        fflush(log_out);
        rewind(log_out);
        log_len           = fread(log_text, 1, sizeof(log_text) - 1, log_out);
        log_text[log_len] = '\0';
        fclose(log_out);
        assert_non_null(strstr(log_text, "webhook endpoint failing"));
        assert_null(strstr(strstr(log_text, "webhook endpoint failing") + 1,
                           "webhook endpoint failing"));
        assert_non_null(strstr(log_text, "webhook endpoint recovered"));
        assert_null(strstr(log_text, API_KEY));
        stop_and_check_committed(e, c.name);
        assert_int_equal(dlq_file_lines(e), 0);
}

/* ---- 6: a hanging endpoint: timeouts are retries ---------------------- */

static void test_timeouts_are_retried(void **state) {
        struct env *e = *state;
        struct cfg c  = {
             .name    = "hang",
             .webhook = "  timeout: 300ms\n",
             .retry   = "  max_backoff: 200ms\n",
             .routes  = "  - bucket: slow\n"
                         "    storage_client_id: sc-hang\n",
        };
        struct br_receiver_rule rule = {
            .storage_client_id = "sc-hang", .count = 2, .delay_ms = 2000};
        struct br_received *reqs;
        size_t n, i;

        make_topic(e, c.name);
        add_rule(e, &rule);
        produce_minio(e, c.name, "slow", "big.iso");
        start(e, &c);
        assert_int_equal(br_b_wait_finished(&e->run, 1, DEADLINE_MS), 0);
        assert_int_equal(e->run.ctx->stats.delivered, 1);
        assert_int_equal(e->run.ctx->stats.retries, 2);
        assert_int_equal(e->run.ctx->stats.dead_lettered, 0);

        reqs = br_b_requests(e->recv, "sc-hang", &n);
        assert_non_null(reqs);
        assert_int_equal(n, 3);
        assert_int_equal(reqs[0].rule, 0);
        assert_int_equal(reqs[1].rule, 0);
        assert_int_equal(reqs[2].rule, -1); /* the default answer */
        for (i = 1; i < n; i++) {
                int64_t gap = reqs[i].arrival_us - reqs[i - 1].arrival_us;

                /* given up at the timeout (300 ms after the start,
                 * which is a little before the arrival, then at least
                 * 50 ms of backoff), not at the late answer */
                if (gap < 300 * 1000 || gap >= 2000 * 1000)
                        fail_msg("attempt %zu came %lld ms after the "
                                 "previous one",
                                 i, (long long)(gap / 1000));
        }
        br_b_requests_free(reqs, n);
        stop_and_check_committed(e, c.name);
        assert_int_equal(dlq_file_lines(e), 0);
}

/* ---- 7: malformed messages between good ones -------------------------- */

#define AWS_TWO_RECORDS                                                        \
        "{\"Records\":["                                                       \
        "{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\","                \
        "\"awsRegion\":\"us-east-1\","                                         \
        "\"eventTime\":\"2024-05-01T10:00:00.000Z\","                          \
        "\"eventName\":\"ObjectCreated:Put\","                                 \
        "\"s3\":{\"s3SchemaVersion\":\"1.0\",\"bucket\":{\"name\":\"good\"},"  \
        "\"object\":{\"key\":\"ok/a+b.txt\",\"size\":3}}},"                    \
        "{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\","                \
        "\"awsRegion\":\"us-east-1\","                                         \
        "\"eventTime\":\"2024-05-01T10:00:01.000Z\","                          \
        "\"eventName\":\"ObjectCreated:Put\","                                 \
        "\"s3\":{\"s3SchemaVersion\":\"1.0\",\"bucket\":{\"name\":\"good\"},"  \
        "\"object\":{\"key\":\"bad%zzkey\",\"size\":3}}}]}"

static struct json_object *entry_at(struct json_object *arr, int64_t offset,
                                    int64_t record) {
        size_t i;

        for (i = 0; i < json_object_array_length(arr); i++) {
                struct json_object *o = json_object_array_get_idx(arr, i);

                if (br_b_json_int(o, "offset", -1) == offset &&
                    br_b_json_int(o, "record", -2) == record)
                        return o;
        }
        fail_msg("no dead-letter entry for offset %lld record %lld",
                 (long long)offset, (long long)record);
        return NULL;
}

static void check_malformed(struct json_object *o, const char *key,
                            const char *value) {
        struct json_object *v;

        assert_string_equal(br_b_json_str(o, "class"), "malformed");
        assert_string_equal(br_b_json_str(o, "topic"), "t-malformed");
        assert_int_equal(br_b_json_int(o, "attempts", -1), 0);
        /* never sent: no status, no request, no attempt times */
        assert_false(json_object_object_get_ex(o, "http_status", &v));
        assert_false(json_object_object_get_ex(o, "request", &v));
        assert_false(json_object_object_get_ex(o, "first_attempt", &v));
        assert_string_equal(br_b_json_str(o, "key"), key);
        assert_string_equal(br_b_json_str(o, "value"), value);
}

static void test_malformed_dead_lettered_pipeline_continues(void **state) {
        struct env *e = *state;
        struct cfg c  = {
             .name   = "malformed",
             .routes = "  - bucket: good\n"
                        "    storage_client_id: sc-good\n",
        };
        static const char not_json[] = "this is not json";
        static const char unknown[]  = "{\"hello\":\"world\"}";
        static const char aws[]      = AWS_TWO_RECORDS;
        struct json_object *arr, *o;
        struct br_received *reqs;
        const char *reason;
        size_t n, i;
        int first = 0, ok = 0, last = 0;

        make_topic(e, c.name);
        produce_minio(e, c.name, "good", "first.pdf"); /* 0 */
        assert_int_equal(br_b_produce(e->cluster, "t-malformed", "k1", not_json,
                                      strlen(not_json)),
                         0); /* 1 */
        assert_int_equal(br_b_produce(e->cluster, "t-malformed", "k2", NULL, 0),
                         0); /* 2 */
        assert_int_equal(br_b_produce(e->cluster, "t-malformed", "k3", unknown,
                                      strlen(unknown)),
                         0); /* 3 */
        assert_int_equal(
            br_b_produce(e->cluster, "t-malformed", "k4", aws, strlen(aws)),
            0);                                       /* 4 */
        produce_minio(e, c.name, "good", "last.pdf"); /* 5 */
        start(e, &c);
        assert_int_equal(br_b_wait_finished(&e->run, 6, DEADLINE_MS), 0);
        assert_int_equal(e->run.ctx->stats.delivered, 3);
        assert_int_equal(e->run.ctx->stats.dead_lettered, 4);

        reqs = br_b_requests(e->recv, "sc-good", &n);
        assert_non_null(reqs);
        assert_int_equal(n, 3);
        for (i = 0; i < n; i++) {
                assert_int_equal(reqs[i].status, 200);
                first += !strcmp(reqs[i].key, "first.pdf");
                ok += !strcmp(reqs[i].key, "ok/a b.txt");
                last += !strcmp(reqs[i].key, "last.pdf");
        }
        assert_true(first == 1 && ok == 1 && last == 1);
        br_b_requests_free(reqs, n);
        stop_and_check_committed(e, c.name);

        arr = br_b_dlq_file(e->dlq_file);
        assert_non_null(arr);
        assert_int_equal(json_object_array_length(arr), 4);
        o      = entry_at(arr, 1, -1);
        reason = br_b_json_str(o, "reason");
        assert_non_null(reason);
        assert_true(!strncmp(reason, "not JSON: ", 10));
        check_malformed(o, "k1", not_json);
        o = entry_at(arr, 2, -1);
        assert_string_equal(br_b_json_str(o, "reason"), "empty message");
        check_malformed(o, "k2", "");
        o = entry_at(arr, 3, -1);
        assert_string_equal(br_b_json_str(o, "reason"),
                            "unknown notification shape (no Records, events, "
                            "detail-type or Event member)");
        check_malformed(o, "k3", unknown);
        o      = entry_at(arr, 4, 1); /* only the bad record of the two */
        reason = br_b_json_str(o, "reason");
        assert_non_null(reason);
        if (strncmp(reason, "aws_s3: Records[1].s3.object.key: ", 34) ||
            !strstr(reason, "percent-encoding"))
                fail_msg("reason: %s", reason);
        check_malformed(o, "k4", aws);
        json_object_put(arr);
}

/* ---- 8: retries exhausted --------------------------------------------- */

static void test_attempts_exhausted_dead_lettered(void **state) {
        struct env *e = *state;
        struct cfg c  = {
             .name   = "exhausted",
             .retry  = "  max_backoff: 100ms\n"
                        "  max_attempts: 3\n",
             .routes = "  - bucket: down\n"
                        "    storage_client_id: sc-down\n",
             .dlq    = "  topic: dlq-exhausted\n",
        };
        struct br_receiver_rule rule = {
            .storage_client_id = "sc-down", .count = -1, .status = 503};
        struct br_b_dlq_msg *msgs;
        const char *reason;
        size_t n;

        assert_int_equal(br_h_topic_create(e->cluster, "dlq-exhausted", 1), 0);
        make_topic(e, c.name);
        add_rule(e, &rule);
        produce_minio(e, c.name, "down", "x.pdf");
        start(e, &c);
        assert_int_equal(br_b_wait_finished(&e->run, 1, DEADLINE_MS), 0);
        assert_int_equal(e->run.ctx->stats.delivered, 0);
        assert_int_equal(e->run.ctx->stats.dead_lettered, 1);
        assert_int_equal(br_receiver_count(e->recv), 3);
        assert_int_equal(br_receiver_count_status(e->recv, 503), 3);
        stop_and_check_committed(e, c.name);

        assert_int_equal(br_b_dlq_topic(e->cluster, "dlq-exhausted", &msgs, &n),
                         0);
        assert_int_equal(n, 1);
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_CLASS),
                            "exhausted");
        reason = br_b_dlq_header(&msgs[0], BR_DLQ_H_REASON);
        assert_non_null(reason);
        if (strncmp(reason, "retries exhausted: HTTP 503", 27))
                fail_msg("reason: %s", reason);
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_ATTEMPTS), "3");
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_HTTP_STATUS),
                            "503");
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_OFFSET), "0");
        assert_string_equal(br_b_dlq_header(&msgs[0], BR_DLQ_H_RECORD), "0");
        br_b_dlq_msgs_free(msgs, n);
}

/* ---- 9: the in-flight cap under a slow receiver ----------------------- */

struct cap_watch {
        struct br_b_run *run;
        size_t most_in_flight; /* the bridge's transfers, after each turn */
        size_t want;
};

/* One turn, then a look at how many transfers the bridge has running:
 * curl's per-host connection limit alone would hide an overrun from the
 * receiver (the surplus waits inside curl, its timeout running). */
static void cap_step(void *arg) {
        struct cap_watch *w = arg;

        br_b_step(w->run);
        if (w->run->ctx->in_flight > w->most_in_flight)
                w->most_in_flight = w->run->ctx->in_flight;
}

static int cap_done(void *arg) {
        struct cap_watch *w = arg;

        return w->run->finished >= w->want;
}

static void test_in_flight_cap_holds(void **state) {
        struct env *e = *state;
        struct cfg c  = {
             .name    = "cap",
             .webhook = "  max_in_flight: 4\n",
             .routes  = "  - bucket: many\n"
                         "    storage_client_id: sc-many\n",
        };
        struct br_receiver_rule rule = {
            .storage_client_id = "sc-many", .count = -1, .delay_ms = 100};
        enum { EVENTS = 40 };
        struct br_received *reqs;
        struct cap_watch w = {NULL, 0, EVENTS};
        char seen[EVENTS];
        size_t n, i, most;

        make_topic(e, c.name);
        add_rule(e, &rule);
        assert_int_equal(br_h_produce_minio_n(e->cluster, "t-cap", "many",
                                              "cap/", EVENTS, 10000),
                         0);
        start(e, &c);
        w.run = &e->run;
        assert_int_equal(br_h_wait(cap_done, &w, DEADLINE_MS, cap_step, &w), 0);
        assert_int_equal(e->run.ctx->stats.delivered, EVENTS);
        if (w.most_in_flight > 4 || w.most_in_flight < 2)
                fail_msg("%zu transfers at once, want 2..4", w.most_in_flight);

        reqs = br_b_requests(e->recv, "sc-many", &n);
        assert_non_null(reqs);
        assert_int_equal(n, EVENTS);
        memset(seen, 0, sizeof(seen));
        for (i = 0; i < n; i++) {
                int k;

                assert_int_equal(reqs[i].status, 200);
                assert_int_equal(sscanf(reqs[i].key, "cap/doc %d", &k), 1);
                assert_true(k >= 0 && k < EVENTS);
                assert_int_equal(seen[k]++, 0);
        }
        /* each request is held 100 ms after its body is in; the bridge
         * may start another only once an answer came back */
        most = br_b_max_concurrent(reqs, n, 100 * 1000);
        if (most > 4 || most < 2)
                fail_msg("%zu requests at once, want 2..4", most);
        br_b_requests_free(reqs, n);
        stop_and_check_committed(e, c.name);
}

/* ---- 10: no route ----------------------------------------------------- */

static void test_no_route_dead_lettered(void **state) {
        struct env *e = *state;
        struct cfg c  = {
             .name   = "noroute",
             .routes = "  - bucket: known\n"
                        "    storage_client_id: sc-known\n",
        };
        struct json_object *arr, *o, *v;
        struct br_received *reqs;
        size_t n;

        make_topic(e, c.name);
        produce_minio(e, c.name, "stray", "lost.pdf");
        produce_minio(e, c.name, "known", "found.pdf");
        start(e, &c);
        assert_int_equal(br_b_wait_finished(&e->run, 2, DEADLINE_MS), 0);
        assert_int_equal(e->run.ctx->stats.delivered, 1);
        assert_int_equal(e->run.ctx->stats.dead_lettered, 1);
        reqs = br_b_requests(e->recv, NULL, &n);
        assert_non_null(reqs);
        assert_int_equal(n, 1);
        assert_string_equal(reqs[0].storage_client_id, "sc-known");
        assert_string_equal(reqs[0].key, "found.pdf");
        br_b_requests_free(reqs, n);
        stop_and_check_committed(e, c.name);

        arr = br_b_dlq_file(e->dlq_file);
        assert_non_null(arr);
        assert_int_equal(json_object_array_length(arr), 1);
        o = json_object_array_get_idx(arr, 0);
        assert_string_equal(br_b_json_str(o, "class"), "no_route");
        assert_string_equal(br_b_json_str(o, "reason"),
                            "no route for bucket \"stray\"");
        assert_int_equal(br_b_json_int(o, "offset", -1), 0);
        assert_int_equal(br_b_json_int(o, "record", -2), 0);
        assert_int_equal(br_b_json_int(o, "attempts", -1), 0);
        assert_false(json_object_object_get_ex(o, "request", &v));
        assert_string_equal(br_b_json_str(o, "key"), "stray/lost.pdf");
        json_object_put(arr);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
            T(test_503_then_delivered_with_backoff),
            T(test_429_retry_after_honoured),
            T(test_storage_not_found_dead_lettered_to_topic),
            T(test_storage_not_found_dead_lettered_to_file),
            T(test_outage_holds_one_unit_and_probes),
            T(test_connection_refused_then_delivered),
            T(test_timeouts_are_retried),
            T(test_malformed_dead_lettered_pipeline_continues),
            T(test_attempts_exhausted_dead_lettered),
            T(test_in_flight_cap_holds),
            T(test_no_route_dead_lettered),
        };

        return cmocka_run_group_tests_name("delivery", tests, group_setup,
                                           group_teardown);
}
