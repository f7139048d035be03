/* HTTP side: one CURLM, pooled easy handles (keep-alive), units and
 * endpoints, the retry heap and the dead-letter hand-off (STYLE.md 5).
 * classify.c decides what an answer means, retry.c when to try again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "bridge/classify.h"
#include "bridge/ctx.h"
#include "bridge/dlq.h"
#include "bridge/util.h"

/* What a dead-letter entry keeps of a response. */
#define RESPONSE_KEEP 4096

static void event_done(struct br_ctx *ctx, struct br_event *ev);

void br_event_free(struct br_event *ev) {
        if (!ev)
                return;
        free(ev->body);
        free(ev->bucket);
        free(ev->key);
        free(ev->reason);
        free(ev->response);
        free(ev);
}

/* ---- endpoints and units ---------------------------------------------- */

static struct br_endpoint *endpoint_get(struct br_ctx *ctx, const char *url,
                                        const char *api_key) {
        struct br_endpoint *ep;
        struct curl_slist *h = NULL, *tmp;
        char *line;
        size_t len;

        for (ep = ctx->endpoints; ep; ep = ep->next) {
                /* the api key lives only in the header list */
                const char *have = ep->headers->data + strlen("ApiKey: ");

                if (!strcmp(ep->url, url) && !strcmp(have, api_key))
                        return ep;
        }
        ep = calloc(1, sizeof(*ep));
        if (!ep)
                return NULL;
        len  = strlen("ApiKey: ") + strlen(api_key) + 1;
        line = malloc(len);
        if (!line)
                goto fail;
        snprintf(line, len, "ApiKey: %s", api_key);
        h = curl_slist_append(NULL, line);
        free(line);
        if (!h)
                goto fail;
        if (!(tmp = curl_slist_append(h, "Content-Type: application/json")))
                goto fail;
        /* no "Expect: 100-continue" round trip for small bodies */
        if (!(tmp = curl_slist_append(h, "Expect:")))
                goto fail;
        ep->headers = h;
        ep->url     = strdup(url);
        if (!ep->url)
                goto fail;
        br_circuit_init(&ep->circuit);
        ep->next       = ctx->endpoints;
        ctx->endpoints = ep;
        return ep;
fail:
        curl_slist_free_all(h);
        free(ep);
        return NULL;
}

static struct br_unit *unit_get(struct br_ctx *ctx, struct br_endpoint *ep,
                                const char *storage_client_id) {
        struct br_unit *u;

        for (u = ctx->units; u; u = u->next)
                if (u->ep == ep &&
                    !strcmp(u->storage_client_id, storage_client_id))
                        return u;
        u = calloc(1, sizeof(*u));
        if (!u)
                return NULL;
        u->storage_client_id = strdup(storage_client_id);
        if (!u->storage_client_id) {
                free(u);
                return NULL;
        }
        u->ep      = ep;
        u->next    = ctx->units;
        ctx->units = u;
        return u;
}

struct br_unit *br_delivery_unit(struct br_ctx *ctx,
                                 const struct br_route *route) {
        const struct br_conf *conf = ctx->conf;
        struct br_endpoint *ep     = endpoint_get(
                ctx, route->webhook_url ? route->webhook_url : conf->webhook.url,
            route->api_key ? route->api_key : conf->webhook.api_key);

        return ep ? unit_get(ctx, ep, route->storage_client_id) : NULL;
}

static void unit_push(struct br_unit *u, struct br_event *ev, int front) {
        ev->state = BR_EV_QUEUED;
        if (front) {
                ev->next      = u->queue_head;
                u->queue_head = ev;
                if (!u->queue_tail)
                        u->queue_tail = ev;
        } else {
                ev->next = NULL;
                if (u->queue_tail)
                        u->queue_tail->next = ev;
                else
                        u->queue_head = ev;
                u->queue_tail = ev;
        }
        u->queued++;
}

