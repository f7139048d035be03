/* The MDSS webhook stand-in: libmicrohttpd with one thread per connection,
 * so a scripted delay is a timed wait on that connection's own thread and
 * never holds up the others.  All state sits under r->lock; the condition
 * variable r->changed is broadcast on every decided request and on stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "bridge/receiver.h"
#include "bridge/util.h"

#define DEFAULT_PATH     "/api/webhook/realtime"
#define CONNECTION_LIMIT 512
#define MAX_STATUS       600

struct rule {
        char *storage_client_id;
        char *key_contains;
        char *body;
        char *content_type;
        char *retry_after;
        int left; /* answers left, -1: forever */
        int status;
        int delay_ms;
        int drop;
        int index;
};

/* What one request gets, copied out of the rule so that the rules can be
 * cleared while a delayed reply waits. */
struct answer {
        int status;
        int delay_ms;
        int drop;
        int rule;
        char *body; /* owned */
        const char *content_type;
        char *retry_after; /* owned */
        const char *allow;
};

/* One HTTP request in progress (MHD's con_cls). */
struct request {
        int64_t arrival_us;
        char *buf;
        size_t len;
        size_t cap;
        int overflow;
};

struct br_receiver {
        struct MHD_Daemon *daemon;
        char *path;
        uint16_t port;
        char *tls_cert; /* PEM; both NULL: plain HTTP */
        char *tls_key;

        pthread_mutex_t lock;
        pthread_cond_t changed; /* CLOCK_MONOTONIC */
        int lock_ok;
        int cond_ok;
        int stopping;
        char start_err[256]; /* first libmicrohttpd complaint at start */

        struct rule *rules;
        size_t rule_cnt;
        size_t rule_cap;
        int next_rule_index;
        char *api_key;
        FILE *log;

        struct br_received *recs;
        size_t rec_cnt;
        size_t rec_cap;
        size_t keep;
        size_t seen;
        size_t by_status[MAX_STATUS]; /* [0]: dropped */
        size_t connections;
        uint64_t next_conn;
        uint32_t cid_random;
        uint32_t cid_counter;
};

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

static int dup_field(char **dst, const char *src) {
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -1;
}

static void rule_free(struct rule *ru) {
        free(ru->storage_client_id);
        free(ru->key_contains);
        free(ru->body);
        free(ru->content_type);
        free(ru->retry_after);
        memset(ru, 0, sizeof(*ru));
}

void br_received_free(struct br_received *rec) {
        if (!rec)
                return;
        free(rec->method);
        free(rec->path);
        free(rec->body);
        free(rec->api_key);
        free(rec->content_type);
        free(rec->storage_client_id);
        free(rec->key);
        free(rec->scan_id);
        free(rec->correlation_id);
        memset(rec, 0, sizeof(*rec));
}

/* The object key inside metadata (a JSON text in a string), whichever MDSS
 * form carries it: s3, oss, or Name. */
static char *metadata_key(const char *text) {
        struct json_object *root = json_tokener_parse(text);
        struct json_object *form, *object, *key;
        char *out = NULL;

        if (!root)
                return NULL;
        if ((json_object_object_get_ex(root, "s3", &form) ||
             json_object_object_get_ex(root, "oss", &form)) &&
            json_object_object_get_ex(form, "object", &object) &&
            json_object_object_get_ex(object, "key", &key) &&
            json_object_is_type(key, json_type_string))
                out = strdup(json_object_get_string(key));
        else if (json_object_object_get_ex(root, "Name", &key) &&
                 json_object_is_type(key, json_type_string))
                out = strdup(json_object_get_string(key));
        json_object_put(root);
        return out;
}

