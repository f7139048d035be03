/* The configuration table and loader: every option, the defaults, each
 * kind of error with its exact "origin:line:col:" and key, routing, and
 * secrets kept out of dumps and messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "bridge/conf.h"

#define ERRSZ 4096

/* The required options and nothing else: 10 lines, so a test's own lines
 * appended after it start at line 11. */
#define BASE                                                                   \
        "kafka:\n"                                                             \
        "  brokers: localhost:9092\n"                                          \
        "  topics: [t1]\n"                                                     \
        "webhook:\n"                                                           \
        "  url: https://mdss.example/api/webhook/realtime\n"                   \
        "  api_key: k\n"                                                       \
        "routes:\n"                                                            \
        "  - {bucket: b, storage_client_id: s}\n"                              \
        "dead_letter:\n"                                                       \
        "  none: true\n"

static struct br_conf *load(const char *yaml, int flags, char *err) {
        return br_conf_load(yaml, strlen(yaml), "t.yaml", flags, err, ERRSZ);
}

/* Whether err holds exactly this line. */
static int has_line(const char *err, const char *line) {
        size_t n = strlen(line);
        const char *p;

        for (p = err; (p = strstr(p, line)); p++)
                if ((p == err || p[-1] == '\n') &&
                    (p[n] == '\0' || p[n] == '\n'))
                        return 1;
        return 0;
}

static int line_count(const char *err) {
        int n = *err ? 1 : 0;

        for (; *err; err++)
                n += *err == '\n';
        return n;
}

/* Loading must fail with exactly one error, this one. */
static void expect_one(const char *yaml, const char *line) {
        char err[ERRSZ];
        struct br_conf *conf = load(yaml, 0, err);

        if (conf || !has_line(err, line) || line_count(err) != 1)
                fail_msg("expected only\n  %s\ngot\n%s", line, err);
        br_conf_destroy(conf);
}

static char *dump(const struct br_conf *conf) {
        char *text = NULL;
        size_t len = 0;
        FILE *out  = open_memstream(&text, &len);

        assert_non_null(out);
        br_conf_dump(conf, out);
        fclose(out);
        return text;
}

static void test_full_config(void **state) {
        static const char yaml[] =
            "kafka:\n"
            "  brokers: k1:9092,k2:9092\n"
            "  group: grp\n"
            "  topics: [minio, ceph]\n"
            "  properties:\n"
            "    security.protocol: SASL_SSL\n"
            "    fetch.max.bytes: 1048576\n"
            "webhook:\n"
            "  url: https://mdss.example/api/webhook/realtime\n"
            "  api_key: key1\n"
            "  timeout: 2m\n"
            "  connect_timeout: 250ms\n"
            "  max_in_flight: 128\n"
            "  max_pending: 4096\n"
            "  max_response_bytes: 1M\n"
            "routes:\n"
            "  - bucket: uploads-*\n"
            "    prefix: in/\n"
            "    suffix: .pdf\n"
            "    storage_client_id: sc1\n"
            "    format: alibaba\n"
            "    scan_id: scan1\n"
            "    webhook_url: http://other:8080/hook\n"
            "    api_key: key2\n"
            "    events: [created, removed]\n"
            "  - {bucket: b2, storage_client_id: sc2, format: generic}\n"
            "events: [created, tagging]\n"
            "limits:\n"
            "  max_message_bytes: 2M\n"
            "  max_depth: 16\n"
            "  max_records: 10\n"
            "  max_key_bytes: 2048\n"
            "retry:\n"
            "  initial_backoff: 1s\n"
            "  max_backoff: 1h\n"
            "  max_attempts: 7\n"
            "  max_age: 1h\n"
            "  max_retry_after: 10m\n"
            "  circuit_failures: 3\n"
            "dead_letter:\n"
            "  topic: dlq\n"
            "  file: /var/lib/bb/dlq.jsonl\n"
            "  none: false\n"
            "shutdown:\n"
            "  grace: 0\n"
            "log:\n"
            "  level: debug\n";
        char err[ERRSZ];
        struct br_conf *c = load(yaml, 0, err);
        const struct br_route *r;

        (void)state;
        if (!c)
                fail_msg("%s", err);
        assert_string_equal(err, "");
        assert_string_equal(c->origin, "t.yaml");
        assert_string_equal(c->kafka.brokers, "k1:9092,k2:9092");
        assert_string_equal(c->kafka.group, "grp");
        assert_int_equal(c->kafka.topic_cnt, 2);
        assert_string_equal(c->kafka.topics[0], "minio");
        assert_string_equal(c->kafka.topics[1], "ceph");
        assert_int_equal(c->kafka.property_cnt, 2);
        assert_string_equal(c->kafka.properties[0].key, "security.protocol");
        assert_string_equal(c->kafka.properties[0].value, "SASL_SSL");
        assert_int_equal(c->kafka.properties[0].line, 6);
        assert_int_equal(c->kafka.properties[0].col, 5);
        assert_string_equal(c->kafka.properties[1].key, "fetch.max.bytes");
        assert_string_equal(c->kafka.properties[1].value, "1048576");
        assert_int_equal(c->kafka.properties[1].line, 7);
        assert_string_equal(c->webhook.url,
                            "https://mdss.example/api/webhook/realtime");
        assert_string_equal(c->webhook.api_key, "key1");
        assert_int_equal(c->webhook.timeout_ms, 120000);
        assert_int_equal(c->webhook.connect_timeout_ms, 250);
        assert_int_equal(c->webhook.max_in_flight, 128);
        assert_int_equal(c->webhook.max_pending, 4096);
        assert_int_equal(c->webhook.max_response_bytes, 1048576);
        assert_int_equal(c->route_cnt, 2);
        r = &c->routes[0];
        assert_string_equal(r->bucket, "uploads-*");
        assert_string_equal(r->prefix, "in/");
        assert_string_equal(r->suffix, ".pdf");
        assert_string_equal(r->storage_client_id, "sc1");
        assert_int_equal(r->format, BR_FORMAT_ALIBABA);
        assert_string_equal(r->scan_id, "scan1");
        assert_string_equal(r->webhook_url, "http://other:8080/hook");
        assert_string_equal(r->api_key, "key2");
        assert_int_equal(r->events, BR_KIND_BIT(BR_KIND_CREATED) |
                                        BR_KIND_BIT(BR_KIND_REMOVED));
        assert_int_equal(r->line, 17);
        assert_int_equal(r->index, 0);
        r = &c->routes[1];
        assert_string_equal(r->bucket, "b2");
        assert_string_equal(r->storage_client_id, "sc2");
        assert_int_equal(r->format, BR_FORMAT_GENERIC);
        assert_null(r->prefix);
        assert_null(r->suffix);
        assert_null(r->scan_id);
        assert_null(r->webhook_url);
        assert_null(r->api_key);
        assert_int_equal(r->events, 0);
        assert_int_equal(r->line, 26);
        assert_int_equal(r->index, 1);
        assert_int_equal(c->events, BR_KIND_BIT(BR_KIND_CREATED) |
                                        BR_KIND_BIT(BR_KIND_TAGGING));
        assert_int_equal(c->limits.max_message_bytes, 2 * 1048576);
        assert_int_equal(c->limits.max_depth, 16);
        assert_int_equal(c->limits.max_records, 10);
        assert_int_equal(c->limits.max_key_bytes, 2048);
        assert_int_equal(c->retry.initial_backoff_ms, 1000);
        assert_int_equal(c->retry.max_backoff_ms, 3600000);
        assert_int_equal(c->retry.max_attempts, 7);
        assert_int_equal(c->retry.max_age_ms, 3600000);
        assert_int_equal(c->retry.max_retry_after_ms, 600000);
        assert_int_equal(c->retry.circuit_failures, 3);
        assert_string_equal(c->dead_letter.topic, "dlq");
        assert_string_equal(c->dead_letter.file, "/var/lib/bb/dlq.jsonl");
        assert_int_equal(c->dead_letter.none, 0);
        assert_int_equal(c->shutdown.grace_ms, 0);
        assert_int_equal(c->log.level, BR_LOG_DEBUG);
        br_conf_destroy(c);
}

