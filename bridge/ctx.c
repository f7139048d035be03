/* Construction and teardown of the runtime, in dependency order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bridge/ctx.h"

#include <librdkafka/rdkafka_mock.h>

#include "bridge/dlq.h"

/* Partitions of each topic in the embedded cluster: enough to show the
 * watermark working per partition. */
#define EMBEDDED_PARTITIONS 4

static void mock_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                        const char *buf) {
        struct br_ctx *ctx = rd_kafka_opaque(rk);

        if (level <= 3)
                br_log(&ctx->log, BR_LOG_ERROR,
                       "msg=\"embedded kafka\" fac=%s text=\"%s\"", fac, buf);
}

static int embedded_start(struct br_ctx *ctx, char *errstr,
                          size_t errstr_size) {
        rd_kafka_conf_t *kconf = rd_kafka_conf_new();
        char kerr[256];
        size_t i;

        rd_kafka_conf_set_opaque(kconf, ctx);
        rd_kafka_conf_set_log_cb(kconf, mock_log_cb);
        ctx->mock_rk =
            rd_kafka_new(RD_KAFKA_PRODUCER, kconf, kerr, sizeof(kerr));
        if (!ctx->mock_rk) {
                rd_kafka_conf_destroy(kconf);
                snprintf(errstr, errstr_size, "embedded kafka: %s", kerr);
                return -1;
        }
        ctx->mock = rd_kafka_mock_cluster_new(ctx->mock_rk, 1);
        if (!ctx->mock) {
                snprintf(errstr, errstr_size,
                         "embedded kafka: cannot start the mock cluster");
                return -1;
        }
        for (i = 0; i < ctx->conf->kafka.topic_cnt; i++)
                rd_kafka_mock_topic_create(ctx->mock,
                                           ctx->conf->kafka.topics[i],
                                           EMBEDDED_PARTITIONS, 1);
        if (ctx->conf->dead_letter.topic)
                rd_kafka_mock_topic_create(ctx->mock,
                                           ctx->conf->dead_letter.topic, 1, 1);
        ctx->bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(ctx->mock));
        if (!ctx->bootstraps) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        br_log(&ctx->log, BR_LOG_INFO,
               "msg=\"embedded kafka started\" bootstrap=%s partitions=%d",
               ctx->bootstraps, EMBEDDED_PARTITIONS);
        return 0;
}

static struct br_ctx *ctx_new(struct br_conf *conf, int signal_fd,
                              int with_consumer, char *errstr,
                              size_t errstr_size) {
        struct br_ctx *ctx = calloc(1, sizeof(*ctx));

        if (!ctx) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        ctx->conf         = conf;
        ctx->log.level    = conf->log.level;
        ctx->log.out      = stderr;
        ctx->signal_fd    = signal_fd;
        ctx->queue_fds[0] = -1;
        ctx->queue_fds[1] = -1;
        ctx->epoll_fd     = epoll_create1(EPOLL_CLOEXEC);
        br_offsets_init(&ctx->offsets);
        br_plan_init(&ctx->plan);
        br_retry_rng_init(&ctx->rng);

        if (ctx->epoll_fd == -1 ||
            (signal_fd >= 0 && br_loop_watch(ctx, signal_fd) == -1)) {
                snprintf(errstr, errstr_size, "epoll: %s", strerror(errno));
                goto fail;
        }
        if (!strcmp(conf->kafka.brokers, "embedded")) {
                if (embedded_start(ctx, errstr, errstr_size) == -1)
                        goto fail;
        } else if (!(ctx->bootstraps = strdup(conf->kafka.brokers))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        if (br_delivery_start(ctx, errstr, errstr_size) == -1)
                goto fail;
        if (conf->dead_letter.topic || conf->dead_letter.file) {
                ctx->dlq =
                    br_dlq_new(conf, ctx->bootstraps, errstr, errstr_size);
                if (!ctx->dlq)
                        goto fail;
                br_dlq_set_abandon(ctx->dlq, br_dlq_abandoned, ctx);
                if (br_loop_watch(ctx, br_dlq_fd(ctx->dlq)) == -1) {
                        snprintf(errstr, errstr_size, "epoll: %s",
                                 strerror(errno));
                        goto fail;
                }
        }
        if (with_consumer && br_consumer_start(ctx, errstr, errstr_size) == -1)
                goto fail;
        return ctx;
fail:
        br_ctx_destroy(ctx);
        return NULL;
}

struct br_ctx *br_ctx_new(struct br_conf *conf, int signal_fd, char *errstr,
                          size_t errstr_size) {
        return ctx_new(conf, signal_fd, 1, errstr, errstr_size);
}

struct br_ctx *br_ctx_new_sender(struct br_conf *conf, int signal_fd,
                                 char *errstr, size_t errstr_size) {
        return ctx_new(conf, signal_fd, 0, errstr, errstr_size);
}

void br_ctx_destroy(struct br_ctx *ctx) {
        if (!ctx)
                return;
        /* consumer first: closing it stores and commits what is finished */
        br_consumer_close(ctx);
        if (ctx->queue)
                rd_kafka_queue_destroy(ctx->queue);
        if (ctx->rk)
                rd_kafka_destroy(ctx->rk);
        br_dlq_destroy(ctx->dlq); /* flushes the dead-letter producer */
        br_delivery_stop(ctx);
        br_plan_free(&ctx->plan);
        br_offsets_destroy(&ctx->offsets);
        if (ctx->queue_fds[0] >= 0)
                close(ctx->queue_fds[0]);
        if (ctx->queue_fds[1] >= 0)
                close(ctx->queue_fds[1]);
        if (ctx->epoll_fd >= 0)
                close(ctx->epoll_fd);
        if (ctx->mock)
                rd_kafka_mock_cluster_destroy(ctx->mock);
        if (ctx->mock_rk)
                rd_kafka_destroy(ctx->mock_rk);
        free(ctx->bootstraps);
        free(ctx);
}