static char *string_member(struct json_object *obj, const char *name) {
        struct json_object *v;

        if (!json_object_object_get_ex(obj, name, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return strdup(json_object_get_string(v));
}

/* Fills what can be read from an MDSS body; a body that is not one leaves
 * the fields NULL, which is what the tests look for. */
static void parse_body(struct br_received *rec) {
        struct json_tokener *tok;
        struct json_object *root, *meta;

        if (!rec->body || !rec->body_len)
                return;
        tok = json_tokener_new();
        if (!tok)
                return;
        root = json_tokener_parse_ex(tok, rec->body, (int)rec->body_len);
        if (root && json_object_is_type(root, json_type_object)) {
                rec->storage_client_id = string_member(root, "storageClientId");
                rec->scan_id           = string_member(root, "scanId");
                if (json_object_object_get_ex(root, "metadata", &meta) &&
                    json_object_is_type(meta, json_type_string))
                        rec->key = metadata_key(json_object_get_string(meta));
        }
        json_object_put(root);
        json_tokener_free(tok);
}

static int rule_matches(const struct rule *ru, const struct br_received *rec) {
        if (ru->left == 0)
                return 0;
        if (ru->storage_client_id &&
            (!rec->storage_client_id ||
             strcmp(ru->storage_client_id, rec->storage_client_id) != 0))
                return 0;
        if (ru->key_contains &&
            (!rec->key || !strstr(rec->key, ru->key_contains)))
                return 0;
        return 1;
}

static int is_2xx(int status) {
        return status >= 200 && status < 300;
}

/* Under r->lock.  Fills a with copies, so the rule may go away. */
static int decide(struct br_receiver *r, struct br_received *rec, int overflow,
                  struct answer *a) {
        size_t i;

        memset(a, 0, sizeof(*a));
        a->status       = 200;
        a->rule         = -1;
        a->content_type = "application/json";
        if (strcmp(rec->path, r->path) != 0) {
                a->status = 404;
                return 0;
        }
        if (strcmp(rec->method, "POST") != 0) {
                a->status = 405;
                a->allow  = "POST";
                return 0;
        }
        if (overflow) {
                a->status = 413;
                return 0;
        }
        if (r->api_key &&
            (!rec->api_key || strcmp(r->api_key, rec->api_key) != 0)) {
                a->status = 401;
                a->body   = strdup(BR_RECEIVER_BODY_UNAUTHORIZED);
                return a->body ? 0 : -1;
        }
        for (i = 0; i < r->rule_cnt; i++) {
                struct rule *ru = &r->rules[i];

                if (!rule_matches(ru, rec))
                        continue;
                if (ru->left > 0)
                        ru->left--;
                a->rule     = ru->index;
                a->status   = ru->status;
                a->delay_ms = ru->delay_ms;
                a->drop     = ru->drop;
                if (ru->content_type)
                        a->content_type = ru->content_type;
                if (dup_field(&a->body, ru->body) == -1 ||
                    dup_field(&a->retry_after, ru->retry_after) == -1)
                        return -1;
                break;
        }
        if (!a->body && is_2xx(a->status) && !a->drop) {
                char cid[32];
                struct json_object *o = json_object_new_object();
                struct json_object *s;

                snprintf(cid, sizeof(cid), "%08x%08x%08x",
                         (uint32_t)(br_wallclock_us() / 1000000), r->cid_random,
                         r->cid_counter++);
                s = json_object_new_string(cid);
                if (!o || !s ||
                    json_object_object_add(o, "correlationId", s) != 0) {
                        json_object_put(s);
                        json_object_put(o);
                        return -1;
                }
                a->body = strdup(
                    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                rec->correlation_id = strdup(cid);
                json_object_put(o);
                if (!a->body || !rec->correlation_id)
                        return -1;
        }
        return 0;
}

/* Prints s with control bytes escaped: keys come from the wire. */
static void log_text(FILE *out, const char *s) {
        const unsigned char *p;

        if (!s) {
                fputc('-', out);
                return;
        }
        for (p = (const unsigned char *)s; *p; p++) {
                if (*p < 0x20 || *p == 0x7f)
                        fprintf(out, "\\x%02x", *p);
                else
                        fputc(*p, out);
        }
}

static void log_request(FILE *out, const struct br_received *rec,
                        const struct answer *a) {
        flockfile(out);
        log_text(out, rec->method);
        if (a->status == 404 || a->status == 405) {
                fputc(' ', out);
                log_text(out, rec->path);
        } else {
                fputs(" storageClientId=", out);
                log_text(out, rec->storage_client_id);
                fputs(" key=", out);
                log_text(out, rec->key);
        }
        if (a->drop)
                fputs(" -> drop", out);
        else
                fprintf(out, " -> %d", a->status);
        if (a->delay_ms > 0)
                fprintf(out, " (after %d ms)", a->delay_ms);
        fputc('\n', out);
        fflush(out);
        funlockfile(out);
}

/* Under r->lock: counts the request and keeps rec (taking its strings)
 * or frees it. */
static void record(struct br_receiver *r, struct br_received *rec) {
        int st = rec->status;

        r->seen++;
        if (st >= 0 && st < MAX_STATUS)
                r->by_status[st]++;
        if (r->rec_cnt < r->keep) {
                if (r->rec_cnt == r->rec_cap) {
                        size_t cap = r->rec_cap ? r->rec_cap * 2 : 64;
                        struct br_received *n =
                            realloc(r->recs, cap * sizeof(*n));

                        if (n) {
                                r->recs    = n;
                                r->rec_cap = cap;
                        }
                }
                if (r->rec_cnt < r->rec_cap) {
                        r->recs[r->rec_cnt++] = *rec;
                        memset(rec, 0, sizeof(*rec));
                }
        }
        br_received_free(rec);
        pthread_cond_broadcast(&r->changed);
}

static struct timespec deadline_ts(int64_t now_us, int64_t wait_us) {
        struct timespec ts;
        int64_t at = now_us + wait_us;

        ts.tv_sec  = (time_t)(at / 1000000);
        ts.tv_nsec = (long)(at % 1000000) * 1000;
        return ts;
}

/* Waits delay_ms on this connection's thread; 0 when the wait ran out,
 * -1 when the receiver is stopping. */
static int wait_delay(struct br_receiver *r, int delay_ms) {
        int64_t until = br_now_us() + (int64_t)delay_ms * 1000;
        int stopping;

        pthread_mutex_lock(&r->lock);
        while (!r->stopping && br_now_us() < until) {
                struct timespec ts = deadline_ts(until, 0);

                pthread_cond_timedwait(&r->changed, &r->lock, &ts);
        }
        stopping = r->stopping;
        pthread_mutex_unlock(&r->lock);
        return stopping ? -1 : 0;
}

static uint64_t connection_id(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return ci ? (uint64_t)(uintptr_t)ci->socket_context : 0;
}

static enum MHD_Result send_answer(struct MHD_Connection *conn,
                                   const struct answer *a) {
        const char *body          = a->body ? a->body : "";
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret = MHD_NO;

        if (!resp)
                return MHD_NO;
        if (*body && MHD_add_response_header(resp, "Content-Type",
                                             a->content_type) == MHD_NO)
                goto done;
        if (a->retry_after && MHD_add_response_header(resp, "Retry-After",
                                                      a->retry_after) == MHD_NO)
                goto done;
        if (a->allow &&
            MHD_add_response_header(resp, "Allow", a->allow) == MHD_NO)
                goto done;
        ret = MHD_queue_response(conn, (unsigned int)a->status, resp);
done:
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result finish_request(struct br_receiver *r,
                                      struct MHD_Connection *conn,
                                      const char *url, const char *method,
                                      struct request *req) {
        struct br_received rec;
        struct answer a;
        char *ct_copy       = NULL;
        enum MHD_Result ret = MHD_NO;
        FILE *log;
        int stopping;

        memset(&rec, 0, sizeof(rec));
        memset(&a, 0, sizeof(a));
        rec.arrival_us = req->arrival_us;
        rec.decided_us = br_now_us();
        rec.conn_id    = connection_id(conn);
        rec.method     = strdup(method);
        rec.path       = strdup(url);
        rec.api_key    = dup_or_null(
               MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "ApiKey"));
        rec.content_type = dup_or_null(MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE));
        if (!req->overflow) {
                /* the buffer is NUL-terminated by append_body */
                rec.body     = req->buf ? req->buf : strdup("");
                rec.body_len = req->len;
                req->buf     = NULL;
        }
        if (!rec.method || !rec.path || (!req->overflow && !rec.body))
                goto fail;
        parse_body(&rec);

        pthread_mutex_lock(&r->lock);
        stopping = r->stopping;
        if (!stopping && decide(r, &rec, req->overflow, &a) == -1) {
                pthread_mutex_unlock(&r->lock);
                goto fail;
        }
        /* the rule's content type may be freed once we unlock */
        if (!stopping && strcmp(a.content_type, "application/json") != 0) {
                ct_copy = strdup(a.content_type);
                if (!ct_copy) {
                        pthread_mutex_unlock(&r->lock);
                        goto fail;
                }
                a.content_type = ct_copy;
        }
        rec.status = a.drop || stopping ? 0 : a.status;
        rec.rule   = a.rule;
        log        = r->log;
        if (log && !stopping)
                log_request(log, &rec, &a);
        if (!stopping)
                record(r, &rec);
        pthread_mutex_unlock(&r->lock);
        if (stopping)
                goto fail;

        if (a.delay_ms > 0 && wait_delay(r, a.delay_ms) == -1)
                goto fail;
        /* MHD_NO makes libmicrohttpd close the connection unanswered */
        if (!a.drop)
                ret = send_answer(conn, &a);
fail:
        br_received_free(&rec);
        free(a.body);
        free(a.retry_after);
        free(ct_copy);
        return ret;
}

static void append_body(struct request *req, const char *data, size_t size) {
        if (req->overflow)
                return;
        if (size > BR_RECEIVER_MAX_BODY - req->len) {
                /* keep reading so the 413 goes out on a sane connection */
                req->overflow = 1;
                free(req->buf);
                req->buf = NULL;
                req->len = req->cap = 0;
                return;
        }
        if (req->len + size + 1 > req->cap) {
                size_t cap = req->cap ? req->cap : 1024;
                char *n;

                while (cap < req->len + size + 1)
                        cap *= 2;
                n = realloc(req->buf, cap);
                if (!n) {
                        req->overflow = 1;
                        return;
                }
                req->buf = n;
                req->cap = cap;
        }
        memcpy(req->buf + req->len, data, size);
        req->len += size;
        req->buf[req->len] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        struct br_receiver *r = cls;
        struct request *req   = *con_cls;

        (void)version;
        if (!req) {
                /* first call: headers only; returning YES lets libmicrohttpd
                 * answer "Expect: 100-continue" */
                req = calloc(1, sizeof(*req));
                if (!req)
                        return MHD_NO;
                req->arrival_us = br_now_us();
                *con_cls        = req;
                return MHD_YES;
        }
        if (*upload_data_size) {
                append_body(req, upload_data, *upload_data_size);
                *upload_data_size = 0;
                return MHD_YES;
        }
        return finish_request(r, conn, url, method, req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        struct request *req = *con_cls;

        (void)cls;
        (void)conn;
        (void)toe;
        if (!req)
                return;
        free(req->buf);
        free(req);
        *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        struct br_receiver *r = cls;

        (void)conn;
        if (toe != MHD_CONNECTION_NOTIFY_STARTED)
                return;
        pthread_mutex_lock(&r->lock);
        r->connections++;
        *socket_context = (void *)(uintptr_t)++r->next_conn;
        pthread_mutex_unlock(&r->lock);
}

/* libmicrohttpd's own complaints: kept for errstr while starting, else
 * sent to the request log when there is one. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        struct br_receiver *r = cls;
        char line[256];

        vsnprintf(line, sizeof(line), fmt, ap);
        line[strcspn(line, "\n")] = '\0';
        pthread_mutex_lock(&r->lock);
        if (!r->daemon && !r->start_err[0])
                snprintf(r->start_err, sizeof(r->start_err), "%s", line);
        else if (r->log)
                fprintf(r->log, "receiver: %s\n", line);
        pthread_mutex_unlock(&r->lock);
}

static int init_sync(struct br_receiver *r) {
        pthread_condattr_t ca;
        int rc;

        if (pthread_mutex_init(&r->lock, NULL) != 0)
                return -1;
        r->lock_ok = 1;
        if (pthread_condattr_init(&ca) != 0)
                return -1;
        rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&r->changed, &ca) == 0;
        pthread_condattr_destroy(&ca);
        if (!rc)
                return -1;
        r->cond_ok = 1;
        return 0;
}

static int start_daemon(struct br_receiver *r, uint16_t port, char *errstr,
                        size_t errstr_size) {
        struct sockaddr_in sa;
        const union MHD_DaemonInfo *info;
        struct MHD_Daemon *d;

        memset(&sa, 0, sizeof(sa));
        sa.sin_family      = AF_INET;
        sa.sin_port        = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        /* HTTPS only when a certificate was given; libmicrohttpd keeps
         * pointing at the PEM text, which lives as long as r */
        struct MHD_OptionItem tls[] = {
            {MHD_OPTION_HTTPS_MEM_CERT, 0, r->tls_cert},
            {MHD_OPTION_HTTPS_MEM_KEY, 0, r->tls_key},
            {MHD_OPTION_END, 0, NULL}};
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                         MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                         MHD_USE_ERROR_LOG;

        if (r->tls_cert)
                flags |= MHD_USE_TLS;
        else
                tls[0].option = MHD_OPTION_END;
        d = MHD_start_daemon(
            flags, port, NULL, NULL, on_request, r, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
            r, MHD_OPTION_NOTIFY_CONNECTION, on_connection, r,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
            MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, r, MHD_OPTION_ARRAY, tls,
            MHD_OPTION_END);
        pthread_mutex_lock(&r->lock);
        r->daemon = d;
        pthread_mutex_unlock(&r->lock);
        if (!d) {
                snprintf(errstr, errstr_size,
                         "receiver: cannot listen on 127.0.0.1:%u: %s",
                         (unsigned)port,
                         r->start_err[0] ? r->start_err : "MHD_start_daemon");
                return -1;
        }
        info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        if (!info || !info->port) {
                snprintf(errstr, errstr_size,
                         "receiver: cannot learn the port it listens on");
                return -1;
        }
        r->port = info->port;
        return 0;
}

struct br_receiver *br_receiver_new(const char *path, uint16_t port,
                                    char *errstr, size_t errstr_size) {
        return br_receiver_new_tls(path, port, NULL, NULL, errstr, errstr_size);
}

struct br_receiver *br_receiver_new_tls(const char *path, uint16_t port,
                                        const char *cert_pem,
                                        const char *key_pem, char *errstr,
                                        size_t errstr_size) {
        struct br_receiver *r = calloc(1, sizeof(*r));

        if (!r) {
                snprintf(errstr, errstr_size, "receiver: out of memory");
                return NULL;
        }
        if (!cert_pem != !key_pem ||
            (cert_pem && (!(r->tls_cert = strdup(cert_pem)) ||
                          !(r->tls_key = strdup(key_pem))))) {
                snprintf(errstr, errstr_size,
                         "receiver: TLS needs both a certificate and a key");
                goto fail;
        }
        r->keep = BR_RECEIVER_DEFAULT_KEEP;
        if (getrandom(&r->cid_random, sizeof(r->cid_random), 0) !=
            (ssize_t)sizeof(r->cid_random))
                r->cid_random = (uint32_t)br_wallclock_us();
        r->path = strdup(path ? path : DEFAULT_PATH);
        if (!r->path || init_sync(r) == -1) {
                snprintf(errstr, errstr_size, "receiver: out of memory");
                goto fail;
        }
        if (r->path[0] != '/') {
                snprintf(errstr, errstr_size,
                         "receiver: path must start with '/', got \"%s\"",
                         r->path);
                goto fail;
        }
        if (start_daemon(r, port, errstr, errstr_size) == -1)
                goto fail;
        return r;
fail:
        br_receiver_destroy(r);
        return NULL;
}

void br_receiver_destroy(struct br_receiver *r) {
        size_t i;

        if (!r)
                return;
        if (r->lock_ok && r->cond_ok) {
                /* wake delayed replies first: stopping joins their threads */
                pthread_mutex_lock(&r->lock);
                r->stopping = 1;
                pthread_cond_broadcast(&r->changed);
                pthread_mutex_unlock(&r->lock);
        }
        if (r->daemon)
                MHD_stop_daemon(r->daemon);
        free(r->tls_cert);
        free(r->tls_key);
        for (i = 0; i < r->rule_cnt; i++)
                rule_free(&r->rules[i]);
        free(r->rules);
        for (i = 0; i < r->rec_cnt; i++)
                br_received_free(&r->recs[i]);
        free(r->recs);
        free(r->api_key);
        free(r->path);
        if (r->cond_ok)
                pthread_cond_destroy(&r->changed);
        if (r->lock_ok)
                pthread_mutex_destroy(&r->lock);
        free(r);
}

uint16_t br_receiver_port(const struct br_receiver *r) {
        return r->port;
}

void br_receiver_url(const struct br_receiver *r, char *buf, size_t size) {
        snprintf(buf, size, "%s://127.0.0.1:%u%s",
                 r->tls_cert ? "https" : "http", (unsigned)r->port, r->path);
}

int br_receiver_add_rule(struct br_receiver *r,
                         const struct br_receiver_rule *rule) {
        struct rule ru;
        int ret = -1;

        if (rule->count == 0 || rule->count < -1 || rule->delay_ms < 0 ||
            (rule->status != 0 && (rule->status < 100 || rule->status > 599)))
                return -1;
        memset(&ru, 0, sizeof(ru));
        ru.left     = rule->count;
        ru.status   = rule->status ? rule->status : 200;
        ru.delay_ms = rule->delay_ms;
        ru.drop     = rule->drop != 0;
        if (dup_field(&ru.storage_client_id, rule->storage_client_id) ||
            dup_field(&ru.key_contains, rule->key_contains) ||
            dup_field(&ru.body, rule->body) ||
            dup_field(&ru.content_type, rule->content_type) ||
            dup_field(&ru.retry_after, rule->retry_after))
                goto done;
        pthread_mutex_lock(&r->lock);
        if (r->rule_cnt == r->rule_cap) {
                size_t cap     = r->rule_cap ? r->rule_cap * 2 : 8;
                struct rule *n = realloc(r->rules, cap * sizeof(*n));

                if (!n) {
                        pthread_mutex_unlock(&r->lock);
                        goto done;
                }
                r->rules    = n;
                r->rule_cap = cap;
        }
        ru.index                = r->next_rule_index++;
        r->rules[r->rule_cnt++] = ru;
        memset(&ru, 0, sizeof(ru));
        pthread_mutex_unlock(&r->lock);
        ret = 0;
done:
        rule_free(&ru);
        return ret;
}

void br_receiver_clear_rules(struct br_receiver *r) {
        size_t i;

        pthread_mutex_lock(&r->lock);
        for (i = 0; i < r->rule_cnt; i++)
                rule_free(&r->rules[i]);
        r->rule_cnt        = 0;
        r->next_rule_index = 0;
        pthread_mutex_unlock(&r->lock);
}

void br_receiver_set_api_key(struct br_receiver *r, const char *key) {
        char *copy = dup_or_null(key);

        pthread_mutex_lock(&r->lock);
        free(r->api_key);
        r->api_key = copy;
        pthread_mutex_unlock(&r->lock);
}

void br_receiver_set_log(struct br_receiver *r, FILE *out) {
        pthread_mutex_lock(&r->lock);
        r->log = out;
        pthread_mutex_unlock(&r->lock);
}

void br_receiver_set_keep(struct br_receiver *r, size_t max) {
        pthread_mutex_lock(&r->lock);
        r->keep = max;
        pthread_mutex_unlock(&r->lock);
}

size_t br_receiver_count(struct br_receiver *r) {
        size_t n;

        pthread_mutex_lock(&r->lock);
        n = r->seen;
        pthread_mutex_unlock(&r->lock);
        return n;
}

size_t br_receiver_count_status(struct br_receiver *r, int status) {
        size_t n = 0;
        int i;

        pthread_mutex_lock(&r->lock);
        if (status == 0 || (status >= 100 && status < MAX_STATUS))
                n = r->by_status[status];
        else if (status >= 1 && status <= 5)
                for (i = status * 100; i < status * 100 + 100; i++)
                        n += r->by_status[i];
        pthread_mutex_unlock(&r->lock);
        return n;
}

size_t br_receiver_connections(struct br_receiver *r) {
        size_t n;

        pthread_mutex_lock(&r->lock);
        n = r->connections;
        pthread_mutex_unlock(&r->lock);
        return n;
}

int br_receiver_wait(struct br_receiver *r, size_t n, int timeout_ms) {
        int64_t until = br_now_us() + (int64_t)timeout_ms * 1000;
        int ok;

        pthread_mutex_lock(&r->lock);
        while (r->seen < n && !r->stopping && br_now_us() < until) {
                struct timespec ts = deadline_ts(until, 0);

                pthread_cond_timedwait(&r->changed, &r->lock, &ts);
        }
        ok = r->seen >= n;
        pthread_mutex_unlock(&r->lock);
        return ok ? 0 : -1;
}

int br_receiver_get(struct br_receiver *r, size_t i, struct br_received *out) {
        const struct br_received *src;
        int ret = -1;

        memset(out, 0, sizeof(*out));
        pthread_mutex_lock(&r->lock);
        if (i >= r->rec_cnt)
                goto done;
        src         = &r->recs[i];
        *out        = *src;
        out->method = out->path = out->body = out->api_key = NULL;
        out->content_type = out->storage_client_id = out->key = NULL;
        out->scan_id = out->correlation_id = NULL;
        if (dup_field(&out->method, src->method) ||
            dup_field(&out->path, src->path) ||
            dup_field(&out->api_key, src->api_key) ||
            dup_field(&out->content_type, src->content_type) ||
            dup_field(&out->storage_client_id, src->storage_client_id) ||
            dup_field(&out->key, src->key) ||
            dup_field(&out->scan_id, src->scan_id) ||
            dup_field(&out->correlation_id, src->correlation_id))
                goto done;
        if (src->body) {
                /* bodies may hold NUL bytes: copy by length */
                out->body = malloc(src->body_len + 1);
                if (!out->body)
                        goto done;
                memcpy(out->body, src->body, src->body_len + 1);
        }
        ret = 0;
done:
        pthread_mutex_unlock(&r->lock);
        if (ret == -1)
                br_received_free(out);
        return ret;
}

void br_receiver_reset(struct br_receiver *r) {
        size_t i;

        pthread_mutex_lock(&r->lock);
        for (i = 0; i < r->rec_cnt; i++)
                br_received_free(&r->recs[i]);
        r->rec_cnt = 0;
        r->seen    = 0;
        memset(r->by_status, 0, sizeof(r->by_status));
        r->connections = 0;
        pthread_mutex_unlock(&r->lock);
}
