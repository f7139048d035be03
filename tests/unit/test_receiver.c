/* The MDSS stand-in, driven over real HTTP with libcurl. */
#include <ctype.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "bridge/receiver.h"
#include "bridge/util.h"

#define BODY_A                                                                 \
        "{\"storageClientId\":\"sc-1\",\"metadata\":"                          \
        "\"{\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":\\\"a/b.pdf\\\"}}}\"}"
#define BODY_B                                                                 \
        "{\"storageClientId\":\"sc-2\",\"metadata\":"                          \
        "\"{\\\"s3\\\":{\\\"object\\\":{\\\"key\\\":\\\"slow/c.pdf\\\"}}}\"}"
#define BODY_OSS                                                               \
        "{\"storageClientId\":\"sc-3\",\"scanId\":\"scan-9\",\"metadata\":"    \
        "\"{\\\"oss\\\":{\\\"object\\\":{\\\"key\\\":\\\"x/y.txt\\\"}}}\"}"

struct reply {
        CURLcode rc;
        long status;
        char body[4096];
        size_t len;
        char retry_after[128];
        char content_type[128];
        long connects;
        int64_t elapsed_us;
};

struct fx {
        struct br_receiver *r;
        char url[128];
};

static size_t on_body(char *data, size_t size, size_t n, void *arg) {
        struct reply *rep = arg;
        size_t len        = size * n;
        size_t room       = sizeof(rep->body) - 1 - rep->len;

        memcpy(rep->body + rep->len, data, len < room ? len : room);
        rep->len += len < room ? len : room;
        rep->body[rep->len] = '\0';
        return len;
}

static void header_value(const char *line, size_t len, const char *name,
                         char *out, size_t size) {
        size_t nlen = strlen(name);
        size_t vlen;

        if (len <= nlen || strncasecmp(line, name, nlen) != 0 ||
            line[nlen] != ':')
                return;
        line += nlen + 1;
        len -= nlen + 1;
        while (len && *line == ' ') {
                line++;
                len--;
        }
        while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
                len--;
        vlen = len < size - 1 ? len : size - 1;
        memcpy(out, line, vlen);
        out[vlen] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *arg) {
        struct reply *rep = arg;

        header_value(data, size * n, "Retry-After", rep->retry_after,
                     sizeof(rep->retry_after));
        header_value(data, size * n, "Content-Type", rep->content_type,
                     sizeof(rep->content_type));
        return size * n;
}

/* Sets h up for one POST; headers must outlive the transfer. */
static struct curl_slist *prepare(CURL *h, const char *url, const char *body,
                                  const char *api_key, struct reply *rep) {
        struct curl_slist *hdrs = NULL;
        char line[256];

        memset(rep, 0, sizeof(*rep));
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        if (api_key) {
                snprintf(line, sizeof(line), "ApiKey: %s", api_key);
                hdrs = curl_slist_append(hdrs, line);
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, rep);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, rep);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        return hdrs;
}

static void finish(CURL *h, struct reply *rep) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rep->status);
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &rep->connects);
}

/* One blocking POST on h (keeps h's connection for the next call). */
static void post_on(CURL *h, const char *url, const char *body,
                    const char *api_key, struct reply *rep) {
        struct curl_slist *hdrs = prepare(h, url, body, api_key, rep);
        int64_t t0              = br_now_us();

        rep->rc         = curl_easy_perform(h);
        rep->elapsed_us = br_now_us() - t0;
        finish(h, rep);
        curl_slist_free_all(hdrs);
}

/* One POST on a fresh connection. */
static void post(const char *url, const char *body, const char *api_key,
                 struct reply *rep) {
        CURL *h = curl_easy_init();

        assert_non_null(h);
        post_on(h, url, body, api_key, rep);
        curl_easy_cleanup(h);
}