static void test_defaults(void **state) {
        char err[ERRSZ];
        struct br_conf *c = load(BASE, 0, err);

        (void)state;
        if (!c)
                fail_msg("%s", err);
        assert_string_equal(c->kafka.group, "bucketbridge");
        assert_int_equal(c->kafka.property_cnt, 0);
        assert_int_equal(c->webhook.timeout_ms, 10000);
        assert_int_equal(c->webhook.connect_timeout_ms, 5000);
        assert_int_equal(c->webhook.max_in_flight, 64);
        assert_int_equal(c->webhook.max_pending, 2048);
        assert_int_equal(c->webhook.max_response_bytes, 65536);
        assert_int_equal(c->routes[0].format, BR_FORMAT_AUTO);
        assert_int_equal(c->routes[0].events, 0);
        assert_int_equal(c->routes[0].line, 8);
        assert_int_equal(c->events, BR_KIND_DEFAULT_SET);
        assert_int_equal(c->limits.max_message_bytes, 1048576);
        assert_int_equal(c->limits.max_depth, 32);
        assert_int_equal(c->limits.max_records, 1000);
        assert_int_equal(c->limits.max_key_bytes, 1024);
        assert_int_equal(c->retry.initial_backoff_ms, 100);
        assert_int_equal(c->retry.max_backoff_ms, 30000);
        assert_int_equal(c->retry.max_attempts, 0);
        assert_int_equal(c->retry.max_age_ms, 0);
        assert_int_equal(c->retry.max_retry_after_ms, 300000);
        assert_int_equal(c->retry.circuit_failures, 5);
        assert_null(c->dead_letter.topic);
        assert_null(c->dead_letter.file);
        assert_int_equal(c->dead_letter.none, 1);
        assert_int_equal(c->shutdown.grace_ms, 10000);
        assert_int_equal(c->log.level, BR_LOG_INFO);
        br_conf_destroy(c);
}

/* Every row is documented, every enum row has names, every route key and
 * top-level option is unique, and the enum tables follow the C enums. */
static void test_table(void **state) {
        const struct br_conf_opt *tables[] = {br_conf_opts, br_conf_route_opts};
        char err[ERRSZ];
        struct br_conf *c;
        size_t t;

        (void)state;
        for (t = 0; t < 2; t++) {
                const struct br_conf_opt *o, *p;

                for (o = tables[t]; o->name; o++) {
                        assert_non_null(o->doc);
                        assert_true(strlen(o->doc) > 10);
                        if (o->type == BR_T_ENUM)
                                assert_non_null(o->enums);
                        if (o->type >= BR_T_STRLIST && o->type != BR_T_KINDS)
                                assert_true(o->cnt_offset != 0);
                        for (p = o + 1; p->name; p++)
                                assert_string_not_equal(o->name, p->name);
                }
        }
        c = load(BASE "log: {level: error}\n", 0, err);
        assert_non_null(c);
        assert_int_equal(c->log.level, BR_LOG_ERROR);
        br_conf_destroy(c);
        c = load(BASE "log: {level: warn}\n", 0, err);
        assert_non_null(c);
        assert_int_equal(c->log.level, BR_LOG_WARN);
        br_conf_destroy(c);
        c = load(BASE
                 "routes: [{bucket: b, storage_client_id: s, format: s3}]\n"
                 "log: {level: debug}\n",
                 0, err);
        assert_null(c); /* routes twice */
        assert_true(has_line(err, "t.yaml:11:1: duplicate key \"routes\""));
}

static void test_unknown_key(void **state) {
        (void)state;
        expect_one(BASE "webhook.timout: 5s\n",
                   "t.yaml:11:1: unknown option \"webhook.timout\"");
        expect_one("kafka:\n"
                   "  brokers: x\n"
                   "  topics: [t]\n"
                   "webhook:\n"
                   "  url: https://h/\n"
                   "  api_key: k\n"
                   "  timout: 5s\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:7:3: unknown option \"webhook.timout\"");
        expect_one(BASE "colour: blue\n",
                   "t.yaml:11:1: unknown option \"colour\"");
        expect_one(BASE "limits:\n  deep:\n    er: 1\n",
                   "t.yaml:12:3: unknown option \"limits.deep\"");
}

