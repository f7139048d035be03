/* Kafka side: the high-level consumer, rebalances, backpressure and the
 * offset watermark (STYLE.md 3).  At-least-once: an offset is stored only
 * once every record of its message and all before it are finished. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "bridge/cli.h"
#include "bridge/ctx.h"

/* Messages handled per turn before curl gets a look in. */
#define CONSUMER_BUDGET 500

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
        struct br_ctx *ctx    = rd_kafka_opaque(rk);
        enum br_log_level lvl = level <= LOG_ERR       ? BR_LOG_ERROR
                                : level <= LOG_WARNING ? BR_LOG_WARN
                                : level <= LOG_INFO    ? BR_LOG_INFO
                                                       : BR_LOG_DEBUG;

        br_log(&ctx->log, lvl, "msg=\"kafka\" fac=%s text=\"%s\"", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        struct br_ctx *ctx = opaque;
        char errstr[512];

        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                rd_kafka_fatal_error(rk, errstr, sizeof(errstr));
                br_log(&ctx->log, BR_LOG_ERROR,
                       "msg=\"fatal kafka error, stopping\" error=\"%s\"",
                       errstr);
                ctx->fatal     = 1;
                ctx->exit_code = 1;
                br_loop_stop(ctx);
                return;
        }
        /* everything else is retried by librdkafka itself */
        br_log(&ctx->log, BR_LOG_WARN, "msg=\"kafka error\" error=\"%s\"",
               reason);
}

static int set_prop(rd_kafka_conf_t *kconf, const char *name, const char *value,
                    char *errstr, size_t errstr_size) {
        char kerr[512];

        if (rd_kafka_conf_set(kconf, name, value, kerr, sizeof(kerr)) ==
            RD_KAFKA_CONF_OK)
                return 0;
        snprintf(errstr, errstr_size, "kafka: %s: %s", name, kerr);
        return -1;
}