static struct br_event *unit_pop(struct br_unit *u) {
        struct br_event *ev = u->queue_head;

        if (!ev)
                return NULL;
        u->queue_head = ev->next;
        if (!u->queue_head)
                u->queue_tail = NULL;
        ev->next = NULL;
        u->queued--;
        return ev;
}

/* ---- retry heap (min-heap on due_us) ---------------------------------- */

static void heap_swap(struct br_ctx *ctx, size_t a, size_t b) {
        struct br_event *t = ctx->retry_heap[a];

        ctx->retry_heap[a]             = ctx->retry_heap[b];
        ctx->retry_heap[b]             = t;
        ctx->retry_heap[a]->heap_index = a;
        ctx->retry_heap[b]->heap_index = b;
}

static int heap_push(struct br_ctx *ctx, struct br_event *ev) {
        size_t i;

        if (ctx->retry_cnt == ctx->retry_cap) {
                size_t cap = ctx->retry_cap ? ctx->retry_cap * 2 : 64;
                struct br_event **h =
                    realloc(ctx->retry_heap, cap * sizeof(*h));

                if (!h)
                        return -1;
                ctx->retry_heap = h;
                ctx->retry_cap  = cap;
        }
        i                  = ctx->retry_cnt++;
        ctx->retry_heap[i] = ev;
        ev->heap_index     = i;
        while (i > 0 && ctx->retry_heap[(i - 1) / 2]->due_us >
                            ctx->retry_heap[i]->due_us) {
                heap_swap(ctx, i, (i - 1) / 2);
                i = (i - 1) / 2;
        }
        return 0;
}

static struct br_event *heap_pop(struct br_ctx *ctx) {
        struct br_event *top = ctx->retry_heap[0];
        size_t i             = 0;

        ctx->retry_heap[0]             = ctx->retry_heap[--ctx->retry_cnt];
        ctx->retry_heap[0]->heap_index = 0;
        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i;

                if (l < ctx->retry_cnt &&
                    ctx->retry_heap[l]->due_us < ctx->retry_heap[m]->due_us)
                        m = l;
                if (r < ctx->retry_cnt &&
                    ctx->retry_heap[r]->due_us < ctx->retry_heap[m]->due_us)
                        m = r;
                if (m == i)
                        break;
                heap_swap(ctx, i, m);
                i = m;
        }
        return top;
}

static void wait_until(struct br_ctx *ctx, struct br_event *ev, int64_t due) {
        enum br_event_state keep = ev->state;

        ev->due_us = due;
        if (heap_push(ctx, ev) == -1) {
                /* no memory for the heap: stop; the offset stays open */
                br_log(&ctx->log, BR_LOG_ERROR, "msg=\"out of memory\"");
                ctx->exit_code = 1;
                ctx->stop_now  = 1;
                br_loop_stop(ctx);
                return;
        }
        /* a record waiting to be re-sent to the dead-letter sink stays
         * marked as such: retry_fire tells the two apart */
        ev->state = keep == BR_EV_DLQ ? BR_EV_DLQ : BR_EV_WAITING;
}

void br_retry_fire(struct br_ctx *ctx) {
        int64_t now = br_now_us();

        while (ctx->retry_cnt && ctx->retry_heap[0]->due_us <= now) {
                struct br_event *ev = heap_pop(ctx);

                if (ev->state == BR_EV_DLQ)
                        br_dead_letter(ctx, ev);
                else
                        unit_push(ev->unit, ev, 0);
        }
}

int64_t br_delivery_next_due(struct br_ctx *ctx, int64_t now_us,
                             int64_t cap_us) {
        int64_t wait = cap_us;
        struct br_unit *u;

        if (ctx->retry_cnt && ctx->retry_heap[0]->due_us - now_us < wait)
                wait = ctx->retry_heap[0]->due_us - now_us;
        for (u = ctx->units; u; u = u->next) {
                int64_t next = -1;

                if (!u->queued)
                        continue;
                if (u->in_outage && !u->probe_in_flight)
                        next = u->next_probe_us;
                else if (!u->in_outage)
                        next = br_circuit_next_us(&u->ep->circuit);
                if (next >= 0 && next - now_us < wait)
                        wait = next - now_us;
        }
        return wait < 0 ? 0 : wait;
}

