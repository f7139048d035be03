/* One message value in, a plan out: which records to POST (with their
 * body), which to skip and which to dead-letter, in record order.  The
 * forward filter (FORMATS.md 5.3), routing and the MDSS body (FORMATS.md
 * 7) are decided here and nowhere else; adapters only report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "adapters/decode.h"
#include "bridge/event.h"

/* Without a configuration (transform without -c) the loader's defaults. */
#define DEF_MAX_MESSAGE_BYTES (1024 * 1024)
#define DEF_MAX_DEPTH         32
#define DEF_MAX_RECORDS       1000
#define DEF_MAX_KEY_BYTES     1024

/* Compact, and "/" as is: keys are paths (FORMATS.md 7, canonical form). */
#define BODY_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

const char *br_dlq_class_name(enum br_dlq_class cls) {
        switch (cls) {
        case BR_DLQ_MALFORMED:
                return "malformed";
        case BR_DLQ_NO_ROUTE:
                return "no_route";
        case BR_DLQ_REJECTED:
                return "rejected";
        case BR_DLQ_EXHAUSTED:
                return "exhausted";
        }
        return "unknown";
}

/* --- body ---------------------------------------------------------------- */

/* Adds val under a literal key; a failed add leaves val ours to drop. */
static int add(struct json_object *obj, const char *key,
               struct json_object *val) {
        if (!val)
                return -1;
        if (json_object_object_add_ex(obj, key, val,
                                      JSON_C_OBJECT_ADD_KEY_IS_NEW |
                                          JSON_C_OBJECT_KEY_IS_CONSTANT) != 0) {
                json_object_put(val);
                return -1;
        }
        return 0;
}

/* The metadata object: {"s3":{"object":{"key":K}}}, the same under "oss",
 * or {"Name":K} (FORMATS.md 5.1, one per MDSS storage unit type). */
static struct json_object *metadata_new(enum br_format format, const char *key,
                                        size_t key_len) {
        struct json_object *inner = json_object_new_object();
        struct json_object *s3 = NULL, *obj = NULL;

        if (!inner)
                return NULL;
        if (format == BR_FORMAT_GENERIC) {
                if (add(inner, "Name",
                        json_object_new_string_len(key, (int)key_len)) == -1)
                        goto fail;
                return inner;
        }
        obj = json_object_new_object();
        if (!obj || add(obj, "key",
                        json_object_new_string_len(key, (int)key_len)) == -1)
                goto fail;
        s3 = json_object_new_object();
        if (!s3 || add(s3, "object", obj) == -1) {
                obj = NULL; /* add() dropped it */
                goto fail;
        }
        obj = NULL;
        if (add(inner, format == BR_FORMAT_ALIBABA ? "oss" : "s3", s3) == -1) {
                s3 = NULL;
                goto fail;
        }
        return inner;
fail:
        json_object_put(obj);
        json_object_put(s3);
        json_object_put(inner);
        return NULL;
}

char *br_body_new(enum br_format format, const char *storage_client_id,
                  const char *scan_id, const char *key, size_t key_len,
                  size_t *len_out) {
        struct json_object *inner = NULL, *body = NULL;
        const char *text;
        size_t text_len;
        char *out = NULL;

        if (!storage_client_id || !key || key_len > 0x7fffffff)
                return NULL;
        inner = metadata_new(format, key, key_len);
        body  = json_object_new_object();
        if (!inner || !body)
                goto done;
        text = json_object_to_json_string_length(inner, BODY_FLAGS, &text_len);
        /* MDSS reads metadata as JSON inside a string: serialise the inner
         * object, then add the text as a string member */
        if (!text ||
            add(body, "storageClientId",
                json_object_new_string(storage_client_id)) == -1 ||
            add(body, "metadata",
                json_object_new_string_len(text, (int)text_len)) == -1 ||
            (scan_id &&
             add(body, "scanId", json_object_new_string(scan_id)) == -1))
                goto done;
        text = json_object_to_json_string_length(body, BODY_FLAGS, &text_len);
        if (!text)
                goto done;
        out = malloc(text_len + 1);
        if (!out)
                goto done;
        memcpy(out, text, text_len + 1);
        if (len_out)
                *len_out = text_len;
done:
        json_object_put(inner);
        json_object_put(body);
        return out;
}

