/* `bucketbridge replay`: re-sends dead-lettered records through the same
 * plan and delivery path as the daemon, re-transformed with the current
 * routes, so a fixed route or storage id takes effect.  What fails again
 * goes back to the dead-letter sink.  Reads a snapshot: entries added
 * while it runs (its own failures among them) are left for the next run. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "bridge/cli.h"
#include "bridge/ctx.h"
#include "bridge/dlq.h"
#include "bridge/util.h"

/* One dead-letter line may hold a message of limits.max_message_bytes,
 * base64'd, plus its context. */
#define REPLAY_MAX_LINE (96 * 1024 * 1024)

struct replay_entry {
        const char *topic;
        int32_t partition;
        int64_t offset;
        int record;
        const char *cls; /* NULL when the entry does not say */
        const void *key;
        size_t key_len;
        const void *value;
        size_t value_len;
};

struct replay {
        struct br_conf *conf;
        struct br_ctx *ctx; /* NULL with --dry-run */
        const char *only_class;
        int dry_run;
        size_t entries;
        size_t matched;
        size_t bad;
        struct br_plan plan;
};

static const char usage[] =
    "usage: bucketbridge replay -c FILE (--from-topic T | --from-file F) "
    "[--class C] [--dry-run]\n"
    "  Re-sends dead-lettered records with the current routes; --class keeps\n"
    "  one class (malformed, no_route, rejected, exhausted); --dry-run "
    "prints\n"
    "  the bodies instead of sending them.\n";

/* Keeps the loop turning until fewer than the cap are open: the backlog
 * waits in the source, not in memory. */
static void wait_for_room(struct replay *r, size_t cap) {
        while (!r->ctx->stopping && r->ctx->open_records >= cap)
                br_loop_run_once(r->ctx, -1);
}

static void dry_run(struct replay *r, const struct replay_entry *e) {
        size_t i;

        br_plan_message(r->conf, NULL, e->value, e->value_len, &r->plan);
        for (i = 0; i < r->plan.cnt; i++) {
                const struct br_plan_item *it = &r->plan.items[i];

                if (!br_plan_item_selected(it, e->record))
                        continue;
                if (it->action == BR_PLAN_POST)
                        printf("%s\n", it->body);
                else if (it->action == BR_PLAN_REJECT)
                        fprintf(stderr,
                                "%s/%d/%lld: would be dead-lettered again: "
                                "%s\n",
                                e->topic, (int)e->partition,
                                (long long)e->offset, it->reason);
        }
        br_plan_clear(&r->plan);
}

static void replay_one(struct replay *r, const struct replay_entry *e) {
        r->entries++;
        if (r->only_class && (!e->cls || strcmp(e->cls, r->only_class)))
                return;
        r->matched++;
        if (r->dry_run) {
                dry_run(r, e);
                return;
        }
        wait_for_room(r, (size_t)r->conf->webhook.max_pending);
        if (r->ctx->stopping)
                return;
        br_ingest(r->ctx, e->topic, e->partition, e->offset, e->key, e->key_len,
                  e->value, e->value_len, e->record);
}

/* ---- from a dead-letter file ------------------------------------------ */

/* name as text, or name_base64 decoded; *buf owns what must be freed. */
static int bytes_member(json_object *o, const char *name, const void **p,
                        size_t *len, void **buf) {
        char b64_name[64];
        json_object *v;

        *p   = NULL;
        *len = 0;
        *buf = NULL;
        if (json_object_object_get_ex(o, name, &v) &&
            json_object_is_type(v, json_type_string)) {
                *p   = json_object_get_string(v);
                *len = (size_t)json_object_get_string_len(v);
                return 0;
        }
        snprintf(b64_name, sizeof(b64_name), "%s_base64", name);
        if (json_object_object_get_ex(o, b64_name, &v) &&
            json_object_is_type(v, json_type_string)) {
                *buf = br_base64_decode(json_object_get_string(v),
                                        (size_t)json_object_get_string_len(v),
                                        len);
                if (!*buf)
                        return -1;
                *p = *buf;
        }
        return 0;
}