/* ---- transfers -------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *opaque) {
        struct br_xfer *x = opaque;
        size_t len        = size * nmemb;
        size_t room       = x->resp_cap - x->resp_len;

        /* keep what fits: a classification needs only the start */
        if (len > room)
                len = room;
        memcpy(x->resp + x->resp_len, data, len);
        x->resp_len += len;
        return size * nmemb;
}

static struct br_xfer *xfer_get(struct br_ctx *ctx) {
        struct br_xfer *x = ctx->xfer_free;

        if (x) {
                ctx->xfer_free = x->next_free;
                return x;
        }
        x = calloc(1, sizeof(*x));
        if (!x)
                return NULL;
        x->resp_cap = (size_t)ctx->conf->webhook.max_response_bytes;
        x->resp     = malloc(x->resp_cap ? x->resp_cap : 1);
        x->easy     = curl_easy_init();
        if (!x->resp || !x->easy) {
                free(x->resp);
                if (x->easy)
                        curl_easy_cleanup(x->easy);
                free(x);
                return NULL;
        }
        /* what never changes is set once: the handle is reused, and
         * its connection with it */
        curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS,
                         (long)ctx->conf->webhook.timeout_ms);
        curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)ctx->conf->webhook.connect_timeout_ms);
        curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(x->easy, CURLOPT_PIPEWAIT, 1L);
        curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
        curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
        curl_easy_setopt(x->easy, CURLOPT_USERAGENT,
                         "bucketbridge/" BR_VERSION);
        if (ctx->conf->webhook.ca_file)
                curl_easy_setopt(x->easy, CURLOPT_CAINFO,
                                 ctx->conf->webhook.ca_file);
        if (!ctx->conf->webhook.tls_verify) {
                curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        x->next_all   = ctx->xfer_all;
        ctx->xfer_all = x;
        return x;
}

static void xfer_put(struct br_ctx *ctx, struct br_xfer *x) {
        x->ev          = NULL;
        x->next_free   = ctx->xfer_free;
        ctx->xfer_free = x;
}

static int start_transfer(struct br_ctx *ctx, struct br_event *ev) {
        struct br_xfer *x      = xfer_get(ctx);
        struct br_endpoint *ep = ev->unit->ep;
        int64_t wall;

        if (!x)
                return -1;
        x->ev        = ev;
        x->resp_len  = 0;
        x->errbuf[0] = '\0';
        /* a pooled handle may last have served another endpoint */
        if (x->ep != ep) {
                curl_easy_setopt(x->easy, CURLOPT_URL, ep->url);
                curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, ep->headers);
                x->ep = ep;
        }
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, ev->body);
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)ev->body_len);
        if (curl_multi_add_handle(ctx->multi, x->easy) != CURLM_OK) {
                xfer_put(ctx, x);
                return -1;
        }
        ev->xfer  = x;
        ev->state = BR_EV_IN_FLIGHT;
        wall      = br_wallclock_us();
        if (ev->attempts++ == 0) {
                ev->first_attempt_us      = br_now_us();
                ev->first_attempt_wall_us = wall;
        }
        ev->last_attempt_wall_us = wall;
        ep->in_flight++;
        ctx->in_flight++;
        return 0;
}

/* Starts u's next record if its unit and endpoint allow it now.
 * 1 started, 0 not allowed, -1 no resources (try again next turn). */
