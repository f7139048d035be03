/* The plan: forward filter, routes (prefix, suffix, glob, per-route
 * events), body forms, scanId, transform's overrides, rejects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "bridge/event.h"

static const char routes_yaml[] = "routes:\n"
                                  "  - bucket: uploads\n"
                                  "    prefix: incoming/\n"
                                  "    storage_client_id: sc-incoming\n"
                                  "  - bucket: uploads\n"
                                  "    suffix: .pdf\n"
                                  "    storage_client_id: sc-pdf\n"
                                  "    scan_id: scan-7\n"
                                  "  - bucket: \"logs-*\"\n"
                                  "    storage_client_id: sc-logs\n"
                                  "    format: generic\n"
                                  "  - bucket: archive\n"
                                  "    storage_client_id: sc-archive\n"
                                  "    events: [created, removed]\n"
                                  "  - bucket: acme-oss\n"
                                  "    storage_client_id: sc-oss\n"
                                  "  - bucket: acme-oss-s3\n"
                                  "    storage_client_id: sc-oss-s3\n"
                                  "    format: s3\n";

struct fx {
        struct br_conf *conf;
        struct br_plan plan;
};

static struct br_conf *conf_from(const char *yaml) {
        char err[2048] = "";
        struct br_conf *conf;

        conf = br_conf_load(yaml, strlen(yaml), "<test>", BR_CONF_F_PARTIAL,
                            err, sizeof(err));
        if (!conf)
                fail_msg("config: %s", err);
        return conf;
}

static int setup(void **state) {
        struct fx *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        f->conf = conf_from(routes_yaml);
        br_plan_init(&f->plan);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fx *f = *state;

        br_plan_free(&f->plan);
        br_conf_destroy(f->conf);
        free(f);
        return 0;
}

#define MINIO(name, bucket, key)                                               \
        "{\"EventName\":\"" name "\",\"Key\":\"" bucket "/x\",\"Records\":"    \
        "[{\"eventVersion\":\"2.0\",\"eventSource\":\"minio:s3\","             \
        "\"eventName\":\"" name "\",\"s3\":{\"bucket\":{\"name\":\"" bucket    \
        "\"},\"object\":{\"key\":\"" key "\",\"size\":12,\"sequencer\":"       \
        "\"1\"}}}]}"

#define AWS_REC(name, bucket, key)                                             \
        "{\"eventSource\":\"aws:s3\",\"eventName\":\"" name "\",\"s3\":"       \
        "{\"bucket\":{\"name\":\"" bucket "\"},\"object\":{\"key\":\"" key     \
        "\",\"size\":1}}}"

#define OSS(name, bucket, key)                                                 \
        "{\"events\":[{\"eventName\":\"" name "\",\"eventSource\":"            \
        "\"acs:oss\",\"oss\":{\"bucket\":{\"name\":\"" bucket "\"},"           \
        "\"object\":{\"key\":\"" key "\",\"size\":5}}}]}"

static void plan(struct fx *f, const struct br_plan_override *ov,
                 const char *msg) {
        assert_int_equal(
            br_plan_message(f->conf, ov, msg, strlen(msg), &f->plan), 0);
}

static const struct br_plan_item *item(struct fx *f, size_t i) {
        assert_true(i < f->plan.cnt);
        return &f->plan.items[i];
}

static void posted(struct fx *f, size_t i, const char *body) {
        const struct br_plan_item *it = item(f, i);

        if (it->action != BR_PLAN_POST)
                fail_msg("item %zu: action %d, reason %s", i, it->action,
                         it->reason ? it->reason : "-");
        assert_non_null(it->route);
        assert_string_equal(it->body, body);
        assert_int_equal(it->body_len, strlen(body));
}

static void skipped(struct fx *f, size_t i, enum br_event_kind kind) {
        const struct br_plan_item *it = item(f, i);

        assert_int_equal(it->action, BR_PLAN_SKIP);
        assert_int_equal(it->kind, kind);
        assert_null(it->body);
}

static void rejected(struct fx *f, size_t i, enum br_dlq_class cls,
                     const char *reason) {
        const struct br_plan_item *it = item(f, i);

        assert_int_equal(it->action, BR_PLAN_REJECT);
        assert_int_equal(it->cls, cls);
        assert_string_equal(it->reason, reason);
        assert_null(it->body);
}

static void test_prefix_route(void **state) {
        struct fx *f = *state;

        plan(f, NULL,
             MINIO("s3:ObjectCreated:Put", "uploads", "incoming%2Fa+b.txt"));
        assert_int_equal(f->plan.cnt, 1);
        posted(f, 0,
               "{\"storageClientId\":\"sc-incoming\",\"metadata\":"
               "\"{\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":\\\"incoming/a "
               "b.txt\\\"}}}\"}");
        assert_ptr_equal(item(f, 0)->route, &f->conf->routes[0]);
        assert_string_equal(item(f, 0)->bucket, "uploads");
        assert_string_equal(item(f, 0)->key, "incoming/a b.txt");
        assert_int_equal(item(f, 0)->record, 0);
        assert_int_equal(item(f, 0)->kind, BR_KIND_CREATED);
        assert_string_equal(f->plan.dialect, "minio");
}

/* The first matching route wins: incoming/x.pdf goes to routes[0]. */
static void test_suffix_route_and_scan_id(void **state) {
        struct fx *f = *state;

        plan(f, NULL,
             MINIO("s3:ObjectCreated:Put", "uploads", "reports%2Fq1.pdf"));
        posted(f, 0,
               "{\"storageClientId\":\"sc-pdf\",\"metadata\":"
               "\"{\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":\\\"reports/"
               "q1.pdf\\\"}}}\",\"scanId\":\"scan-7\"}");
        assert_ptr_equal(item(f, 0)->route, &f->conf->routes[1]);

        plan(f, NULL,
             MINIO("s3:ObjectCreated:Put", "uploads", "incoming%2Fq1.pdf"));
        assert_ptr_equal(item(f, 0)->route, &f->conf->routes[0]);
}