static void test_unknown_route_key(void **state) {
        (void)state;
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes:\n"
                   "  - bucket: b\n"
                   "    storage_client_id: s\n"
                   "  - bucket: c\n"
                   "    storage_client_id: s\n"
                   "    bukket: y\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:8:5: unknown option \"routes[1].bukket\"");
}

static void test_wrong_type(void **state) {
        (void)state;
        expect_one(BASE "shutdown:\n  grace: {a: 1}\n",
                   "t.yaml:12:10: shutdown.grace: expected a duration like "
                   "10s, got a map");
        expect_one(BASE "dead_letter.topic: [a, b]\n",
                   "t.yaml:11:20: dead_letter.topic: expected a string, got "
                   "a list");
        expect_one(BASE "events: created\n",
                   "t.yaml:11:9: events: expected a list of event kinds, "
                   "got a scalar");
        expect_one(BASE "limits: 5\n",
                   "t.yaml:11:9: limits: expected a map, got a scalar");
        expect_one(BASE "kafka.properties: [a]\n",
                   "t.yaml:11:19: kafka.properties: expected a map of "
                   "strings, got a list");
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: {bucket: b}\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:3:9: routes: expected a list of routes, got a map");
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: [b]\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:3:10: routes[0]: expected a map, got a scalar");
        expect_one("kafka: {brokers: x, topics: [a, [b]]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:1:33: kafka.topics[1]: expected a string, got a "
                   "list");
        expect_one(BASE "? [a]\n: 1\n",
                   "t.yaml:11:3: expected an option name, got a list");
        expect_one("- a\n- b\n",
                   "t.yaml:1:1: expected a map of options at the top level, "
                   "got a list");
}

static void test_bad_duration(void **state) {
        char err[ERRSZ];
        struct br_conf *c;

        (void)state;
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook:\n"
                   "  timeout: ten\n"
                   "  url: https://h/\n"
                   "  api_key: k\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:3:12: webhook.timeout: expected a duration like "
                   "10s, got \"ten\"");
        /* A bare number other than 0 has no unit: refused, not guessed. */
        expect_one(BASE "retry: {max_age: 10}\n",
                   "t.yaml:11:18: retry.max_age: expected a duration like "
                   "10s, got \"10\"");
        expect_one(BASE "retry: {max_age: -1s}\n",
                   "t.yaml:11:18: retry.max_age: expected a duration like "
                   "10s, got \"-1s\"");
        expect_one(BASE "retry: {max_age: 1.5s}\n",
                   "t.yaml:11:18: retry.max_age: expected a duration like "
                   "10s, got \"1.5s\"");
        expect_one(BASE "retry: {max_age: 10 s}\n",
                   "t.yaml:11:18: retry.max_age: expected a duration like "
                   "10s, got \"10 s\"");
        c = load(BASE "retry: {max_age: 0, max_backoff: 1h, "
                      "initial_backoff: 250ms, max_retry_after: 2m}\n",
                 0, err);
        if (!c)
                fail_msg("%s", err);
        assert_int_equal(c->retry.max_age_ms, 0);
        assert_int_equal(c->retry.max_backoff_ms, 3600000);
        assert_int_equal(c->retry.initial_backoff_ms, 250);
        assert_int_equal(c->retry.max_retry_after_ms, 120000);
        br_conf_destroy(c);
}

static void test_bad_size(void **state) {
        char err[ERRSZ];
        struct br_conf *c;

        (void)state;
        expect_one(BASE "limits: {max_message_bytes: 12Q}\n",
                   "t.yaml:11:29: limits.max_message_bytes: expected a size "
                   "like 64K or 1M, got \"12Q\"");
        expect_one(BASE "limits: {max_message_bytes: 1MB}\n",
                   "t.yaml:11:29: limits.max_message_bytes: expected a size "
                   "like 64K or 1M, got \"1MB\"");
        expect_one(BASE "limits: {max_message_bytes: M}\n",
                   "t.yaml:11:29: limits.max_message_bytes: expected a size "
                   "like 64K or 1M, got \"M\"");
        /* Nested and dotted spellings mix. */
        c = load(BASE "limits: {max_message_bytes: 4096}\n"
                      "webhook.max_response_bytes: 2k\n",
                 0, err);
        if (!c)
                fail_msg("%s", err);
        assert_int_equal(c->limits.max_message_bytes, 4096);
        assert_int_equal(c->webhook.max_response_bytes, 2048);
        br_conf_destroy(c);
}

static void test_out_of_range(void **state) {
        (void)state;
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook:\n"
                   "  url: https://h/\n"
                   "  api_key: k\n"
                   "  max_in_flight: 0\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:5:18: webhook.max_in_flight: 0 is out of range "
                   "1..10000");
        expect_one(BASE "limits: {max_depth: -3}\n",
                   "t.yaml:11:21: limits.max_depth: -3 is out of range 4..512");
        expect_one(BASE "limits: {max_records: 99999999999999999999}\n",
                   "t.yaml:11:23: limits.max_records: 99999999999999999999 "
                   "is out of range 1..100000");
        expect_one(BASE "shutdown: {grace: 11m}\n",
                   "t.yaml:11:19: shutdown.grace: 11m is out of range 0s..10m");
        expect_one(BASE "retry: {max_retry_after: 99999999999999h}\n",
                   "t.yaml:11:26: retry.max_retry_after: 99999999999999h is "
                   "out of range 0s..24h");
        expect_one(BASE "limits: {max_message_bytes: 65M}\n",
                   "t.yaml:11:29: limits.max_message_bytes: 65M is out of "
                   "range 1K..64M");
        expect_one(BASE "limits: {max_depth: 5x}\n",
                   "t.yaml:11:21: limits.max_depth: expected an integer, got "
                   "\"5x\"");
}

