/* The dialects: detection by shape, every event field, kinds, keys, limits
 * and the reasons given for bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "adapters/decode.h"

static const struct br_parse_limits lim = {
    .max_message_bytes = 1024 * 1024,
    .max_depth         = 32,
    .max_records       = 1000,
    .max_key_bytes     = 1024,
};

struct res {
        struct br_event_list l;
        const struct br_adapter *a;
        char err[512];
        int rc;
};

static void parse_lim(struct res *r, const char *buf, size_t len,
                      const struct br_parse_limits *limits) {
        r->err[0] = '\0';
        r->rc     = br_adapters_parse(buf, len, limits, &r->l, &r->a, r->err,
                                      sizeof(r->err));
}

static void parse(struct res *r, const char *json) {
        parse_lim(r, json, strlen(json), &lim);
}

static int setup(void **state) {
        struct res *r = calloc(1, sizeof(*r));

        if (!r)
                return -1;
        br_event_list_init(&r->l);
        *state = r;
        return 0;
}

static int teardown(void **state) {
        struct res *r = *state;

        br_event_list_free(&r->l);
        free(r);
        return 0;
}

/* Expects success with n events from adapter name. */
static void ok(struct res *r, const char *name, size_t n) {
        if (r->rc != 0)
                fail_msg("parse failed: %s", r->err);
        assert_non_null(r->a);
        assert_string_equal(r->a->name, name);
        assert_int_equal(r->l.cnt, n);
}

/* Expects a message-level failure whose reason is exactly want. */
static void refused(struct res *r, const char *want) {
        assert_int_equal(r->rc, -1);
        assert_string_equal(r->err, want);
        assert_int_equal(r->l.cnt, 0);
}

#define MINIO_REC(name, key, object_extra)                                     \
        "{\"eventVersion\":\"2.0\",\"eventSource\":\"minio:s3\","              \
        "\"awsRegion\":\"us-east-1\",\"eventTime\":\"2025-03-14T09:26:53."     \
        "412Z\",\"eventName\":\"" name "\",\"userIdentity\":{\"principalId\":" \
        "\"svc\"},\"requestParameters\":{\"principalId\":\"svc\"},"            \
        "\"responseElements\":{\"x-amz-request-id\":\"182CA136FB6E4A11\"},"    \
        "\"s3\":{\"s3SchemaVersion\":\"1.0\",\"configurationId\":\"Config\","  \
        "\"bucket\":{\"name\":\"uploads\",\"ownerIdentity\":{\"principalId\":" \
        "\"svc\"},\"arn\":\"arn:aws:s3:::uploads\"},\"object\":{\"key\":"      \
        "\"" key "\"" object_extra ",\"sequencer\":\"182CA136FB41B668\"}},"    \
        "\"source\":{\"host\":\"10.0.0.1\",\"port\":\"\",\"userAgent\":"       \
        "\"mc\"}}"

#define MINIO(name, key, extra)                                                \
        "{\"EventName\":\"" name                                               \
        "\",\"Key\":\"uploads/x\",\"Records\":[" MINIO_REC(name, key,          \
                                                           extra) "]}"

#define CEPH_REC(name, key, object_extra)                                      \
        "{\"eventVersion\":\"2.2\",\"eventSource\":\"ceph:s3\",\"awsRegion\":" \
        "\"default\",\"eventTime\":\"2025-03-14T09:31:07.518311Z\","           \
        "\"eventName\":\"" name "\",\"userIdentity\":{\"principalId\":\"u\"}," \
        "\"requestParameters\":{\"sourceIPAddress\":\"\"},"                    \
        "\"responseElements\":{\"x-amz-request-id\":\"r\",\"x-amz-id-2\":"     \
        "\"h\"},\"s3\":{\"s3SchemaVersion\":\"1.0\",\"configurationId\":"      \
        "\"mdss\",\"bucket\":{\"name\":\"photos\",\"ownerIdentity\":"          \
        "{\"principalId\":\"u\"},\"arn\":\"arn:aws:s3:default::photos\","      \
        "\"id\":\"b.1\"},\"object\":{\"key\":\"" key "\"" object_extra         \
        ",\"metadata\":[{\"key\":\"x-amz-meta-a\",\"val\":\"b\"}],\"tags\":"   \
        "[]}},\"eventId\":\"1.2.e\",\"opaqueData\":\"\"}"

#define AWS_REC(name, key)                                                     \
        "{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"awsRegion\":"  \
        "\"eu-central-1\",\"eventTime\":\"2025-03-14T09:40:11.123Z\","         \
        "\"eventName\":\"" name "\",\"userIdentity\":{\"principalId\":\"A\"}," \
        "\"requestParameters\":{\"sourceIPAddress\":\"203.0.113.10\"},"        \
        "\"responseElements\":{\"x-amz-request-id\":\"C3\",\"x-amz-id-2\":"    \
        "\"F\"},\"s3\":{\"s3SchemaVersion\":\"1.0\",\"configurationId\":"      \
        "\"c\",\"bucket\":{\"name\":\"acme-uploads\",\"ownerIdentity\":"       \
        "{\"principalId\":\"A\"},\"arn\":\"arn:aws:s3:::acme-uploads\"},"      \
        "\"object\":{\"key\":\"" key "\",\"size\":1048576,\"eTag\":"           \
        "\"d41d8cd98f00b204e9800998ecf8427e\",\"sequencer\":\"0067D3\"}}}"

#define OSS_REC(name, key)                                                     \
        "{\"eventName\":\"" name "\",\"eventSource\":\"acs:oss\","             \
        "\"eventTime\":\"2025-03-14T09:44:43.000Z\",\"eventVersion\":\"1.0\"," \
        "\"oss\":{\"bucket\":{\"arn\":\"acs:oss:cn-hangzhou:1:acme-oss\","     \
        "\"name\":\"acme-oss\",\"ownerIdentity\":\"1\"},\"object\":"           \
        "{\"deltaSize\":122539,\"eTag\":\"688A7BF4F233DC9C88A80BF985AB7329\"," \
        "\"key\":\"" key "\",\"size\":122539},\"ossSchemaVersion\":\"1.0\","   \
        "\"ruleId\":\"9a\"},\"region\":\"cn-hangzhou\",\"requestParameters\":" \
        "{\"sourceIPAddress\":\"198.51.100.23\"},\"responseElements\":"        \
        "{\"requestId\":\"67\"},\"userIdentity\":{\"principalId\":\"2\"}}"

