/* The S3 Records[] document, shared by MinIO, Ceph RGW and AWS S3.  Each
 * record says who wrote it (eventSource), and that decides how its key is
 * encoded and what its event name means. */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "adapters/decode.h"

static const struct br_records_dialect *const record_dialects[] = {
    &br_minio_records,
    &br_ceph_records,
    &br_aws_s3_records,
    NULL,
};

const char *br_records_first_source(struct json_object *root) {
        struct json_object *recs = br_json_get(root, "Records");
        size_t len;

        if (!recs || !json_object_is_type(recs, json_type_array) ||
            json_object_array_length(recs) == 0)
                return NULL;
        return br_json_str(json_object_array_get_idx(recs, 0), "eventSource",
                           &len);
}

/* What a member is when it is not what we wanted, for reasons. */
static const char *got(struct json_object *val) {
        return json_type_to_name(json_object_get_type(val));
}

/* Reads a required string member; on failure writes "missing" or
 * "expected a string, got int" into why. */
static const char *need_str(struct json_object *obj, const char *name,
                            size_t *len, char *why, size_t why_size) {
        struct json_object *val = br_json_get(obj, name);

        if (!val) {
                snprintf(why, why_size, "missing");
                return NULL;
        }
        if (!json_object_is_type(val, json_type_string)) {
                snprintf(why, why_size, "expected a string, got %s", got(val));
                return NULL;
        }
        *len = (size_t)json_object_get_string_len(val);
        return json_object_get_string(val);
}

/* Optional strings: absent, null, not a string or "" all mean "none" (Ceph
 * writes "" for an unversioned object's versionId). */
static char *opt_str(struct br_event_list *list, struct json_object *obj,
                     const char *name, const char *alt) {
        size_t len    = 0;
        const char *s = br_json_str(obj, name, &len);

        if (!s && alt)
                s = br_json_str(obj, alt, &len);
        if (!s || len == 0)
                return NULL;
        return br_event_list_strdup(list, s, len);
}

static const struct br_records_dialect *by_source(const char *src) {
        const struct br_records_dialect *const *d;

        for (d = record_dialects; *d; d++)
                if (strcmp(src, (*d)->event_source) == 0)
                        return *d;
        return NULL;
}

/* Bucket-level events (MinIO s3:BucketCreated) name no object. */
static int is_bucket_event(const char *name) {
        if (strncmp(name, "s3:", 3) == 0)
                name += 3;
        return strncmp(name, "Bucket", 6) == 0;
}

static void read_record(struct json_object *rec, size_t i,
                        const struct br_records_dialect *envelope,
                        const char *where, const struct br_parse_limits *limits,
                        struct br_event_list *out) {
        const struct br_records_dialect *d = envelope;
        struct br_object_event *ev;
        struct json_object *s3, *obj;
        const char *src, *name, *bucket, *key;
        size_t len, name_len, key_len;
        char why[256], q[160];
        /* prefix of every reason: "minio: " when the dialect is known */
        const char *pfx   = envelope ? envelope->name : "";
        const char *colon = envelope ? ": " : "";

        ev = br_event_list_add(out, (int)i);
        if (!ev)
                return;
        ev->dialect = envelope ? envelope->dialect : BR_DIALECT_AWS_S3;
        ev->kind    = BR_KIND_OTHER;
        if (!json_object_is_type(rec, json_type_object)) {
                br_event_reject(out, ev,
                                "%s%s%sRecords[%zu]: expected an "
                                "object, got %s",
                                pfx, colon, where, i, got(rec));
                return;
        }

        src = br_json_str(rec, "eventSource", &len);
        if (src) {
                d = by_source(src);
                if (!d) {
                        br_event_reject(
                            out, ev,
                            "%s%s%sRecords[%zu].eventSource: unknown event "
                            "source %s (expected minio:s3, ceph:s3 or "
                            "aws:s3)",
                            pfx, colon, where, i,
                            br_quote(q, sizeof(q), src, len));
                        return;
                }
        } else if (!d || br_json_get(rec, "eventSource")) {
                need_str(rec, "eventSource", &len, why, sizeof(why));
                br_event_reject(out, ev, "%s%s%sRecords[%zu].eventSource: %s",
                                pfx, colon, where, i, why);
                return;
        }
        ev->dialect = d->dialect;
        pfx         = d->name;
        colon       = ": ";

        name = need_str(rec, "eventName", &name_len, why, sizeof(why));
        if (!name) {
                br_event_reject(out, ev, "%s: %sRecords[%zu].eventName: %s",
                                pfx, where, i, why);
                return;
        }
        ev->event_name = br_event_list_strdup(out, name, name_len);
        ev->kind       = br_kind_lookup(d->kinds, name);

        s3 = br_json_get(rec, "s3");
        if (!s3 || !json_object_is_type(s3, json_type_object)) {
                br_event_reject(out, ev, "%s: %sRecords[%zu].s3: %s%s", pfx,
                                where, i, s3 ? "expected an object, got " : "",
                                s3 ? got(s3) : "missing");
                return;
        }
        bucket =
            need_str(br_json_get(s3, "bucket"), "name", &len, why, sizeof(why));
        if (!bucket || len == 0) {
                br_event_reject(out, ev,
                                "%s: %sRecords[%zu].s3.bucket.name: %s", pfx,
                                where, i, bucket ? "empty" : why);
                return;
        }
        if (memchr(bucket, '\0', len)) {
                br_event_reject(out, ev,
                                "%s: %sRecords[%zu].s3.bucket.name: NUL byte",
                                pfx, where, i);
                return;
        }
        ev->bucket = br_event_list_strdup(out, bucket, len);

        obj = br_json_get(s3, "object");
        key = need_str(obj, "key", &key_len, why, sizeof(why));
        if (key && key_len == 0 && is_bucket_event(name)) {
                /* nothing to scan: no key, and the plan skips it */
        } else if (!key ||
                   br_event_take_key(out, ev, key, key_len, d->form_encoded,
                                     limits, why, sizeof(why)) == -1) {
                br_event_reject(out, ev, "%s: %sRecords[%zu].s3.object.key: %s",
                                pfx, where, i, why);
                return;
        }
        ev->size       = br_json_size(br_json_get(obj, "size"));
        ev->etag       = opt_str(out, obj, "eTag", "etag");
        ev->version_id = opt_str(out, obj, "versionId", "version-id");
        ev->sequencer  = opt_str(out, obj, "sequencer", NULL);
}

int br_records_extract(struct json_object *root,
                       const struct br_records_dialect *envelope,
                       const char *where, const struct br_parse_limits *limits,
                       struct br_event_list *out, char *errstr,
                       size_t errstr_size) {
        struct json_object *recs = br_json_get(root, "Records");
        size_t i, n;

        if (!recs) {
                snprintf(errstr, errstr_size, "%sRecords: missing", where);
                return -1;
        }
        if (!json_object_is_type(recs, json_type_array)) {
                snprintf(errstr, errstr_size,
                         "%sRecords: expected an array, got %s", where,
                         got(recs));
                return -1;
        }
        n = json_object_array_length(recs);
        if (limits->max_records && n > limits->max_records) {
                snprintf(errstr, errstr_size,
                         "%sRecords: %zu records exceed limits.max_records "
                         "(%zu)",
                         where, n, limits->max_records);
                return -1;
        }
        for (i = 0; i < n && !out->oom; i++)
                read_record(json_object_array_get_idx(recs, i), i, envelope,
                            where, limits, out);
        if (out->oom) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        return 0;
}
