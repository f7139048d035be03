/* From one Kafka message value to what bucketbridge does with it: the
 * forward filter (FORMATS.md 5.3), routing and the MDSS body (FORMATS.md 7)
 * are decided here and nowhere else. */
#ifndef BR_EVENT_H
#define BR_EVENT_H

#include <stddef.h>

#include "adapters/adapter.h"
#include "bridge/conf.h"

/* Why a record or message goes to the dead-letter sink. */
enum br_dlq_class {
        BR_DLQ_MALFORMED, /* the message or record cannot be read */
        BR_DLQ_NO_ROUTE,  /* no route for the bucket */
        BR_DLQ_REJECTED,  /* MDSS refused it for good */
        BR_DLQ_EXHAUSTED  /* retries ran out */
};
const char *br_dlq_class_name(enum br_dlq_class cls);

enum br_plan_action {
        BR_PLAN_POST,  /* body is ready for route's endpoint */
        BR_PLAN_SKIP,  /* not in the forward set: count, do nothing */
        BR_PLAN_REJECT /* dead-letter with reason and class */
};

struct br_plan_item {
        enum br_plan_action action;
        int record;                   /* -1: the whole message */
        const struct br_route *route; /* POST: conf's, or plan->catchall */
        enum br_event_kind kind;
        enum br_dlq_class cls; /* REJECT */
        char *reason;          /* REJECT: owned */
        char *body;            /* POST: owned, NUL-terminated */
        size_t body_len;
        char *bucket; /* owned, may be NULL on REJECT */
        char *key;    /* owned decoded key, may be NULL */
};

struct br_body_cache; /* private to event.c */

struct br_plan {
        struct br_plan_item *items;
        size_t cnt;
        size_t cap;
        const char *dialect;         /* adapter name, NULL when unparsed */
        struct br_event_list events; /* scratch, reused */
        /* override->storage_client_id: the catch-all route every event
         * takes; its strings are owned by the plan (br_plan_free) */
        struct br_route catchall;
        /* json-c trees of the bodies, refilled per record: building one
         * from scratch costs more than the rest of the plan */
        struct br_body_cache *bodies;
};

/* What transform's options change on top of the routes. */
struct br_plan_override {
        const char *storage_client_id; /* non-NULL: route every bucket here */
        int format;                    /* -1 = keep; else enum br_format */
        const char *scan_id;           /* non-NULL: set scanId */
};

void br_plan_init(struct br_plan *plan);
void br_plan_clear(struct br_plan *plan);
void br_plan_free(struct br_plan *plan);

/* Turns one message value into plan items, in record order.  A message
 * that cannot be read gives one REJECT item with record -1.  Never fails
 * for bad input; returns -1 only when memory runs out. */
int br_plan_message(const struct br_conf *conf,
                    const struct br_plan_override *override, const char *buf,
                    size_t len, struct br_plan *plan);

/* Whether item belongs to a replay of record only_record (-1: all): a
 * replayed dead letter re-sends its own record, or its whole message when
 * the message itself was the problem. */
int br_plan_item_selected(const struct br_plan_item *item, int only_record);

/* The MDSS body: {"storageClientId":..,"metadata":"<json text>"[,"scanId"]}.
 * Returns a malloc'd NUL-terminated string, or NULL on allocation failure. */
char *br_body_new(enum br_format format, const char *storage_client_id,
                  const char *scan_id, const char *key, size_t key_len,
                  size_t *len_out);

#endif