/* The plan's way to the same bytes: one tree per metadata form and one
 * per body shape, made once and refilled, so a record costs two
 * serialisations and a copy instead of a dozen objects. */
struct br_body_cache {
        struct json_object *meta[BR_FORMAT_GENERIC + 1];  /* [AUTO] unused */
        struct json_object *leaf[BR_FORMAT_GENERIC + 1];  /* key, in meta */
        struct json_object *body[2];                      /* [1]: scanId */
        struct json_object *scid[2], *metadata[2], *scan; /* in body */
};

static void body_cache_free(struct br_body_cache *c) {
        int i;

        if (!c)
                return;
        for (i = 0; i <= BR_FORMAT_GENERIC; i++)
                json_object_put(c->meta[i]);
        json_object_put(c->body[0]);
        json_object_put(c->body[1]);
        free(c);
}

/* Adds a new empty string under key and hands it back (borrowed). */
static struct json_object *add_str(struct json_object *obj, const char *key) {
        struct json_object *s = json_object_new_string("");

        return add(obj, key, s) == 0 ? s : NULL;
}

static struct br_body_cache *body_cache_new(void) {
        struct br_body_cache *c = calloc(1, sizeof(*c));
        int f, i;

        if (!c)
                return NULL;
        for (f = BR_FORMAT_S3; f <= BR_FORMAT_GENERIC; f++) {
                struct json_object *key, *o;

                c->meta[f] = metadata_new((enum br_format)f, "", 0);
                if (!c->meta[f])
                        goto fail;
                /* metadata_new's shape: {"Name":K} or {F:{"object":{K}}} */
                if (f == BR_FORMAT_GENERIC) {
                        json_object_object_get_ex(c->meta[f], "Name", &key);
                } else {
                        json_object_object_get_ex(
                            c->meta[f], f == BR_FORMAT_ALIBABA ? "oss" : "s3",
                            &o);
                        json_object_object_get_ex(o, "object", &o);
                        json_object_object_get_ex(o, "key", &key);
                }
                c->leaf[f] = key;
        }
        for (i = 0; i < 2; i++) {
                c->body[i] = json_object_new_object();
                if (!c->body[i] ||
                    !(c->scid[i] = add_str(c->body[i], "storageClientId")) ||
                    !(c->metadata[i] = add_str(c->body[i], "metadata")))
                        goto fail;
        }
        if (!(c->scan = add_str(c->body[1], "scanId")))
                goto fail;
        return c;
fail:
        body_cache_free(c);
        return NULL;
}

/* Same bytes as br_body_new(). */
static char *body_cached(struct br_plan *plan, enum br_format format,
                         const char *scid, const char *scan_id, const char *key,
                         size_t key_len, size_t *len_out) {
        struct br_body_cache *c;
        const char *text;
        size_t len;
        char *out;
        int b = scan_id != NULL;

        if (!plan->bodies && !(plan->bodies = body_cache_new()))
                return NULL;
        c = plan->bodies;
        if (format < BR_FORMAT_S3 || format > BR_FORMAT_GENERIC)
                format = BR_FORMAT_S3;
        if (key_len > 0x7fffffff ||
            !json_object_set_string_len(c->leaf[format], key, (int)key_len))
                return NULL;
        text = json_object_to_json_string_length(c->meta[format], BODY_FLAGS,
                                                 &len);
        if (!text ||
            !json_object_set_string_len(c->metadata[b], text, (int)len) ||
            !json_object_set_string(c->scid[b], scid) ||
            (b && !json_object_set_string(c->scan, scan_id)))
                return NULL;
        text = json_object_to_json_string_length(c->body[b], BODY_FLAGS, &len);
        if (!text || !(out = malloc(len + 1)))
                return NULL;
        memcpy(out, text, len + 1);
        *len_out = len;
        return out;
}

/* --- plan ---------------------------------------------------------------- */

void br_plan_init(struct br_plan *plan) {
        memset(plan, 0, sizeof(*plan));
        br_event_list_init(&plan->events);
}