static int is_cid(const char *s) {
        size_t i;

        if (strlen(s) != 24)
                return 0;
        for (i = 0; i < 24; i++)
                if (!isxdigit((unsigned char)s[i]) ||
                    isupper((unsigned char)s[i]))
                        return 0;
        return 1;
}

/* The correlationId of a 2xx body, copied to out; asserts the shape. */
static void body_cid(const char *body, char *out, size_t size) {
        struct json_object *root = json_tokener_parse(body);
        struct json_object *cid;

        assert_non_null(root);
        assert_int_equal(json_object_object_length(root), 1);
        assert_true(json_object_object_get_ex(root, "correlationId", &cid));
        assert_true(json_object_is_type(cid, json_type_string));
        assert_true(is_cid(json_object_get_string(cid)));
        snprintf(out, size, "%s", json_object_get_string(cid));
        json_object_put(root);
}

static int setup(void **state) {
        char err[256];
        struct fx *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        f->r = br_receiver_new(NULL, 0, err, sizeof(err));
        if (!f->r) {
                fprintf(stderr, "%s\n", err);
                free(f);
                return -1;
        }
        br_receiver_url(f->r, f->url, sizeof(f->url));
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fx *f = *state;

        br_receiver_destroy(f->r);
        free(f);
        return 0;
}

static void test_url_and_port(void **state) {
        struct fx *f = *state;
        char want[128];

        assert_true(br_receiver_port(f->r) > 0);
        snprintf(want, sizeof(want), "http://127.0.0.1:%u/api/webhook/realtime",
                 (unsigned)br_receiver_port(f->r));
        assert_string_equal(f->url, want);
}

static void test_default_200(void **state) {
        struct fx *f = *state;
        struct reply a, b;
        struct br_received rec;
        char cid_a[32], cid_b[32];

        post(f->url, BODY_A, "k1", &a);
        post(f->url, BODY_OSS, NULL, &b);
        assert_int_equal(a.rc, CURLE_OK);
        assert_int_equal(a.status, 200);
        assert_string_equal(a.content_type, "application/json");
        assert_int_equal(b.status, 200);
        body_cid(a.body, cid_a, sizeof(cid_a));
        body_cid(b.body, cid_b, sizeof(cid_b));
        assert_string_not_equal(cid_a, cid_b);
        assert_int_equal(br_receiver_count(f->r), 2);
        assert_int_equal(br_receiver_count_status(f->r, 200), 2);
        assert_int_equal(br_receiver_count_status(f->r, 2), 2);
        assert_int_equal(br_receiver_count_status(f->r, 5), 0);

        assert_int_equal(br_receiver_get(f->r, 0, &rec), 0);
        assert_string_equal(rec.method, "POST");
        assert_string_equal(rec.path, "/api/webhook/realtime");
        assert_string_equal(rec.body, BODY_A);
        assert_int_equal(rec.body_len, strlen(BODY_A));
        assert_string_equal(rec.api_key, "k1");
        assert_string_equal(rec.content_type, "application/json");
        assert_string_equal(rec.storage_client_id, "sc-1");
        assert_string_equal(rec.key, "a/b.pdf");
        assert_null(rec.scan_id);
        assert_string_equal(rec.correlation_id, cid_a);
        assert_int_equal(rec.status, 200);
        assert_int_equal(rec.rule, -1);
        assert_true(rec.arrival_us > 0 && rec.decided_us >= rec.arrival_us);
        br_received_free(&rec);

        assert_int_equal(br_receiver_get(f->r, 1, &rec), 0);
        assert_null(rec.api_key);
        assert_string_equal(rec.storage_client_id, "sc-3");
        assert_string_equal(rec.key, "x/y.txt");
        assert_string_equal(rec.scan_id, "scan-9");
        br_received_free(&rec);

        assert_int_equal(br_receiver_get(f->r, 2, &rec), -1);
        assert_null(rec.body);
}

