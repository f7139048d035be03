/* Ceph RGW bucket notifications (FORMATS.md 2): {"Records":[one]} with
 * eventSource "ceph:s3", event names without "s3:", and the raw object
 * name as key: never URL-decode it ("docs/50% off+sale.pdf" is literal). */
#include <string.h>

#include <json-c/json.h>

#include "adapters/decode.h"

/* Event names (src/rgw/rgw_notify_event_type.cc), "s3:" stripped if any:
 *
 *   ObjectCreated:*                                created
 *   ObjectRemoved:*                                removed
 *   LifecycleExpiration:*                          removed
 *   ObjectLifecycle:Expiration:AbortMPU            part (an unfinished
 *                                                  upload, not an object)
 *   ObjectLifecycle:Expiration:*                   removed
 *   ObjectLifecycle:Transition:*                   lifecycle
 *   LifecycleTransition                            lifecycle
 *   ObjectSynced:Create, Replication:Create        replication
 *   ObjectSynced:Delete|DeletionMarkerCreated      removed
 *   Replication:Delete|DeletionMarkerCreated       removed
 *   anything else (UnknownEvent, ...)              other
 *
 * Synced creates are "replication", so a replica zone opts in with
 * events: [created, replication]; synced deletes stay deletes. Initiate
 * Multipart Upload also emits ObjectCreated:Post (FORMATS.md 8.10): it is
 * "created", as Ceph says, since nothing in the record tells them apart
 * reliably. */
static const struct br_kind_rule ceph_kinds[] = {
    {"ObjectCreated:*", BR_KIND_CREATED},
    {"ObjectRemoved:*", BR_KIND_REMOVED},
    {"LifecycleExpiration:*", BR_KIND_REMOVED},
    {"ObjectLifecycle:Expiration:AbortMPU", BR_KIND_PART},
    {"ObjectLifecycle:Expiration:AbortMultipartUpload", BR_KIND_PART},
    {"ObjectLifecycle:Expiration:*", BR_KIND_REMOVED},
    {"ObjectLifecycle:Transition:*", BR_KIND_LIFECYCLE},
    {"LifecycleTransition*", BR_KIND_LIFECYCLE},
    {"ObjectSynced:Create", BR_KIND_REPLICATION},
    {"ObjectSynced:Delete", BR_KIND_REMOVED},
    {"ObjectSynced:DeletionMarkerCreated", BR_KIND_REMOVED},
    {"Replication:Create", BR_KIND_REPLICATION},
    {"Replication:Delete", BR_KIND_REMOVED},
    {"Replication:DeletionMarkerCreated", BR_KIND_REMOVED},
    {NULL, BR_KIND_OTHER},
};

const struct br_records_dialect br_ceph_records = {
    .dialect      = BR_DIALECT_CEPH,
    .name         = "ceph",
    .event_source = "ceph:s3",
    .form_encoded = 0,
    .kinds        = ceph_kinds,
};

static int ceph_match(struct json_object *root) {
        const char *src = br_records_first_source(root);

        return src && strcmp(src, "ceph:s3") == 0;
}

static int ceph_extract(struct json_object *root,
                        const struct br_parse_limits *limits,
                        struct br_event_list *out, char *errstr,
                        size_t errstr_size) {
        return br_records_extract(root, &br_ceph_records, "", limits, out,
                                  errstr, errstr_size);
}

const struct br_adapter br_adapter_ceph = {
    .name    = "ceph",
    .dialect = BR_DIALECT_CEPH,
    .match   = ceph_match,
    .extract = ceph_extract,
};