static void store_partitions(struct br_ctx *ctx,
                             rd_kafka_topic_partition_list_t *only) {
        rd_kafka_topic_partition_list_t *list = NULL;
        struct br_partition *p;
        rd_kafka_resp_err_t err;
        int i;

        for (p = ctx->offsets.parts; p; p = p->next) {
                int64_t wm = br_offsets_watermark(p);

                if (!p->assigned || wm < 0 || wm <= p->stored)
                        continue;
                if (only && !rd_kafka_topic_partition_list_find(only, p->topic,
                                                                p->partition))
                        continue;
                /* made only when something moved: this runs every turn */
                if (!list)
                        list = rd_kafka_topic_partition_list_new(8);
                rd_kafka_topic_partition_list_add(list, p->topic, p->partition)
                    ->offset = wm;
        }
        if (!list)
                return;
        err = rd_kafka_offsets_store(ctx->rk, list);
        for (i = 0; i < list->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &list->elems[i];

                p = br_offsets_partition(&ctx->offsets, tp->topic,
                                         tp->partition);
                if (tp->err) {
                        br_log(&ctx->log, BR_LOG_WARN,
                               "msg=\"offset store failed\" topic=%s "
                               "partition=%d offset=%lld error=\"%s\"",
                               tp->topic, (int)tp->partition,
                               (long long)tp->offset,
                               rd_kafka_err2str(tp->err));
                        continue;
                }
                if (p)
                        p->stored = tp->offset;
        }
        if (err && err != RD_KAFKA_RESP_ERR__STATE)
                br_log(&ctx->log, BR_LOG_WARN,
                       "msg=\"offset store failed\" error=\"%s\"",
                       rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(list);
}

void br_offsets_flush(struct br_ctx *ctx) {
        if (ctx->rk)
                store_partitions(ctx, NULL);
}

static void set_assigned(struct br_ctx *ctx,
                         rd_kafka_topic_partition_list_t *parts, int assigned) {
        int i;

        for (i = 0; i < parts->cnt; i++) {
                struct br_partition *p =
                    br_offsets_partition(&ctx->offsets, parts->elems[i].topic,
                                         parts->elems[i].partition);

                if (!p)
                        continue;
                if (!assigned) {
                        size_t open = ctx->offsets.open;

                        /* in-flight records of p finish as orphans: the
                         * next owner redelivers them */
                        br_offsets_orphan(&ctx->offsets, p);
                        ctx->stats.orphaned += open - ctx->offsets.open;
                }
                p->assigned = assigned;
        }
}

static void log_partitions(struct br_ctx *ctx, const char *what,
                           const rd_kafka_topic_partition_list_t *parts) {
        int i;

        for (i = 0; i < parts->cnt; i++)
                br_log(&ctx->log, BR_LOG_INFO,
                       "msg=\"%s\" topic=%s partition=%d", what,
                       parts->elems[i].topic, (int)parts->elems[i].partition);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
        struct br_ctx *ctx = opaque;
        int cooperative =
            !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        rd_kafka_error_t *error = NULL;

        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                log_partitions(ctx, "partition assigned", parts);
                set_assigned(ctx, parts, 1);
                if (cooperative)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        rd_kafka_assign(rk, parts);
                /* new partitions join a paused bridge paused */
                if (ctx->paused || ctx->stopping)
                        rd_kafka_pause_partitions(rk, parts);
        } else {
                log_partitions(ctx, "partition revoked", parts);
                /* store before unassign: afterwards it fails with
                 * ERR__STATE; lost partitions are another owner's now */
                if (!rd_kafka_assignment_lost(rk))
                        store_partitions(ctx, parts);
                set_assigned(ctx, parts, 0);
                if (cooperative)
                        error = rd_kafka_incremental_unassign(rk, parts);
                else
                        rd_kafka_assign(rk, NULL);
        }
        if (error) {
                br_log(&ctx->log, BR_LOG_ERROR,
                       "msg=\"rebalance failed\" error=\"%s\"",
                       rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
}

/* kafka.properties, passed through; the ones we own are refused. */
int br_kafka_conf_apply(rd_kafka_conf_t *kconf, const struct br_conf *conf,
                        char *errstr, size_t errstr_size) {
        char kerr[512];
        size_t i;

        /* the ones bucketbridge owns were refused by the config loader */
        for (i = 0; i < conf->kafka.property_cnt; i++) {
                const struct br_kv *kv = &conf->kafka.properties[i];

                if (rd_kafka_conf_set(kconf, kv->key, kv->value, kerr,
                                      sizeof(kerr)) != RD_KAFKA_CONF_OK) {
                        /* librdkafka quotes a value only when a typed
                         * property (number, enum) refuses it, never a
                         * free-text one such as a password */
                        snprintf(errstr, errstr_size,
                                 "%s:%d:%d: kafka.properties.%s: %s",
                                 conf->origin, kv->line, kv->col, kv->key,
                                 kerr);
                        return -1;
                }
        }
        return 0;
}

int br_consumer_check_properties(const struct br_conf *conf, char *errstr,
                                 size_t errstr_size) {
        rd_kafka_conf_t *kconf = rd_kafka_conf_new();
        int rc = br_kafka_conf_apply(kconf, conf, errstr, errstr_size);

        rd_kafka_conf_destroy(kconf);
        return rc;
}

int br_consumer_start(struct br_ctx *ctx, char *errstr, size_t errstr_size) {
        const struct br_conf *conf = ctx->conf;
        rd_kafka_conf_t *kconf     = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t err;
        char kerr[512];
        size_t i;

        rd_kafka_conf_set_opaque(kconf, ctx);
        rd_kafka_conf_set_log_cb(kconf, log_cb);
        rd_kafka_conf_set_error_cb(kconf, error_cb);
        rd_kafka_conf_set_rebalance_cb(kconf, rebalance_cb);
        /* a new group reads the topic from the start: notifications written
         * before the first run must be scanned too */
        if (set_prop(kconf, "auto.offset.reset", "earliest", errstr,
                     errstr_size) == -1 ||
            /* librdkafka prefetches up to 64 MB by default; records wait in
             * our own bounded queue anyway, so keep its buffer small and
             * the footprint a few tens of MB (properties can raise it) */
            set_prop(kconf, "queued.max.messages.kbytes", "8192", errstr,
                     errstr_size) == -1)
                goto fail;
        if (br_kafka_conf_apply(kconf, conf, errstr, errstr_size) == -1)
                goto fail;
        if (set_prop(kconf, "bootstrap.servers", ctx->bootstraps, errstr,
                     errstr_size) == -1 ||
            set_prop(kconf, "group.id", conf->kafka.group, errstr,
                     errstr_size) == -1 ||
            /* we store offsets ourselves, only when work is finished */
            set_prop(kconf, "enable.auto.offset.store", "false", errstr,
                     errstr_size) == -1 ||
            set_prop(kconf, "enable.auto.commit", "true", errstr,
                     errstr_size) == -1 ||
            /* librdkafka's logs come through our queue and logger */
            set_prop(kconf, "log.queue", "true", errstr, errstr_size) == -1)
                goto fail;

        ctx->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, kerr, sizeof(kerr));
        if (!ctx->rk) {
                snprintf(errstr, errstr_size, "kafka: %s", kerr);
                goto fail;
        }
        kconf = NULL; /* owned by rk now */
        rd_kafka_set_log_queue(ctx->rk, NULL);
        rd_kafka_poll_set_consumer(ctx->rk);
        ctx->queue = rd_kafka_queue_get_consumer(ctx->rk);
        if (pipe2(ctx->queue_fds, O_NONBLOCK | O_CLOEXEC) == -1) {
                snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
                return -1;
        }
        /* the fd fires only when the queue goes from empty to non-empty */
        rd_kafka_queue_io_event_enable(ctx->queue, ctx->queue_fds[1], "1", 1);
        if (br_loop_watch(ctx, ctx->queue_fds[0]) == -1) {
                snprintf(errstr, errstr_size, "epoll: %s", strerror(errno));
                return -1;
        }

        topics = rd_kafka_topic_partition_list_new((int)conf->kafka.topic_cnt);
        for (i = 0; i < conf->kafka.topic_cnt; i++)
                rd_kafka_topic_partition_list_add(topics, conf->kafka.topics[i],
                                                  RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(ctx->rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
                snprintf(errstr, errstr_size, "kafka: subscribe: %s",
                         rd_kafka_err2str(err));
                return -1;
        }
        br_log(&ctx->log, BR_LOG_INFO,
               "msg=\"consumer started\" brokers=%s group=%s topics=%zu",
               ctx->bootstraps, conf->kafka.group, conf->kafka.topic_cnt);
        return 0;
fail:
        if (kconf)
                rd_kafka_conf_destroy(kconf);
        return -1;
}

void br_msg_record_done(struct br_ctx *ctx, struct br_msg *msg) {
        if (--msg->open > 0)
                return;
        if (msg->generation == msg->part->generation)
                br_offsets_mark_done(&ctx->offsets, msg->part, msg->offset);
        if (ctx->on_message_done)
                ctx->on_message_done(ctx->hook_opaque, msg);
        free(msg->key);
        free(msg->value);
        free(msg);
}

static void *copy_bytes(const void *src, size_t len) {
        void *dst;

        if (!src)
                return NULL;
        dst = malloc(len ? len : 1);
        if (dst && len)
                memcpy(dst, src, len);
        return dst;
}

static struct br_event *event_from_item(struct br_msg *msg,
                                        struct br_plan_item *item) {
        struct br_event *ev = calloc(1, sizeof(*ev));

        if (!ev)
                return NULL;
        ev->msg    = msg;
        ev->record = item->record;
        ev->cls    = item->cls;
        /* take the item's strings: the plan is reused for the next message */
        ev->body     = item->body;
        ev->body_len = item->body_len;
        ev->bucket   = item->bucket;
        ev->key      = item->key;
        ev->reason   = item->reason;
        item->body   = NULL;
        item->bucket = NULL;
        item->key    = NULL;
        item->reason = NULL;
        return ev;
}

int br_ingest(struct br_ctx *ctx, const char *topic, int32_t partition,
              int64_t offset, const void *key, size_t key_len,
              const void *value, size_t value_len, int only_record) {
        struct br_partition *part;
        struct br_msg *msg;
        size_t i;

        part = br_offsets_partition(&ctx->offsets, topic, partition);
        msg  = calloc(1, sizeof(*msg));
        if (!part || !msg ||
            br_offsets_track(&ctx->offsets, part, offset) == -1)
                goto oom;
        msg->part       = part;
        msg->generation = part->generation;
        msg->offset     = offset;
        msg->key_len    = key_len;
        msg->value_len  = value_len;
        msg->key        = copy_bytes(key, key_len);
        msg->value      = copy_bytes(value, value_len);
        if ((key && !msg->key) || (value && !msg->value))
                goto oom;
        ctx->stats.messages++;

        if (br_plan_message(ctx->conf, NULL, value, value_len, &ctx->plan) ==
            -1)
                goto oom;
        /* one extra count holds the message open while records are handed
         * out: a record may finish before the next is submitted */
        msg->open = 1;
        for (i = 0; i < ctx->plan.cnt; i++) {
                struct br_plan_item *item = &ctx->plan.items[i];
                struct br_event *ev;

                if (!br_plan_item_selected(item, only_record))
                        continue;
                if (item->action == BR_PLAN_SKIP) {
                        ctx->stats.skipped++;
                        continue;
                }
                ev = event_from_item(msg, item);
                if (!ev)
                        goto oom;
                msg->open++;
                ctx->open_records++;
                ctx->stats.records++;
                if (item->action == BR_PLAN_POST) {
                        ev->unit = br_delivery_unit(ctx, item->route);
                        br_delivery_submit(ctx, ev);
                } else {
                        ctx->stats.rejected++;
                        br_dead_letter(ctx, ev);
                }
        }
        br_plan_clear(&ctx->plan);
        br_msg_record_done(ctx, msg);
        return 0;
oom:
        /* without memory nothing is safe: stop, the offset stays open */
        /* records already handed out still point at msg: keep it then */
        if (msg && !msg->open) {
                free(msg->key);
                free(msg->value);
                free(msg);
        }
        br_log(&ctx->log, BR_LOG_ERROR,
               "msg=\"out of memory\" topic=%s partition=%d offset=%lld", topic,
               (int)partition, (long long)offset);
        ctx->exit_code = 1;
        ctx->stop_now  = 1;
        br_loop_stop(ctx);
        return -1;
}

void br_consumer_drain(struct br_ctx *ctx) {
        char buf[64];
        int n;

        if (!ctx->rk)
                return;
        while (read(ctx->queue_fds[0], buf, sizeof(buf)) > 0)
                ;
        ctx->drain_more = 0;
        for (n = 0; n < CONSUMER_BUDGET; n++) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(ctx->rk, 0);

                if (!rkm)
                        return;
                if (rkm->err) {
                        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                br_log(&ctx->log, BR_LOG_WARN,
                                       "msg=\"consumer error\" topic=%s "
                                       "partition=%d error=\"%s\"",
                                       rkm->rkt ? rd_kafka_topic_name(rkm->rkt)
                                                : "-",
                                       (int)rkm->partition,
                                       rd_kafka_message_errstr(rkm));
                } else if (!ctx->stop_now) {
                        br_ingest(ctx, rd_kafka_topic_name(rkm->rkt),
                                  rkm->partition, rkm->offset, rkm->key,
                                  rkm->key_len, rkm->payload, rkm->len, -1);
                }
                rd_kafka_message_destroy(rkm);
                if (ctx->stop_now)
                        return;
        }
        /* budget spent: the fd will not fire again for what is queued */
        ctx->drain_more = 1;
}

static void pause_all(struct br_ctx *ctx, int pause) {
        rd_kafka_topic_partition_list_t *list = NULL;

        if (rd_kafka_assignment(ctx->rk, &list) || !list)
                return;
        if (list->cnt) {
                if (pause)
                        rd_kafka_pause_partitions(ctx->rk, list);
                else
                        rd_kafka_resume_partitions(ctx->rk, list);
        }
        rd_kafka_topic_partition_list_destroy(list);
}

void br_consumer_backpressure(struct br_ctx *ctx) {
        size_t cap = (size_t)ctx->conf->webhook.max_pending;

        if (!ctx->rk)
                return;
        if (ctx->stopping) {
                if (!ctx->paused) {
                        pause_all(ctx, 1);
                        ctx->paused = 1;
                }
                return;
        }
        if (!ctx->paused && ctx->open_records >= cap) {
                pause_all(ctx, 1);
                ctx->paused = 1;
                br_log(&ctx->log, BR_LOG_DEBUG,
                       "msg=\"paused partitions\" open_records=%zu",
                       ctx->open_records);
        } else if (ctx->paused && ctx->open_records <= cap / 2) {
                pause_all(ctx, 0);
                ctx->paused = 0;
                br_log(&ctx->log, BR_LOG_DEBUG,
                       "msg=\"resumed partitions\" open_records=%zu",
                       ctx->open_records);
        }
}

void br_consumer_close(struct br_ctx *ctx) {
        rd_kafka_resp_err_t err;

        if (!ctx->rk)
                return;
        br_offsets_flush(ctx);
        /* commit what is stored now: close alone may skip it when the
         * group is rebalancing */
        err = rd_kafka_commit(ctx->rk, NULL, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
                br_log(&ctx->log, BR_LOG_WARN,
                       "msg=\"final commit failed\" error=\"%s\"",
                       rd_kafka_err2str(err));
        err = rd_kafka_consumer_close(ctx->rk);
        if (err)
                br_log(&ctx->log, BR_LOG_WARN,
                       "msg=\"consumer close failed\" error=\"%s\"",
                       rd_kafka_err2str(err));
}