static void test_unparseable_body_recorded(void **state) {
        struct fx *f = *state;
        struct reply a;
        struct br_received rec;

        post(f->url, "not json", NULL, &a);
        assert_int_equal(a.status, 200);
        assert_int_equal(br_receiver_get(f->r, 0, &rec), 0);
        assert_string_equal(rec.body, "not json");
        assert_null(rec.storage_client_id);
        assert_null(rec.key);
        br_received_free(&rec);
}

static void test_rule_count_then_fallback(void **state) {
        struct fx *f                 = *state;
        struct br_receiver_rule rule = {.count = 2, .status = 500};
        struct reply rep;
        struct br_received rec;
        int i;

        assert_int_equal(br_receiver_add_rule(f->r, &rule), 0);
        for (i = 0; i < 2; i++) {
                post(f->url, BODY_A, NULL, &rep);
                assert_int_equal(rep.status, 500);
                assert_int_equal(rep.len, 0);
        }
        post(f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.status, 200);
        assert_int_equal(br_receiver_count_status(f->r, 500), 2);
        assert_int_equal(br_receiver_count_status(f->r, 5), 2);
        assert_int_equal(br_receiver_count_status(f->r, 2), 1);
        assert_int_equal(br_receiver_get(f->r, 0, &rec), 0);
        assert_int_equal(rec.rule, 0);
        assert_null(rec.correlation_id);
        br_received_free(&rec);
        assert_int_equal(br_receiver_get(f->r, 2, &rec), 0);
        assert_int_equal(rec.rule, -1);
        br_received_free(&rec);
}

static void test_rule_matching(void **state) {
        struct fx *f                  = *state;
        struct br_receiver_rule by_sc = {
            .storage_client_id = "sc-2", .count = -1, .status = 503};
        struct br_receiver_rule by_key = {
            .key_contains = "b.pdf", .count = -1, .status = 502};
        struct reply rep;
        int i;

        assert_int_equal(br_receiver_add_rule(f->r, &by_sc), 0);
        assert_int_equal(br_receiver_add_rule(f->r, &by_key), 0);
        for (i = 0; i < 3; i++) {
                post(f->url, BODY_B, NULL, &rep);
                assert_int_equal(rep.status, 503);
                post(f->url, BODY_A, NULL, &rep);
                assert_int_equal(rep.status, 502);
                post(f->url, BODY_OSS, NULL, &rep);
                assert_int_equal(rep.status, 200);
        }
        /* a request without a storageClientId never matches a rule that
         * asks for one */
        post(f->url, "{}", NULL, &rep);
        assert_int_equal(rep.status, 200);

        br_receiver_clear_rules(f->r);
        post(f->url, BODY_B, NULL, &rep);
        assert_int_equal(rep.status, 200);
}

static void test_429_retry_after(void **state) {
        struct fx *f                 = *state;
        struct br_receiver_rule secs = {
            .count = 1, .status = 429, .retry_after = "2"};
        struct br_receiver_rule date = {.count  = 1,
                                        .status = 503,
                                        .retry_after =
                                            "Wed, 21 Oct 2015 07:28:00 GMT"};
        struct reply rep;

        assert_int_equal(br_receiver_add_rule(f->r, &secs), 0);
        assert_int_equal(br_receiver_add_rule(f->r, &date), 0);
        post(f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.status, 429);
        assert_string_equal(rep.retry_after, "2");
        post(f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.status, 503);
        assert_string_equal(rep.retry_after, "Wed, 21 Oct 2015 07:28:00 GMT");
        post(f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.status, 200);
        assert_string_equal(rep.retry_after, "");
}