static int int_member(json_object *o, const char *name, int64_t *out) {
        json_object *v;

        if (!json_object_object_get_ex(o, name, &v) ||
            !json_object_is_type(v, json_type_int))
                return -1;
        *out = json_object_get_int64(v);
        return 0;
}

static int file_entry(struct replay *r, const char *path, size_t line_no,
                      const char *line, size_t len) {
        json_tokener *tok = json_tokener_new();
        json_object *o    = NULL, *v;
        struct replay_entry e;
        void *key_buf = NULL, *value_buf = NULL;
        int64_t partition, offset, record;
        int rc = -1;

        if (!tok)
                return -1;
        o = json_tokener_parse_ex(tok, line, (int)len);
        memset(&e, 0, sizeof(e));
        if (!o || !json_object_is_type(o, json_type_object) ||
            !json_object_object_get_ex(o, "topic", &v) ||
            !json_object_is_type(v, json_type_string) ||
            int_member(o, "partition", &partition) ||
            int_member(o, "offset", &offset) ||
            int_member(o, "record", &record) ||
            bytes_member(o, "key", &e.key, &e.key_len, &key_buf) ||
            bytes_member(o, "value", &e.value, &e.value_len, &value_buf)) {
                fprintf(stderr, "%s:%zu: not a dead-letter entry\n", path,
                        line_no);
                goto out;
        }
        e.topic     = json_object_get_string(v);
        e.partition = (int32_t)partition;
        e.offset    = offset;
        e.record    = (int)record;
        if (json_object_object_get_ex(o, "class", &v) &&
            json_object_is_type(v, json_type_string))
                e.cls = json_object_get_string(v);
        replay_one(r, &e);
        rc = 0;
out:
        free(key_buf);
        free(value_buf);
        json_object_put(o);
        json_tokener_free(tok);
        return rc;
}

static int from_file(struct replay *r, const char *path) {
        FILE *f    = fopen(path, "r");
        char *line = NULL;
        size_t cap = 0, line_no = 0;
        off_t snapshot, done    = 0;
        struct stat st;
        ssize_t n;

        if (!f || fstat(fileno(f), &st) == -1) {
                fprintf(stderr, "bucketbridge: %s: %s\n", path,
                        strerror(errno));
                if (f)
                        fclose(f);
                return -1;
        }
        /* our own failures are appended to this file while we read it */
        snapshot = st.st_size;
        while (done < snapshot && (n = getline(&line, &cap, f)) > 0) {
                done += n;
                line_no++;
                if ((size_t)n > REPLAY_MAX_LINE) {
                        fprintf(stderr, "%s:%zu: line too long\n", path,
                                line_no);
                        r->bad++;
                        continue;
                }
                while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        n--;
                if (!n)
                        continue;
                if (file_entry(r, path, line_no, line, (size_t)n) == -1)
                        r->bad++;
                if (r->ctx && r->ctx->stopping)
                        break;
        }
        free(line);
        fclose(f);
        return 0;
}

/* ---- from a dead-letter topic ----------------------------------------- */

static const char *header_str(rd_kafka_headers_t *hdrs, const char *name,
                              char *buf, size_t size) {
        const void *val;
        size_t len;

        if (!hdrs || rd_kafka_header_get_last(hdrs, name, &val, &len) || !val ||
            len >= size)
                return NULL;
        memcpy(buf, val, len);
        buf[len] = '\0';
        return buf;
}

static int64_t header_int(rd_kafka_headers_t *hdrs, const char *name,
                          int64_t dflt) {
        char buf[32], *end;
        const char *s = header_str(hdrs, name, buf, sizeof(buf));
        long long v;

        if (!s)
                return dflt;
        errno = 0;
        v     = strtoll(s, &end, 10);
        return errno || *end || end == s ? dflt : (int64_t)v;
}