#define EB(type, key)                                                          \
        "{\"version\":\"0\",\"id\":\"1779\",\"detail-type\":\"" type "\","     \
        "\"source\":\"aws.s3\",\"account\":\"111122223333\",\"time\":"         \
        "\"2025-03-14T09:42:00Z\",\"region\":\"eu-central-1\",\"resources\":"  \
        "[\"arn:aws:s3:::acme-uploads\"],\"detail\":{\"version\":\"0\","       \
        "\"bucket\":{\"name\":\"acme-uploads\"},\"object\":{\"key\":\"" key    \
        "\",\"size\":5120,\"etag\":\"b1946ac9\",\"version-id\":\"v7\","        \
        "\"sequencer\":\"617f08299329d189\"},\"request-id\":\"N4N7\","         \
        "\"requester\":\"111122223333\",\"reason\":\"PutObject\"}}"

/* --- MinIO -------------------------------------------------------------- */

static void test_minio_put(void **state) {
        struct res *r = *state;
        const struct br_object_event *ev;

        parse(r, MINIO("s3:ObjectCreated:Put",
                       "reports%2F2024+Q1%2F%C3%9Cberblick+%26+Zahlen%2Bfinal+"
                       "100%25.pdf",
                       ",\"size\":1337,\"eTag\":\"5d41402a\",\"versionId\":"
                       "\"3f1a\""));
        ok(r, "minio", 1);
        ev = &r->l.v[0];
        assert_int_equal(ev->dialect, BR_DIALECT_MINIO);
        assert_int_equal(ev->kind, BR_KIND_CREATED);
        assert_int_equal(ev->record, 0);
        assert_null(ev->reject);
        assert_string_equal(ev->event_name, "s3:ObjectCreated:Put");
        assert_string_equal(ev->bucket, "uploads");
        assert_string_equal(ev->key, "reports/2024 Q1/\xC3\x9C"
                                     "berblick & Zahlen+final 100%.pdf");
        assert_int_equal(ev->key_len, strlen(ev->key));
        assert_int_equal(ev->size, 1337);
        assert_string_equal(ev->etag, "5d41402a");
        assert_string_equal(ev->version_id, "3f1a");
        assert_string_equal(ev->sequencer, "182CA136FB41B668");
}

/* A delete carries no size or eTag (FORMATS.md 1.1). */
static void test_minio_delete_minimal_object(void **state) {
        struct res *r = *state;

        parse(r, MINIO("s3:ObjectRemoved:Delete", "tmp%2Fstale.csv", ""));
        ok(r, "minio", 1);
        assert_int_equal(r->l.v[0].kind, BR_KIND_REMOVED);
        assert_string_equal(r->l.v[0].key, "tmp/stale.csv");
        assert_int_equal(r->l.v[0].size, -1);
        assert_null(r->l.v[0].etag);
        assert_null(r->l.v[0].version_id);
}

/* ILM transition: requestParameters null, empty region (FORMATS.md 1.4);
 * also found by eventSource without the top-level envelope. */
static void test_minio_ilm_nulls(void **state) {
        struct res *r = *state;

        parse(r, "{\"Records\":[{\"eventVersion\":\"2.0\",\"eventSource\":"
                 "\"minio:s3\",\"awsRegion\":\"\",\"eventName\":"
                 "\"s3:ObjectTransition:Complete\",\"userIdentity\":"
                 "{\"principalId\":\"\"},\"requestParameters\":null,"
                 "\"responseElements\":{\"x-amz-request-id\":\"\"},\"s3\":"
                 "{\"bucket\":{\"name\":\"b\",\"ownerIdentity\":null},"
                 "\"object\":{\"key\":\"cold%2Fa.bin\",\"size\":null,"
                 "\"eTag\":null,\"versionId\":null,\"userMetadata\":null,"
                 "\"sequencer\":\"1\"}},\"source\":null}]}");
        ok(r, "minio", 1);
        assert_null(r->l.v[0].reject);
        assert_int_equal(r->l.v[0].kind, BR_KIND_LIFECYCLE);
        assert_string_equal(r->l.v[0].key, "cold/a.bin");
        assert_int_equal(r->l.v[0].size, -1);
        assert_null(r->l.v[0].etag);
}

static void test_minio_bad_keys(void **state) {
        struct res *r = *state;

        parse(r, MINIO("s3:ObjectCreated:Put", "100%.pdf", ""));
        ok(r, "minio", 1);
        assert_string_equal(r->l.v[0].reject,
                            "minio: Records[0].s3.object.key: invalid "
                            "percent-encoding at byte 3");
        assert_null(r->l.v[0].key);
        assert_string_equal(r->l.v[0].bucket, "uploads");

        parse(r, MINIO("s3:ObjectCreated:Put", "a%00b", ""));
        assert_string_equal(r->l.v[0].reject,
                            "minio: Records[0].s3.object.key: "
                            "percent-encoded NUL byte at byte 1");

        parse(r, MINIO("s3:ObjectCreated:Put", "r%E9sum%E9.pdf", ""));
        assert_string_equal(r->l.v[0].reject,
                            "minio: Records[0].s3.object.key: not valid "
                            "UTF-8 after decoding at byte 1");

        parse(r, MINIO("s3:ObjectCreated:Put", "", ""));
        assert_string_equal(r->l.v[0].reject,
                            "minio: Records[0].s3.object.key: empty");

        /* a NUL written as a JSON escape is still a NUL */
        parse(r, MINIO("s3:ObjectCreated:Put", "a\\u0000b", ""));
        assert_string_equal(r->l.v[0].reject,
                            "minio: Records[0].s3.object.key: NUL byte at "
                            "byte 1");
}

