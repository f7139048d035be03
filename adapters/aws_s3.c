/* AWS S3 event notifications (FORMATS.md 3): {"Records":[...]} with
 * eventSource "aws:s3" and form-encoded keys ("/" usually raw, once
 * "%2F": the decoder takes both); the s3:TestEvent document sent when a
 * notification configuration is saved; and either of them wrapped in an
 * SNS envelope, {"Type":"Notification","Message":"<json text>",...}.
 * Being the origin of the Records format, this adapter also reads Records
 * documents whose first record names no known source: each record is then
 * judged by its own eventSource. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "adapters/decode.h"

/* Event names (notification-content-structure.md), "s3:" stripped if any:
 *
 *   ObjectCreated:*                              created
 *   ObjectRemoved:*, LifecycleExpiration:*       removed
 *   ObjectTagging:*                              tagging
 *   ObjectAcl:*                                  retention
 *   ObjectRestore:*                              restore
 *   Replication:*                                replication
 *   LifecycleTransition, IntelligentTiering      lifecycle
 *   ReducedRedundancyLostObject, anything else   other
 *   (TestEvent is its own document: test)
 */
static const struct br_kind_rule aws_kinds[] = {
    {"ObjectCreated:*", BR_KIND_CREATED},
    {"ObjectRemoved:*", BR_KIND_REMOVED},
    {"LifecycleExpiration:*", BR_KIND_REMOVED},
    {"ObjectTagging:*", BR_KIND_TAGGING},
    {"ObjectAcl:*", BR_KIND_RETENTION},
    {"ObjectRestore:*", BR_KIND_RESTORE},
    {"Replication:*", BR_KIND_REPLICATION},
    {"LifecycleTransition*", BR_KIND_LIFECYCLE},
    {"IntelligentTiering*", BR_KIND_LIFECYCLE},
    {"TestEvent", BR_KIND_TEST},
    {NULL, BR_KIND_OTHER},
};

const struct br_records_dialect br_aws_s3_records = {
    .dialect      = BR_DIALECT_AWS_S3,
    .name         = "aws_s3",
    .event_source = "aws:s3",
    .form_encoded = 1,
    .kinds        = aws_kinds,
};

static int is_sns(struct json_object *root) {
        return br_json_get(root, "Type") && br_json_get(root, "Message") &&
               (br_json_get(root, "TopicArn") ||
                br_json_get(root, "MessageId"));
}

static int aws_match(struct json_object *root) {
        return br_json_get(root, "Records") || br_json_get(root, "Event") ||
               is_sns(root);
}

/* {"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":...}: one event of
 * kind test, which names no object. */
static int test_event(struct json_object *root, const char *where,
                      struct br_event_list *out, char *errstr,
                      size_t errstr_size) {
        struct br_object_event *ev;
        const char *name, *bucket;
        size_t len, blen;
        char q[160];

        name = br_json_str(root, "Event", &len);
        if (!name) {
                snprintf(errstr, errstr_size, "%sEvent: expected a string",
                         where);
                return -1;
        }
        if (strcmp(name, "s3:TestEvent") != 0) {
                snprintf(errstr, errstr_size,
                         "%sEvent: expected \"s3:TestEvent\", got %s", where,
                         br_quote(q, sizeof(q), name, len));
                return -1;
        }
        ev = br_event_list_add(out, 0);
        if (!ev)
                return -1;
        ev->dialect    = BR_DIALECT_AWS_S3;
        ev->kind       = BR_KIND_TEST;
        ev->event_name = br_event_list_strdup(out, name, len);
        bucket         = br_json_str(root, "Bucket", &blen);
        if (bucket && blen && !memchr(bucket, '\0', blen))
                ev->bucket = br_event_list_strdup(out, bucket, blen);
        return 0;
}

static const struct br_records_dialect *envelope_of(struct json_object *root) {
        const char *src = br_records_first_source(root);

        return src && strcmp(src, "aws:s3") == 0 ? &br_aws_s3_records : NULL;
}

static int sns_extract(struct json_object *root,
                       const struct br_parse_limits *limits,
                       struct br_event_list *out, char *errstr,
                       size_t errstr_size) {
        struct json_object *inner = NULL;
        const char *type, *msg;
        size_t len;
        char why[400], q[160];
        int rc = -1;

        type = br_json_str(root, "Type", &len);
        if (!type || strcmp(type, "Notification") != 0) {
                snprintf(errstr, errstr_size,
                         "Type: SNS %s is not a notification",
                         type ? br_quote(q, sizeof(q), type, len)
                              : "message without a string Type");
                return -1;
        }
        msg = br_json_str(root, "Message", &len);
        if (!msg) {
                snprintf(errstr, errstr_size, "Message: expected a string");
                return -1;
        }
        /* the inner document is a message of its own: same rules */
        if (br_json_parse(out, msg, len, limits, &inner, why, sizeof(why)) ==
            -1) {
                snprintf(errstr, errstr_size, "Message: %s", why);
                return -1;
        }
        if (br_json_get(inner, "Records"))
                rc = br_records_extract(inner, envelope_of(inner),
                                        "Message: ", limits, out, errstr,
                                        errstr_size);
        else if (br_json_get(inner, "Event"))
                rc = test_event(inner, "Message: ", out, errstr, errstr_size);
        else
                snprintf(errstr, errstr_size,
                         "Message: unknown notification shape (no Records "
                         "or Event member)");
        json_object_put(inner);
        return rc;
}

static int aws_extract(struct json_object *root,
                       const struct br_parse_limits *limits,
                       struct br_event_list *out, char *errstr,
                       size_t errstr_size) {
        if (br_json_get(root, "Records"))
                return br_records_extract(root, envelope_of(root), "", limits,
                                          out, errstr, errstr_size);
        if (br_json_get(root, "Event"))
                return test_event(root, "", out, errstr, errstr_size);
        return sns_extract(root, limits, out, errstr, errstr_size);
}

const struct br_adapter br_adapter_aws_s3 = {
    .name    = "aws_s3",
    .dialect = BR_DIALECT_AWS_S3,
    .match   = aws_match,
    .extract = aws_extract,
};
