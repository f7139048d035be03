/* Amazon S3 events through EventBridge (FORMATS.md 3, ev-events.md): one
 * event per message, {"detail-type":"Object Created","source":"aws.s3",
 * "detail":{"bucket":{"name"},"object":{"key","size","etag","version-id",
 * "sequencer"}}}.  The key is taken verbatim (FORMATS.md 8.6: AWS does not
 * say it is encoded, emulators send it raw). */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "adapters/decode.h"

/* detail-type to kind:
 *
 *   Object Created                                   created
 *   Object Deleted                                   removed
 *   Object Restore Initiated|Completed|Expired       restore
 *   Object Tags Added|Deleted                        tagging
 *   Object ACL Updated                               retention
 *   Object Storage Class Changed                     lifecycle
 *   Object Access Tier Changed                       lifecycle
 *   anything else                                    other
 */
static const struct br_kind_rule eventbridge_kinds[] = {
    {"Object Created", BR_KIND_CREATED},
    {"Object Deleted", BR_KIND_REMOVED},
    {"Object Restore *", BR_KIND_RESTORE},
    {"Object Tags *", BR_KIND_TAGGING},
    {"Object ACL *", BR_KIND_RETENTION},
    {"Object Storage Class *", BR_KIND_LIFECYCLE},
    {"Object Access Tier *", BR_KIND_LIFECYCLE},
    {NULL, BR_KIND_OTHER},
};

static int eventbridge_match(struct json_object *root) {
        return br_json_get(root, "detail-type") != NULL;
}

static int eventbridge_extract(struct json_object *root,
                               const struct br_parse_limits *limits,
                               struct br_event_list *out, char *errstr,
                               size_t errstr_size) {
        struct br_object_event *ev;
        struct json_object *detail, *obj, *val;
        const char *src, *type, *bucket, *key;
        size_t len, type_len, key_len;
        char why[256], q[160];

        src = br_json_str(root, "source", &len);
        if (!src || strcmp(src, "aws.s3") != 0) {
                snprintf(errstr, errstr_size,
                         "source: expected \"aws.s3\", got %s",
                         src ? br_quote(q, sizeof(q), src, len) : "no string");
                return -1;
        }
        type = br_json_str(root, "detail-type", &type_len);
        if (!type) {
                snprintf(errstr, errstr_size, "detail-type: expected a string");
                return -1;
        }
        ev = br_event_list_add(out, 0);
        if (!ev)
                return -1;
        ev->dialect    = BR_DIALECT_AWS_EVENTBRIDGE;
        ev->event_name = br_event_list_strdup(out, type, type_len);
        ev->kind       = br_kind_lookup(eventbridge_kinds, type);

        detail = br_json_get(root, "detail");
        if (!detail || !json_object_is_type(detail, json_type_object)) {
                br_event_reject(out, ev, "aws_eventbridge: detail: %s",
                                detail ? "expected an object" : "missing");
                return 0;
        }
        bucket = br_json_str(br_json_get(detail, "bucket"), "name", &len);
        if (!bucket || len == 0 || memchr(bucket, '\0', len)) {
                br_event_reject(out, ev,
                                "aws_eventbridge: detail.bucket.name: %s",
                                bucket ? "empty or holds a NUL byte"
                                       : "missing or not a string");
                return 0;
        }
        ev->bucket = br_event_list_strdup(out, bucket, len);

        obj = br_json_get(detail, "object");
        val = br_json_get(obj, "key");
        key = br_json_str(obj, "key", &key_len);
        if (!key) {
                snprintf(why, sizeof(why), "%s",
                         val ? "expected a string" : "missing");
                br_event_reject(out, ev,
                                "aws_eventbridge: detail.object.key: %s", why);
                return 0;
        }
        if (br_event_take_key(out, ev, key, key_len, 0, limits, why,
                              sizeof(why)) == -1) {
                br_event_reject(out, ev,
                                "aws_eventbridge: detail.object.key: %s", why);
                return 0;
        }
        ev->size = br_json_size(br_json_get(obj, "size"));
        key      = br_json_str(obj, "etag", &len);
        if (!key)
                key = br_json_str(obj, "eTag", &len);
        if (key && len)
                ev->etag = br_event_list_strdup(out, key, len);
        key = br_json_str(obj, "version-id", &len);
        if (!key)
                key = br_json_str(obj, "versionId", &len);
        if (key && len)
                ev->version_id = br_event_list_strdup(out, key, len);
        key = br_json_str(obj, "sequencer", &len);
        if (key && len)
                ev->sequencer = br_event_list_strdup(out, key, len);
        return 0;
}

const struct br_adapter br_adapter_aws_eventbridge = {
    .name    = "aws_eventbridge",
    .dialect = BR_DIALECT_AWS_EVENTBRIDGE,
    .match   = eventbridge_match,
    .extract = eventbridge_extract,
};
