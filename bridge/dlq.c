#include "bridge/dlq.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bridge/log.h"
#include "bridge/util.h"

/* Secrets shorter than this are not searched for: blanking every "ab" in
 * a response would garble it, and no real api key is that short. */
#define MIN_SECRET_LEN 4
/* Upper bound on the bounded flush in destroy. */
#define DESTROY_FLUSH_MAX_MS 30000

/* One accepted entry until its completion is reported. */
struct entry {
        void *opaque;
        int pending; /* sinks that have not answered yet */
        int ok;
        char err[256];             /* first failure */
        struct entry *prev, *next; /* every open entry, for destroy */
        struct entry *link;        /* file wait list, then ready list */
};

/* A FIFO through entry.link. */
struct fifo {
        struct entry *head;
        struct entry **tail;
};

struct br_dlq {
        struct br_log log;
        void (*abandon)(void *cb_opaque, void *entry_opaque);
        void *abandon_opaque;
        int pipe_fds[2]; /* [0] readable when serve has work */

        rd_kafka_t *rk; /* NULL without a topic sink */
        rd_kafka_queue_t *main_q;
        char *topic;
        int fatal;

        int fd; /* dead-letter file, -1 without a file sink */
        char *path;
        struct fifo unsynced; /* written, waiting for fdatasync */

        struct fifo ready; /* finished, waiting for serve to report */
        struct entry *open;
        size_t open_cnt;

        char **secrets; /* api keys to blank out */
        size_t secret_cnt;
        int destroy_flush_ms;
};

/* Consumer-side properties: harmless but noisy on a producer ("is a
 * consumer property and will be ignored"), so they stay with the consumer.
 * Also the ones the dead-letter producer must own. */
static const char *const skipped_props[] = {
    /* consumer and group */
    "group.id", "group.instance.id", "group.protocol.type",
    "partition.assignment.strategy", "session.timeout.ms",
    "heartbeat.interval.ms", "coordinator.query.interval.ms",
    "max.poll.interval.ms", "enable.auto.commit", "auto.commit.interval.ms",
    "enable.auto.offset.store", "queued.min.messages",
    "queued.max.messages.kbytes", "fetch.wait.max.ms", "fetch.queue.backoff.ms",
    "fetch.message.max.bytes", "max.partition.fetch.bytes", "fetch.max.bytes",
    "fetch.min.bytes", "fetch.error.backoff.ms", "offset.store.method",
    "offset.store.path", "offset.store.sync.interval.ms", "isolation.level",
    "consume.callback.max.messages", "enable.partition.eof", "check.crcs",
    "auto.offset.reset", "consume_cb", "rebalance_cb", "offset_commit_cb",
    /* owned here: at-least-once needs them as set below */
    "enable.idempotence", "acks", "request.required.acks", "bootstrap.servers",
    "metadata.broker.list", "transactional.id", "transaction.timeout.ms",
    "dr_cb", "dr_msg_cb", "error_cb", "log_cb", "opaque", "log.queue", NULL};

/* br_dlq_class_name() is in event.c, beside the enum's other users. */

/* ---- small helpers ---------------------------------------------------- */

static void fifo_init(struct fifo *f) {
        f->head = NULL;
        f->tail = &f->head;
}

static void fifo_push(struct fifo *f, struct entry *e) {
        e->link  = NULL;
        *f->tail = e;
        f->tail  = &e->link;
}

/* Wakes the caller's poll: serve has something to do.  A full pipe is
 * already readable, so EAGAIN is fine. */
static void wake(struct br_dlq *dlq) {
        ssize_t r;

        do
                r = write(dlq->pipe_fds[1], "1", 1);
        while (r == -1 && errno == EINTR);
}

