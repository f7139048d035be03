/* `bucketbridge demo`: the whole pipeline with nothing outside the process:
 * the embedded Kafka cluster, a local MDSS stand-in, a few MinIO messages
 * produced, delivered, committed and reported. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/cli.h"
#include "bridge/ctx.h"
#include "bridge/receiver.h"
#include "bridge/util.h"

#define DEMO_TOPIC       "minio-events"
#define DEMO_DEADLINE_US (60 * 1000000LL)
#define DEMO_MAX_FILE    (1024 * 1024)

struct demo {
        size_t produced;
        size_t finished;
        size_t expected_posts;
};

static void on_done(void *opaque, const struct br_msg *msg) {
        struct demo *d = opaque;

        (void)msg;
        d->finished++;
}

static char *read_file(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        char *buf;

        if (!f)
                return NULL;
        buf = malloc(DEMO_MAX_FILE);
        if (buf)
                *len = fread(buf, 1, DEMO_MAX_FILE, f);
        fclose(f);
        return buf;
}

static int produce_files(struct br_ctx *ctx, struct demo *d, int argc,
                         char **argv) {
        rd_kafka_conf_t *kconf = rd_kafka_conf_new();
        rd_kafka_t *producer;
        struct br_plan plan;
        char errstr[256];
        int i, rc = 0;

        rd_kafka_conf_set(kconf, "bootstrap.servers", ctx->bootstraps, errstr,
                          sizeof(errstr));
        producer =
            rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, sizeof(errstr));
        if (!producer) {
                rd_kafka_conf_destroy(kconf);
                fprintf(stderr, "demo: producer: %s\n", errstr);
                return -1;
        }
        br_plan_init(&plan);
        for (i = 0; i < argc; i++) {
                size_t len  = 0, j;
                char *value = read_file(argv[i], &len);
                rd_kafka_resp_err_t err;

                if (!value) {
                        fprintf(stderr, "demo: %s: %s\n", argv[i],
                                strerror(errno));
                        rc = -1;
                        break;
                }
                /* what the bridge should post, to check it did */
                br_plan_message(ctx->conf, NULL, value, len, &plan);
                for (j = 0; j < plan.cnt; j++)
                        d->expected_posts +=
                            plan.items[j].action == BR_PLAN_POST;
                br_plan_clear(&plan);
                err = rd_kafka_producev(
                    producer, RD_KAFKA_V_TOPIC(DEMO_TOPIC),
                    RD_KAFKA_V_VALUE(value, len),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
                if (err) {
                        free(value);
                        fprintf(stderr, "demo: produce: %s\n",
                                rd_kafka_err2str(err));
                        rc = -1;
                        break;
                }
                d->produced++;
                printf("produced  %s\n", argv[i]);
        }
        if (rd_kafka_flush(producer, 10000)) {
                fprintf(stderr, "demo: produce did not finish in 10 s\n");
                rc = -1;
        }
        br_plan_free(&plan);
        rd_kafka_destroy(producer);
        return rc;
}

static void print_committed(struct br_ctx *ctx) {
        rd_kafka_topic_partition_list_t *list = NULL;
        rd_kafka_resp_err_t err;
        int i;

        br_offsets_flush(ctx);
        err = rd_kafka_commit(ctx->rk, NULL, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
                printf("commit: %s\n", rd_kafka_err2str(err));
        if (rd_kafka_assignment(ctx->rk, &list) || !list)
                return;
        if (!rd_kafka_committed(ctx->rk, list, 10000)) {
                for (i = 0; i < list->cnt; i++) {
                        const rd_kafka_topic_partition_t *tp = &list->elems[i];

                        if (tp->offset < 0)
                                printf("committed %s [%d] (no messages)\n",
                                       tp->topic, (int)tp->partition);
                        else
                                printf("committed %s [%d] offset %lld\n",
                                       tp->topic, (int)tp->partition,
                                       (long long)tp->offset);
                }
        }
        rd_kafka_topic_partition_list_destroy(list);
}

int br_demo_main(int argc, char **argv, int signal_fd) {
        struct br_receiver *recv;
        struct br_conf *conf = NULL;
        struct br_ctx *ctx   = NULL;
        struct demo d        = {0, 0, 0};
        char url[256], yaml[1024], errstr[4096];
        size_t posted;
        int64_t deadline;
        int rc = 1;

        if (argc < 2) {
                fprintf(stderr, "usage: bucketbridge demo FILE...\n"
                                "  each FILE is one MinIO notification "
                                "(a Kafka message value)\n");
                return 2;
        }
        recv = br_receiver_new(NULL, 0, errstr, sizeof(errstr));
        if (!recv) {
                fprintf(stderr, "demo: receiver: %s\n", errstr);
                return 1;
        }
        br_receiver_set_log(recv, stdout);
        br_receiver_set_api_key(recv, "demo-key");
        br_receiver_url(recv, url, sizeof(url));
        snprintf(yaml, sizeof(yaml),
                 "kafka:\n"
                 "  brokers: embedded\n"
                 "  group: bucketbridge-demo\n"
                 "  topics: [" DEMO_TOPIC "]\n"
                 "webhook:\n"
                 "  url: %s\n"
                 "  api_key: demo-key\n"
                 "routes:\n"
                 "  - bucket: \"*\"\n"
                 "    storage_client_id: sc-demo\n"
                 "dead_letter:\n"
                 "  none: true\n"
                 "shutdown:\n"
                 "  grace: 5s\n"
                 "log:\n"
                 "  level: warn\n",
                 url);
        printf("MDSS stand-in listening on %s\n", url);
        conf = br_conf_load(yaml, strlen(yaml), "<demo>", 0, errstr,
                            sizeof(errstr));
        if (!conf) {
                fprintf(stderr, "demo: %s\n", errstr);
                goto out;
        }
        ctx = br_ctx_new(conf, signal_fd, errstr, sizeof(errstr));
        if (!ctx) {
                fprintf(stderr, "demo: %s\n", errstr);
                goto out;
        }
        printf("embedded Kafka at %s, topic " DEMO_TOPIC "\n", ctx->bootstraps);
        ctx->on_message_done = on_done;
        ctx->hook_opaque     = &d;
        if (produce_files(ctx, &d, argc - 1, argv + 1) == -1)
                goto out;

        deadline = br_now_us() + DEMO_DEADLINE_US;
        while (!ctx->stopping && d.finished < d.produced &&
               br_now_us() < deadline)
                br_loop_run_once(ctx, 100);
        br_loop_stop(ctx);
        while (!br_loop_done(ctx))
                br_loop_run_once(ctx, 100);
        print_committed(ctx);

        posted = br_receiver_count_status(recv, 2);
        printf("summary: %zu messages produced, %zu finished, %zu bodies "
               "posted (%zu expected), %llu skipped, %llu rejected\n",
               d.produced, d.finished, posted, d.expected_posts,
               (unsigned long long)ctx->stats.skipped,
               (unsigned long long)ctx->stats.rejected);
        rc = d.finished == d.produced && posted == d.expected_posts ? 0 : 1;
out:
        br_ctx_destroy(ctx);
        br_conf_destroy(conf);
        br_receiver_destroy(recv);
        return rc;
}