static int dispatch_one(struct br_ctx *ctx, struct br_unit *u, int64_t now) {
        struct br_event *ev;
        int probe = 0;

        if (u->in_outage) {
                /* one probe at a time, spaced out */
                if (u->probe_in_flight || now < u->next_probe_us)
                        return 0;
                probe = 1;
        } else if (!br_circuit_allow(&u->ep->circuit, now)) {
                return 0;
        }
        ev = unit_pop(u);
        if (start_transfer(ctx, ev) == -1) {
                unit_push(u, ev, 1);
                /* no verdict: let the next turn probe */
                if (!probe)
                        br_circuit_release(&u->ep->circuit);
                return -1;
        }
        ev->is_probe       = probe;
        u->probe_in_flight = probe;
        return 1;
}

void br_delivery_dispatch(struct br_ctx *ctx) {
        size_t cap   = (size_t)ctx->conf->webhook.max_in_flight;
        int64_t now  = br_now_us();
        int progress = 1;

        if (ctx->stop_now)
                return;
        /* one record per unit per pass: a unit with a long queue does not
         * take every slot from the others */
        while (progress && ctx->in_flight < cap) {
                struct br_unit *u;

                progress = 0;
                for (u = ctx->units; u && ctx->in_flight < cap; u = u->next) {
                        int r;

                        if (!u->queued)
                                continue;
                        r = dispatch_one(ctx, u, now);
                        if (r == -1)
                                return;
                        progress |= r;
                }
        }
}

void br_delivery_submit(struct br_ctx *ctx, struct br_event *ev) {
        if (!ev->unit) {
                br_log(&ctx->log, BR_LOG_ERROR, "msg=\"out of memory\"");
                ctx->exit_code = 1;
                ctx->stop_now  = 1;
                br_loop_stop(ctx);
                br_event_free(ev);
                return;
        }
        unit_push(ev->unit, ev, 0);
}

static void keep_response(struct br_event *ev, const struct br_xfer *x,
                          long status) {
        size_t len = x->resp_len < RESPONSE_KEEP ? x->resp_len : RESPONSE_KEEP;

        free(ev->response);
        ev->response     = NULL;
        ev->response_len = 0;
        ev->http_status  = status;
        if (!len)
                return;
        ev->response = malloc(len);
        if (ev->response) {
                memcpy(ev->response, x->resp, len);
                ev->response_len = len;
        }
}

static void set_reason(struct br_event *ev, const char *prefix,
                       const char *text) {
        size_t len = strlen(prefix) + strlen(text) + 1;
        char *r    = malloc(len);

        if (!r)
                return;
        snprintf(r, len, "%s%s", prefix, text);
        free(ev->reason);
        ev->reason = r;
}

static void unit_outage(struct br_ctx *ctx, struct br_unit *u,
                        const char *reason, int64_t now) {
        char safe[512];

        u->next_probe_us = now + ctx->conf->retry.max_backoff_ms * 1000;
        if (u->in_outage)
                return;
        u->in_outage = 1;
        free(u->outage_reason);
        u->outage_reason = strdup(reason);
        /* once per state change: records are held, not dead-lettered */
        br_log(&ctx->log, BR_LOG_ERROR,
               "msg=\"storage unit outage, holding its records\" "
               "storage_client_id=%s reason=\"%s\"",
               u->storage_client_id, br_log_escape(safe, sizeof(safe), reason));
}

static void unit_recovered(struct br_ctx *ctx, struct br_unit *u) {
        if (!u->in_outage)
                return;
        u->in_outage = 0;
        br_log(&ctx->log, BR_LOG_INFO,
               "msg=\"storage unit recovered\" storage_client_id=%s",
               u->storage_client_id);
}

/* The endpoint's URL for logs, without any user:password@ part. */
static const char *url_for_log(const char *url, char *buf, size_t size) {
        const char *scheme = strstr(url, "://");
        const char *host   = scheme ? scheme + 3 : url;
        const char *at     = strchr(host, '@');
        const char *slash  = strchr(host, '/');

        if (at && (!slash || at < slash))
                snprintf(buf, size, "%.*s***@%s", (int)(host - url), url,
                         at + 1);
        else
                snprintf(buf, size, "%s", url);
        return buf;
}

