/* Integration-test helpers for an in-process bridge; see lib_bridge.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/util.h"
#include "tests/integration/lib_bridge.h"

static void complain(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void complain(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        fputs("bridge-it: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
}

/* ---- a bridge run ----------------------------------------------------- */

static void on_done(void *opaque, const struct br_msg *msg) {
        struct br_b_run *r = opaque;

        (void)msg;
        r->finished++;
}

int br_b_start(struct br_b_run *r, const char *yaml) {
        char errstr[4096];

        memset(r, 0, sizeof(*r));
        r->conf =
            br_conf_load(yaml, strlen(yaml), "<it>", 0, errstr, sizeof(errstr));
        if (!r->conf) {
                complain("config: %s", errstr);
                return -1;
        }
        r->ctx = br_ctx_new(r->conf, -1, errstr, sizeof(errstr));
        if (!r->ctx) {
                complain("ctx: %s", errstr);
                br_conf_destroy(r->conf);
                r->conf = NULL;
                return -1;
        }
        r->ctx->on_message_done = on_done;
        r->ctx->hook_opaque     = r;
        return 0;
}

void br_b_step(void *run) {
        struct br_b_run *r = run;

        br_loop_run_once(r->ctx, 20);
}

int br_b_wait(struct br_b_run *r, int (*cond)(void *), void *arg,
              int timeout_ms) {
        return br_h_wait(cond, arg, timeout_ms, br_b_step, r);
}

struct finished_want {
        struct br_b_run *r;
        size_t n;
};

static int finished_enough(void *arg) {
        struct finished_want *w = arg;

        return w->r->finished >= w->n;
}

int br_b_wait_finished(struct br_b_run *r, size_t n, int timeout_ms) {
        struct finished_want w = {r, n};

        return br_b_wait(r, finished_enough, &w, timeout_ms);
}

static int never(void *arg) {
        (void)arg;
        return 0;
}

void br_b_run_for(struct br_b_run *r, int ms) {
        /* the condition never holds: the deadline ends the window */
        br_b_wait(r, never, NULL, ms);
}

int br_b_stop(struct br_b_run *r, int timeout_ms) {
        int64_t until = br_now_us() + (int64_t)timeout_ms * 1000;
        int rc;

        if (!r->ctx) {
                br_b_destroy(r);
                return -1;
        }
        br_loop_stop(r->ctx);
        while (!br_loop_done(r->ctx) && br_now_us() < until)
                br_loop_run_once(r->ctx, 50);
        rc = br_loop_done(r->ctx) ? r->ctx->exit_code : -1;
        if (rc == -1)
                complain("the loop did not finish within %d ms", timeout_ms);
        br_b_destroy(r);
        return rc;
}

void br_b_destroy(struct br_b_run *r) {
        if (!r)
                return;
        br_ctx_destroy(r->ctx);
        br_conf_destroy(r->conf);
        r->ctx  = NULL;
        r->conf = NULL;
}

/* ---- producing -------------------------------------------------------- */

int br_b_produce(struct br_h_cluster *c, const char *topic, const char *key,
                 const void *value, size_t len) {
        if (br_h_produce(c, topic, 0, key, key ? strlen(key) : 0, value, len) ==
            -1)
                return -1;
        return br_h_flush(c, 10000);
}

int br_b_produce_minio(struct br_h_cluster *c, const char *topic,
                       const char *bucket, const char *raw_key) {
        char key[512];
        size_t len;
        char *value = br_h_minio_event(bucket, raw_key, NULL, &len);
        int rc;

        if (!value)
                return -1;
        snprintf(key, sizeof(key), "%s/%s", bucket, raw_key);
        rc = br_b_produce(c, topic, key, value, len);
        free(value);
        return rc;
}

/* ---- offsets ---------------------------------------------------------- */