static void test_mdss_error_bodies(void **state) {
        struct fx *f         = *state;
        const char *bodies[] = {BR_RECEIVER_BODY_STORAGE_NOT_FOUND,
                                BR_RECEIVER_BODY_RTP_NOT_ENABLED,
                                BR_RECEIVER_BODY_NOT_EVENT_BASED};
        const char *msgs[]   = {
              "The storage could not be found",
              "Real-Time Process is not enabled.",
              "Real-Time Process is enabled, but it is not set to Event Based."};
        struct reply rep;
        size_t i;

        for (i = 0; i < 3; i++) {
                struct br_receiver_rule rule = {
                    .count = 1, .status = 400, .body = bodies[i]};
                struct json_object *root, *m;

                assert_int_equal(br_receiver_add_rule(f->r, &rule), 0);
                post(f->url, BODY_A, NULL, &rep);
                assert_int_equal(rep.status, 400);
                assert_string_equal(rep.content_type, "application/json");
                assert_string_equal(rep.body, bodies[i]);
                root = json_tokener_parse(rep.body);
                assert_non_null(root);
                assert_true(
                    json_object_object_get_ex(root, "responseMessage", &m));
                assert_string_equal(json_object_get_string(m), msgs[i]);
                assert_true(json_object_object_get_ex(root, "responseKey", &m));
                json_object_put(root);
        }
}

static void test_custom_2xx_body_and_type(void **state) {
        struct fx *f                 = *state;
        struct br_receiver_rule rule = {.count        = 1,
                                        .status       = 202,
                                        .body         = "<html>ok</html>",
                                        .content_type = "text/html"};
        struct reply rep;

        assert_int_equal(br_receiver_add_rule(f->r, &rule), 0);
        post(f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.status, 202);
        assert_string_equal(rep.body, "<html>ok</html>");
        assert_string_equal(rep.content_type, "text/html");
}

/* The slow reply must take at least its delay, and a request on another
 * connection must be answered while it waits. */
static void test_delay_does_not_block_others(void **state) {
        struct fx *f                 = *state;
        struct br_receiver_rule rule = {
            .key_contains = "slow", .count = 1, .delay_ms = 700};
        CURLM *m   = curl_multi_init();
        CURL *slow = curl_easy_init(), *fast = curl_easy_init();
        struct reply rs, rf;
        struct curl_slist *hs, *hf;
        int64_t t0, slow_done = 0, fast_done = 0;
        int running = 1, first_done_is_fast = -1;
        CURLMsg *msg;
        int left;

        assert_non_null(m);
        assert_int_equal(br_receiver_add_rule(f->r, &rule), 0);
        hs = prepare(slow, f->url, BODY_B, NULL, &rs);
        hf = prepare(fast, f->url, BODY_A, NULL, &rf);
        t0 = br_now_us();
        curl_multi_add_handle(m, slow);
        /* the fast request starts only once the slow one is on the wire,
         * so the receiver is already holding it when the fast one comes */
        while (br_receiver_count(f->r) < 1 && br_now_us() - t0 < 5000000) {
                curl_multi_perform(m, &running);
                curl_multi_poll(m, NULL, 0, 10, NULL);
        }
        assert_int_equal(br_receiver_count(f->r), 1);
        curl_multi_add_handle(m, fast);
        running = 1;
        while (running && br_now_us() - t0 < 10000000) {
                curl_multi_perform(m, &running);
                while ((msg = curl_multi_info_read(m, &left))) {
                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        if (msg->easy_handle == slow) {
                                rs.rc     = msg->data.result;
                                slow_done = br_now_us();
                        } else {
                                rf.rc     = msg->data.result;
                                fast_done = br_now_us();
                        }
                        if (first_done_is_fast == -1)
                                first_done_is_fast = msg->easy_handle == fast;
                }
                if (running)
                        curl_multi_poll(m, NULL, 0, 100, NULL);
        }
        finish(slow, &rs);
        finish(fast, &rf);
        assert_int_equal(rs.rc, CURLE_OK);
        assert_int_equal(rf.rc, CURLE_OK);
        assert_int_equal(rs.status, 200);
        assert_int_equal(rf.status, 200);
        assert_true(slow_done > 0 && fast_done > 0);
        assert_int_equal(first_done_is_fast, 1);
        assert_true(slow_done - t0 >= 700000);
        assert_int_equal(br_receiver_connections(f->r), 2);

        curl_multi_remove_handle(m, slow);
        curl_multi_remove_handle(m, fast);
        curl_easy_cleanup(slow);
        curl_easy_cleanup(fast);
        curl_slist_free_all(hs);
        curl_slist_free_all(hf);
        curl_multi_cleanup(m);
}