void br_plan_clear(struct br_plan *plan) {
        size_t i;

        if (!plan)
                return;
        for (i = 0; i < plan->cnt; i++) {
                struct br_plan_item *it = &plan->items[i];

                free(it->reason);
                free(it->body);
                free(it->bucket);
                free(it->key);
        }
        plan->cnt     = 0;
        plan->dialect = NULL;
        br_event_list_clear(&plan->events);
}

void br_plan_free(struct br_plan *plan) {
        if (!plan)
                return;
        br_plan_clear(plan);
        free(plan->items);
        br_event_list_free(&plan->events);
        free(plan->catchall.storage_client_id);
        free(plan->catchall.scan_id);
        free(plan->catchall.bucket);
        body_cache_free(plan->bodies);
        br_plan_init(plan);
}

static char *dup_n(const char *s, size_t len) {
        char *p = malloc(len + 1);

        if (p) {
                memcpy(p, s, len);
                p[len] = '\0';
        }
        return p;
}

static char *dup_opt(const char *s) {
        return s ? dup_n(s, strlen(s)) : NULL;
}

static struct br_plan_item *item_add(struct br_plan *plan,
                                     enum br_plan_action action, int record,
                                     enum br_event_kind kind) {
        struct br_plan_item *it;

        if (plan->cnt == plan->cap) {
                size_t cap = plan->cap ? plan->cap * 2 : 8;

                it = realloc(plan->items, cap * sizeof(*it));
                if (!it)
                        return NULL;
                plan->items = it;
                plan->cap   = cap;
        }
        it = &plan->items[plan->cnt++];
        memset(it, 0, sizeof(*it));
        it->action = action;
        it->record = record;
        it->kind   = kind;
        return it;
}

/* Copies the event's bucket and key into the item (the consumer takes
 * them; the event list is reused for the next message). */
static int item_names(struct br_plan_item *it,
                      const struct br_object_event *ev) {
        if (ev->bucket && !(it->bucket = dup_opt(ev->bucket)))
                return -1;
        if (ev->key && !(it->key = dup_n(ev->key, ev->key_len)))
                return -1;
        return 0;
}

/* Keeps the catch-all route in step with the override's strings. */
static int catchall_set(struct br_plan *plan, const struct br_conf *conf,
                        const struct br_plan_override *ov) {
        struct br_route *r = &plan->catchall;

        if (!r->storage_client_id ||
            strcmp(r->storage_client_id, ov->storage_client_id) != 0) {
                free(r->storage_client_id);
                r->storage_client_id = dup_opt(ov->storage_client_id);
                if (!r->storage_client_id)
                        return -1;
        }
        if (!r->bucket && !(r->bucket = dup_opt("*")))
                return -1;
        r->format = BR_FORMAT_AUTO;
        /* the top-level forward set applies: no route of its own */
        r->events = 0;
        r->index  = conf ? conf->route_cnt : 0;
        return 0;
}

static void limits_from(const struct br_conf *conf,
                        struct br_parse_limits *lim) {
        if (!conf) {
                lim->max_message_bytes = DEF_MAX_MESSAGE_BYTES;
                lim->max_depth         = DEF_MAX_DEPTH;
                lim->max_records       = DEF_MAX_RECORDS;
                lim->max_key_bytes     = DEF_MAX_KEY_BYTES;
                return;
        }
        lim->max_message_bytes = conf->limits.max_message_bytes > 0
                                     ? (size_t)conf->limits.max_message_bytes
                                     : 0;
        lim->max_depth         = conf->limits.max_depth;
        lim->max_records =
            conf->limits.max_records > 0 ? (size_t)conf->limits.max_records : 0;
        lim->max_key_bytes = conf->limits.max_key_bytes > 0
                                 ? (size_t)conf->limits.max_key_bytes
                                 : 0;
}