static void test_bad_enum(void **state) {
        (void)state;
        expect_one(BASE "log:\n  level: verbose\n",
                   "t.yaml:12:10: log.level: expected one of error, warn, "
                   "info, debug, got \"verbose\"");
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s, format: xml}]\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:3:52: routes[0].format: expected one of auto, s3, "
                   "alibaba, generic, got \"xml\"");
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: maybe}\n",
                   "t.yaml:4:21: dead_letter.none: expected true or false, "
                   "got \"maybe\"");
        expect_one(BASE "events: [created, deleted]\n",
                   "t.yaml:11:19: events[1]: unknown event kind \"deleted\" "
                   "(expected one of created, removed, accessed, tagging, "
                   "retention, part, restore, replication, lifecycle, test, "
                   "other)");
}

static void test_missing_required(void **state) {
        char err[ERRSZ];
        struct br_conf *c;

        (void)state;
        /* Nothing at all: each missing option at the document start. */
        c = load("# nothing\n", 0, err);
        assert_null(c);
        assert_true(has_line(err, "t.yaml:1:1: kafka.brokers: required"));
        assert_true(has_line(err, "t.yaml:1:1: kafka.topics: required"));
        assert_true(has_line(err, "t.yaml:1:1: webhook.url: required"));
        assert_true(has_line(err, "t.yaml:1:1: webhook.api_key: required"));
        assert_true(has_line(err, "t.yaml:1:1: routes: required"));
        assert_int_equal(line_count(err), 6); /* and dead_letter */

        /* Where the parent map is, and where a null value was given. */
        c = load("\n"
                 "kafka:\n"
                 "  brokers:\n"
                 "  topics: [t]\n"
                 "webhook:\n"
                 "  url: https://h/\n"
                 "routes:\n"
                 "  - bucket: b\n"
                 "  - storage_client_id: s\n"
                 "dead_letter: {none: true}\n",
                 0, err);
        assert_null(c);
        assert_true(has_line(err, "t.yaml:3:3: kafka.brokers: required"));
        assert_true(has_line(err, "t.yaml:5:1: webhook.api_key: required"));
        assert_true(has_line(err, "t.yaml:8:5: routes[0].storage_client_id: "
                                  "required"));
        assert_true(has_line(err, "t.yaml:9:5: routes[1].bucket: required"));
        assert_int_equal(line_count(err), 4);
        expect_one("webhook: {url: https://h/, api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: true}\n"
                   "kafka: {topics: [t]}\n",
                   "t.yaml:4:1: kafka.brokers: required");
}

static void test_empty_lists(void **state) {
        (void)state;
        expect_one("kafka: {brokers: x, topics: []}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:1:29: kafka.topics: expected at least 1 item");
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: []\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:3:9: routes: expected at least 1 item");
        expect_one(BASE "events: []\n",
                   "t.yaml:11:9: events: expected at least 1 item");
        expect_one("kafka: {brokers: x, topics: [t, \"\"]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:1:33: kafka.topics[1]: must not be empty");
        expect_one(BASE "dead_letter.topic: \"\"\n",
                   "t.yaml:11:20: dead_letter.topic: must not be empty (omit "
                   "the key to leave it unset)");
}

static void test_duplicate_key(void **state) {
        (void)state;
        expect_one(BASE "shutdown:\n  grace: 1s\n  grace: 2s\n",
                   "t.yaml:13:3: duplicate key \"shutdown.grace\"");
        expect_one(BASE "shutdown: {grace: 1s}\nshutdown: {grace: 2s}\n",
                   "t.yaml:12:1: duplicate key \"shutdown\"");
        expect_one(BASE "shutdown: {grace: 1s}\nshutdown.grace: 2s\n",
                   "t.yaml:12:1: duplicate key \"shutdown.grace\"");
        expect_one(BASE "kafka.properties:\n  a.b: 1\n  a.b: 2\n",
                   "t.yaml:13:3: duplicate key \"kafka.properties.a.b\"");
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s, bucket: c}]\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:3:44: duplicate key \"routes[0].bucket\"");
}

static void test_env_unset(void **state) {
        (void)state;
        unsetenv("BB_TEST_UNSET");
        expect_one(BASE "dead_letter.file: /var/${BB_TEST_UNSET}/dlq\n",
                   "t.yaml:11:19: dead_letter.file: environment variable "
                   "\"BB_TEST_UNSET\" is not set");
        expect_one(BASE "dead_letter.file: /var/${BB_TEST_UNSET\n",
                   "t.yaml:11:19: dead_letter.file: unterminated ${ (write "
                   "$${ for a literal ${)");
        expect_one(BASE "dead_letter.file: /var/${9x}\n",
                   "t.yaml:11:19: dead_letter.file: bad environment variable "
                   "name \"9x\"");
        expect_one(BASE "kafka.properties: {sasl.password: "
                        "\"${BB_TEST_UNSET}\"}\n",
                   "t.yaml:11:35: kafka.properties.sasl.password: environment "
                   "variable \"BB_TEST_UNSET\" is not set");
}

static void test_env_substituted(void **state) {
        char err[ERRSZ];
        struct br_conf *c;

        (void)state;
        assert_int_equal(setenv("BB_TEST_KEY", "s3cr3t-value", 1), 0);
        assert_int_equal(setenv("BB_TEST_N", "9", 1), 0);
        assert_int_equal(setenv("BB_TEST_HOST", "mdss.local", 1), 0);
        c = load("kafka:\n"
                 "  brokers: ${BB_TEST_HOST}:9092\n"
                 "  topics: [\"t-${BB_TEST_N}\", \"$${BB_TEST_N}\", a$b]\n"
                 "  properties: {sasl.password: \"${BB_TEST_KEY}\"}\n"
                 "webhook:\n"
                 "  url: https://${BB_TEST_HOST}/hook\n"
                 "  api_key: ${BB_TEST_KEY}\n"
                 "  max_in_flight: ${BB_TEST_N}\n"
                 "routes: [{bucket: b, storage_client_id: s}]\n"
                 "dead_letter: {none: true}\n",
                 0, err);
        if (!c)
                fail_msg("%s", err);
        assert_string_equal(c->kafka.brokers, "mdss.local:9092");
        assert_string_equal(c->kafka.topics[0], "t-9");
        assert_string_equal(c->kafka.topics[1], "${BB_TEST_N}");
        assert_string_equal(c->kafka.topics[2], "a$b");
        assert_string_equal(c->kafka.properties[0].value, "s3cr3t-value");
        assert_string_equal(c->webhook.url, "https://mdss.local/hook");
        assert_string_equal(c->webhook.api_key, "s3cr3t-value");
        assert_int_equal(c->webhook.max_in_flight, 9);
        br_conf_destroy(c);
}

