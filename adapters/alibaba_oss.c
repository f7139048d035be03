/* Alibaba Cloud OSS event notifications (FORMATS.md 4):
 * {"events":[{"eventName":"ObjectCreated:PutObject","eventSource":"acs:oss",
 * "oss":{"bucket":{"name"},"object":{"key","size","eTag"}}}]}.  Keys are
 * raw object names, taken verbatim. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "adapters/decode.h"

/* Event names, "oss:" stripped if any:
 *
 *   ObjectCreated:PutObject|PostObject|CopyObject|
 *                 CompleteMultipartUpload|AppendObject    created
 *   ObjectCreated:InitiateMultipartUpload|UploadPart|
 *                 UploadPartCopy                          part
 *   ObjectCreated:PutSymlink, other ObjectCreated:*       other
 *   ObjectRemoved:*                                       removed
 *   ObjectDownloaded:*                                    accessed
 *   ObjectReplication:*                                   replication
 *   ObjectRestore:*                                       restore
 *   anything else (bucket events, ...)                    other
 *
 * AppendObject is created (FORMATS.md 8.12): each append re-scans a
 * growing object, which is what a scanner of new content wants. */
static const struct br_kind_rule oss_kinds[] = {
    {"ObjectCreated:PutObject", BR_KIND_CREATED},
    {"ObjectCreated:PostObject", BR_KIND_CREATED},
    {"ObjectCreated:CopyObject", BR_KIND_CREATED},
    {"ObjectCreated:CompleteMultipartUpload", BR_KIND_CREATED},
    {"ObjectCreated:AppendObject", BR_KIND_CREATED},
    {"ObjectCreated:InitiateMultipartUpload", BR_KIND_PART},
    {"ObjectCreated:UploadPart", BR_KIND_PART},
    {"ObjectCreated:UploadPartCopy", BR_KIND_PART},
    {"ObjectRemoved:*", BR_KIND_REMOVED},
    {"ObjectDownloaded:*", BR_KIND_ACCESSED},
    {"ObjectReplication:*", BR_KIND_REPLICATION},
    {"ObjectRestore:*", BR_KIND_RESTORE},
    {NULL, BR_KIND_OTHER},
};

static int oss_match(struct json_object *root) {
        return br_json_get(root, "events") != NULL;
}

static const char *got(struct json_object *val) {
        return json_type_to_name(json_object_get_type(val));
}

static void read_event(struct json_object *rec, size_t i,
                       const struct br_parse_limits *limits,
                       struct br_event_list *out) {
        struct br_object_event *ev;
        struct json_object *oss, *obj;
        const char *s;
        size_t len;
        char why[256], q[160];

        ev = br_event_list_add(out, (int)i);
        if (!ev)
                return;
        ev->dialect = BR_DIALECT_ALIBABA_OSS;
        ev->kind    = BR_KIND_OTHER;
        if (!json_object_is_type(rec, json_type_object)) {
                br_event_reject(out, ev,
                                "alibaba_oss: events[%zu]: expected an object, "
                                "got %s",
                                i, got(rec));
                return;
        }
        s = br_json_str(rec, "eventSource", &len);
        if (!s || strcmp(s, "acs:oss") != 0) {
                br_event_reject(out, ev,
                                "alibaba_oss: events[%zu].eventSource: %s%s", i,
                                s ? "unknown event source " : "missing",
                                s ? br_quote(q, sizeof(q), s, len) : "");
                return;
        }
        s = br_json_str(rec, "eventName", &len);
        if (!s) {
                br_event_reject(
                    out, ev, "alibaba_oss: events[%zu].eventName: missing", i);
                return;
        }
        ev->event_name = br_event_list_strdup(out, s, len);
        ev->kind =
            br_kind_lookup(oss_kinds, strncmp(s, "oss:", 4) == 0 ? s + 4 : s);

        oss = br_json_get(rec, "oss");
        s   = br_json_str(br_json_get(oss, "bucket"), "name", &len);
        if (!s || len == 0 || memchr(s, '\0', len)) {
                br_event_reject(
                    out, ev, "alibaba_oss: events[%zu].oss.bucket.name: %s", i,
                    s ? "empty or holds a NUL byte"
                      : "missing or not a string");
                return;
        }
        ev->bucket = br_event_list_strdup(out, s, len);

        obj = br_json_get(oss, "object");
        s   = br_json_str(obj, "key", &len);
        if (!s) {
                snprintf(why, sizeof(why), "%s",
                         br_json_get(obj, "key") ? "expected a string"
                                                 : "missing");
        }
        if (!s || br_event_take_key(out, ev, s, len, 0, limits, why,
                                    sizeof(why)) == -1) {
                br_event_reject(out, ev,
                                "alibaba_oss: events[%zu].oss.object.key: %s",
                                i, why);
                return;
        }
        ev->size = br_json_size(br_json_get(obj, "size"));
        s        = br_json_str(obj, "eTag", &len);
        if (s && len)
                ev->etag = br_event_list_strdup(out, s, len);
        s = br_json_str(obj, "versionId", &len);
        if (s && len)
                ev->version_id = br_event_list_strdup(out, s, len);
}

static int oss_extract(struct json_object *root,
                       const struct br_parse_limits *limits,
                       struct br_event_list *out, char *errstr,
                       size_t errstr_size) {
        struct json_object *events = br_json_get(root, "events");
        size_t i, n;

        if (!json_object_is_type(events, json_type_array)) {
                snprintf(errstr, errstr_size,
                         "events: expected an array, got %s", got(events));
                return -1;
        }
        n = json_object_array_length(events);
        if (limits->max_records && n > limits->max_records) {
                snprintf(errstr, errstr_size,
                         "events: %zu records exceed limits.max_records (%zu)",
                         n, limits->max_records);
                return -1;
        }
        for (i = 0; i < n && !out->oom; i++)
                read_event(json_object_array_get_idx(events, i), i, limits,
                           out);
        return out->oom ? -1 : 0;
}

const struct br_adapter br_adapter_alibaba_oss = {
    .name    = "alibaba_oss",
    .dialect = BR_DIALECT_ALIBABA_OSS,
    .match   = oss_match,
    .extract = oss_extract,
};