static void test_minio_missing_fields(void **state) {
        struct res *r = *state;

        parse(r, "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"u/x\","
                 "\"Records\":[{\"eventSource\":\"minio:s3\",\"eventName\":"
                 "\"s3:ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":"
                 "\"u\"},\"object\":{\"size\":1}}}]}");
        ok(r, "minio", 1);
        assert_string_equal(r->l.v[0].reject,
                            "minio: Records[0].s3.object.key: missing");

        parse(r, "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"u/x\","
                 "\"Records\":[{\"eventSource\":\"minio:s3\",\"eventName\":"
                 "\"s3:ObjectCreated:Put\",\"s3\":{\"bucket\":{},"
                 "\"object\":{\"key\":\"x\"}}}]}");
        assert_string_equal(r->l.v[0].reject,
                            "minio: Records[0].s3.bucket.name: missing");

        parse(r, "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"u/x\","
                 "\"Records\":[{\"eventSource\":\"minio:s3\",\"eventName\":"
                 "\"s3:ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":"
                 "\"u\"},\"object\":{\"key\":17}}}]}");
        assert_string_equal(r->l.v[0].reject,
                            "minio: Records[0].s3.object.key: expected a "
                            "string, got int");

        parse(r, "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"u/x\","
                 "\"Records\":[{\"eventSource\":\"minio:s3\",\"s3\":{}}]}");
        assert_string_equal(r->l.v[0].reject,
                            "minio: Records[0].eventName: missing");

        /* records without eventSource take the envelope's dialect */
        parse(r, "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"u/x\","
                 "\"Records\":[{\"eventName\":\"s3:ObjectCreated:Put\","
                 "\"s3\":{\"bucket\":{\"name\":\"u\"},\"object\":{\"key\":"
                 "\"a+b\"}}}]}");
        ok(r, "minio", 1);
        assert_null(r->l.v[0].reject);
        assert_string_equal(r->l.v[0].key, "a b");

        parse(r, "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"u/x\","
                 "\"Records\":[\"nope\",null]}");
        ok(r, "minio", 2);
        assert_string_equal(r->l.v[0].reject,
                            "minio: Records[0]: expected an object, got "
                            "string");
        assert_string_equal(r->l.v[1].reject,
                            "minio: Records[1]: expected an object, got null");
        assert_int_equal(r->l.v[1].record, 1);
}

/* Bucket events name no object: no key, not a reject. */
static void test_minio_bucket_event(void **state) {
        struct res *r = *state;

        parse(r, MINIO("s3:BucketCreated:*", "", ""));
        ok(r, "minio", 1);
        assert_null(r->l.v[0].reject);
        assert_null(r->l.v[0].key);
        assert_int_equal(r->l.v[0].kind, BR_KIND_OTHER);
        assert_string_equal(r->l.v[0].bucket, "uploads");
}

static void test_minio_key_limits(void **state) {
        struct res *r              = *state;
        struct br_parse_limits big = lim;
        char *msg, *p;
        size_t i;

        /* "deep/" + 2043 x "a": 2048 bytes decoded, as bad-huge-key */
        msg = malloc(8192);
        assert_non_null(msg);
        p = msg + sprintf(msg, "{\"EventName\":\"s3:ObjectCreated:Put\","
                               "\"Key\":\"u/x\",\"Records\":[{\"eventSource\":"
                               "\"minio:s3\",\"eventName\":"
                               "\"s3:ObjectCreated:Put\",\"s3\":{\"bucket\":"
                               "{\"name\":\"u\"},\"object\":{\"key\":"
                               "\"deep%%2F");
        for (i = 0; i < 2043; i++)
                *p++ = 'a';
        strcpy(p, "\"}}}]}");
        parse(r, msg);
        ok(r, "minio", 1);
        assert_string_equal(r->l.v[0].reject,
                            "minio: Records[0].s3.object.key: decoded key of "
                            "2048 bytes exceeds 1024");
        big.max_key_bytes = 2048;
        parse_lim(r, msg, strlen(msg), &big);
        ok(r, "minio", 1);
        assert_null(r->l.v[0].reject);
        assert_int_equal(r->l.v[0].key_len, 2048);
        assert_memory_equal(r->l.v[0].key, "deep/aaa", 8);
        assert_int_equal(strlen(r->l.v[0].key), 2048);
        free(msg);
}

/* 4-byte UTF-8 (emoji) escaped by QueryEscape. */
static void test_minio_emoji(void **state) {
        struct res *r = *state;

        parse(r, MINIO("s3:ObjectCreated:Put", "photos%2F%F0%9F%90%B1+cat.jpg",
                       ""));
        ok(r, "minio", 1);
        assert_string_equal(r->l.v[0].key, "photos/\xF0\x9F\x90\xB1 cat.jpg");
}

/* --- Ceph --------------------------------------------------------------- */

static void test_ceph_raw_keys(void **state) {
        struct res *r = *state;

        parse(r, "{\"Records\":[" CEPH_REC("ObjectCreated:Put",
                                           "docs/50% off+sale%2F.pdf",
                                           ",\"size\":2284112,\"eTag\":\"8d7\","
                                           "\"versionId\":\"\",\"sequencer\":"
                                           "\"5BF7D367\"") "]}");
        ok(r, "ceph", 1);
        assert_int_equal(r->l.v[0].dialect, BR_DIALECT_CEPH);
        assert_int_equal(r->l.v[0].kind, BR_KIND_CREATED);
        assert_string_equal(r->l.v[0].key, "docs/50% off+sale%2F.pdf");
        assert_string_equal(r->l.v[0].bucket, "photos");
        assert_int_equal(r->l.v[0].size, 2284112);
        assert_string_equal(r->l.v[0].etag, "8d7");
        assert_null(r->l.v[0].version_id); /* "" means unversioned */
        assert_string_equal(r->l.v[0].sequencer, "5BF7D367");
        assert_string_equal(r->l.v[0].event_name, "ObjectCreated:Put");
}