int br_b_committed_is_end(struct br_h_cluster *c, const char *group,
                          const char *topic, int partitions) {
        int64_t *committed = calloc((size_t)partitions, sizeof(*committed));
        int64_t *end       = calloc((size_t)partitions, sizeof(*end));
        int i, same = 0;

        if (!committed || !end ||
            br_h_committed(c, group, topic, partitions, committed, 10000) ==
                -1 ||
            br_h_end_offsets(c, topic, partitions, end, 10000) == -1)
                goto out;
        same = 1;
        for (i = 0; i < partitions; i++) {
                if (committed[i] == end[i])
                        continue;
                complain("%s [%d]: committed %lld, end %lld", topic, i,
                         (long long)committed[i], (long long)end[i]);
                same = 0;
        }
out:
        free(committed);
        free(end);
        return same;
}

/* ---- the receiver's requests ------------------------------------------ */

static int by_arrival(const void *a, const void *b) {
        const struct br_received *x = a, *y = b;

        return (x->arrival_us > y->arrival_us) -
               (x->arrival_us < y->arrival_us);
}

struct br_received *br_b_requests(struct br_receiver *recv, const char *sc_id,
                                  size_t *cnt) {
        size_t n = br_receiver_count(recv), i, k = 0;
        struct br_received *out;

        *cnt = 0;
        out  = calloc(n ? n : 1, sizeof(*out));
        if (!out)
                return NULL;
        for (i = 0; i < n; i++) {
                if (br_receiver_get(recv, i, &out[k]) == -1) {
                        complain("request %zu was not recorded", i);
                        br_b_requests_free(out, k);
                        return NULL;
                }
                if (sc_id && (!out[k].storage_client_id ||
                              strcmp(out[k].storage_client_id, sc_id))) {
                        br_received_free(&out[k]);
                        continue;
                }
                k++;
        }
        qsort(out, k, sizeof(*out), by_arrival);
        *cnt = k;
        return out;
}

void br_b_requests_free(struct br_received *reqs, size_t cnt) {
        size_t i;

        if (!reqs)
                return;
        for (i = 0; i < cnt; i++)
                br_received_free(&reqs[i]);
        free(reqs);
}

size_t br_b_max_concurrent(const struct br_received *reqs, size_t cnt,
                           int64_t hold_us) {
        size_t i, j, best = 0;

        /* the most intervals overlapping is reached at some arrival */
        for (i = 0; i < cnt; i++) {
                int64_t t   = reqs[i].arrival_us;
                size_t open = 0;

                for (j = 0; j < cnt; j++)
                        if (reqs[j].arrival_us <= t &&
                            t < reqs[j].decided_us + hold_us)
                                open++;
                if (open > best)
                        best = open;
        }
        return best;
}

/* ---- dead-letter sinks ------------------------------------------------ */

static char *copy0(const void *p, size_t len) {
        char *s;

        if (!p)
                return NULL;
        s = malloc(len + 1);
        if (!s)
                return NULL;
        memcpy(s, p, len);
        s[len] = '\0';
        return s;
}

static void msg_free(struct br_b_dlq_msg *m) {
        size_t i;

        free(m->key);
        free(m->value);
        for (i = 0; i < m->header_cnt; i++) {
                free(m->headers[i].name);
                free(m->headers[i].value);
        }
        free(m->headers);
        memset(m, 0, sizeof(*m));
}

struct collect {
        struct br_b_dlq_msg *v;
        size_t cnt;
        size_t cap;
        int oom;
};