/* Once per state change, never per request. */
static void endpoint_log(struct br_ctx *ctx, const struct br_endpoint *ep,
                         enum br_log_level level, const char *what,
                         const char *reason) {
        char url[512], why[512];

        br_log(&ctx->log, level, "msg=\"%s\" endpoint=%s reason=\"%s\"", what,
               url_for_log(ep->url, url, sizeof(url)),
               br_log_escape(why, sizeof(why), reason));
}

static void endpoint_ok(struct br_ctx *ctx, struct br_endpoint *ep) {
        if (br_circuit_success(&ep->circuit))
                endpoint_log(ctx, ep, BR_LOG_INFO, "webhook endpoint recovered",
                             "answered");
}

static void finish_transfer(struct br_ctx *ctx, struct br_xfer *x,
                            CURLcode code) {
        struct br_event *ev = x->ev;
        struct br_unit *u   = ev->unit;
        struct br_http_result res;
        struct br_classified out;
        curl_off_t retry_after = -1;
        int64_t now            = br_now_us();
        int64_t due;
        long status   = 0;
        int was_probe = ev->is_probe;
        char key[BR_LOG_KEY_MAX], bucket[256];

        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after) !=
            CURLE_OK)
                retry_after = -1;
        memset(&res, 0, sizeof(res));
        res.transport_error = code == CURLE_OK ? 0 : (int)code;
        res.transport_msg = x->errbuf[0] ? x->errbuf : curl_easy_strerror(code);
        res.status        = code == CURLE_OK ? status : 0;
        res.body          = x->resp;
        res.body_len      = x->resp_len;
        res.retry_after_s =
            code == CURLE_OK && retry_after > 0 ? (long)retry_after : -1;
        br_classify(&res, &out);

        keep_response(ev, x, res.status);
        curl_multi_remove_handle(ctx->multi, x->easy);
        ev->xfer = NULL;
        xfer_put(ctx, x);
        u->ep->in_flight--;
        ctx->in_flight--;
        ev->is_probe = 0;
        if (was_probe)
                u->probe_in_flight = 0;

        switch (out.outcome) {
        case BR_OUTCOME_DELIVERED:
                endpoint_ok(ctx, u->ep);
                unit_recovered(ctx, u);
                ctx->stats.delivered++;
                br_log(&ctx->log, BR_LOG_DEBUG,
                       "msg=\"delivered\" topic=%s partition=%d offset=%lld "
                       "record=%d bucket=\"%s\" key=\"%s\" correlation_id=%s "
                       "attempts=%d",
                       ev->msg->part->topic, (int)ev->msg->part->partition,
                       (long long)ev->msg->offset, ev->record,
                       br_log_escape(bucket, sizeof(bucket), ev->bucket),
                       br_log_escape(key, sizeof(key), ev->key),
                       out.correlation_id, ev->attempts);
                event_done(ctx, ev);
                return;
        case BR_OUTCOME_OUTAGE:
                /* the endpoint answered: it is the unit's setup that is
                 * wrong.  The attempt does not count against the record. */
                endpoint_ok(ctx, u->ep);
                ev->attempts--;
                unit_outage(ctx, u, out.reason, now);
                unit_push(u, ev, 1);
                return;
        case BR_OUTCOME_PERMANENT:
                endpoint_ok(ctx, u->ep);
                unit_recovered(ctx, u);
                ev->cls = BR_DLQ_REJECTED;
                set_reason(ev, "", out.reason);
                br_dead_letter(ctx, ev);
                return;
        case BR_OUTCOME_RETRY:
                break;
        }
        if (br_circuit_failure(&u->ep->circuit, &ctx->retry_policy, &ctx->rng,
                               ctx->conf->retry.circuit_failures, now,
                               out.retry_after_s))
                endpoint_log(ctx, u->ep, BR_LOG_WARN,
                             "webhook endpoint failing, backing off",
                             out.reason);
        if (was_probe)
                u->next_probe_us = now + ctx->conf->retry.max_backoff_ms * 1000;
        if (!br_retry_next(&ctx->retry_policy, &ctx->rng, ev->attempts,
                           ev->first_attempt_us, now, out.retry_after_s,
                           &due)) {
                ev->cls = BR_DLQ_EXHAUSTED;
                set_reason(ev, "retries exhausted: ", out.reason);
                br_dead_letter(ctx, ev);
                return;
        }
        ctx->stats.retries++;
        free(ev->reason);
        ev->reason = strdup(out.reason);
        br_log(&ctx->log, BR_LOG_DEBUG,
               "msg=\"retry\" topic=%s partition=%d offset=%lld record=%d "
               "attempts=%d in_ms=%lld reason=\"%s\"",
               ev->msg->part->topic, (int)ev->msg->part->partition,
               (long long)ev->msg->offset, ev->record, ev->attempts,
               (long long)((due - now) / 1000),
               br_log_escape(key, sizeof(key), out.reason));
        wait_until(ctx, ev, due);
}