static void test_ceph_size_forms(void **state) {
        struct res *r = *state;

        parse(r, "{\"Records\":[" CEPH_REC("ObjectCreated:Put", "a",
                                           ",\"size\":\"1024\"") "]}");
        ok(r, "ceph", 1);
        assert_int_equal(r->l.v[0].size, 1024);
        parse(r, "{\"Records\":[" CEPH_REC("ObjectCreated:Put", "a",
                                           ",\"size\":\"12x\"") "]}");
        assert_int_equal(r->l.v[0].size, -1);
        parse(r, "{\"Records\":[" CEPH_REC("ObjectCreated:Put", "a",
                                           ",\"size\":-5") "]}");
        assert_int_equal(r->l.v[0].size, -1);
        parse(r, "{\"Records\":[" CEPH_REC("ObjectCreated:Put", "a",
                                           ",\"size\":null") "]}");
        assert_int_equal(r->l.v[0].size, -1);
        parse(r, "{\"Records\":[" CEPH_REC("ObjectCreated:Put", "a",
                                           ",\"size\":0") "]}");
        assert_int_equal(r->l.v[0].size, 0);
        parse(r, "{\"Records\":[" CEPH_REC("ObjectCreated:Put", "a",
                                           ",\"size\":\"\"") "]}");
        assert_int_equal(r->l.v[0].size, -1);
}

static void test_ceph_bad_key(void **state) {
        struct res *r = *state;

        parse(r, "{\"Records\":[{\"eventSource\":\"ceph:s3\",\"eventName\":"
                 "\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"p\"},"
                 "\"object\":{\"size\":1}}}]}");
        ok(r, "ceph", 1);
        assert_string_equal(r->l.v[0].reject,
                            "ceph: Records[0].s3.object.key: missing");
        /* \u escapes decode; a NUL one is refused, raw or not */
        parse(r, "{\"Records\":[" CEPH_REC("ObjectCreated:Put", "ab\\u0000",
                                           "") "]}");
        assert_string_equal(r->l.v[0].reject,
                            "ceph: Records[0].s3.object.key: NUL byte at "
                            "byte 2");
        parse(r, "{\"Records\":[" CEPH_REC("ObjectCreated:Put",
                                           "a\\u00e9\\ud83d\\ude00", "") "]}");
        assert_null(r->l.v[0].reject);
        assert_string_equal(r->l.v[0].key, "a\xC3\xA9\xF0\x9F\x98\x80");
}

/* --- AWS S3 --------------------------------------------------------------- */

static void test_aws_multi_record(void **state) {
        struct res *r = *state;

        parse(
            r,
            "{\"Records\":[" AWS_REC("ObjectCreated:Put", "a/one+1.txt") "," AWS_REC(
                "ObjectRemoved:Delete",
                "b%2Ftwo.txt") "," AWS_REC("ObjectCreated:"
                                           "CompleteMultipartUpload",
                                           "c/three%E2%82%AC.bin") "]}");
        ok(r, "aws_s3", 3);
        assert_string_equal(r->l.v[0].key, "a/one 1.txt");
        assert_string_equal(r->l.v[1].key, "b/two.txt");
        assert_string_equal(r->l.v[2].key, "c/three\xE2\x82\xAC.bin");
        assert_int_equal(r->l.v[0].kind, BR_KIND_CREATED);
        assert_int_equal(r->l.v[1].kind, BR_KIND_REMOVED);
        assert_int_equal(r->l.v[2].kind, BR_KIND_CREATED);
        assert_int_equal(r->l.v[0].record, 0);
        assert_int_equal(r->l.v[1].record, 1);
        assert_int_equal(r->l.v[2].record, 2);
        assert_int_equal(r->l.v[2].dialect, BR_DIALECT_AWS_S3);
        assert_int_equal(r->l.v[0].size, 1048576);
        assert_string_equal(r->l.v[0].etag, "d41d8cd98f00b204e9800998ecf8427e");
        assert_null(r->l.v[0].version_id);
}

static void test_aws_test_event(void **state) {
        struct res *r = *state;

        parse(r, "{\"Service\":\"Amazon S3\",\"Event\":\"s3:TestEvent\","
                 "\"Time\":\"2025-03-14T09:00:02.089Z\",\"Bucket\":"
                 "\"acme-uploads\",\"RequestId\":\"5582\",\"HostId\":\"8c\"}");
        ok(r, "aws_s3", 1);
        assert_int_equal(r->l.v[0].kind, BR_KIND_TEST);
        assert_null(r->l.v[0].key);
        assert_null(r->l.v[0].reject);
        assert_string_equal(r->l.v[0].bucket, "acme-uploads");

        parse(r, "{\"Service\":\"Amazon S3\",\"Event\":\"s3:Other\"}");
        refused(r, "aws_s3: Event: expected \"s3:TestEvent\", got "
                   "\"s3:Other\"");
}

static void test_aws_sns(void **state) {
        struct res *r = *state;

        parse(r, "{\"Type\":\"Notification\",\"MessageId\":\"22b80b92\","
                 "\"TopicArn\":\"arn:aws:sns:us-east-1:1:t\",\"Subject\":"
                 "\"Amazon S3 Notification\",\"Message\":\"{\\\"Records\\\":["
                 "{\\\"eventSource\\\":\\\"aws:s3\\\",\\\"eventName\\\":"
                 "\\\"ObjectCreated:Put\\\",\\\"s3\\\":{\\\"bucket\\\":"
                 "{\\\"name\\\":\\\"acme\\\"},\\\"object\\\":{\\\"key\\\":"
                 "\\\"in/a+b%2B.txt\\\",\\\"size\\\":3}}},"
                 "{\\\"eventSource\\\":\\\"aws:s3\\\",\\\"eventName\\\":"
                 "\\\"ObjectCreated:Copy\\\",\\\"s3\\\":{\\\"bucket\\\":"
                 "{\\\"name\\\":\\\"acme\\\"},\\\"object\\\":{}}}]}\","
                 "\"Timestamp\":\"2025-03-14T09:40:12.000Z\"}");
        ok(r, "aws_s3", 2);
        assert_string_equal(r->l.v[0].key, "in/a b+.txt");
        assert_int_equal(r->l.v[0].size, 3);
        assert_string_equal(r->l.v[1].reject,
                            "aws_s3: Message: Records[1].s3.object.key: "
                            "missing");

        parse(r, "{\"Type\":\"Notification\",\"TopicArn\":\"t\",\"Message\":"
                 "\"{\\\"Service\\\":\\\"Amazon S3\\\",\\\"Event\\\":"
                 "\\\"s3:TestEvent\\\",\\\"Bucket\\\":\\\"b\\\"}\"}");
        ok(r, "aws_s3", 1);
        assert_int_equal(r->l.v[0].kind, BR_KIND_TEST);

        parse(r, "{\"Type\":\"Notification\",\"TopicArn\":\"t\",\"Message\":"
                 "\"{not json\"}");
        refused(r, "aws_s3: Message: not JSON: quoted object property name "
                   "expected at byte 1");

        parse(r, "{\"Type\":\"Notification\",\"TopicArn\":\"t\",\"Message\":"
                 "\"{\\\"x\\\":1}\"}");
        refused(r, "aws_s3: Message: unknown notification shape (no Records "
                   "or Event member)");

        parse(r, "{\"Type\":\"SubscriptionConfirmation\",\"TopicArn\":\"t\","
                 "\"Message\":\"You have chosen to subscribe\"}");
        refused(r, "aws_s3: Type: SNS \"SubscriptionConfirmation\" is not a "
                   "notification");
}