static void test_forbidden_property(void **state) {
        static const char *const owned[] = {
            "enable.auto.offset.store", "enable.auto.commit", "group.id",
            "bootstrap.servers", "metadata.broker.list"};
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
                char yaml[512], line[256];

                snprintf(yaml, sizeof(yaml),
                         "%skafka.properties:\n  client.id: a\n  %s: x\n", BASE,
                         owned[i]);
                snprintf(line, sizeof(line),
                         "t.yaml:13:3: kafka.properties: \"%s\" is owned by "
                         "bucketbridge and cannot be set here",
                         owned[i]);
                expect_one(yaml, line);
        }
}

static void test_bad_url(void **state) {
        (void)state;
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: ftp://h/x, api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:2:16: webhook.url: expected an http:// or https:// "
                   "URL");
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: \"https:// h\", api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:2:16: webhook.url: expected an http:// or https:// "
                   "URL");
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes:\n"
                   "  - bucket: b\n"
                   "    storage_client_id: s\n"
                   "    webhook_url: mdss.local/hook\n"
                   "dead_letter: {none: true}\n",
                   "t.yaml:6:18: routes[0].webhook_url: expected an http:// or "
                   "https:// URL");
}

static void test_no_dead_letter_sink(void **state) {
        char err[ERRSZ];
        struct br_conf *c;
        static const char msg[] =
            "dead_letter: no sink configured (set dead_letter.topic or "
            "dead_letter.file, or dead_letter.none: true to accept "
            "logged-only rejects)";
        char line[256];

        (void)state;
        snprintf(line, sizeof(line), "t.yaml:1:1: %s", msg);
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n",
                   line);
        snprintf(line, sizeof(line), "t.yaml:4:1: %s", msg);
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: false}\n",
                   line);
        c = load("kafka: {brokers: x, topics: [t]}\n"
                 "webhook: {url: https://h/, api_key: k}\n"
                 "routes: [{bucket: b, storage_client_id: s}]\n"
                 "dead_letter: {topic: dlq}\n",
                 0, err);
        if (!c)
                fail_msg("%s", err);
        br_conf_destroy(c);
}

static void test_cross_backoff(void **state) {
        (void)state;
        expect_one(BASE "retry:\n  max_backoff: 1s\n  initial_backoff: 2s\n",
                   "t.yaml:13:3: retry.initial_backoff: 2s is more than "
                   "retry.max_backoff (1s)");
        expect_one(BASE "webhook.max_pending: 10\n",
                   "t.yaml:11:1: webhook.max_pending: 10 is less than "
                   "webhook.max_in_flight (64)");
        expect_one(BASE "retry:\n  max_backoff: 50ms\n",
                   "t.yaml:12:3: retry.initial_backoff: 100ms is more than "
                   "retry.max_backoff (50ms)");
}

static void test_partial(void **state) {
        char err[ERRSZ];
        struct br_conf *c;

        (void)state;
        c = load("routes:\n  - bucket: b\n    format: s3\n", BR_CONF_F_PARTIAL,
                 err);
        if (!c)
                fail_msg("%s", err);
        assert_null(c->kafka.brokers);
        assert_null(c->webhook.url);
        assert_int_equal(c->route_cnt, 1);
        assert_null(c->routes[0].storage_client_id);
        assert_int_equal(c->routes[0].format, BR_FORMAT_S3);
        assert_int_equal(c->limits.max_depth, 32);
        br_conf_destroy(c);
        c = load("", BR_CONF_F_PARTIAL, err);
        assert_non_null(c);
        assert_int_equal(c->route_cnt, 0);
        assert_null(br_conf_route_match(c, "b", "k"));
        br_conf_destroy(c);
        /* Everything but the required options is still checked. */
        c = load("limits: {max_depth: 1}\n", BR_CONF_F_PARTIAL, err);
        assert_null(c);
        assert_string_equal(err, "t.yaml:1:21: limits.max_depth: 1 is out of "
                                 "range 4..512");
}

static void test_yaml_syntax_error(void **state) {
        (void)state;
        expect_one(BASE "webhook: [\n",
                   "t.yaml:12:1: YAML syntax error: did not find expected "
                   "node content (while parsing a flow node)");
        expect_one("kafka:\n  brokers: x\n topics: [t]\n",
                   "t.yaml:3:2: YAML syntax error: did not find expected key "
                   "(while parsing a block mapping)");
        expect_one("a: \"\xff\"\n",
                   "t.yaml:1:5: YAML syntax error: invalid leading UTF-8 "
                   "octet");
        expect_one(BASE "---\nkafka: {}\n",
                   "t.yaml:12:1: only one YAML document is allowed");
        expect_one(BASE "x: *nope\n",
                   "t.yaml:11:4: YAML syntax error: found undefined alias");
}

/* Bounds that keep a hostile file from costing minutes or gigabytes. */
static void test_yaml_limits(void **state) {
        size_t big = 2 * 100001 + 16, len;
        char *yaml = malloc(big), line[512];
        char err[ERRSZ];
        struct br_conf *c;
        int i;

        (void)state;
        assert_non_null(yaml);
        /* Nesting: the root map is level 1, "[" number 64 is level 65. */
        len = (size_t)snprintf(yaml, big, "a: ");
        for (i = 0; i < 70; i++)
                yaml[len++] = '[';
        for (i = 0; i < 70; i++)
                yaml[len++] = ']';
        yaml[len] = '\0';
        expect_one(yaml, "t.yaml:1:67: YAML nesting deeper than 64 levels");
        /* Nodes: the map, "a", the list, then x number 99998. */
        len = (size_t)snprintf(yaml, big, "a: [");
        for (i = 0; i < 100000; i++) {
                yaml[len++] = 'x';
                yaml[len++] = ',';
        }
        memcpy(yaml + len, "x]\n", 4);
        c = br_conf_load(yaml, strlen(yaml), "t.yaml", 0, err, ERRSZ);
        assert_null(c);
        assert_string_equal(err, "t.yaml:1:199999: more than 100000 YAML "
                                 "nodes");
        /* Property names. */
        len = (size_t)snprintf(yaml, big, "%skafka.properties:\n  ", BASE);
        memset(yaml + len, 'p', 257);
        memcpy(yaml + len + 257, ": x\n", 5);
        snprintf(line, sizeof(line),
                 "t.yaml:12:3: kafka.properties: expected a property name");
        expect_one(yaml, line);
        memcpy(yaml + len + 256, ": x\n", 5); /* 256 bytes: fine */
        c = load(yaml, 0, err);
        if (!c)
                fail_msg("%s", err);
        br_conf_destroy(c);
        free(yaml);
}