static void test_glob_generic(void **state) {
        struct fx *f = *state;

        plan(f, NULL, MINIO("s3:ObjectCreated:Copy", "logs-2025", "a%2Fb.log"));
        posted(f, 0,
               "{\"storageClientId\":\"sc-logs\",\"metadata\":"
               "\"{\\\"Name\\\":\\\"a/b.log\\\"}\"}");
        assert_ptr_equal(item(f, 0)->route, &f->conf->routes[2]);
}

static void test_no_route(void **state) {
        struct fx *f = *state;

        plan(f, NULL, MINIO("s3:ObjectCreated:Put", "uploads", "other.txt"));
        rejected(f, 0, BR_DLQ_NO_ROUTE, "no route for bucket \"uploads\"");
        assert_string_equal(item(f, 0)->key, "other.txt");
        assert_string_equal(item(f, 0)->bucket, "uploads");
        assert_null(item(f, 0)->route);

        plan(f, NULL, MINIO("s3:ObjectCreated:Put", "elsewhere", "a"));
        rejected(f, 0, BR_DLQ_NO_ROUTE, "no route for bucket \"elsewhere\"");

        /* a skipped kind is never a no-route reject */
        plan(f, NULL, MINIO("s3:ObjectRemoved:Delete", "elsewhere", "a"));
        skipped(f, 0, BR_KIND_REMOVED);
        assert_string_equal(item(f, 0)->key, "a");
}

static void test_route_events(void **state) {
        struct fx *f = *state;

        /* archive forwards removes; the top level does not */
        plan(f, NULL, MINIO("s3:ObjectRemoved:Delete", "archive", "old.zip"));
        posted(f, 0,
               "{\"storageClientId\":\"sc-archive\",\"metadata\":"
               "\"{\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":\\\"old.zip\\\"}}}"
               "\"}");
        assert_int_equal(item(f, 0)->kind, BR_KIND_REMOVED);
        plan(f, NULL,
             MINIO("s3:ObjectCreated:PutTagging", "archive", "old.zip"));
        skipped(f, 0, BR_KIND_TAGGING);
        plan(f, NULL,
             MINIO("s3:ObjectRemoved:Delete", "uploads", "incoming%2Fa"));
        skipped(f, 0, BR_KIND_REMOVED);
        plan(f, NULL, MINIO("s3:ObjectCreated:Put", "archive", "new.zip"));
        assert_int_equal(item(f, 0)->action, BR_PLAN_POST);
}