static void test_records_unknown_source(void **state) {
        struct res *r = *state;

        parse(r, "{\"Records\":[{\"eventSource\":\"foo:s3\",\"eventName\":"
                 "\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},"
                 "\"object\":{\"key\":\"k\"}}}]}");
        ok(r, "aws_s3", 1);
        assert_string_equal(r->l.v[0].reject,
                            "Records[0].eventSource: unknown event source "
                            "\"foo:s3\" (expected minio:s3, ceph:s3 or "
                            "aws:s3)");
        parse(r, "{\"Records\":[{\"eventName\":\"ObjectCreated:Put\"}]}");
        ok(r, "aws_s3", 1);
        assert_string_equal(r->l.v[0].reject,
                            "Records[0].eventSource: missing");
        /* each record is read per its own source */
        parse(r,
              "{\"Records\":[" AWS_REC("ObjectCreated:Put", "a+b") "," CEPH_REC(
                  "ObjectCreated:Put", "a+b", "") "]}");
        ok(r, "aws_s3", 2);
        assert_string_equal(r->l.v[0].key, "a b");
        assert_string_equal(r->l.v[1].key, "a+b");
        assert_int_equal(r->l.v[1].dialect, BR_DIALECT_CEPH);
        parse(r, "{\"Records\":[]}");
        ok(r, "aws_s3", 0);
}

static void test_records_message_level(void **state) {
        struct res *r              = *state;
        struct br_parse_limits two = lim;

        parse(r, "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"u/x\","
                 "\"Records\":{\"eventSource\":\"minio:s3\"}}");
        refused(r, "minio: Records: expected an array, got object");
        assert_string_equal(r->a->name, "minio");
        parse(r, "{\"Records\":\"x\"}");
        refused(r, "aws_s3: Records: expected an array, got string");
        parse(r, "{\"EventName\":\"s3:ObjectCreated:Put\",\"Key\":\"u/x\"}");
        refused(r, "minio: Records: missing");

        two.max_records = 2;
        {
                static const char m[] = "{\"Records\":[" AWS_REC(
                    "ObjectCreated:Put",
                    "a") "," AWS_REC("ObjectCreated:Put",
                                     "b") "," AWS_REC("ObjectCreated:Put",
                                                      "c") "]}";
                parse_lim(r, m, sizeof(m) - 1, &two);
                refused(r, "aws_s3: Records: 3 records exceed "
                           "limits.max_records (2)");
        }
}

/* --- EventBridge ---------------------------------------------------------- */

static void test_eventbridge(void **state) {
        struct res *r = *state;

        parse(r, EB("Object Created", "scans/march invoice+copy%20.pdf"));
        ok(r, "aws_eventbridge", 1);
        assert_int_equal(r->l.v[0].dialect, BR_DIALECT_AWS_EVENTBRIDGE);
        assert_int_equal(r->l.v[0].kind, BR_KIND_CREATED);
        assert_string_equal(r->l.v[0].key, "scans/march invoice+copy%20.pdf");
        assert_string_equal(r->l.v[0].bucket, "acme-uploads");
        assert_int_equal(r->l.v[0].size, 5120);
        assert_string_equal(r->l.v[0].etag, "b1946ac9");
        assert_string_equal(r->l.v[0].version_id, "v7");
        assert_string_equal(r->l.v[0].sequencer, "617f08299329d189");
        assert_string_equal(r->l.v[0].event_name, "Object Created");

        parse(r, "{\"detail-type\":\"Object Created\",\"source\":\"aws.ec2\","
                 "\"detail\":{}}");
        refused(r, "aws_eventbridge: source: expected \"aws.s3\", got "
                   "\"aws.ec2\"");
        parse(r, "{\"detail-type\":\"Object Created\",\"source\":\"aws.s3\"}");
        ok(r, "aws_eventbridge", 1);
        assert_string_equal(r->l.v[0].reject,
                            "aws_eventbridge: detail: missing");
        parse(r, "{\"detail-type\":\"Object Created\",\"source\":\"aws.s3\","
                 "\"detail\":{\"bucket\":{\"name\":\"b\"},\"object\":{}}}");
        assert_string_equal(r->l.v[0].reject,
                            "aws_eventbridge: detail.object.key: missing");
}

/* --- Alibaba OSS ---------------------------------------------------------- */