void br_delivery_collect(struct br_ctx *ctx) {
        CURLMsg *m;
        int left;

        /* the transfers themselves advanced in the loop's wait, through
         * curl_multi_socket_action on the sockets that had work */
        while ((m = curl_multi_info_read(ctx->multi, &left))) {
                struct br_xfer *x = NULL;

                if (m->msg != CURLMSG_DONE)
                        continue;
                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &x);
                finish_transfer(ctx, x, m->data.result);
        }
}

/* ---- finishing records ------------------------------------------------ */

static void event_done(struct br_ctx *ctx, struct br_event *ev) {
        struct br_msg *msg = ev->msg;

        ctx->open_records--;
        br_event_free(ev);
        br_msg_record_done(ctx, msg);
}

static void log_dead_letter(struct br_ctx *ctx, const struct br_event *ev,
                            enum br_log_level level, const char *what) {
        char key[BR_LOG_KEY_MAX], bucket[256], reason[1024];

        br_log(&ctx->log, level,
               "msg=\"%s\" topic=%s partition=%d offset=%lld record=%d "
               "class=%s bucket=\"%s\" key=\"%s\" http_status=%ld "
               "attempts=%d reason=\"%s\"",
               what, ev->msg->part->topic, (int)ev->msg->part->partition,
               (long long)ev->msg->offset, ev->record,
               br_dlq_class_name(ev->cls),
               br_log_escape(bucket, sizeof(bucket), ev->bucket),
               br_log_escape(key, sizeof(key), ev->key), ev->http_status,
               ev->attempts, br_log_escape(reason, sizeof(reason), ev->reason));
}

static void dlq_done(void *cb_opaque, void *entry_opaque, int ok,
                     const char *err) {
        struct br_ctx *ctx  = cb_opaque;
        struct br_event *ev = entry_opaque;
        int64_t due;

        if (ok) {
                if (ctx->dlq_failing) {
                        ctx->dlq_failing = 0;
                        br_log(&ctx->log, BR_LOG_INFO,
                               "msg=\"dead-letter sink recovered\"");
                }
                ctx->stats.dead_lettered++;
                event_done(ctx, ev);
                return;
        }
        /* the sink refused it: the record stays open and we try again;
         * its offset is not stored meanwhile.  Logged once per outage of
         * the sink, at debug for each record. */
        if (!ctx->dlq_failing) {
                char why[512];

                ctx->dlq_failing = 1;
                br_log(&ctx->log, BR_LOG_ERROR,
                       "msg=\"dead-letter writes failing, records held and "
                       "retried\" error=\"%s\"",
                       br_log_escape(why, sizeof(why), err));
        }
        br_log(&ctx->log, BR_LOG_DEBUG,
               "msg=\"dead-letter write failed, will retry\" topic=%s "
               "partition=%d offset=%lld error=\"%s\"",
               ev->msg->part->topic, (int)ev->msg->part->partition,
               (long long)ev->msg->offset, err ? err : "-");
        due = br_now_us() + ctx->conf->retry.max_backoff_ms * 1000;
        wait_until(ctx, ev, due);
}

