/* All runtime state hangs off one struct br_ctx, made in main() and passed
 * everywhere, callbacks included.  No globals. */
#ifndef BR_CTX_H
#define BR_CTX_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

#include "bridge/conf.h"
#include "bridge/event.h"
#include "bridge/log.h"
#include "bridge/offsets.h"
#include "bridge/retry.h"

struct br_dlq;

/* One Kafka message: 0..N records, done when all of them are. */
struct br_msg {
        struct br_partition *part;
        unsigned generation; /* of part when received; differs = orphan */
        int64_t offset;
        void *key; /* copies: dead-letter entries carry them */
        size_t key_len;
        void *value;
        size_t value_len;
        int open; /* records not finished yet */
};

enum br_event_state {
        BR_EV_QUEUED,    /* in its unit's queue, ready to send */
        BR_EV_IN_FLIGHT, /* a transfer is running */
        BR_EV_WAITING,   /* in the retry heap until due_us */
        BR_EV_DLQ        /* handed to the dead-letter sink */
};

/* One (url, api key) pair: shares connections and a circuit. */
struct br_endpoint {
        char *url;
        struct curl_slist *headers; /* holds the api key: never log */
        struct br_circuit circuit;
        int in_flight;
        struct br_endpoint *next;
};

/* One MDSS storage unit behind one endpoint: outages are per unit. */
struct br_unit {
        char *storage_client_id;
        struct br_endpoint *ep;
        struct br_event *queue_head; /* FIFO of ready events */
        struct br_event *queue_tail;
        size_t queued;
        /* OUTAGE answers (setup of this unit is wrong): hold its records,
         * probe with one of them every retry.max_backoff */
        int in_outage;
        int probe_in_flight;
        int64_t next_probe_us;
        char *outage_reason;
        struct br_unit *next;
};

/* One record of a message on its way to MDSS or the dead-letter sink. */
struct br_event {
        struct br_msg *msg;
        struct br_unit *unit; /* NULL when rejected before sending */
        int record;           /* index in the message, -1 = whole */
        enum br_event_state state;
        char *body; /* MDSS request body */
        size_t body_len;
        char *bucket;
        char *key;
        /* dead-letter context */
        enum br_dlq_class cls;
        char *reason;
        long http_status;
        char *response;
        size_t response_len;
        /* attempts */
        int attempts;
        int is_probe;             /* the outage probe of its unit */
        int64_t first_attempt_us; /* monotonic */
        int64_t first_attempt_wall_us;
        int64_t last_attempt_wall_us;
        int64_t due_us;
        size_t heap_index;
        struct br_event *next; /* unit queue link */
        struct br_xfer *xfer;  /* while in flight */
};

/* A pooled transfer: an easy handle kept for connection reuse. */
struct br_xfer {
        CURL *easy;
        struct br_event *ev;
        const struct br_endpoint *ep; /* URL and headers set for it */
        char errbuf[CURL_ERROR_SIZE];
        char *resp; /* response body, capped */
        size_t resp_len;
        size_t resp_cap;
        struct br_xfer *next_free;
        struct br_xfer *next_all; /* every transfer, for teardown */
};

struct br_stats {
        uint64_t messages;
        uint64_t records;
        uint64_t delivered;
        uint64_t skipped;
        uint64_t rejected; /* plan rejects: malformed, no route */
        uint64_t dead_lettered;
        uint64_t retries;
        uint64_t orphaned;
};

struct br_ctx {
        struct br_conf *conf;
        struct br_log log;
        char *conf_path;

        /* Kafka */
        rd_kafka_t *rk;
        rd_kafka_queue_t *queue;
        int queue_fds[2];    /* consumer queue's io event pipe */
        rd_kafka_t *mock_rk; /* embedded mode: hosts the mock cluster */
        struct rd_kafka_mock_cluster_s *mock;
        char *bootstraps; /* effective brokers */
        struct br_offsets offsets;
        int paused;
        int drain_more; /* consumer budget hit: do not block next wait */

        /* planning scratch, reused per message */
        struct br_plan plan;