static void topic_message(struct replay *r, rd_kafka_message_t *rkm) {
        rd_kafka_headers_t *hdrs = NULL;
        char topic[256], cls[32];
        struct replay_entry e;

        rd_kafka_message_headers(rkm, &hdrs);
        memset(&e, 0, sizeof(e));
        e.topic     = header_str(hdrs, BR_DLQ_H_TOPIC, topic, sizeof(topic));
        e.partition = (int32_t)header_int(hdrs, BR_DLQ_H_PARTITION, -1);
        e.offset    = header_int(hdrs, BR_DLQ_H_OFFSET, -1);
        e.record    = (int)header_int(hdrs, BR_DLQ_H_RECORD, -1);
        e.cls       = header_str(hdrs, BR_DLQ_H_CLASS, cls, sizeof(cls));
        e.key       = rkm->key;
        e.key_len   = rkm->key_len;
        e.value     = rkm->payload;
        e.value_len = rkm->len;
        if (!e.topic) {
                fprintf(stderr,
                        "%s [%d] offset %lld: not a dead-letter entry (no "
                        "%s header)\n",
                        rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
                        (long long)rkm->offset, BR_DLQ_H_TOPIC);
                r->bad++;
                return;
        }
        replay_one(r, &e);
}

static rd_kafka_t *reader_new(const struct br_conf *conf, char *errstr,
                              size_t errstr_size) {
        rd_kafka_conf_t *kconf = rd_kafka_conf_new();
        rd_kafka_t *rk;

        /* same security settings as the daemon; the group is only needed
         * by librdkafka to assign, nothing is committed */
        if (br_kafka_conf_apply(kconf, conf, errstr, errstr_size) == -1 ||
            rd_kafka_conf_set(kconf, "bootstrap.servers", conf->kafka.brokers,
                              errstr, errstr_size) ||
            rd_kafka_conf_set(kconf, "group.id", "bucketbridge-replay", errstr,
                              errstr_size) ||
            rd_kafka_conf_set(kconf, "enable.auto.commit", "false", errstr,
                              errstr_size) ||
            rd_kafka_conf_set(kconf, "enable.partition.eof", "true", errstr,
                              errstr_size))
                goto fail;
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, kconf, errstr, errstr_size);
        if (rk)
                return rk;
fail:
        rd_kafka_conf_destroy(kconf);
        return NULL;
}

static int from_topic(struct replay *r, const char *topic) {
        char errstr[512];
        rd_kafka_t *rk = reader_new(r->conf, errstr, sizeof(errstr));
        rd_kafka_topic_partition_list_t *parts = NULL;
        const struct rd_kafka_metadata *md     = NULL;
        rd_kafka_topic_t *rkt                  = NULL;
        int64_t *high                          = NULL;
        int i, left = 0, rc = -1;

        if (!rk) {
                fprintf(stderr, "bucketbridge: replay: %s\n", errstr);
                return -1;
        }
        rkt = rd_kafka_topic_new(rk, topic, NULL);
        if (!rkt || rd_kafka_metadata(rk, 0, rkt, &md, 10000) ||
            md->topic_cnt != 1 || md->topics[0].err) {
                fprintf(stderr, "bucketbridge: replay: topic %s: %s\n", topic,
                        md && md->topic_cnt
                            ? rd_kafka_err2str(md->topics[0].err)
                            : "no metadata");
                goto out;
        }
        parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        high  = calloc((size_t)md->topics[0].partition_cnt + 1, sizeof(*high));
        if (!high)
                goto out;
        /* the snapshot: each partition up to its end offset now */
        for (i = 0; i < md->topics[0].partition_cnt; i++) {
                int32_t p = md->topics[0].partitions[i].id;
                int64_t low, hi;

                if (rd_kafka_query_watermark_offsets(rk, topic, p, &low, &hi,
                                                     10000)) {
                        fprintf(stderr,
                                "bucketbridge: replay: %s [%d]: cannot read "
                                "offsets\n",
                                topic, (int)p);
                        goto out;
                }
                if (hi <= low)
                        continue;
                rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
                    low;
                high[parts->cnt - 1] = hi;
                left++;
        }
        if (parts->cnt && rd_kafka_assign(rk, parts)) {
                fprintf(stderr, "bucketbridge: replay: cannot assign %s\n",
                        topic);
                goto out;
        }
        while (left > 0 && !(r->ctx && r->ctx->stopping)) {
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
                int idx                 = -1;

                if (r->ctx)
                        br_loop_run_once(r->ctx, 0);
                if (!rkm)
                        continue;
                for (i = 0; i < parts->cnt; i++)
                        if (parts->elems[i].partition == rkm->partition)
                                idx = i;
                if (idx >= 0 && high[idx] >= 0 &&
                    (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
                     (!rkm->err && rkm->offset >= high[idx] - 1))) {
                        if (!rkm->err && rkm->offset < high[idx])
                                topic_message(r, rkm);
                        high[idx] = -1; /* done */
                        left--;
                } else if (!rkm->err && idx >= 0 && high[idx] >= 0) {
                        topic_message(r, rkm);
                } else if (rkm->err &&
                           rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        fprintf(stderr, "bucketbridge: replay: %s\n",
                                rd_kafka_message_errstr(rkm));
                }
                rd_kafka_message_destroy(rkm);
        }
        rc = 0;
out:
        free(high);
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return rc;
}