static void test_oss(void **state) {
        struct res *r = *state;

        parse(
            r,
            "{\"events\":[" OSS_REC(
                "ObjectCreated:PutObject",
                "\xE4\xB8\x8A\xE4\xBC\xA0/50%+x.pdf") "," OSS_REC("ObjectCreate"
                                                                  "d:"
                                                                  "UploadPart",
                                                                  "big.iso") "]"
                                                                             "}");
        ok(r, "alibaba_oss", 2);
        assert_int_equal(r->l.v[0].dialect, BR_DIALECT_ALIBABA_OSS);
        assert_int_equal(r->l.v[0].kind, BR_KIND_CREATED);
        assert_string_equal(r->l.v[0].key,
                            "\xE4\xB8\x8A\xE4\xBC\xA0/50%+x.pdf");
        assert_string_equal(r->l.v[0].bucket, "acme-oss");
        assert_int_equal(r->l.v[0].size, 122539);
        assert_string_equal(r->l.v[0].etag, "688A7BF4F233DC9C88A80BF985AB7329");
        assert_int_equal(r->l.v[1].kind, BR_KIND_PART);
        assert_int_equal(r->l.v[1].record, 1);

        parse(r, "{\"events\":{}}");
        refused(r, "alibaba_oss: events: expected an array, got object");
        parse(r, "{\"events\":[{\"eventSource\":\"acs:mns\",\"eventName\":"
                 "\"ObjectCreated:PutObject\"}]}");
        ok(r, "alibaba_oss", 1);
        assert_string_equal(r->l.v[0].reject,
                            "alibaba_oss: events[0].eventSource: unknown "
                            "event source \"acs:mns\"");
        parse(r, "{\"events\":[{\"eventSource\":\"acs:oss\",\"eventName\":"
                 "\"ObjectCreated:PutObject\",\"oss\":{\"bucket\":{\"name\":"
                 "\"b\"},\"object\":{\"key\":\"\"}}}]}");
        assert_string_equal(r->l.v[0].reject,
                            "alibaba_oss: events[0].oss.object.key: empty");
}

/* --- kinds ---------------------------------------------------------------- */

struct kind_case {
        const char *name;
        enum br_event_kind kind;
};

static void check_kinds(const char *fmt_open, const char *fmt_close,
                        const struct kind_case *cases, const char *adapter) {
        struct res r;
        char msg[4096];

        memset(&r, 0, sizeof(r));
        br_event_list_init(&r.l);
        for (; cases->name; cases++) {
                snprintf(msg, sizeof(msg), "%s%s%s", fmt_open, cases->name,
                         fmt_close);
                parse(&r, msg);
                ok(&r, adapter, 1);
                if (r.l.v[0].kind != cases->kind)
                        fail_msg("%s: %s is %s, want %s", adapter, cases->name,
                                 br_kind_name(r.l.v[0].kind),
                                 br_kind_name(cases->kind));
        }
        br_event_list_free(&r.l);
}

static void test_kinds_minio(void **state) {
        static const struct kind_case c[] = {
            {"s3:ObjectCreated:Put", BR_KIND_CREATED},
            {"s3:ObjectCreated:Post", BR_KIND_CREATED},
            {"s3:ObjectCreated:Copy", BR_KIND_CREATED},
            {"s3:ObjectCreated:CompleteMultipartUpload", BR_KIND_CREATED},
            {"s3:ObjectCreated:PutTagging", BR_KIND_TAGGING},
            {"s3:ObjectCreated:DeleteTagging", BR_KIND_TAGGING},
            {"s3:ObjectCreated:PutRetention", BR_KIND_RETENTION},
            {"s3:ObjectCreated:PutLegalHold", BR_KIND_RETENTION},
            {"s3:ObjectCreated:SomethingNew", BR_KIND_OTHER},
            {"s3:ObjectRemoved:Delete", BR_KIND_REMOVED},
            {"s3:ObjectRemoved:DeleteMarkerCreated", BR_KIND_REMOVED},
            {"s3:ObjectRemoved:DeleteAllVersions", BR_KIND_REMOVED},
            {"s3:ObjectRemoved:NoOP", BR_KIND_REMOVED},
            {"s3:LifecycleDelMarkerExpiration:Delete", BR_KIND_REMOVED},
            {"s3:ObjectAccessed:Get", BR_KIND_ACCESSED},
            {"s3:ObjectAccessed:Head", BR_KIND_ACCESSED},
            {"s3:Replication:OperationFailedReplication", BR_KIND_REPLICATION},
            {"s3:ObjectRestore:Post", BR_KIND_RESTORE},
            {"s3:ObjectRestore:Completed", BR_KIND_RESTORE},
            {"s3:ObjectTransition:Complete", BR_KIND_LIFECYCLE},
            {"s3:ObjectTransition:Failed", BR_KIND_LIFECYCLE},
            {"s3:Scanner:ManyVersions", BR_KIND_LIFECYCLE},
            {"s3:ILM:DelMarkerExpiry", BR_KIND_LIFECYCLE},
            {"s3:Weird", BR_KIND_OTHER},
            {NULL, BR_KIND_OTHER},
        };

        (void)state;
        check_kinds("{\"EventName\":\"e\",\"Key\":\"b/k\",\"Records\":[{"
                    "\"eventSource\":\"minio:s3\",\"eventName\":\"",
                    "\",\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":"
                    "{\"key\":\"k\"}}}]}",
                    c, "minio");
}

static void test_kinds_ceph(void **state) {
        static const struct kind_case c[] = {
            {"ObjectCreated:Put", BR_KIND_CREATED},
            {"ObjectCreated:Post", BR_KIND_CREATED},
            {"ObjectCreated:Copy", BR_KIND_CREATED},
            {"ObjectCreated:CompleteMultipartUpload", BR_KIND_CREATED},
            {"ObjectRemoved:Delete", BR_KIND_REMOVED},
            {"ObjectRemoved:DeleteMarkerCreated", BR_KIND_REMOVED},
            {"ObjectLifecycle:Expiration:Current", BR_KIND_REMOVED},
            {"ObjectLifecycle:Expiration:Noncurrent", BR_KIND_REMOVED},
            {"ObjectLifecycle:Expiration:DeleteMarker", BR_KIND_REMOVED},
            {"ObjectLifecycle:Expiration:AbortMPU", BR_KIND_PART},
            {"ObjectLifecycle:Transition:Current", BR_KIND_LIFECYCLE},
            {"ObjectLifecycle:Transition:Noncurrent", BR_KIND_LIFECYCLE},
            {"LifecycleExpiration:Delete", BR_KIND_REMOVED},
            {"LifecycleExpiration:DeleteMarkerCreated", BR_KIND_REMOVED},
            {"LifecycleTransition", BR_KIND_LIFECYCLE},
            {"ObjectSynced:Create", BR_KIND_REPLICATION},
            {"ObjectSynced:Delete", BR_KIND_REMOVED},
            {"ObjectSynced:DeletionMarkerCreated", BR_KIND_REMOVED},
            {"Replication:Create", BR_KIND_REPLICATION},
            {"Replication:Delete", BR_KIND_REMOVED},
            {"s3:ObjectCreated:Put", BR_KIND_CREATED},
            {"UnknownEvent", BR_KIND_OTHER},
            {NULL, BR_KIND_OTHER},
        };

        (void)state;
        check_kinds("{\"Records\":[{\"eventSource\":\"ceph:s3\","
                    "\"eventName\":\"",
                    "\",\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":"
                    "{\"key\":\"k\"}}}]}",
                    c, "ceph");
}