static int plan_event(struct br_plan *plan, const struct br_conf *conf,
                      const struct br_plan_override *ov,
                      const struct br_object_event *ev) {
        unsigned conf_events = conf ? conf->events : BR_KIND_DEFAULT_SET;
        const struct br_route *route;
        struct br_plan_item *it;
        enum br_format format;
        const char *scan_id;
        unsigned set;
        char why[400], q[160];

        if (ev->reject) {
                it = item_add(plan, BR_PLAN_REJECT, ev->record, ev->kind);
                if (!it || !(it->reason = dup_opt(ev->reject)))
                        return -1;
                it->cls = BR_DLQ_MALFORMED;
                return item_names(it, ev);
        }
        /* test events and bucket events name no object: nothing to scan,
         * whatever the forward set says */
        if (!ev->key) {
                it = item_add(plan, BR_PLAN_SKIP, ev->record, ev->kind);
                return it ? item_names(it, ev) : -1;
        }
        if (ov && ov->storage_client_id)
                route = &plan->catchall;
        else
                route = conf ? br_conf_route_match(conf, ev->bucket, ev->key)
                             : NULL;
        set = route && route->events ? route->events : conf_events;
        if (!(set & BR_KIND_BIT(ev->kind))) {
                it = item_add(plan, BR_PLAN_SKIP, ev->record, ev->kind);
                return it ? item_names(it, ev) : -1;
        }
        if (!route) {
                it = item_add(plan, BR_PLAN_REJECT, ev->record, ev->kind);
                if (!it)
                        return -1;
                it->cls = BR_DLQ_NO_ROUTE;
                snprintf(why, sizeof(why), "no route for bucket %s",
                         ev->bucket ? br_quote(q, sizeof(q), ev->bucket,
                                               strlen(ev->bucket))
                                    : "(none)");
                if (!(it->reason = dup_opt(why)))
                        return -1;
                return item_names(it, ev);
        }

        if (!route->storage_client_id) {
                /* only a partial config (transform -c) lacks one */
                it = item_add(plan, BR_PLAN_REJECT, ev->record, ev->kind);
                if (!it)
                        return -1;
                it->cls = BR_DLQ_NO_ROUTE;
                snprintf(why, sizeof(why),
                         "routes[%zu] has no storage_client_id", route->index);
                if (!(it->reason = dup_opt(why)))
                        return -1;
                return item_names(it, ev);
        }
        format =
            ov && ov->format >= 0 ? (enum br_format)ov->format : route->format;
        scan_id = ov && ov->scan_id ? ov->scan_id : route->scan_id;
        if (format == BR_FORMAT_AUTO)
                format = ev->dialect == BR_DIALECT_ALIBABA_OSS
                             ? BR_FORMAT_ALIBABA
                             : BR_FORMAT_S3;
        it = item_add(plan, BR_PLAN_POST, ev->record, ev->kind);
        if (!it)
                return -1;
        it->route = route;
        it->body  = body_cached(plan, format, route->storage_client_id, scan_id,
                                ev->key, ev->key_len, &it->body_len);
        if (!it->body)
                return -1;
        return item_names(it, ev);
}

int br_plan_message(const struct br_conf *conf,
                    const struct br_plan_override *override, const char *buf,
                    size_t len, struct br_plan *plan) {
        const struct br_adapter *adapter = NULL;
        struct br_parse_limits limits;
        struct br_plan_item *it;
        char errstr[512];
        size_t i;

        br_plan_clear(plan);
        if (override && override->storage_client_id &&
            catchall_set(plan, conf, override) == -1)
                return -1;
        limits_from(conf, &limits);
        if (br_adapters_parse(buf, len, &limits, &plan->events, &adapter,
                              errstr, sizeof(errstr)) == -1) {
                if (plan->events.oom)
                        return -1;
                plan->dialect = adapter ? adapter->name : NULL;
                it = item_add(plan, BR_PLAN_REJECT, -1, BR_KIND_OTHER);
                if (!it || !(it->reason = dup_opt(errstr)))
                        return -1;
                it->cls = BR_DLQ_MALFORMED;
                return 0;
        }
        plan->dialect = adapter->name;
        for (i = 0; i < plan->events.cnt; i++)
                if (plan_event(plan, conf, override, &plan->events.v[i]) == -1)
                        return -1;
        return 0;
}

int br_plan_item_selected(const struct br_plan_item *item, int only_record) {
        return only_record < 0 || item->record == only_record ||
               item->record == -1;
}