static int collect_one(const rd_kafka_message_t *km, void *arg) {
        struct collect *c = arg;
        struct br_b_dlq_msg *m;
        rd_kafka_headers_t *hdrs = NULL;
        size_t i;

        if (c->cnt == c->cap) {
                size_t cap             = c->cap ? c->cap * 2 : 8;
                struct br_b_dlq_msg *v = realloc(c->v, cap * sizeof(*v));

                if (!v)
                        goto oom;
                c->v   = v;
                c->cap = cap;
        }
        m = &c->v[c->cnt++];
        memset(m, 0, sizeof(*m));
        m->key_len   = km->key_len;
        m->value_len = km->len;
        m->key       = copy0(km->key, km->key_len);
        m->value     = copy0(km->payload, km->len);
        if ((km->key && !m->key) || (km->payload && !m->value))
                goto oom;
        if (rd_kafka_message_headers(km, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
                return 0; /* no headers */
        m->headers = calloc(rd_kafka_header_cnt(hdrs) + 1, sizeof(*m->headers));
        if (!m->headers)
                goto oom;
        for (i = 0; i < rd_kafka_header_cnt(hdrs); i++) {
                const char *name;
                const void *value;
                size_t len;

                if (rd_kafka_header_get_all(hdrs, i, &name, &value, &len))
                        break;
                m->headers[i].name  = strdup(name);
                m->headers[i].value = copy0(value, len);
                m->headers[i].len   = len;
                m->header_cnt++;
                if (!m->headers[i].name || (value && !m->headers[i].value))
                        goto oom;
        }
        return 0;
oom:
        c->oom = 1;
        return 1; /* stop reading */
}

int br_b_dlq_topic(struct br_h_cluster *c, const char *topic,
                   struct br_b_dlq_msg **out, size_t *cnt) {
        struct collect col;

        memset(&col, 0, sizeof(col));
        *out = NULL;
        *cnt = 0;
        if (br_h_read_topic(c, topic, 1, 10000, collect_one, &col) == -1 ||
            col.oom) {
                complain("reading dead-letter topic %s failed", topic);
                br_b_dlq_msgs_free(col.v, col.cnt);
                return -1;
        }
        *out = col.v;
        *cnt = col.cnt;
        return 0;
}

void br_b_dlq_msgs_free(struct br_b_dlq_msg *msgs, size_t cnt) {
        size_t i;

        if (!msgs)
                return;
        for (i = 0; i < cnt; i++)
                msg_free(&msgs[i]);
        free(msgs);
}

const char *br_b_dlq_header(const struct br_b_dlq_msg *m, const char *name) {
        size_t i;

        for (i = 0; i < m->header_cnt; i++)
                if (!strcmp(m->headers[i].name, name))
                        return m->headers[i].value;
        return NULL;
}

size_t br_b_dlq_header_count(const struct br_b_dlq_msg *m, const char *name) {
        size_t i, n = 0;

        for (i = 0; i < m->header_cnt; i++)
                if (!strcmp(m->headers[i].name, name))
                        n++;
        return n;
}

struct json_object *br_b_dlq_file(const char *path) {
        struct json_object *arr = json_object_new_array();
        char *text, *line, *save = NULL;

        if (!arr)
                return NULL;
        text = br_h_read_file(path, NULL);
        if (!text)
                return arr; /* no file: nothing was dead-lettered */
        for (line = strtok_r(text, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                struct json_object *o = json_tokener_parse(line);

                if (!o || !json_object_is_type(o, json_type_object) ||
                    json_object_array_add(arr, o) != 0) {
                        complain("%s: not a JSON object line: %s", path, line);
                        json_object_put(o);
                        json_object_put(arr);
                        free(text);
                        return NULL;
                }
        }
        free(text);
        return arr;
}

const char *br_b_json_str(struct json_object *obj, const char *name) {
        struct json_object *v;

        if (!json_object_object_get_ex(obj, name, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int64_t br_b_json_int(struct json_object *obj, const char *name, int64_t def) {
        struct json_object *v;

        if (!json_object_object_get_ex(obj, name, &v) ||
            !json_object_is_type(v, json_type_int))
                return def;
        return json_object_get_int64(v);
}

int64_t br_b_rfc3339_us(const char *text) {
        struct tm tm;
        int ms, used = 0;
        time_t t;

        if (!text)
                return -1;
        memset(&tm, 0, sizeof(tm));
        if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year,
                   &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
                   &ms, &used) != 7 ||
            used != (int)strlen(text) || strlen(text) != 24)
                return -1;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        t = timegm(&tm);
        if (t == (time_t)-1)
                return -1;
        return (int64_t)t * 1000000 + (int64_t)ms * 1000;
}