static void test_kinds_aws(void **state) {
        static const struct kind_case c[] = {
            {"ObjectCreated:Put", BR_KIND_CREATED},
            {"ObjectCreated:Post", BR_KIND_CREATED},
            {"ObjectCreated:Copy", BR_KIND_CREATED},
            {"ObjectCreated:CompleteMultipartUpload", BR_KIND_CREATED},
            {"ObjectRemoved:Delete", BR_KIND_REMOVED},
            {"ObjectRemoved:DeleteMarkerCreated", BR_KIND_REMOVED},
            {"LifecycleExpiration:Delete", BR_KIND_REMOVED},
            {"LifecycleExpiration:DeleteMarkerCreated", BR_KIND_REMOVED},
            {"ObjectTagging:Put", BR_KIND_TAGGING},
            {"ObjectTagging:Delete", BR_KIND_TAGGING},
            {"ObjectAcl:Put", BR_KIND_RETENTION},
            {"ObjectRestore:Post", BR_KIND_RESTORE},
            {"ObjectRestore:Completed", BR_KIND_RESTORE},
            {"ObjectRestore:Delete", BR_KIND_RESTORE},
            {"Replication:OperationFailedReplication", BR_KIND_REPLICATION},
            {"LifecycleTransition", BR_KIND_LIFECYCLE},
            {"IntelligentTiering", BR_KIND_LIFECYCLE},
            {"ReducedRedundancyLostObject", BR_KIND_OTHER},
            {"s3:ObjectCreated:Put", BR_KIND_CREATED},
            {NULL, BR_KIND_OTHER},
        };

        (void)state;
        check_kinds("{\"Records\":[{\"eventSource\":\"aws:s3\","
                    "\"eventName\":\"",
                    "\",\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":"
                    "{\"key\":\"k\"}}}]}",
                    c, "aws_s3");
}

static void test_kinds_eventbridge(void **state) {
        static const struct kind_case c[] = {
            {"Object Created", BR_KIND_CREATED},
            {"Object Deleted", BR_KIND_REMOVED},
            {"Object Restore Initiated", BR_KIND_RESTORE},
            {"Object Restore Completed", BR_KIND_RESTORE},
            {"Object Restore Expired", BR_KIND_RESTORE},
            {"Object Tags Added", BR_KIND_TAGGING},
            {"Object Tags Deleted", BR_KIND_TAGGING},
            {"Object ACL Updated", BR_KIND_RETENTION},
            {"Object Storage Class Changed", BR_KIND_LIFECYCLE},
            {"Object Access Tier Changed", BR_KIND_LIFECYCLE},
            {"Object Mystery", BR_KIND_OTHER},
            {NULL, BR_KIND_OTHER},
        };

        (void)state;
        check_kinds("{\"source\":\"aws.s3\",\"detail-type\":\"",
                    "\",\"detail\":{\"bucket\":{\"name\":\"b\"},\"object\":"
                    "{\"key\":\"k\"}}}",
                    c, "aws_eventbridge");
}

static void test_kinds_oss(void **state) {
        static const struct kind_case c[] = {
            {"ObjectCreated:PutObject", BR_KIND_CREATED},
            {"ObjectCreated:PostObject", BR_KIND_CREATED},
            {"ObjectCreated:CopyObject", BR_KIND_CREATED},
            {"ObjectCreated:CompleteMultipartUpload", BR_KIND_CREATED},
            {"ObjectCreated:AppendObject", BR_KIND_CREATED},
            {"ObjectCreated:InitiateMultipartUpload", BR_KIND_PART},
            {"ObjectCreated:UploadPart", BR_KIND_PART},
            {"ObjectCreated:UploadPartCopy", BR_KIND_PART},
            {"ObjectCreated:PutSymlink", BR_KIND_OTHER},
            {"ObjectRemoved:DeleteObject", BR_KIND_REMOVED},
            {"ObjectRemoved:DeleteObjects", BR_KIND_REMOVED},
            {"ObjectRemoved:AbortMultipartUpload", BR_KIND_REMOVED},
            {"ObjectDownloaded:GetObject", BR_KIND_ACCESSED},
            {"ObjectReplication:ObjectCreated", BR_KIND_REPLICATION},
            {"ObjectRestore:FinishRestore", BR_KIND_RESTORE},
            {"oss:ObjectCreated:PutObject", BR_KIND_CREATED},
            {"BucketCreated", BR_KIND_OTHER},
            {NULL, BR_KIND_OTHER},
        };

        (void)state;
        check_kinds("{\"events\":[{\"eventSource\":\"acs:oss\","
                    "\"eventName\":\"",
                    "\",\"oss\":{\"bucket\":{\"name\":\"b\"},\"object\":"
                    "{\"key\":\"k\"}}}]}",
                    c, "alibaba_oss");
}

/* --- whole-message checks ------------------------------------------------- */