        /* delivery: curl tells us its sockets and timer; we wait on them
         * with our own fds in one epoll set (curl's ephiperfifo model),
         * so a turn touches only the transfers that have work */
        CURLM *multi;
        int epoll_fd;
        int64_t curl_due_us; /* curl's timer, -1 = none */
        struct br_xfer *xfer_free;
        struct br_xfer *xfer_all;
        struct br_endpoint *endpoints;
        struct br_unit *units;
        size_t in_flight; /* running transfers */
        size_t open_records;
        struct br_event **retry_heap;
        size_t retry_cnt;
        size_t retry_cap;
        struct br_retry_policy retry_policy;
        struct br_retry_rng rng;

        struct br_dlq *dlq;
        int dlq_failing; /* logged once per failing spell */

        /* lifecycle */
        int signal_fd;
        int stopping;
        int64_t stop_deadline_us;
        int stop_now; /* second signal: leave at once */
        int exit_code;
        int fatal;

        struct br_stats stats;

        /* tests and the demo watch progress through this hook: called
         * once per finished message (after its offset was marked). */
        void (*on_message_done)(void *opaque, const struct br_msg *msg);
        void *hook_opaque;
};

/* ctx.c */
struct br_ctx *br_ctx_new(struct br_conf *conf, int signal_fd, char *errstr,
                          size_t errstr_size);
/* Delivery and dead-letter without a consumer: records come through
 * br_ingest() (replay). */
struct br_ctx *br_ctx_new_sender(struct br_conf *conf, int signal_fd,
                                 char *errstr, size_t errstr_size);
void br_ctx_destroy(struct br_ctx *ctx);

/* loop.c */
int br_loop_done(const struct br_ctx *ctx);
/* One turn: collect, drain, serve, fire, flush, wait up to timeout_ms. */
void br_loop_run_once(struct br_ctx *ctx, int timeout_ms);
/* Runs until stopped and drained; returns ctx->exit_code. */
int br_loop_run(struct br_ctx *ctx);
/* Begins a graceful stop (what SIGTERM does). */
void br_loop_stop(struct br_ctx *ctx);
/* Adds fd (readable = work for the loop) to the loop's wait set. */
int br_loop_watch(struct br_ctx *ctx, int fd);

/* consumer.c */
int br_consumer_start(struct br_ctx *ctx, char *errstr, size_t errstr_size);
void br_consumer_drain(struct br_ctx *ctx);
void br_consumer_close(struct br_ctx *ctx);
void br_consumer_backpressure(struct br_ctx *ctx);
/* Stores the watermark of every partition that moved. */
void br_offsets_flush(struct br_ctx *ctx);
/* Plans one message and hands its records to delivery or the dead-letter
 * sink.  only_record >= 0 keeps just that record (replay).  0, or -1 when
 * memory ran out (the loop is then stopping). */
int br_ingest(struct br_ctx *ctx, const char *topic, int32_t partition,
              int64_t offset, const void *key, size_t key_len,
              const void *value, size_t value_len, int only_record);
/* Finishes one record of msg; frees msg and marks its offset when last. */
void br_msg_record_done(struct br_ctx *ctx, struct br_msg *msg);

/* delivery.c */
int br_delivery_start(struct br_ctx *ctx, char *errstr, size_t errstr_size);
void br_delivery_stop(struct br_ctx *ctx);
/* Resolves the unit for a route (made at start). */
struct br_unit *br_delivery_unit(struct br_ctx *ctx,
                                 const struct br_route *route);
/* Takes ownership of ev: queues it for its unit. */
void br_delivery_submit(struct br_ctx *ctx, struct br_event *ev);
void br_delivery_collect(struct br_ctx *ctx);
void br_delivery_dispatch(struct br_ctx *ctx);
void br_retry_fire(struct br_ctx *ctx);
/* Microseconds until the next timed thing is due, capped at cap_us. */
int64_t br_delivery_next_due(struct br_ctx *ctx, int64_t now_us,
                             int64_t cap_us);
/* Hands a record to the dead-letter sink; it finishes on the ack. */
void br_dead_letter(struct br_ctx *ctx, struct br_event *ev);
void br_event_free(struct br_event *ev);
/* Frees an unfinished record at teardown (its offset stays uncommitted,
 * Kafka redelivers it), and its message with the last one. */
void br_event_abandon(struct br_event *ev);
/* br_dlq_set_abandon() callback: a dead-letter entry left at teardown. */
void br_dlq_abandoned(void *cb_opaque, void *entry_opaque);
void br_dlq_serve_ctx(struct br_ctx *ctx);

#endif