static void test_top_level_events(void **state) {
        struct br_conf *conf    = conf_from("events: [created, removed]\n"
                                               "routes:\n"
                                               "  - bucket: \"*\"\n"
                                               "    storage_client_id: sc-all\n"
                                               "  - bucket: never\n"
                                               "    storage_client_id: sc-never\n"
                                               "    events: [tagging]\n");
        struct fx *f            = *state;
        static const char del[] = MINIO("s3:ObjectRemoved:Delete", "b", "k");
        static const char tag[] =
            MINIO("s3:ObjectCreated:PutTagging", "b", "k");

        assert_int_equal(
            br_plan_message(conf, NULL, del, strlen(del), &f->plan), 0);
        assert_int_equal(item(f, 0)->action, BR_PLAN_POST);
        assert_int_equal(
            br_plan_message(conf, NULL, tag, strlen(tag), &f->plan), 0);
        skipped(f, 0, BR_KIND_TAGGING);
        br_conf_destroy(conf);
}

static void test_oss_formats(void **state) {
        struct fx *f = *state;

        plan(f, NULL,
             OSS("ObjectCreated:AppendObject", "acme-oss",
                 "\xE4\xB8\x8A\xE4\xBC\xA0/log.txt"));
        posted(f, 0,
               "{\"storageClientId\":\"sc-oss\",\"metadata\":"
               "\"{\\\"oss\\\":{\\\"object\\\":{\\\"key\\\":\\\""
               "\xE4\xB8\x8A\xE4\xBC\xA0/log.txt\\\"}}}\"}");
        assert_string_equal(f->plan.dialect, "alibaba_oss");
        /* an OSS bucket behind an "S3 Compatible" unit (FORMATS.md 7.5) */
        plan(f, NULL, OSS("ObjectCreated:PutObject", "acme-oss-s3", "a.txt"));
        posted(f, 0,
               "{\"storageClientId\":\"sc-oss-s3\",\"metadata\":"
               "\"{\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":\\\"a.txt\\\"}}}"
               "\"}");
        plan(f, NULL, OSS("ObjectCreated:UploadPart", "acme-oss", "big.iso"));
        skipped(f, 0, BR_KIND_PART);
}

static void test_multi_record_order(void **state) {
        struct fx *f = *state;

        plan(
            f, NULL,
            "{\"Records\":[" AWS_REC("ObjectCreated:Put", "uploads", "incoming/1") "," AWS_REC(
                "ObjectRemoved:Delete", "uploads",
                "incoming/2") "," AWS_REC("ObjectCreated:Post", "uploads",
                                          "x.pdf") "," AWS_REC("ObjectCreated:"
                                                               "Put",
                                                               "uploads",
                                                               "bad%zz") "," AWS_REC("ObjectCreated:Put",
                                                                                     "nowhere",
                                                                                     "k") "]}");
        assert_int_equal(f->plan.cnt, 5);
        assert_int_equal(item(f, 0)->action, BR_PLAN_POST);
        assert_string_equal(item(f, 0)->key, "incoming/1");
        skipped(f, 1, BR_KIND_REMOVED);
        assert_int_equal(item(f, 2)->action, BR_PLAN_POST);
        assert_string_equal(item(f, 2)->key, "x.pdf");
        rejected(f, 3, BR_DLQ_MALFORMED,
                 "aws_s3: Records[3].s3.object.key: invalid percent-encoding "
                 "at byte 3");
        assert_int_equal(item(f, 3)->record, 3);
        assert_string_equal(item(f, 3)->bucket, "uploads");
        assert_null(item(f, 3)->key);
        rejected(f, 4, BR_DLQ_NO_ROUTE, "no route for bucket \"nowhere\"");
        assert_int_equal(item(f, 4)->record, 4);
}

static void test_message_rejects(void **state) {
        struct fx *f = *state;

        plan(f, NULL,
             "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"u/x\","
             "\"Records\":{}}");
        assert_int_equal(f->plan.cnt, 1);
        rejected(f, 0, BR_DLQ_MALFORMED,
                 "minio: Records: expected an array, got object");
        assert_int_equal(item(f, 0)->record, -1);
        assert_string_equal(f->plan.dialect, "minio");

        plan(f, NULL, "garbage");
        rejected(f, 0, BR_DLQ_MALFORMED,
                 "not JSON: unexpected character at byte 0");
        assert_null(f->plan.dialect);

        assert_int_equal(br_plan_message(f->conf, NULL, NULL, 0, &f->plan), 0);
        rejected(f, 0, BR_DLQ_MALFORMED, "empty message");
}