int br_replay_main(int argc, char **argv, int signal_fd) {
        static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"from-topic", required_argument, NULL, 't'},
            {"from-file", required_argument, NULL, 'f'},
            {"class", required_argument, NULL, 'k'},
            {"dry-run", no_argument, NULL, 'n'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0}};
        const char *conf_path = NULL, *topic = NULL, *file = NULL;
        struct replay r;
        char errstr[8192];
        int c, rc = 2;

        memset(&r, 0, sizeof(r));
        br_plan_init(&r.plan);
        optind = 1;
        while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        conf_path = optarg;
                        break;
                case 't':
                        topic = optarg;
                        break;
                case 'f':
                        file = optarg;
                        break;
                case 'k':
                        r.only_class = optarg;
                        break;
                case 'n':
                        r.dry_run = 1;
                        break;
                case 'h':
                        fputs(usage, stdout);
                        return 0;
                default:
                        fputs(usage, stderr);
                        return 2;
                }
        }
        if (!conf_path || !!topic == !!file || optind != argc) {
                fputs(usage, stderr);
                return 2;
        }
        if (r.only_class && strcmp(r.only_class, "malformed") &&
            strcmp(r.only_class, "no_route") &&
            strcmp(r.only_class, "rejected") &&
            strcmp(r.only_class, "exhausted")) {
                fprintf(stderr, "bucketbridge: replay: unknown class \"%s\"\n",
                        r.only_class);
                return 2;
        }
        r.conf = br_conf_load_file(conf_path, 0, errstr, sizeof(errstr));
        if (!r.conf) {
                fprintf(stderr, "%s\n", errstr);
                return 2;
        }
        if (topic && !strcmp(r.conf->kafka.brokers, "embedded")) {
                fprintf(stderr, "bucketbridge: replay: --from-topic needs a "
                                "real kafka.brokers, not embedded\n");
                goto out;
        }
        if (!r.dry_run) {
                r.ctx = br_ctx_new_sender(r.conf, signal_fd, errstr,
                                          sizeof(errstr));
                if (!r.ctx) {
                        fprintf(stderr, "bucketbridge: %s\n", errstr);
                        rc = 1;
                        goto out;
                }
        }
        rc = (file ? from_file(&r, file) : from_topic(&r, topic)) == -1 ? 1 : 0;
        if (r.ctx) {
                /* everything handed over: finish it, then report */
                while (!r.ctx->stopping && r.ctx->open_records)
                        br_loop_run_once(r.ctx, -1);
                br_loop_stop(r.ctx);
                while (!br_loop_done(r.ctx))
                        br_loop_run_once(r.ctx, -1);
                printf("replay: %zu entries read, %zu replayed: %llu "
                       "delivered, %llu dead-lettered again, %llu skipped, "
                       "%zu unfinished\n",
                       r.entries, r.matched,
                       (unsigned long long)r.ctx->stats.delivered,
                       (unsigned long long)r.ctx->stats.dead_lettered,
                       (unsigned long long)r.ctx->stats.skipped,
                       r.ctx->open_records);
                if (r.ctx->stats.dead_lettered || r.ctx->open_records)
                        rc = 1;
        } else {
                fprintf(stderr,
                        "replay: %zu entries read, %zu matched "
                        "(dry run, nothing sent)\n",
                        r.entries, r.matched);
        }
        if (r.bad)
                rc = 1;
out:
        br_ctx_destroy(r.ctx);
        br_plan_free(&r.plan);
        br_conf_destroy(r.conf);
        return rc;
}