static void test_many_errors(void **state) {
        static const char yaml[] = "kafka:\n"
                                   "  brokers: x\n"
                                   "  topics: [t]\n"
                                   "webhook:\n"
                                   "  url: https://h/\n"
                                   "  api_key: k\n"
                                   "  timeout: ten\n"
                                   "  timout: 5s\n"
                                   "  max_in_flight: 0\n"
                                   "routes:\n"
                                   "  - bucket: b\n"
                                   "    bukket: c\n"
                                   "log: {level: loud}\n";
        char err[ERRSZ];
        struct br_conf *c = load(yaml, 0, err);

        (void)state;
        assert_null(c);
        assert_string_equal(
            err, "t.yaml:7:12: webhook.timeout: expected a duration like 10s, "
                 "got \"ten\"\n"
                 "t.yaml:8:3: unknown option \"webhook.timout\"\n"
                 "t.yaml:9:18: webhook.max_in_flight: 0 is out of range "
                 "1..10000\n"
                 "t.yaml:12:5: unknown option \"routes[0].bukket\"\n"
                 "t.yaml:11:5: routes[0].storage_client_id: required\n"
                 "t.yaml:13:14: log.level: expected one of error, warn, info, "
                 "debug, got \"loud\"\n"
                 "t.yaml:1:1: dead_letter: no sink configured (set "
                 "dead_letter.topic or dead_letter.file, or dead_letter.none: "
                 "true to accept logged-only rejects)");
}

/* A full errstr ends with a line saying how many more were left out. */
static void test_errstr_full(void **state) {
        char yaml[4096], err[200];
        size_t len = 0;
        struct br_conf *c;
        int i;

        (void)state;
        for (i = 0; i < 50; i++)
                len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                        "unknown%d: 1\n", i);
        c = br_conf_load(yaml, len, "t.yaml", BR_CONF_F_PARTIAL, err,
                         sizeof(err));
        assert_null(c);
        assert_true(strlen(err) < sizeof(err));
        assert_true(has_line(err, "t.yaml:1:1: unknown option \"unknown0\""));
        assert_non_null(strstr(err, " more errors omitted"));
        assert_non_null(strstr(strrchr(err, '\n'), "more errors omitted"));
        /* Too small for any line: still terminated, still says so. */
        c = br_conf_load(yaml, len, "t.yaml", 0, err, 30);
        assert_null(c);
        assert_true(strlen(err) < 30);
        c = br_conf_load(yaml, len, "t.yaml", 0, NULL, 0);
        assert_null(c);
}

static const char routes_yaml[] =
    "kafka: {brokers: x, topics: [t]}\n"
    "webhook: {url: https://h/, api_key: k}\n"
    "dead_letter: {none: true}\n"
    "routes:\n"
    "  - {bucket: photos, prefix: raw/, storage_client_id: r0}\n"
    "  - {bucket: photos, suffix: .jpg, storage_client_id: r1}\n"
    "  - {bucket: photos, prefix: a/, suffix: .png, storage_client_id: r2}\n"
    "  - {bucket: \"logs-*\", storage_client_id: r3}\n"
    "  - {bucket: \"logs-2024\", storage_client_id: r4}\n"
    "  - {bucket: \"[ab]?\", storage_client_id: r5}\n";

static const char *route_of(const struct br_conf *c, const char *bucket,
                            const char *key) {
        const struct br_route *r = br_conf_route_match(c, bucket, key);

        return r ? r->storage_client_id : "none";
}

static void test_route_match(void **state) {
        char err[ERRSZ];
        struct br_conf *c = load(routes_yaml, 0, err);

        (void)state;
        if (!c)
                fail_msg("%s", err);
        /* exact bucket with prefix; first match wins over the suffix one */
        assert_string_equal(route_of(c, "photos", "raw/x.jpg"), "r0");
        assert_string_equal(route_of(c, "photos", "cooked/x.jpg"), "r1");
        /* prefix and suffix both needed */
        assert_string_equal(route_of(c, "photos", "a/x.png"), "r2");
        assert_string_equal(route_of(c, "photos", "a/x.gif"), "none");
        assert_string_equal(route_of(c, "photos", "b/x.png"), "none");
        /* glob; the exact route after it never wins */
        assert_string_equal(route_of(c, "logs-2024", "k"), "r3");
        assert_string_equal(route_of(c, "logs-", "k"), "r3");
        assert_string_equal(route_of(c, "logs", "k"), "none");
        /* '/' is not special, brackets and ? are */
        assert_string_equal(route_of(c, "b1", "k"), "r5");
        assert_string_equal(route_of(c, "c1", "k"), "none");
        assert_string_equal(route_of(c, "Photos", "raw/x"), "none");
        assert_string_equal(route_of(c, "photos", ""), "none");
        assert_string_equal(route_of(c, "photos", NULL), "none");
        assert_null(br_conf_route_match(c, NULL, "k"));
        assert_null(br_conf_route_match(NULL, "photos", "raw/x"));
        assert_int_equal(br_conf_route_match(c, "photos", "raw/")->index, 0);
        br_conf_destroy(c);
}

static void test_route_glob_slash(void **state) {
        char err[ERRSZ];
        struct br_conf *c = load("kafka: {brokers: x, topics: [t]}\n"
                                 "webhook: {url: https://h/, api_key: k}\n"
                                 "dead_letter: {none: true}\n"
                                 "routes: [{bucket: \"*\", storage_client_id: "
                                 "all}]\n",
                                 0, err);

        (void)state;
        if (!c)
                fail_msg("%s", err);
        assert_string_equal(route_of(c, "a/b", "k"), "all");
        assert_string_equal(route_of(c, ".hidden", "k"), "all");
        br_conf_destroy(c);
}