static void test_test_event_skipped(void **state) {
        struct fx *f         = *state;
        struct br_conf *conf = conf_from("events: [created, test]\n"
                                         "routes:\n"
                                         "  - bucket: \"*\"\n"
                                         "    storage_client_id: sc\n");
        static const char msg[] =
            "{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\","
            "\"Bucket\":\"uploads\"}";

        plan(f, NULL, msg);
        skipped(f, 0, BR_KIND_TEST);
        /* nothing to scan even when a user lists "test" */
        assert_int_equal(
            br_plan_message(conf, NULL, msg, strlen(msg), &f->plan), 0);
        skipped(f, 0, BR_KIND_TEST);
        br_conf_destroy(conf);
}

static void test_override_catchall(void **state) {
        struct fx *f               = *state;
        struct br_plan_override ov = {"sc-test-1", -1, NULL};

        /* routes are ignored: even a bucket with no route goes through */
        plan(f, &ov, MINIO("s3:ObjectCreated:Put", "nowhere", "a%2Fb"));
        posted(f, 0,
               "{\"storageClientId\":\"sc-test-1\",\"metadata\":"
               "\"{\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":\\\"a/b\\\"}}}\"}");
        assert_ptr_equal(item(f, 0)->route, &f->plan.catchall);
        assert_string_equal(item(f, 0)->route->storage_client_id, "sc-test-1");
        /* the catch-all uses the top-level set: archive's removes too */
        plan(f, &ov, MINIO("s3:ObjectRemoved:Delete", "archive", "a"));
        skipped(f, 0, BR_KIND_REMOVED);
        /* auto keeps the OSS form */
        plan(f, &ov, OSS("ObjectCreated:PutObject", "x", "k"));
        posted(f, 0,
               "{\"storageClientId\":\"sc-test-1\",\"metadata\":"
               "\"{\\\"oss\\\":{\\\"object\\\":{\\\"key\\\":\\\"k\\\"}}}\"}");

        ov.storage_client_id = "sc-other";
        ov.format            = BR_FORMAT_GENERIC;
        ov.scan_id           = "s1";
        plan(f, &ov, OSS("ObjectCreated:PutObject", "x", "k"));
        posted(f, 0,
               "{\"storageClientId\":\"sc-other\",\"metadata\":"
               "\"{\\\"Name\\\":\\\"k\\\"}\",\"scanId\":\"s1\"}");
}

/* Format and scan id alone override the matched route's. */
static void test_override_route_fields(void **state) {
        struct fx *f               = *state;
        struct br_plan_override ov = {NULL, BR_FORMAT_ALIBABA, "s9"};

        plan(f, &ov, MINIO("s3:ObjectCreated:Put", "uploads", "x.pdf"));
        posted(f, 0,
               "{\"storageClientId\":\"sc-pdf\",\"metadata\":"
               "\"{\\\"oss\\\":{\\\"object\\\":{\\\"key\\\":\\\"x.pdf\\\"}}}"
               "\",\"scanId\":\"s9\"}");
        assert_ptr_equal(item(f, 0)->route, &f->conf->routes[1]);
        plan(f, &ov, MINIO("s3:ObjectCreated:Put", "uploads", "x.txt"));
        rejected(f, 0, BR_DLQ_NO_ROUTE, "no route for bucket \"uploads\"");
}

/* transform without -c: defaults, created only, no routes. */
static void test_no_conf(void **state) {
        struct fx *f               = *state;
        struct br_plan_override ov = {"sc", -1, NULL};
        static const char put[]    = MINIO("s3:ObjectCreated:Put", "b", "k");
        static const char del[]    = MINIO("s3:ObjectRemoved:Delete", "b", "k");
        char *big;
        size_t n;

        assert_int_equal(
            br_plan_message(NULL, NULL, put, strlen(put), &f->plan), 0);
        rejected(f, 0, BR_DLQ_NO_ROUTE, "no route for bucket \"b\"");
        assert_int_equal(
            br_plan_message(NULL, NULL, del, strlen(del), &f->plan), 0);
        skipped(f, 0, BR_KIND_REMOVED);
        assert_int_equal(br_plan_message(NULL, &ov, put, strlen(put), &f->plan),
                         0);
        assert_int_equal(item(f, 0)->action, BR_PLAN_POST);

        /* default limits: 1 MiB messages */
        n   = 1024 * 1024 + 1;
        big = malloc(n);
        assert_non_null(big);
        memset(big, ' ', n);
        big[0]     = '{';
        big[n - 1] = '}';
        assert_int_equal(br_plan_message(NULL, &ov, big, n, &f->plan), 0);
        rejected(f, 0, BR_DLQ_MALFORMED,
                 "message of 1048577 bytes exceeds limits.max_message_bytes "
                 "(1048576)");
        free(big);
}