void br_dead_letter(struct br_ctx *ctx, struct br_event *ev) {
        struct br_dlq_entry e;
        char errstr[256];

        ev->state = BR_EV_DLQ;
        if (!ctx->dlq) {
                /* dead_letter.none: the operator chose logs only */
                log_dead_letter(ctx, ev, BR_LOG_ERROR, "rejected");
                ctx->stats.dead_lettered++;
                event_done(ctx, ev);
                return;
        }
        log_dead_letter(ctx, ev, BR_LOG_WARN, "dead-lettering");
        memset(&e, 0, sizeof(e));
        e.key       = ev->msg->key;
        e.key_len   = ev->msg->key_len;
        e.value     = ev->msg->value;
        e.value_len = ev->msg->value_len;
        /* a message over the input limit would not fit the sink either and
         * would block its partition for good: keep its head; the whole
         * message stays in the source topic */
        if (e.value_len > (size_t)ctx->conf->limits.max_message_bytes)
                e.value_len = (size_t)ctx->conf->limits.max_message_bytes;
        e.reason                = ev->reason ? ev->reason : "";
        e.cls                   = ev->cls;
        e.topic                 = ev->msg->part->topic;
        e.partition             = ev->msg->part->partition;
        e.offset                = ev->msg->offset;
        e.record                = ev->record;
        e.http_status           = ev->http_status;
        e.response              = ev->response;
        e.response_len          = ev->response_len;
        e.request               = ev->body;
        e.request_len           = ev->body_len;
        e.attempts              = ev->attempts;
        e.first_attempt_wall_us = ev->first_attempt_wall_us;
        e.last_attempt_wall_us  = ev->last_attempt_wall_us;
        if (br_dlq_submit(ctx->dlq, &e, ev, errstr, sizeof(errstr)) == -1)
                dlq_done(ctx, ev, 0, errstr);
}

void br_dlq_serve_ctx(struct br_ctx *ctx) {
        if (!ctx->dlq)
                return;
        br_dlq_serve(ctx->dlq, dlq_done, ctx);
        if (br_dlq_fatal(ctx->dlq) && !ctx->fatal) {
                br_log(&ctx->log, BR_LOG_ERROR,
                       "msg=\"dead-letter producer failed fatally, "
                       "stopping\"");
                ctx->fatal     = 1;
                ctx->exit_code = 1;
                br_loop_stop(ctx);
        }
}

/* ---- lifecycle -------------------------------------------------------- */

/* curl tells us which of its sockets to watch for what. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp,
                     void *socketp) {
        struct br_ctx *ctx = userp;
        struct epoll_event ev;

        (void)easy;
        if (what == CURL_POLL_REMOVE) {
                /* curl may have closed it already: nothing to undo then */
                epoll_ctl(ctx->epoll_fd, EPOLL_CTL_DEL, s, NULL);
                return 0;
        }
        memset(&ev, 0, sizeof(ev));
        ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) |
                    (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
        ev.data.fd = s;
        if (socketp) {
                if (epoll_ctl(ctx->epoll_fd, EPOLL_CTL_MOD, s, &ev) == 0)
                        return 0;
        }
        if (epoll_ctl(ctx->epoll_fd, EPOLL_CTL_ADD, s, &ev) == -1 &&
            (errno != EEXIST ||
             epoll_ctl(ctx->epoll_fd, EPOLL_CTL_MOD, s, &ev) == -1))
                return -1;
        curl_multi_assign(ctx->multi, s, ctx);
        return 0;
}