static void test_drop(void **state) {
        struct fx *f                 = *state;
        struct br_receiver_rule rule = {.count = 1, .drop = 1};
        struct reply rep;
        struct br_received rec;

        assert_int_equal(br_receiver_add_rule(f->r, &rule), 0);
        post(f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.rc, CURLE_GOT_NOTHING);
        assert_int_equal(rep.status, 0);
        assert_int_equal(br_receiver_count_status(f->r, 0), 1);
        assert_int_equal(br_receiver_get(f->r, 0, &rec), 0);
        assert_int_equal(rec.status, 0);
        assert_int_equal(rec.rule, 0);
        br_received_free(&rec);
        post(f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.rc, CURLE_OK);
        assert_int_equal(rep.status, 200);
}

/* Pins the behaviour receiver.h warns about: on a kept-alive connection
 * curl resends a dropped request, so one drop reads as a success. */
static void test_drop_on_reused_connection(void **state) {
        struct fx *f                  = *state;
        struct br_receiver_rule once  = {.count = 1, .drop = 1};
        struct br_receiver_rule twice = {.count = 2, .drop = 1};
        CURL *h                       = curl_easy_init();
        struct reply rep;

        assert_non_null(h);
        post_on(h, f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.status, 200);
        assert_int_equal(br_receiver_add_rule(f->r, &once), 0);
        post_on(h, f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.rc, CURLE_OK);
        assert_int_equal(rep.status, 200);
        assert_int_equal(br_receiver_count(f->r), 3);
        assert_int_equal(br_receiver_count_status(f->r, 0), 1);

        post_on(h, f->url, BODY_A, NULL, &rep);
        assert_int_equal(br_receiver_add_rule(f->r, &twice), 0);
        post_on(h, f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.rc, CURLE_GOT_NOTHING);
        assert_int_equal(br_receiver_count_status(f->r, 0), 3);
        curl_easy_cleanup(h);
}

static void test_delayed_drop(void **state) {
        struct fx *f                 = *state;
        struct br_receiver_rule rule = {.count = 1, .drop = 1, .delay_ms = 200};
        struct reply rep;

        assert_int_equal(br_receiver_add_rule(f->r, &rule), 0);
        post(f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.rc, CURLE_GOT_NOTHING);
        assert_true(rep.elapsed_us >= 200000);
}

static void test_api_key(void **state) {
        struct fx *f = *state;
        struct reply rep;

        br_receiver_set_api_key(f->r, "s3cret");
        post(f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.status, 401);
        assert_string_equal(rep.body, BR_RECEIVER_BODY_UNAUTHORIZED);
        post(f->url, BODY_A, "wrong", &rep);
        assert_int_equal(rep.status, 401);
        post(f->url, BODY_A, "s3cret", &rep);
        assert_int_equal(rep.status, 200);
        assert_int_equal(br_receiver_count_status(f->r, 401), 2);
        br_receiver_set_api_key(f->r, NULL);
        post(f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.status, 200);
}

static void test_api_key_before_rules(void **state) {
        struct fx *f                 = *state;
        struct br_receiver_rule rule = {.count = 1, .status = 503};
        struct reply rep;

        assert_int_equal(br_receiver_add_rule(f->r, &rule), 0);
        br_receiver_set_api_key(f->r, "k");
        post(f->url, BODY_A, "bad", &rep);
        assert_int_equal(rep.status, 401);
        /* the rule was not used up by the refused request */
        post(f->url, BODY_A, "k", &rep);
        assert_int_equal(rep.status, 503);
}