static void test_conf_limits(void **state) {
        struct fx *f         = *state;
        struct br_conf *conf = conf_from("limits:\n"
                                         "  max_key_bytes: 8\n"
                                         "  max_records: 1\n"
                                         "routes:\n"
                                         "  - bucket: b\n"
                                         "    storage_client_id: sc\n");
        static const char longkey[] =
            MINIO("s3:ObjectCreated:Put", "b", "123456789");
        static const char two[] =
            "{\"Records\":[" AWS_REC("ObjectCreated:Put", "b", "a") "," AWS_REC(
                "ObjectCreated:Put", "b", "c") "]}";

        assert_int_equal(
            br_plan_message(conf, NULL, longkey, strlen(longkey), &f->plan), 0);
        rejected(f, 0, BR_DLQ_MALFORMED,
                 "minio: Records[0].s3.object.key: decoded key of 9 bytes "
                 "exceeds 8");
        assert_int_equal(
            br_plan_message(conf, NULL, two, strlen(two), &f->plan), 0);
        rejected(f, 0, BR_DLQ_MALFORMED,
                 "aws_s3: Records: 2 records exceed limits.max_records (1)");
        br_conf_destroy(conf);
}

/* The consumer takes the items' strings; clearing must cope. */
static void test_plan_reuse(void **state) {
        struct fx *f = *state;
        struct br_plan_item *it;
        char *body;
        int i;

        for (i = 0; i < 5; i++) {
                plan(f, NULL,
                     MINIO("s3:ObjectCreated:Put", "uploads", "incoming%2Fa"));
                it       = &f->plan.items[0];
                body     = it->body;
                it->body = NULL;
                free(body);
                br_plan_clear(&f->plan);
                assert_int_equal(f->plan.cnt, 0);
        }
        br_plan_clear(NULL);
        br_plan_free(NULL);
}

static void check_body(const char *body, size_t len, const char *scid,
                       const char *scan, const char *form, const char *key) {
        struct json_object *b, *m, *v;

        assert_int_equal(strlen(body), len);
        b = json_tokener_parse(body);
        assert_non_null(b);
        assert_true(json_object_object_get_ex(b, "storageClientId", &v));
        assert_string_equal(json_object_get_string(v), scid);
        if (scan) {
                assert_true(json_object_object_get_ex(b, "scanId", &v));
                assert_string_equal(json_object_get_string(v), scan);
        } else {
                assert_false(json_object_object_get_ex(b, "scanId", &v));
        }
        assert_true(json_object_object_get_ex(b, "metadata", &v));
        m = json_tokener_parse(json_object_get_string(v));
        assert_non_null(m);
        if (!strcmp(form, "Name")) {
                assert_true(json_object_object_get_ex(m, "Name", &v));
        } else {
                assert_true(json_object_object_get_ex(m, form, &v));
                assert_true(json_object_object_get_ex(v, "object", &v));
                assert_true(json_object_object_get_ex(v, "key", &v));
        }
        assert_int_equal(json_object_get_string_len(v), strlen(key));
        assert_string_equal(json_object_get_string(v), key);
        json_object_put(m);
        json_object_put(b);
}

static void test_body(void **state) {
        static const char nasty[] = "q\"uote\\back/slash\ttab\x01"
                                    "ctl \xC3\x9C \xF0\x9F\x90\xB1 </script>";
        size_t len                = 0;
        char *b;

        (void)state;
        b = br_body_new(BR_FORMAT_S3, "sc-1", NULL, "a/b.txt", 7, &len);
        assert_non_null(b);
        assert_string_equal(b, "{\"storageClientId\":\"sc-1\",\"metadata\":"
                               "\"{\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":"
                               "\\\"a/b.txt\\\"}}}\"}");
        free(b);
        b = br_body_new(BR_FORMAT_S3, "sc-1", "scan \"7\"", nasty,
                        sizeof(nasty) - 1, &len);
        assert_non_null(b);
        check_body(b, len, "sc-1", "scan \"7\"", "s3", nasty);
        /* non-ASCII stays raw UTF-8, "/" unescaped (canonical form) */
        assert_non_null(strstr(b, "\xF0\x9F\x90\xB1"));
        assert_non_null(strstr(b, "\\\\\\\\back/slash"));
        free(b);
        b = br_body_new(BR_FORMAT_ALIBABA, "sc-2", NULL, nasty,
                        sizeof(nasty) - 1, &len);
        check_body(b, len, "sc-2", NULL, "oss", nasty);
        free(b);
        b = br_body_new(BR_FORMAT_GENERIC, "sc-3", "s", nasty,
                        sizeof(nasty) - 1, &len);
        check_body(b, len, "sc-3", "s", "Name", nasty);
        free(b);
        /* AUTO reaching the body means s3 */
        b = br_body_new(BR_FORMAT_AUTO, "sc-4", NULL, "k", 1, NULL);
        check_body(b, strlen(b), "sc-4", NULL, "s3", "k");
        free(b);
        assert_null(br_body_new(BR_FORMAT_S3, NULL, NULL, "k", 1, &len));
        assert_null(br_body_new(BR_FORMAT_S3, "sc", NULL, NULL, 0, &len));
}