/* curl's one timer: when it wants socket_action(CURL_SOCKET_TIMEOUT). */
static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
        struct br_ctx *ctx = userp;

        (void)multi;
        ctx->curl_due_us =
            timeout_ms < 0 ? -1 : br_now_us() + (int64_t)timeout_ms * 1000;
        return 0;
}

int br_delivery_start(struct br_ctx *ctx, char *errstr, size_t errstr_size) {
        const struct br_conf *conf = ctx->conf;
        size_t i;

        ctx->curl_due_us = -1;
        ctx->multi       = curl_multi_init();
        if (!ctx->multi) {
                snprintf(errstr, errstr_size, "curl_multi_init failed");
                return -1;
        }
        curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETDATA, ctx);
        curl_multi_setopt(ctx->multi, CURLMOPT_TIMERFUNCTION, on_timer);
        curl_multi_setopt(ctx->multi, CURLMOPT_TIMERDATA, ctx);
        curl_multi_setopt(ctx->multi, CURLMOPT_PIPELINING,
                          (long)CURLPIPE_MULTIPLEX);
        curl_multi_setopt(ctx->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                          (long)conf->webhook.max_in_flight);
        curl_multi_setopt(ctx->multi, CURLMOPT_MAXCONNECTS,
                          (long)conf->webhook.max_in_flight);
        br_retry_policy_from_conf(&ctx->retry_policy, conf);
        if (!conf->webhook.tls_verify)
                br_log(&ctx->log, BR_LOG_WARN,
                       "msg=\"webhook.tls_verify is false: TLS certificates "
                       "are not checked\"");
        /* every route's unit exists from the start: no allocation, no
         * failure on the hot path */
        for (i = 0; i < conf->route_cnt; i++)
                if (!br_delivery_unit(ctx, &conf->routes[i])) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
        return 0;
}

/* Teardown with a record unfinished: its offset was never stored, so
 * Kafka hands it out again; its message goes with its last record, never
 * marked done. */
void br_event_abandon(struct br_event *ev) {
        struct br_msg *msg = ev->msg;

        br_event_free(ev);
        if (msg && --msg->open == 0) {
                free(msg->key);
                free(msg->value);
                free(msg);
        }
}

void br_delivery_stop(struct br_ctx *ctx) {
        struct br_endpoint *ep, *ep_next;
        struct br_unit *u, *u_next;
        struct br_xfer *x, *x_next;
        size_t i;

        /* records still here are unfinished: their offsets were never
         * stored, so Kafka hands them out again */
        for (u = ctx->units; u; u = u->next) {
                struct br_event *ev;

                while ((ev = unit_pop(u)))
                        br_event_abandon(ev);
        }
        for (i = 0; i < ctx->retry_cnt; i++)
                br_event_abandon(ctx->retry_heap[i]);
        ctx->retry_cnt = 0;
        free(ctx->retry_heap);
        ctx->retry_heap = NULL;
        for (x = ctx->xfer_all; x; x = x_next) {
                x_next = x->next_all;
                if (x->ev) {
                        curl_multi_remove_handle(ctx->multi, x->easy);
                        br_event_abandon(x->ev);
                }
                curl_easy_cleanup(x->easy);
                free(x->resp);
                free(x);
        }
        ctx->xfer_all  = NULL;
        ctx->xfer_free = NULL;
        if (ctx->multi)
                curl_multi_cleanup(ctx->multi);
        ctx->multi = NULL;
        for (u = ctx->units; u; u = u_next) {
                u_next = u->next;
                free(u->storage_client_id);
                free(u->outage_reason);
                free(u);
        }
        ctx->units = NULL;
        for (ep = ctx->endpoints; ep; ep = ep_next) {
                ep_next = ep->next;
                curl_slist_free_all(ep->headers);
                free(ep->url);
                free(ep);
        }
        ctx->endpoints = NULL;
}

void br_dlq_abandoned(void *cb_opaque, void *entry_opaque) {
        (void)cb_opaque;
        br_event_abandon(entry_opaque);
}
