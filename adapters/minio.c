/* MinIO notify_kafka (FORMATS.md 1): {"EventName","Key","Records":[one]}.
 * The top-level Key is bucket + "/" + the unescaped name; Records is
 * authoritative, so the key comes from Records[].s3.object.key, which
 * MinIO escapes with Go's url.QueryEscape (form encoding, "/" as %2F). */
#include <string.h>

#include <json-c/json.h>

#include "adapters/decode.h"

/* Event names (internal/event/name.go) after the "s3:" prefix:
 *
 *   ObjectCreated:Put|Post|Copy|CompleteMultipartUpload  created
 *   ObjectCreated:PutTagging|DeleteTagging               tagging
 *   ObjectCreated:PutRetention|PutLegalHold              retention
 *   ObjectCreated:<anything newer>                       other
 *   ObjectRemoved:*                                      removed
 *   LifecycleDelMarkerExpiration:*                       removed
 *   ObjectAccessed:*                                     accessed
 *   Replication:*                                        replication
 *   ObjectRestore:*                                      restore
 *   ObjectTransition:*, Scanner:*, ILM:*                 lifecycle
 *   BucketCreated:*, BucketRemoved:*, anything else      other
 *
 * Unknown ObjectCreated subtypes are "other", not "created": the ones
 * MinIO added over time were metadata-only, and forwarding those re-scans
 * objects in a loop when MDSS tags what it scanned. */
static const struct br_kind_rule minio_kinds[] = {
    {"ObjectCreated:Put", BR_KIND_CREATED},
    {"ObjectCreated:Post", BR_KIND_CREATED},
    {"ObjectCreated:Copy", BR_KIND_CREATED},
    {"ObjectCreated:CompleteMultipartUpload", BR_KIND_CREATED},
    {"ObjectCreated:PutTagging", BR_KIND_TAGGING},
    {"ObjectCreated:DeleteTagging", BR_KIND_TAGGING},
    {"ObjectCreated:PutRetention", BR_KIND_RETENTION},
    {"ObjectCreated:PutLegalHold", BR_KIND_RETENTION},
    {"ObjectRemoved:*", BR_KIND_REMOVED},
    {"LifecycleDelMarkerExpiration:*", BR_KIND_REMOVED},
    {"ObjectAccessed:*", BR_KIND_ACCESSED},
    {"Replication:*", BR_KIND_REPLICATION},
    {"ObjectRestore:*", BR_KIND_RESTORE},
    {"ObjectTransition:*", BR_KIND_LIFECYCLE},
    {"Scanner:*", BR_KIND_LIFECYCLE},
    {"ILM:*", BR_KIND_LIFECYCLE},
    {NULL, BR_KIND_OTHER},
};

const struct br_records_dialect br_minio_records = {
    .dialect      = BR_DIALECT_MINIO,
    .name         = "minio",
    .event_source = "minio:s3",
    .form_encoded = 1,
    .kinds        = minio_kinds,
};

static int minio_match(struct json_object *root) {
        const char *src;

        if (br_json_get(root, "EventName") && br_json_get(root, "Key"))
                return 1;
        src = br_records_first_source(root);
        return src && strcmp(src, "minio:s3") == 0;
}

static int minio_extract(struct json_object *root,
                         const struct br_parse_limits *limits,
                         struct br_event_list *out, char *errstr,
                         size_t errstr_size) {
        return br_records_extract(root, &br_minio_records, "", limits, out,
                                  errstr, errstr_size);
}

const struct br_adapter br_adapter_minio = {
    .name    = "minio",
    .dialect = BR_DIALECT_MINIO,
    .match   = minio_match,
    .extract = minio_extract,
};