/* The plan refills cached trees; br_body_new() builds fresh ones: both
 * must give the same bytes, whatever came before. */
static void test_body_paths_agree(void **state) {
        static const char *const keys[] = {
            "a-rather-long-key/with/several/levels/and-a-long-name.bin",
            "q\"uote\\back/slash\x01 \xC3\x9C \xF0\x9F\x90\xB1",
            "k",
            "</script>&amp;",
        };
        static const char *const msgs[] = {
            "{\"Records\":[{\"eventSource\":\"ceph:s3\",\"eventName\":"
            "\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
            "\"object\":{\"key\":\"a-rather-long-key/with/several/levels/"
            "and-a-long-name.bin\"}}}]}",
            "{\"Records\":[{\"eventSource\":\"ceph:s3\",\"eventName\":"
            "\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
            "\"object\":{\"key\":\"q\\\"uote\\\\back\\/slash\\u0001 "
            "\xC3\x9C \xF0\x9F\x90\xB1\"}}}]}",
            "{\"Records\":[{\"eventSource\":\"ceph:s3\",\"eventName\":"
            "\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
            "\"object\":{\"key\":\"k\"}}}]}",
            "{\"Records\":[{\"eventSource\":\"ceph:s3\",\"eventName\":"
            "\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
            "\"object\":{\"key\":\"\\u003c/script\\u003e\\u0026amp;\"}}}]}",
        };
        static const char *const scans[] = {NULL, "scan-1", NULL, "s"};
        struct fx *f                     = *state;
        int round, i, fmt;

        for (round = 0; round < 2; round++) {
                for (i = 0; i < 4; i++) {
                        for (fmt = BR_FORMAT_S3; fmt <= BR_FORMAT_GENERIC;
                             fmt++) {
                                struct br_plan_override ov = {
                                    i % 2 ? "sc-long-storage-client-id" : "sc",
                                    fmt, scans[(i + fmt) % 4]};
                                size_t len = 0;
                                char *want;

                                plan(f, &ov, msgs[i]);
                                want = br_body_new(fmt, ov.storage_client_id,
                                                   ov.scan_id, keys[i],
                                                   strlen(keys[i]), &len);
                                assert_non_null(want);
                                posted(f, 0, want);
                                free(want);
                        }
                }
        }
}

static void test_class_names(void **state) {
        (void)state;
        assert_string_equal(br_dlq_class_name(BR_DLQ_MALFORMED), "malformed");
        assert_string_equal(br_dlq_class_name(BR_DLQ_NO_ROUTE), "no_route");
        assert_string_equal(br_dlq_class_name(BR_DLQ_REJECTED), "rejected");
        assert_string_equal(br_dlq_class_name(BR_DLQ_EXHAUSTED), "exhausted");
        assert_string_equal(br_dlq_class_name((enum br_dlq_class)42),
                            "unknown");
}

int main(void) {
        const struct CMUnitTest tests[] = {
/* clang-format off */
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
            T(test_prefix_route),
            T(test_suffix_route_and_scan_id),
            T(test_glob_generic),
            T(test_no_route),
            T(test_route_events),
            T(test_top_level_events),
            T(test_oss_formats),
            T(test_multi_record_order),
            T(test_message_rejects),
            T(test_test_event_skipped),
            T(test_override_catchall),
            T(test_override_route_fields),
            T(test_no_conf),
            T(test_conf_limits),
            T(test_plan_reuse),
            T(test_body),
            T(test_body_paths_agree),
            T(test_class_names),
#undef T
            /* clang-format on */
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