static void test_keep_alive(void **state) {
        struct fx *f = *state;
        CURL *h      = curl_easy_init();
        struct reply rep;
        struct br_received a, b;

        assert_non_null(h);
        post_on(h, f->url, BODY_A, NULL, &rep);
        assert_int_equal(rep.status, 200);
        assert_int_equal(rep.connects, 1);
        post_on(h, f->url, BODY_B, NULL, &rep);
        assert_int_equal(rep.status, 200);
        assert_int_equal(rep.connects, 0);
        curl_easy_cleanup(h);

        assert_int_equal(br_receiver_connections(f->r), 1);
        assert_int_equal(br_receiver_get(f->r, 0, &a), 0);
        assert_int_equal(br_receiver_get(f->r, 1, &b), 0);
        assert_true(a.conn_id > 0);
        assert_true(a.conn_id == b.conn_id);
        br_received_free(&a);
        br_received_free(&b);
}

static void test_wrong_path_and_method(void **state) {
        struct fx *f = *state;
        CURL *h      = curl_easy_init();
        struct reply rep;
        char url[160];

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/other",
                 (unsigned)br_receiver_port(f->r));
        post(url, BODY_A, NULL, &rep);
        assert_int_equal(rep.status, 404);

        assert_non_null(h);
        memset(&rep, 0, sizeof(rep));
        curl_easy_setopt(h, CURLOPT_URL, f->url);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &rep);
        assert_int_equal(curl_easy_perform(h), CURLE_OK);
        finish(h, &rep);
        assert_int_equal(rep.status, 405);
        curl_easy_cleanup(h);
        assert_int_equal(br_receiver_count(f->r), 2);
}

static void test_body_cap(void **state) {
        struct fx *f = *state;
        size_t n     = BR_RECEIVER_MAX_BODY + 1;
        char *big    = malloc(n + 1);
        struct reply rep;
        struct br_received rec;

        assert_non_null(big);
        memset(big, 'x', n);
        big[n] = '\0';
        post(f->url, big, NULL, &rep);
        assert_int_equal(rep.status, 413);
        assert_int_equal(br_receiver_get(f->r, 0, &rec), 0);
        assert_null(rec.body);
        br_received_free(&rec);
        /* exactly the cap is fine */
        big[n - 1] = '\0';
        post(f->url, big, NULL, &rep);
        assert_int_equal(rep.status, 200);
        assert_int_equal(br_receiver_get(f->r, 1, &rec), 0);
        assert_int_equal(rec.body_len, BR_RECEIVER_MAX_BODY);
        br_received_free(&rec);
        free(big);
}

struct worker {
        const char *url;
        int n;
        int ok;
        char cids[50][32];
};

static void *worker_main(void *arg) {
        struct worker *w = arg;
        CURL *h          = curl_easy_init();
        struct reply rep;
        int i;

        if (!h)
                return NULL;
        for (i = 0; i < w->n; i++) {
                struct json_object *root, *cid;

                post_on(h, w->url, BODY_A, NULL, &rep);
                if (rep.rc != CURLE_OK || rep.status != 200)
                        continue;
                root = json_tokener_parse(rep.body);
                if (root &&
                    json_object_object_get_ex(root, "correlationId", &cid)) {
                        snprintf(w->cids[w->ok], sizeof(w->cids[0]), "%s",
                                 json_object_get_string(cid));
                        w->ok++;
                }
                json_object_put(root);
        }
        curl_easy_cleanup(h);
        return NULL;
}

static int cmp_cid(const void *a, const void *b) {
        return strcmp(a, b);
}