static void test_dump_hides_secrets(void **state) {
        char err[ERRSZ];
        struct br_conf *c, *again;
        char *text, *text2;

        (void)state;
        c = load("kafka:\n"
                 "  brokers: x\n"
                 "  topics: [t]\n"
                 "  properties:\n"
                 "    sasl.username: user\n"
                 "    sasl.password: PROPSECRET\n"
                 "    ssl.key.pem: PEMSECRET\n"
                 "webhook:\n"
                 "  url: https://USERINFO:PWSECRET@mdss.local/hook\n"
                 "  api_key: TOPSECRET\n"
                 "routes:\n"
                 "  - bucket: b\n"
                 "    storage_client_id: \"q\\\"uote\\ttab\"\n"
                 "    api_key: ROUTESECRET\n"
                 "    scan_id: \"x$${y}\"\n"
                 "dead_letter: {none: true}\n",
                 0, err);
        if (!c)
                fail_msg("%s", err);
        text = dump(c);
        assert_null(strstr(text, "SECRET"));
        assert_null(strstr(text, "USERINFO"));
        assert_non_null(strstr(text, "  api_key: \"***\"\n"));
        assert_non_null(strstr(text, "    api_key: \"***\"\n"));
        assert_non_null(strstr(text, "\"sasl.password\": \"***\""));
        assert_non_null(strstr(text, "\"sasl.username\": \"user\""));
        assert_non_null(strstr(text, "url: \"https://***@mdss.local/hook\""));
        assert_non_null(strstr(text, "scan_id: \"x$${y}\""));
        assert_non_null(strstr(text, "  timeout: 10s\n"));
        /* The dump loads back and dumps the same. */
        again = load(text, 0, err);
        if (!again)
                fail_msg("%s\n%s", err, text);
        assert_string_equal(again->routes[0].storage_client_id, "q\"uote\ttab");
        assert_string_equal(again->routes[0].scan_id, "x${y}");
        text2 = dump(again);
        assert_string_equal(text, text2);
        free(text2);
        free(text);
        br_conf_destroy(again);
        br_conf_destroy(c);
}

static void test_errors_hide_secrets(void **state) {
        char err[ERRSZ];
        struct br_conf *c;

        (void)state;
        assert_int_equal(setenv("BB_TEST_SECRET", "ENVSECRET", 1), 0);
        c = load("kafka:\n"
                 "  brokers: x\n"
                 "  topics: [t]\n"
                 "  properties:\n"
                 "    sasl.password: [LISTSECRET]\n"
                 "    group.id: GROUPSECRET\n"
                 "webhook:\n"
                 "  url: ftp://USERINFO:PWSECRET@h/\n"
                 "  api_key: [TOPSECRET]\n"
                 "routes:\n"
                 "  - bucket: b\n"
                 "    storage_client_id: s\n"
                 "    api_key: {k: ROUTESECRET}\n"
                 "  - bucket: b\n"
                 "    storage_client_id: s\n"
                 "    api_key: \"\"\n"
                 "    webhook_url: \"${BB_TEST_SECRET}\"\n",
                 0, err);
        assert_null(c);
        assert_null(strstr(err, "SECRET"));
        assert_null(strstr(err, "USERINFO"));
        assert_true(has_line(err, "t.yaml:9:12: webhook.api_key: expected a "
                                  "string, got a list"));
        assert_true(has_line(err, "t.yaml:13:14: routes[0].api_key: expected "
                                  "a string, got a map"));
        assert_true(has_line(err, "t.yaml:16:14: routes[1].api_key: must not "
                                  "be empty (omit the key to leave it "
                                  "unset)"));
        assert_true(has_line(err,
                             "t.yaml:5:20: kafka.properties.sasl.password: "
                             "expected a string, got a list"));
}

static void test_load_file(void **state) {
        char path[] = "/tmp/test_conf_XXXXXX";
        char err[ERRSZ], line[ERRSZ];
        int fd = mkstemp(path);
        struct br_conf *c;
        FILE *f;
        char *big;

        (void)state;
        assert_true(fd >= 0);
        assert_true(write(fd, BASE, strlen(BASE)) == (ssize_t)strlen(BASE));
        close(fd);
        c = br_conf_load_file(path, 0, err, sizeof(err));
        if (!c)
                fail_msg("%s", err);
        assert_string_equal(c->origin, path);
        br_conf_destroy(c);

        /* Errors are named after the file. */
        f = fopen(path, "a");
        assert_non_null(f);
        fputs("colour: blue\n", f);
        fclose(f);
        c = br_conf_load_file(path, 0, err, sizeof(err));
        assert_null(c);
        snprintf(line, sizeof(line), "%s:11:1: unknown option \"colour\"",
                 path);
        assert_string_equal(err, line);

        /* Bigger than the 1 MiB cap. */
        big = malloc(1024 * 1024 + 2);
        assert_non_null(big);
        memset(big, '#', 1024 * 1024 + 1);
        f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(big, 1, 1024 * 1024 + 1, f), 1024 * 1024 + 1);
        fclose(f);
        free(big);
        c = br_conf_load_file(path, 0, err, sizeof(err));
        assert_null(c);
        snprintf(line, sizeof(line),
                 "%s: cannot read: larger than 1048576 bytes", path);
        assert_string_equal(err, line);

        unlink(path);
        c = br_conf_load_file(path, 0, err, sizeof(err));
        assert_null(c);
        snprintf(line, sizeof(line), "%s: cannot read: %s", path,
                 strerror(ENOENT));
        assert_string_equal(err, line);
}

static char *help(int markdown) {
        char *text = NULL;
        size_t len = 0;
        FILE *out  = open_memstream(&text, &len);

        assert_non_null(out);
        br_conf_help(out, markdown);
        fclose(out);
        return text;
}