static void entry_fail(struct entry *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void entry_fail(struct entry *e, const char *fmt, ...) {
        va_list ap;

        if (!e->ok)
                return; /* keep the first failure */
        e->ok = 0;
        va_start(ap, fmt);
        vsnprintf(e->err, sizeof(e->err), fmt, ap);
        va_end(ap);
}

/* One sink answered for e: when it was the last, e is ready. */
static void entry_answer(struct br_dlq *dlq, struct entry *e) {
        if (--e->pending == 0) {
                fifo_push(&dlq->ready, e);
                wake(dlq);
        }
}

static void entry_unlink(struct br_dlq *dlq, struct entry *e) {
        if (e->prev)
                e->prev->next = e->next;
        else
                dlq->open = e->next;
        if (e->next)
                e->next->prev = e->prev;
        dlq->open_cnt--;
}

/* Bytes borrowed from the entry, or an owned copy when secrets were
 * blanked. */
struct view {
        const char *p;
        size_t len;
        char *owned;
};

static void view_free(struct view *v) {
        free(v->owned);
        v->owned = NULL;
}

/* Cut at most `keep` bytes, not inside a UTF-8 sequence (a binary body
 * just ends up to 3 bytes shorter). */
static size_t cut_len(const char *p, size_t len, size_t keep) {
        size_t cut = keep;

        if (len <= keep)
                return len;
        while (cut > 0 && keep - cut < 3 &&
               ((unsigned char)p[cut] & 0xc0) == 0x80)
                cut--;
        return cut;
}

/* v = src with every configured secret replaced by "***", then cut to
 * keep bytes (0 = no cut).  Only the part that can survive the cut is
 * searched, so the work stays bounded.  -1 when memory runs out. */
static int view_clean(const struct br_dlq *dlq, const char *src, size_t len,
                      size_t keep, struct view *v) {
        size_t scan = len, longest = 0, i, pos = 0, o = 0;
        char *out;

        v->p     = src;
        v->len   = len;
        v->owned = NULL;
        if (!src)
                return 0;
        for (i = 0; i < dlq->secret_cnt; i++)
                if (strlen(dlq->secrets[i]) > longest)
                        longest = strlen(dlq->secrets[i]);
        if (keep && len > keep + longest)
                scan = keep + longest;
        for (i = 0; i < dlq->secret_cnt; i++)
                if (memmem(src, scan, dlq->secrets[i], strlen(dlq->secrets[i])))
                        break;
        if (i == dlq->secret_cnt) {
                if (keep)
                        v->len = cut_len(src, len, keep);
                return 0;
        }
        /* "***" is never longer than a secret (MIN_SECRET_LEN >= 3) */
        if (!(out = malloc(scan ? scan : 1)))
                return -1;
        while (pos < scan) {
                const char *hit = NULL;
                size_t hit_len  = 0;

                for (i = 0; i < dlq->secret_cnt; i++) {
                        size_t slen   = strlen(dlq->secrets[i]);
                        const char *h = memmem(src + pos, scan - pos,
                                               dlq->secrets[i], slen);

                        if (h &&
                            (!hit || h < hit || (h == hit && slen > hit_len))) {
                                hit     = h;
                                hit_len = slen;
                        }
                }
                if (!hit) {
                        memcpy(out + o, src + pos, scan - pos);
                        o += scan - pos;
                        break;
                }
                memcpy(out + o, src + pos, (size_t)(hit - (src + pos)));
                o += (size_t)(hit - (src + pos));
                memcpy(out + o, "***", 3);
                o += 3;
                pos = (size_t)(hit - src) + hit_len;
        }
        v->owned = out;
        v->p     = out;
        v->len   = keep ? cut_len(out, o, keep) : o;
        return 0;
}

/* ---- Kafka sink ------------------------------------------------------- */

static enum br_log_level syslog_to_level(int level) {
        if (level <= 3)
                return BR_LOG_ERROR;
        if (level == 4)
                return BR_LOG_WARN;
        if (level <= 6)
                return BR_LOG_INFO;
        return BR_LOG_DEBUG;
}

/* Served from rd_kafka_poll() in our thread (log.queue=true). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
        struct br_dlq *dlq = rd_kafka_opaque(rk);

        if (!dlq)
                return;
        br_log(&dlq->log, syslog_to_level(level),
               "msg=\"librdkafka\" client=dead-letter facility=%s text=\"%s\"",
               fac, buf);
}

/* Only ERR__FATAL stops us (kcat's triage): the rest are transient and
 * librdkafka recovers by itself. */
static void on_error(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        struct br_dlq *dlq = opaque;
        char fatal[512];

        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                fatal[0] = '\0';
                rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
                dlq->fatal = 1;
                br_log(&dlq->log, BR_LOG_ERROR,
                       "msg=\"dead-letter producer fatal error\" error=\"%s\"",
                       fatal[0] ? fatal : reason);
                return;
        }
        br_log(&dlq->log, BR_LOG_WARN,
               "msg=\"dead-letter producer error\" error=\"%s: %s\"",
               rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Only a successful report counts: that is the broker's acks=all. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
        struct br_dlq *dlq = opaque;
        struct entry *e    = m->_private;

        (void)rk;
        if (!e)
                return;
        if (m->err)
                entry_fail(e, "dead-letter topic %s: %s", dlq->topic,
                           rd_kafka_err2str(m->err));
        entry_answer(dlq, e);
}

static int skipped(const char *name) {
        size_t i;

        for (i = 0; skipped_props[i]; i++)
                if (!strcmp(name, skipped_props[i]))
                        return 1;
        return 0;
}

static int kafka_open(struct br_dlq *dlq, const struct br_conf *conf,
                      const char *brokers, char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        char rderr[512];
        size_t i;
        static const char *const ours[][2] = {
            {"enable.idempotence", "true"},
            /* at-least-once: a dead letter counts only once every in-sync
             * replica has it */
            {"acks", "all"},
            /* logs come to our thread through the main queue, served in
             * br_dlq_serve(), and are written by br_log */
            {"log.queue", "true"},
        };

        if (!kc) {
                snprintf(errstr, errstr_size,
                         "dead_letter.topic: out of memory");
                return -1;
        }
        for (i = 0; i < conf->kafka.property_cnt; i++) {
                const struct br_kv *kv = &conf->kafka.properties[i];

                if (skipped(kv->key))
                        continue;
                if (rd_kafka_conf_set(kc, kv->key, kv->value, rderr,
                                      sizeof(rderr)) != RD_KAFKA_CONF_OK) {
                        snprintf(errstr, errstr_size,
                                 "%s:%d:%d: kafka.properties.%s: %s",
                                 conf->origin ? conf->origin : "<config>",
                                 kv->line, kv->col, kv->key, rderr);
                        goto fail;
                }
        }
        if (rd_kafka_conf_set(kc, "bootstrap.servers", brokers, rderr,
                              sizeof(rderr)) != RD_KAFKA_CONF_OK)
                goto fail_ours;
        for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
                if (rd_kafka_conf_set(kc, ours[i][0], ours[i][1], rderr,
                                      sizeof(rderr)) != RD_KAFKA_CONF_OK)
                        goto fail_ours;
        /* tell it apart from the consumer in broker logs, unless the
         * operator named the clients */
        {
                char id[256];
                size_t id_len = sizeof(id);

                if (rd_kafka_conf_get(kc, "client.id", id, &id_len) ==
                        RD_KAFKA_CONF_OK &&
                    !strcmp(id, "rdkafka"))
                        rd_kafka_conf_set(kc, "client.id",
                                          "bucketbridge-dead-letter", rderr,
                                          sizeof(rderr));
        }
        /* an entry holds a value of up to limits.max_message_bytes plus
         * its context headers: room for both, unless the operator chose */
        {
                char max[32];
                size_t max_len = sizeof(max);

                if (rd_kafka_conf_get(kc, "message.max.bytes", max, &max_len) ==
                        RD_KAFKA_CONF_OK &&
                    !strcmp(max, "1000000")) {
                        snprintf(max, sizeof(max), "%lld",
                                 (long long)conf->limits.max_message_bytes +
                                     1024 * 1024);
                        rd_kafka_conf_set(kc, "message.max.bytes", max, rderr,
                                          sizeof(rderr));
                }
        }
        rd_kafka_conf_set_opaque(kc, dlq);
        rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
        rd_kafka_conf_set_error_cb(kc, on_error);
        rd_kafka_conf_set_log_cb(kc, on_log);

        /* rd_kafka_new owns kc on success only */
        if (!(dlq->rk =
                  rd_kafka_new(RD_KAFKA_PRODUCER, kc, rderr, sizeof(rderr)))) {
                snprintf(errstr, errstr_size,
                         "dead_letter.topic: cannot create producer: %s",
                         rderr);
                goto fail;
        }
        rd_kafka_set_log_queue(dlq->rk, NULL);
        dlq->main_q = rd_kafka_queue_get_main(dlq->rk);
        /* the fd fires when the queue goes from empty to non-empty: serve
         * drains it to empty every time */
        rd_kafka_queue_io_event_enable(dlq->main_q, dlq->pipe_fds[1], "1", 1);
        if (!(dlq->topic = strdup(conf->dead_letter.topic))) {
                snprintf(errstr, errstr_size,
                         "dead_letter.topic: out of memory");
                return -1;
        }
        return 0;
fail_ours:
        snprintf(errstr, errstr_size, "dead_letter.topic: %s", rderr);
fail:
        rd_kafka_conf_destroy(kc);
        return -1;
}

static rd_kafka_resp_err_t header_add(rd_kafka_headers_t *h, const char *name,
                                      const void *value, size_t len) {
        return rd_kafka_header_add(h, name, -1, value, (ssize_t)len);
}

static rd_kafka_resp_err_t header_num(rd_kafka_headers_t *h, const char *name,
                                      int64_t v) {
        char buf[24];
        int n = snprintf(buf, sizeof(buf), "%" PRId64, v);

        return header_add(h, name, buf, (size_t)n);
}

static rd_kafka_resp_err_t header_time(rd_kafka_headers_t *h, const char *name,
                                       int64_t wall_us) {
        char buf[40];

        if (!wall_us)
                return RD_KAFKA_RESP_ERR_NO_ERROR;
        br_rfc3339(wall_us, buf, sizeof(buf));
        return header_add(h, name, buf, strlen(buf));
}

/* Present members only: absent ones (no status, no request, never sent)
 * have no header rather than an empty one. */
static rd_kafka_headers_t *headers_new(const struct br_dlq_entry *e,
                                       const struct view *reason,
                                       const struct view *response,
                                       const struct view *request) {
        rd_kafka_headers_t *h = rd_kafka_headers_new(12);
        const char *cls       = br_dlq_class_name(e->cls);
        const char *topic     = e->topic ? e->topic : "";
        rd_kafka_resp_err_t err;

        err = header_add(h, BR_DLQ_H_REASON, reason->p, reason->len);
        err = err ? err : header_add(h, BR_DLQ_H_CLASS, cls, strlen(cls));
        err = err ? err : header_add(h, BR_DLQ_H_TOPIC, topic, strlen(topic));
        err = err ? err : header_num(h, BR_DLQ_H_PARTITION, e->partition);
        err = err ? err : header_num(h, BR_DLQ_H_OFFSET, e->offset);
        err = err ? err : header_num(h, BR_DLQ_H_RECORD, e->record);
        if (!err && e->http_status)
                err = header_num(h, BR_DLQ_H_HTTP_STATUS, e->http_status);
        if (!err && response->p)
                err = header_add(h, BR_DLQ_H_RESPONSE, response->p,
                                 response->len);
        if (!err && request->p)
                err = header_add(h, BR_DLQ_H_REQUEST, request->p, request->len);
        err = err ? err : header_num(h, BR_DLQ_H_ATTEMPTS, e->attempts);
        err = err ? err
                  : header_time(h, BR_DLQ_H_FIRST_ATTEMPT,
                                e->first_attempt_wall_us);
        err = err ? err
                  : header_time(h, BR_DLQ_H_LAST_ATTEMPT,
                                e->last_attempt_wall_us);
        if (err) {
                rd_kafka_headers_destroy(h);
                return NULL;
        }
        return h;
}

/* librdkafka's value is void * but with RD_KAFKA_MSG_F_COPY it is only
 * read. */
static void *unconst(const void *p) {
        return (void *)(uintptr_t)p;
}

static int kafka_submit(struct br_dlq *dlq, const struct br_dlq_entry *e,
                        struct entry *ent, const struct view *reason,
                        const struct view *response, const struct view *request,
                        char *errstr, size_t errstr_size) {
        rd_kafka_headers_t *h = headers_new(e, reason, response, request);
        rd_kafka_resp_err_t err;

        if (!h) {
                snprintf(errstr, errstr_size,
                         "dead-letter topic %s: cannot build headers",
                         dlq->topic);
                return -1;
        }
        /* copies: the entry's bytes are only borrowed for this call */
        err = rd_kafka_producev(
            dlq->rk, RD_KAFKA_V_TOPIC(dlq->topic),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(e->key, e->key ? e->key_len : 0),
            RD_KAFKA_V_VALUE(unconst(e->value), e->value ? e->value_len : 0),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(ent), RD_KAFKA_V_END);
        if (err) {
                /* headers are ours again when producev fails */
                rd_kafka_headers_destroy(h);
                snprintf(errstr, errstr_size, "dead-letter topic %s: %s",
                         dlq->topic, rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

/* ---- file sink -------------------------------------------------------- */

/* json-c takes val on success; on failure it stays ours. */
static int add(struct json_object *obj, const char *name,
               struct json_object *val) {
        if (!val)
                return -1;
        if (json_object_object_add(obj, name, val) != 0) {
                json_object_put(val);
                return -1;
        }
        return 0;
}

static int add_int(struct json_object *obj, const char *name, int64_t v) {
        return add(obj, name, json_object_new_int64(v));
}

static int add_time(struct json_object *obj, const char *name,
                    int64_t wall_us) {
        char buf[40];

        if (!wall_us)
                return 0;
        br_rfc3339(wall_us, buf, sizeof(buf));
        return add(obj, name, json_object_new_string(buf));
}

/* name as a string when the bytes are valid UTF-8, else name_base64: a
 * JSON line must stay valid UTF-8 whatever the payload was. */
static int add_bytes(struct json_object *obj, const char *name, const void *p,
                     size_t len) {
        char b64_name[64], *b64;
        size_t b64_len = 0;
        int r;

        if (!p)
                return 0;
        if (len <= INT_MAX && br_utf8_check(p, len) == len)
                return add(obj, name, json_object_new_string_len(p, (int)len));
        snprintf(b64_name, sizeof(b64_name), "%s_base64", name);
        if (!(b64 = br_base64_encode(p, len, &b64_len)) || b64_len > INT_MAX) {
                free(b64);
                return -1;
        }
        r = add(obj, b64_name, json_object_new_string_len(b64, (int)b64_len));
        free(b64);
        return r;
}

static struct json_object *line_new(const struct br_dlq_entry *e,
                                    const struct view *reason,
                                    const struct view *response,
                                    const struct view *request) {
        struct json_object *o = json_object_new_object();
        int r;

        if (!o)
                return NULL;
        r = add_time(o, "time", br_wallclock_us());
        r |= add_bytes(o, "reason", reason->p, reason->len);
        r |= add(o, "class", json_object_new_string(br_dlq_class_name(e->cls)));
        r |= add(o, "topic", json_object_new_string(e->topic ? e->topic : ""));
        r |= add_int(o, "partition", e->partition);
        r |= add_int(o, "offset", e->offset);
        r |= add_int(o, "record", e->record);
        if (e->http_status)
                r |= add_int(o, "http_status", e->http_status);
        r |= add_bytes(o, "response", response->p, response->len);
        r |= add_bytes(o, "request", request->p, request->len);
        r |= add_int(o, "attempts", e->attempts);
        r |= add_time(o, "first_attempt", e->first_attempt_wall_us);
        r |= add_time(o, "last_attempt", e->last_attempt_wall_us);
        r |= add_bytes(o, "key", e->key, e->key_len);
        /* an empty value is still a value: "" rather than nothing */
        r |= add_bytes(o, "value", e->value ? e->value : "", e->value_len);
        if (r) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* Appends one line.  A failed write is undone (truncated back) so the
 * next line does not start after half a record.  0, or -1 with errstr. */
static int file_append(struct br_dlq *dlq, const char *line, size_t len,
                       char *errstr, size_t errstr_size) {
        off_t start = lseek(dlq->fd, 0, SEEK_END);
        size_t done = 0;

        while (done < len) {
                ssize_t n = write(dlq->fd, line + done, len - done);

                if (n == -1 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        snprintf(errstr, errstr_size,
                                 "dead_letter.file %s: write: %s", dlq->path,
                                 n == 0 ? "no progress" : strerror(errno));
                        if (done > 0 && start >= 0 &&
                            ftruncate(dlq->fd, start) == -1) {
                                /* nothing more to do: the reader skips a
                                 * torn last line */
                        }
                        return -1;
                }
                done += (size_t)n;
        }
        return 0;
}

static int file_submit(struct br_dlq *dlq, const struct br_dlq_entry *e,
                       const struct view *reason, const struct view *response,
                       const struct view *request, char *errstr,
                       size_t errstr_size) {
        struct json_object *o = line_new(e, reason, response, request);
        const char *text;
        size_t len = 0;
        char *line;
        int r;

        if (!o) {
                snprintf(errstr, errstr_size,
                         "dead_letter.file %s: out of memory", dlq->path);
                return -1;
        }
        text = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
        /* one write() per line: O_APPEND keeps lines whole */
        if (!text || !(line = malloc(len + 1))) {
                json_object_put(o);
                snprintf(errstr, errstr_size,
                         "dead_letter.file %s: out of memory", dlq->path);
                return -1;
        }
        memcpy(line, text, len);
        line[len] = '\n';
        json_object_put(o);
        r = file_append(dlq, line, len + 1, errstr, errstr_size);
        free(line);
        return r;
}

/* One fdatasync for every line written since the last one: only then do
 * they count. */
static void file_sync(struct br_dlq *dlq) {
        struct entry *e, *next;
        char err[256];
        int failed;

        if (!dlq->unsynced.head)
                return;
        failed = fdatasync(dlq->fd) == -1;
        if (failed)
                snprintf(err, sizeof(err), "%s", strerror(errno));
        e = dlq->unsynced.head;
        fifo_init(&dlq->unsynced);
        for (; e; e = next) {
                next = e->link;
                if (failed)
                        entry_fail(e, "dead_letter.file %s: fsync: %s",
                                   dlq->path, err);
                entry_answer(dlq, e);
        }
}

/* ---- lifecycle -------------------------------------------------------- */

static int add_secret(struct br_dlq *dlq, const char *s) {
        char **v;

        if (!s || strlen(s) < MIN_SECRET_LEN)
                return 0;
        if (!(v = realloc(dlq->secrets, (dlq->secret_cnt + 1) * sizeof(*v))))
                return -1;
        dlq->secrets = v;
        if (!(v[dlq->secret_cnt] = strdup(s)))
                return -1;
        dlq->secret_cnt++;
        return 0;
}

struct br_dlq *br_dlq_new(const struct br_conf *conf,
                          const char *brokers_override, char *errstr,
                          size_t errstr_size) {
        struct br_dlq *dlq = calloc(1, sizeof(*dlq));
        const char *brokers;
        size_t i;

        if (!dlq) {
                snprintf(errstr, errstr_size, "dead_letter: out of memory");
                return NULL;
        }
        dlq->pipe_fds[0] = dlq->pipe_fds[1] = -1;
        dlq->fd                             = -1;
        dlq->log.level                      = conf->log.level;
        dlq->log.out                        = stderr;
        fifo_init(&dlq->unsynced);
        fifo_init(&dlq->ready);
        dlq->destroy_flush_ms =
            conf->shutdown.grace_ms > 0 &&
                    conf->shutdown.grace_ms < DESTROY_FLUSH_MAX_MS
                ? (int)conf->shutdown.grace_ms
                : DESTROY_FLUSH_MAX_MS;

        if (pipe2(dlq->pipe_fds, O_NONBLOCK | O_CLOEXEC) == -1) {
                snprintf(errstr, errstr_size, "dead_letter: pipe: %s",
                         strerror(errno));
                goto fail;
        }
        if (add_secret(dlq, conf->webhook.api_key) == -1)
                goto oom;
        for (i = 0; i < conf->route_cnt; i++)
                if (add_secret(dlq, conf->routes[i].api_key) == -1)
                        goto oom;

        if (conf->dead_letter.file) {
                if (!(dlq->path = strdup(conf->dead_letter.file)))
                        goto oom;
                /* 0600: object keys and payloads are the operator's data */
                dlq->fd = open(dlq->path,
                               O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
                if (dlq->fd == -1) {
                        snprintf(errstr, errstr_size, "dead_letter.file %s: %s",
                                 dlq->path, strerror(errno));
                        goto fail;
                }
        }
        if (conf->dead_letter.topic) {
                brokers =
                    brokers_override ? brokers_override : conf->kafka.brokers;
                if (!brokers || !strcmp(brokers, "embedded")) {
                        snprintf(errstr, errstr_size,
                                 "dead_letter.topic: no bootstrap brokers "
                                 "(kafka.brokers is \"%s\")",
                                 brokers ? brokers : "");
                        goto fail;
                }
                if (kafka_open(dlq, conf, brokers, errstr, errstr_size) == -1)
                        goto fail;
        }
        return dlq;
oom:
        snprintf(errstr, errstr_size, "dead_letter: out of memory");
fail:
        br_dlq_destroy(dlq);
        return NULL;
}

void br_dlq_destroy(struct br_dlq *dlq) {
        struct entry *e, *next;
        size_t i;

        if (!dlq)
                return;
        if (dlq->rk) {
                if (!dlq->fatal)
                        rd_kafka_flush(dlq->rk, dlq->destroy_flush_ms);
                /* what did not make it is dropped: its records stay
                 * uncommitted and come back after a restart */
                rd_kafka_purge(dlq->rk, RD_KAFKA_PURGE_F_QUEUE |
                                            RD_KAFKA_PURGE_F_INFLIGHT);
        }
        if (dlq->main_q) {
                rd_kafka_queue_io_event_enable(dlq->main_q, -1, NULL, 0);
                rd_kafka_queue_destroy(dlq->main_q);
        }
        if (dlq->rk)
                rd_kafka_destroy(dlq->rk);
        if (dlq->fd != -1) {
                if (dlq->unsynced.head)
                        (void)fdatasync(dlq->fd);
                close(dlq->fd);
        }
        /* no callback can reach an entry any more: the owner frees what
         * each one stood for */
        for (e = dlq->open; e; e = next) {
                next = e->next;
                if (dlq->abandon)
                        dlq->abandon(dlq->abandon_opaque, e->opaque);
                free(e);
        }
        for (i = 0; i < 2; i++)
                if (dlq->pipe_fds[i] != -1)
                        close(dlq->pipe_fds[i]);
        for (i = 0; i < dlq->secret_cnt; i++) {
                /* do not leave api keys in freed memory */
                explicit_bzero(dlq->secrets[i], strlen(dlq->secrets[i]));
                free(dlq->secrets[i]);
        }
        free(dlq->secrets);
        free(dlq->topic);
        free(dlq->path);
        free(dlq);
}

/* ---- the interface ---------------------------------------------------- */

void br_dlq_set_abandon(struct br_dlq *dlq,
                        void (*abandon)(void *cb_opaque, void *entry_opaque),
                        void *cb_opaque) {
        dlq->abandon        = abandon;
        dlq->abandon_opaque = cb_opaque;
}

int br_dlq_submit(struct br_dlq *dlq, const struct br_dlq_entry *e,
                  void *opaque, char *errstr, size_t errstr_size) {
        struct view reason, response, request;
        struct entry *ent;
        char ferr[256];
        int r = -1;

        if (dlq->fatal) {
                snprintf(errstr, errstr_size,
                         "dead-letter producer stopped after a fatal error");
                return -1;
        }
        memset(&reason, 0, sizeof(reason));
        memset(&response, 0, sizeof(response));
        memset(&request, 0, sizeof(request));
        if (!(ent = calloc(1, sizeof(*ent))) ||
            view_clean(dlq, e->reason ? e->reason : "",
                       e->reason ? strlen(e->reason) : 0, 0, &reason) == -1 ||
            view_clean(dlq, e->response, e->response_len, BR_DLQ_MAX_RESPONSE,
                       &response) == -1 ||
            view_clean(dlq, e->request, e->request_len, 0, &request) == -1) {
                snprintf(errstr, errstr_size, "dead_letter: out of memory");
                goto out;
        }
        ent->opaque = opaque;
        ent->ok     = 1;
        /* one count for this call: the entry cannot finish before every
         * sink has been tried, and with no sink at all it finishes below */
        ent->pending = 1;

        /* Kafka first: it is the sink that can refuse at once (queue
         * full), and then nothing at all has happened */
        if (dlq->rk) {
                if (kafka_submit(dlq, e, ent, &reason, &response, &request,
                                 errstr, errstr_size) == -1)
                        goto out;
                ent->pending++;
        }
        ent->next = dlq->open;
        if (dlq->open)
                dlq->open->prev = ent;
        dlq->open = ent;
        dlq->open_cnt++;
        if (dlq->fd != -1) {
                if (file_submit(dlq, e, &reason, &response, &request, ferr,
                                sizeof(ferr)) == -1) {
                        /* reported through done, like a failed delivery
                         * report: the Kafka part may be on its way */
                        entry_fail(ent, "%s", ferr);
                } else {
                        ent->pending++;
                        fifo_push(&dlq->unsynced, ent);
                        wake(dlq);
                }
        }
        entry_answer(dlq, ent); /* this call's count */
        ent = NULL;
        r   = 0;
out:
        free(ent);
        view_free(&reason);
        view_free(&response);
        view_free(&request);
        return r;
}

int br_dlq_serve(struct br_dlq *dlq, br_dlq_done_cb *done, void *cb_opaque) {
        struct entry *e, *next;
        char buf[64];
        int cnt = 0;

        /* drain the wake-ups first: anything arriving from here on writes
         * a new one */
        while (read(dlq->pipe_fds[0], buf, sizeof(buf)) > 0)
                ;
        if (dlq->rk)
                rd_kafka_poll(dlq->rk, 0);
        if (dlq->fd != -1)
                file_sync(dlq);

        /* report from a detached list: done may submit again, and what it
         * adds waits for the next call instead of looping here */
        e = dlq->ready.head;
        fifo_init(&dlq->ready);
        for (; e; e = next) {
                next = e->link;
                entry_unlink(dlq, e);
                done(cb_opaque, e->opaque, e->ok, e->ok ? NULL : e->err);
                free(e);
                cnt++;
        }
        return cnt;
}

int br_dlq_fd(const struct br_dlq *dlq) {
        return dlq ? dlq->pipe_fds[0] : -1;
}

int br_dlq_flush(struct br_dlq *dlq, int timeout_ms) {
        int r = 0;

        if (dlq->rk &&
            rd_kafka_flush(dlq->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
                r = -1;
        if (dlq->fd != -1)
                file_sync(dlq);
        /* completions are waiting: make sure the caller's poll sees it */
        if (dlq->ready.head)
                wake(dlq);
        return r;
}

int br_dlq_fatal(const struct br_dlq *dlq) {
        return dlq ? dlq->fatal : 0;
}

size_t br_dlq_pending(const struct br_dlq *dlq) {
        return dlq ? dlq->open_cnt : 0;
}

rd_kafka_t *br_dlq_producer(struct br_dlq *dlq) {
        return dlq ? dlq->rk : NULL;
}