static void test_message_level(void **state) {
        struct res *r                = *state;
        struct br_parse_limits small = lim;
        char deep[200];
        int i;

        parse_lim(r, "", 0, &lim);
        refused(r, "empty message");
        assert_null(r->a);
        parse(r, "EventName=s3:ObjectCreated:Put {not json");
        refused(r, "not JSON: unexpected character at byte 0");
        parse(r, "{\"a\":1,}");
        refused(r, "not JSON: unexpected character at byte 7");
        parse(r, "{\"Records\":[]");
        refused(r, "not JSON: unexpected end of data at byte 13");
        parse(r, "{\"Records\":[]} x");
        refused(r, "not JSON: trailing data after the document at byte 15");
        parse(r, "{\"Records\":[]}\n"); /* trailing whitespace is JSON */
        ok(r, "aws_s3", 0);
        parse(r, "[1,2]");
        refused(r, "expected a JSON object, got array");
        parse(r, "null");
        refused(r, "expected a JSON object, got null");
        parse(r, "17");
        refused(r, "expected a JSON object, got int");
        parse(r, "{\"hello\":\"world\"}");
        refused(r, "unknown notification shape (no Records, events, "
                   "detail-type or Event member)");
        parse(r, "{\"k\":\"tab\x01here\"}");
        refused(r, "not JSON: control character 0x01 at byte 9");
        parse_lim(r, "{\"Records\":[]}\0", 15, &lim);
        refused(r, "not JSON: control character 0x00 at byte 14");
        parse(r, "{\"k\":\"r\xE9sum\xE9\"}");
        refused(r, "not valid UTF-8 at byte 7");
        parse(r, "{\"k\":\"\xC0\xAF\"}"); /* overlong: json-c lets it by */
        refused(r, "not valid UTF-8 at byte 6");
        parse(r, "{\"k\":\"\xED\xA0\x80\"}"); /* surrogate */
        refused(r, "not valid UTF-8 at byte 6");

        /* 33 levels: the root object plus 32 arrays */
        deep[0] = '{';
        memcpy(deep + 1, "\"a\":", 4);
        for (i = 0; i < 32; i++)
                deep[5 + i] = '[';
        for (i = 0; i < 32; i++)
                deep[37 + i] = ']';
        deep[69] = '}';
        deep[70] = '\0';
        parse(r, deep);
        refused(r, "nested deeper than 32 levels");
        deep[5]  = ' ';
        deep[68] = ' ';
        parse(r, deep); /* 32 levels are fine (and of unknown shape) */
        assert_string_equal(r->err, "unknown notification shape (no Records, "
                                    "events, detail-type or Event member)");

        small.max_message_bytes = 10;
        parse_lim(r, "{\"Records\":[]}", 14, &small);
        refused(r, "message of 14 bytes exceeds limits.max_message_bytes "
                   "(10)");
}

/* Lists are reused: strings and events from one message never leak into
 * the next, and big keys take their own block. */
static void test_list_reuse(void **state) {
        struct res *r              = *state;
        struct br_parse_limits big = lim;
        char *msg, *p;
        int round;

        big.max_key_bytes = 0; /* unlimited */
        msg               = malloc(20000);
        assert_non_null(msg);
        p = msg + sprintf(msg, "{\"Records\":[{\"eventSource\":\"ceph:s3\","
                               "\"eventName\":\"ObjectCreated:Put\",\"s3\":"
                               "{\"bucket\":{\"name\":\"b\"},\"object\":"
                               "{\"key\":\"");
        memset(p, 'k', 9000);
        strcpy(p + 9000, "\"}}}]}");
        for (round = 0; round < 3; round++) {
                parse_lim(r, msg, strlen(msg), &big);
                ok(r, "ceph", 1);
                assert_int_equal(r->l.v[0].key_len, 9000);
                parse(r,
                      "{\"Records\":[" CEPH_REC(
                          "ObjectCreated:Put", "x",
                          "") "," CEPH_REC("ObjectCreated:Put", "y", "") "]}");
                ok(r, "ceph", 2);
                assert_string_equal(r->l.v[0].key, "x");
                assert_string_equal(r->l.v[1].key, "y");
        }
        br_event_list_clear(&r->l);
        assert_int_equal(r->l.cnt, 0);
        br_event_list_clear(NULL);
        br_event_list_free(NULL);
        free(msg);
}

static void test_names(void **state) {
        const struct br_adapter *const *a;
        int k, n = 0;

        (void)state;
        for (k = 0; k < BR_KIND__CNT; k++)
                assert_int_equal(br_kind_parse(br_kind_name(k)), k);
        assert_string_equal(br_kind_name(BR_KIND_CREATED), "created");
        assert_string_equal(br_kind_name(BR_KIND_LIFECYCLE), "lifecycle");
        assert_int_equal(br_kind_parse("Created"), -1);
        assert_int_equal(br_kind_parse(""), -1);
        assert_int_equal(br_kind_parse(NULL), -1);
        assert_string_equal(br_kind_name(BR_KIND__CNT), "unknown");
        assert_string_equal(br_dialect_name(BR_DIALECT_CEPH), "ceph");
        assert_string_equal(br_dialect_name(BR_DIALECT__CNT), "unknown");
        /* every dialect has exactly one adapter, named like the dialect */
        for (a = br_adapters; *a; a++, n++)
                assert_string_equal((*a)->name, br_dialect_name((*a)->dialect));
        assert_int_equal(n, BR_DIALECT__CNT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
/* clang-format off */
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
            T(test_minio_put),
            T(test_minio_delete_minimal_object),
            T(test_minio_ilm_nulls),
            T(test_minio_bad_keys),
            T(test_minio_missing_fields),
            T(test_minio_bucket_event),
            T(test_minio_key_limits),
            T(test_minio_emoji),
            T(test_ceph_raw_keys),
            T(test_ceph_size_forms),
            T(test_ceph_bad_key),
            T(test_aws_multi_record),
            T(test_aws_test_event),
            T(test_aws_sns),
            T(test_records_unknown_source),
            T(test_records_message_level),
            T(test_eventbridge),
            T(test_oss),
            T(test_kinds_minio),
            T(test_kinds_ceph),
            T(test_kinds_aws),
            T(test_kinds_eventbridge),
            T(test_kinds_oss),
            T(test_message_level),
            T(test_list_reuse),
            T(test_names),
#undef T
            /* clang-format on */
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