/* Four client threads at once, while the main thread changes rules. */
static void test_concurrent_counting(void **state) {
        struct fx *f = *state;
        struct worker w[4];
        pthread_t t[4];
        char(*all)[32]               = calloc(200, sizeof(*all));
        struct br_receiver_rule noop = {
            .storage_client_id = "nobody", .count = -1, .status = 500};
        int i, j, k = 0;

        assert_non_null(all);
        for (i = 0; i < 4; i++) {
                memset(&w[i], 0, sizeof(w[i]));
                w[i].url = f->url;
                w[i].n   = 50;
                assert_int_equal(
                    pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
        }
        for (i = 0; i < 200; i++) {
                assert_int_equal(br_receiver_add_rule(f->r, &noop), 0);
                if (i % 10 == 9)
                        br_receiver_clear_rules(f->r);
        }
        assert_int_equal(br_receiver_wait(f->r, 200, 20000), 0);
        for (i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                assert_int_equal(w[i].ok, 50);
                for (j = 0; j < 50; j++)
                        memcpy(all[k++], w[i].cids[j], 32);
        }
        assert_int_equal(br_receiver_count(f->r), 200);
        assert_int_equal(br_receiver_count_status(f->r, 200), 200);
        assert_int_equal(br_receiver_connections(f->r), 4);
        qsort(all, 200, sizeof(*all), cmp_cid);
        for (i = 1; i < 200; i++)
                assert_string_not_equal(all[i - 1], all[i]);
        free(all);
}

static void test_wait_times_out(void **state) {
        struct fx *f = *state;
        int64_t t0   = br_now_us();

        assert_int_equal(br_receiver_wait(f->r, 1, 50), -1);
        assert_true(br_now_us() - t0 >= 50000);
        assert_int_equal(br_receiver_wait(f->r, 0, 0), 0);
}

static void test_invalid_rules(void **state) {
        struct fx *f                  = *state;
        struct br_receiver_rule zero  = {.count = 0};
        struct br_receiver_rule neg   = {.count = -2};
        struct br_receiver_rule code  = {.count = 1, .status = 99};
        struct br_receiver_rule code2 = {.count = 1, .status = 600};
        struct br_receiver_rule delay = {.count = 1, .delay_ms = -1};
        struct br_receiver_rule ok    = {.count = 1, .status = 100 + 101};

        assert_int_equal(br_receiver_add_rule(f->r, &zero), -1);
        assert_int_equal(br_receiver_add_rule(f->r, &neg), -1);
        assert_int_equal(br_receiver_add_rule(f->r, &code), -1);
        assert_int_equal(br_receiver_add_rule(f->r, &code2), -1);
        assert_int_equal(br_receiver_add_rule(f->r, &delay), -1);
        assert_int_equal(br_receiver_add_rule(f->r, &ok), 0);
}

static void test_keep_cap_and_reset(void **state) {
        struct fx *f = *state;
        struct reply rep;
        struct br_received rec;

        br_receiver_set_keep(f->r, 1);
        post(f->url, BODY_A, NULL, &rep);
        post(f->url, BODY_B, NULL, &rep);
        assert_int_equal(br_receiver_count(f->r), 2);
        assert_int_equal(br_receiver_get(f->r, 0, &rec), 0);
        br_received_free(&rec);
        assert_int_equal(br_receiver_get(f->r, 1, &rec), -1);
        br_receiver_reset(f->r);
        assert_int_equal(br_receiver_count(f->r), 0);
        assert_int_equal(br_receiver_count_status(f->r, 2), 0);
        assert_int_equal(br_receiver_get(f->r, 0, &rec), -1);
}

static void test_log_line(void **state) {
        struct fx *f                 = *state;
        struct br_receiver_rule rule = {.count = 1, .status = 503};
        char *text                   = NULL;
        size_t size                  = 0;
        FILE *out                    = open_memstream(&text, &size);
        struct reply rep;

        assert_non_null(out);
        br_receiver_set_log(f->r, out);
        post(f->url, BODY_A, "very-secret-key", &rep);
        assert_int_equal(br_receiver_add_rule(f->r, &rule), 0);
        post(f->url, BODY_B, "very-secret-key", &rep);
        br_receiver_set_log(f->r, NULL);
        fclose(out);
        assert_string_equal(
            text, "POST storageClientId=sc-1 key=a/b.pdf -> 200\n"
                  "POST storageClientId=sc-2 key=slow/c.pdf -> 503\n");
        assert_null(strstr(text, "very-secret-key"));
        free(text);
}

static void test_fixed_port_in_use(void **state) {
        struct fx *f  = *state;
        char err[256] = "";
        struct br_receiver *again =
            br_receiver_new(NULL, br_receiver_port(f->r), err, sizeof(err));

        assert_null(again);
        assert_non_null(strstr(err, "cannot listen on 127.0.0.1:"));
}

static void test_custom_path(void **state) {
        char err[256], url[128];
        struct br_receiver *r = br_receiver_new("/hook", 0, err, sizeof(err));
        struct reply rep;

        (void)state;
        assert_non_null(r);
        br_receiver_url(r, url, sizeof(url));
        assert_non_null(strstr(url, "/hook"));
        post(url, BODY_A, NULL, &rep);
        assert_int_equal(rep.status, 200);
        br_receiver_destroy(r);
        assert_null(br_receiver_new("nope", 0, err, sizeof(err)));
        br_receiver_destroy(NULL);
}

/* Destroy while a reply waits out a long delay: the stop must not wait for
 * it. */
static void test_destroy_during_delay(void **state) {
        char err[256], url[128];
        struct br_receiver *r = br_receiver_new(NULL, 0, err, sizeof(err));
        struct br_receiver_rule rule = {.count = -1, .delay_ms = 60000};
        CURLM *m                     = curl_multi_init();
        CURL *h                      = curl_easy_init();
        struct reply rep;
        struct curl_slist *hdrs;
        int64_t t0;
        int running = 1;

        (void)state;
        assert_non_null(r);
        assert_int_equal(br_receiver_add_rule(r, &rule), 0);
        br_receiver_url(r, url, sizeof(url));
        hdrs = prepare(h, url, BODY_A, NULL, &rep);
        curl_multi_add_handle(m, h);
        t0 = br_now_us();
        while (br_receiver_count(r) < 1 && br_now_us() - t0 < 5000000) {
                curl_multi_perform(m, &running);
                curl_multi_poll(m, NULL, 0, 10, NULL);
        }
        assert_int_equal(br_receiver_count(r), 1);
        t0 = br_now_us();
        br_receiver_destroy(r);
        assert_true(br_now_us() - t0 < 5000000);
        curl_multi_remove_handle(m, h);
        curl_easy_cleanup(h);
        curl_slist_free_all(hdrs);
        curl_multi_cleanup(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_url_and_port, setup, teardown),
            cmocka_unit_test_setup_teardown(test_default_200, setup, teardown),
            cmocka_unit_test_setup_teardown(test_unparseable_body_recorded,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_rule_count_then_fallback,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_rule_matching, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_429_retry_after, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_mdss_error_bodies, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_custom_2xx_body_and_type,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_delay_does_not_block_others,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_drop, setup, teardown),
            cmocka_unit_test_setup_teardown(test_drop_on_reused_connection,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_delayed_drop, setup, teardown),
            cmocka_unit_test_setup_teardown(test_api_key, setup, teardown),
            cmocka_unit_test_setup_teardown(test_api_key_before_rules, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_keep_alive, setup, teardown),
            cmocka_unit_test_setup_teardown(test_wrong_path_and_method, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_body_cap, setup, teardown),
            cmocka_unit_test_setup_teardown(test_concurrent_counting, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_wait_times_out, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_invalid_rules, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_keep_cap_and_reset, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_log_line, setup, teardown),
            cmocka_unit_test_setup_teardown(test_fixed_port_in_use, setup,
                                            teardown),
            cmocka_unit_test(test_custom_path),
            cmocka_unit_test(test_destroy_during_delay),
        };
        int rc;

        curl_global_init(CURL_GLOBAL_DEFAULT);
        rc = cmocka_run_group_tests(tests, NULL, NULL);
        curl_global_cleanup();
        return rc;
}