static void test_help(void **state) {
        char *text = help(0), *md = help(1);
        const struct br_conf_opt *o;
        char want[256];

        (void)state;
        for (o = br_conf_opts; o->name; o++) {
                snprintf(want, sizeof(want), "\n%s (", o->name);
                if (!strstr(text, want))
                        fail_msg("help lacks %s", o->name);
                snprintf(want, sizeof(want), "| `%s` |", o->name);
                if (!strstr(md, want))
                        fail_msg("markdown lacks %s", o->name);
        }
        for (o = br_conf_route_opts; o->name; o++) {
                snprintf(want, sizeof(want), "| `%s` |", o->name);
                if (!strstr(md, want))
                        fail_msg("markdown lacks route key %s", o->name);
        }
        assert_non_null(strstr(md, "| `webhook.timeout` | duration | 10s | "
                                   "100ms..5m | Limit for one request, "
                                   "connect included. |\n"));
        assert_non_null(strstr(md, "| `webhook.api_key` | string, secret | "
                                   "required |"));
        assert_non_null(strstr(md, "| `log.level` | enum | info | error, "
                                   "warn, info, debug |"));
        assert_non_null(strstr(md, "| `events` | event kinds | [created] |"));
        assert_non_null(strstr(text, "\nwebhook.max_in_flight (int; default "
                                     "64; 1..10000)\n    Requests running"));
        assert_non_null(strstr(text, "\nkafka.brokers (string; required)\n"));
        free(text);
        free(md);
}

/* CONFIGURATION.md is what br_conf_help(markdown) prints today. */
static void test_configuration_md(void **state) {
        char *md = help(1);
        FILE *f  = fopen("CONFIGURATION.md", "r");
        char *file;
        long len;

        (void)state;
        if (!f) /* run from elsewhere than the repository root */
                skip();
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        rewind(f);
        file = calloc(1, (size_t)len + 1);
        assert_non_null(file);
        assert_int_equal(fread(file, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        if (strcmp(md, file))
                fail_msg("CONFIGURATION.md is stale: run make docs");
        free(file);
        free(md);
}

static void test_nulls_and_misc(void **state) {
        char err[ERRSZ];
        struct br_conf *c;

        (void)state;
        /* A null value is as if absent: the default stays. */
        c = load(BASE "kafka.group: ~\ndead_letter.topic:\nwebhook.timeout: "
                      "null\nlimits:\n",
                 0, err);
        if (!c)
                fail_msg("%s", err);
        assert_string_equal(c->kafka.group, "bucketbridge");
        assert_null(c->dead_letter.topic);
        assert_int_equal(c->webhook.timeout_ms, 10000);
        br_conf_destroy(c);
        /* Quoted "null" is a string. */
        c = load(BASE "kafka.group: \"null\"\n", 0, err);
        if (!c)
                fail_msg("%s", err);
        assert_string_equal(c->kafka.group, "null");
        br_conf_destroy(c);
        /* Bools: YAML 1.2 spellings only. */
        expect_one(BASE "dead_letter.file: x\ndead_letter.none: yes\n",
                   "t.yaml:12:1: duplicate key \"dead_letter.none\"");
        c = load("kafka: {brokers: x, topics: [t]}\n"
                 "webhook: {url: https://h/, api_key: k}\n"
                 "routes: [{bucket: b, storage_client_id: s}]\n"
                 "dead_letter: {none: True}\n",
                 0, err);
        if (!c)
                fail_msg("%s", err);
        assert_int_equal(c->dead_letter.none, 1);
        br_conf_destroy(c);
        expect_one("kafka: {brokers: x, topics: [t]}\n"
                   "webhook: {url: https://h/, api_key: k}\n"
                   "routes: [{bucket: b, storage_client_id: s}]\n"
                   "dead_letter: {none: yes, file: f}\n",
                   "t.yaml:4:21: dead_letter.none: expected true or false, "
                   "got \"yes\"");
        /* Aliases are followed; NUL bytes in values are refused. */
        c = load("kafka: {brokers: &b x, topics: [*b]}\n"
                 "webhook: {url: https://h/, api_key: k}\n"
                 "routes: [&r {bucket: b, storage_client_id: s}, *r]\n"
                 "dead_letter: {none: true}\n",
                 0, err);
        if (!c)
                fail_msg("%s", err);
        assert_string_equal(c->kafka.topics[0], "x");
        assert_int_equal(c->route_cnt, 2);
        assert_int_equal(c->routes[1].index, 1);
        br_conf_destroy(c);
        expect_one(BASE "dead_letter.file: \"a\\0b\"\n",
                   "t.yaml:11:19: dead_letter.file: contains a NUL character");
        br_conf_destroy(NULL);
        c = br_conf_load(NULL, 0, NULL, BR_CONF_F_PARTIAL, err, sizeof(err));
        assert_non_null(c);
        assert_string_equal(c->origin, "<string>");
        br_conf_destroy(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_full_config),
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_table),
            cmocka_unit_test(test_unknown_key),
            cmocka_unit_test(test_unknown_route_key),
            cmocka_unit_test(test_wrong_type),
            cmocka_unit_test(test_bad_duration),
            cmocka_unit_test(test_bad_size),
            cmocka_unit_test(test_out_of_range),
            cmocka_unit_test(test_bad_enum),
            cmocka_unit_test(test_missing_required),
            cmocka_unit_test(test_empty_lists),
            cmocka_unit_test(test_duplicate_key),
            cmocka_unit_test(test_env_unset),
            cmocka_unit_test(test_env_substituted),
            cmocka_unit_test(test_forbidden_property),
            cmocka_unit_test(test_bad_url),
            cmocka_unit_test(test_no_dead_letter_sink),
            cmocka_unit_test(test_cross_backoff),
            cmocka_unit_test(test_partial),
            cmocka_unit_test(test_yaml_syntax_error),
            cmocka_unit_test(test_yaml_limits),
            cmocka_unit_test(test_many_errors),
            cmocka_unit_test(test_errstr_full),
            cmocka_unit_test(test_route_match),
            cmocka_unit_test(test_route_glob_slash),
            cmocka_unit_test(test_dump_hides_secrets),
            cmocka_unit_test(test_errors_hide_secrets),
            cmocka_unit_test(test_load_file),
            cmocka_unit_test(test_help),
            cmocka_unit_test(test_configuration_md),
            cmocka_unit_test(test_nulls_and_misc),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
