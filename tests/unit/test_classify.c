/* classify.c: one test per policy row (STYLE.md 5), plus the body parser's
 * limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "bridge/classify.h"

static const char NOT_FOUND[] =
    "{\"responseKey\":\"REST_API_MSG_FAILED_STORAGE_NOT_FOUND\","
    "\"responseMessage\":\"The storage could not be found\"}";
static const char RTP_OFF[] =
    "{\"responseKey\":\"REST_API_MSG_FAILED_STORAGE_RTP_NOT_ENABLED\","
    "\"responseMessage\":\"Real-Time Process is not enabled.\"}";
static const char NOT_EVENT_BASED[] =
    "{\"responseMessage\":\"Real-Time Process is enabled, but it is not set "
    "to Event Based.\"}";

static void classify(long status, const char *body, size_t body_len,
                     struct br_classified *out) {
        struct br_http_result res = {0};

        res.status        = status;
        res.body          = body;
        res.body_len      = body_len;
        res.retry_after_s = -1;
        br_classify(&res, out);
}

static void classify_str(long status, const char *body,
                         struct br_classified *out) {
        classify(status, body, body ? strlen(body) : 0, out);
}

static void expect(long status, const char *body, enum br_outcome outcome,
                   const char *reason) {
        struct br_classified c;

        classify_str(status, body, &c);
        assert_int_equal(c.outcome, outcome);
        if (reason)
                assert_string_equal(c.reason, reason);
}

/* 2xx */

static void test_2xx_with_correlation_id(void **state) {
        struct br_classified c;

        (void)state;
        classify_str(200, "{\"correlationId\":\"67ea85a36f2f5732a82834d0\"}",
                     &c);
        assert_int_equal(c.outcome, BR_OUTCOME_DELIVERED);
        assert_string_equal(c.correlation_id, "67ea85a36f2f5732a82834d0");
        assert_string_equal(c.reason, "HTTP 200");
}

static void test_2xx_without_correlation_id(void **state) {
        struct br_classified c;

        (void)state;
        classify_str(200, NULL, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_DELIVERED);
        assert_string_equal(c.correlation_id, "");
        classify_str(202, "{}", &c);
        assert_int_equal(c.outcome, BR_OUTCOME_DELIVERED);
        assert_string_equal(c.correlation_id, "");
        classify_str(204, "OK", &c);
        assert_int_equal(c.outcome, BR_OUTCOME_DELIVERED);
        assert_string_equal(c.reason, "HTTP 204");
        classify_str(299, "{\"correlationId\":42}", &c);
        assert_int_equal(c.outcome, BR_OUTCOME_DELIVERED);
        assert_string_equal(c.correlation_id, "");
}

static void test_2xx_correlation_id_unsafe_dropped(void **state) {
        struct br_classified c;
        char body[256];

        (void)state;
        classify_str(200, "{\"correlationId\":\"ab\\ncd\"}", &c);
        assert_int_equal(c.outcome, BR_OUTCOME_DELIVERED);
        assert_string_equal(c.correlation_id, "");
        snprintf(body, sizeof(body), "{\"correlationId\":\"%0100d\"}", 7);
        classify_str(200, body, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_DELIVERED);
        assert_string_equal(c.correlation_id, "");
        /* 63 characters still fit */
        snprintf(body, sizeof(body), "{\"correlationId\":\"%063d\"}", 7);
        classify_str(200, body, &c);
        assert_int_equal(strlen(c.correlation_id), 63);
}

/* "The storage could not be found": any status */

static void test_storage_not_found_any_status(void **state) {
        static const long statuses[] = {404, 400, 200, 500, 503, 0, 302};
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
                expect(statuses[i], NOT_FOUND, BR_OUTCOME_PERMANENT, NULL);
        expect(404, NOT_FOUND, BR_OUTCOME_PERMANENT,
               "HTTP 404: The storage could not be found");
        /* message alone, another case, no key */
        expect(400, "{\"responseMessage\":\"the STORAGE could not be found.\"}",
               BR_OUTCOME_PERMANENT, NULL);
}

/* "Real-Time Process is not enabled." */

static void test_rtp_not_enabled_any_status(void **state) {
        static const long statuses[] = {400, 404, 200, 500, 409, 503};
        struct br_classified c;
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
                expect(statuses[i], RTP_OFF, BR_OUTCOME_OUTAGE, NULL);
        expect(400, RTP_OFF, BR_OUTCOME_OUTAGE,
               "HTTP 400: Real-Time Process is not enabled.");
        classify_str(200, RTP_OFF, &c);
        assert_string_equal(c.correlation_id, "");
}

static void test_rtp_key_alone(void **state) {
        (void)state;
        expect(400,
               "{\"responseKey\":\"REST_API_MSG_FAILED_STORAGE_RTP_NOT_"
               "ENABLED\"}",
               BR_OUTCOME_OUTAGE,
               "HTTP 400: REST_API_MSG_FAILED_STORAGE_RTP_NOT_ENABLED");
        expect(500,
               "{\"responseKey\":\"rest_api_msg_failed_storage_rtp_not_"
               "enabled\",\"responseMessage\":\"something else\"}",
               BR_OUTCOME_OUTAGE, "HTTP 500: something else");
}

static void test_rtp_message_variants(void **state) {
        (void)state;
        expect(400,
               "{\"responseMessage\":\"Real Time process is NOT enabled\"}",
               BR_OUTCOME_OUTAGE, NULL);
        expect(409,
               "{\"responseMessage\":\"RealTime Process is not enabled!\"}",
               BR_OUTCOME_OUTAGE, NULL);
}

/* "...is enabled, but it is not set to Event Based." */

static void test_not_event_based_any_status(void **state) {
        static const long statuses[] = {400, 409, 200, 500, 422};
        size_t i;

        (void)state;
        for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
                expect(statuses[i], NOT_EVENT_BASED, BR_OUTCOME_OUTAGE, NULL);
        expect(400,
               "{\"responseMessage\":\"Real-Time Process is enabled, but it "
               "is not set to Event-Based\"}",
               BR_OUTCOME_OUTAGE, NULL);
}

/* Status rows */

static void test_401_outage(void **state) {
        (void)state;
        expect(401, NULL, BR_OUTCOME_OUTAGE, "HTTP 401");
        expect(401, "{\"responseMessage\":\"Invalid API key\"}",
               BR_OUTCOME_OUTAGE, "HTTP 401: Invalid API key");
}

static void test_403_outage(void **state) {
        (void)state;
        expect(403, "Forbidden", BR_OUTCOME_OUTAGE, "HTTP 403");
}

static void test_404_plain_permanent(void **state) {
        (void)state;
        expect(404, NULL, BR_OUTCOME_PERMANENT, "HTTP 404");
        expect(404, "<html>Not Found</html>", BR_OUTCOME_PERMANENT, "HTTP 404");
}

static void test_400_permanent(void **state) {
        (void)state;
        expect(400, "{\"responseMessage\":\"Invalid metadata\"}",
               BR_OUTCOME_PERMANENT, "HTTP 400: Invalid metadata");
        expect(413, NULL, BR_OUTCOME_PERMANENT, "HTTP 413");
        expect(499, NULL, BR_OUTCOME_PERMANENT, "HTTP 499");
}

static void test_408_retry(void **state) {
        (void)state;
        expect(408, NULL, BR_OUTCOME_RETRY, "HTTP 408");
}

static void test_425_retry(void **state) {
        (void)state;
        expect(425, NULL, BR_OUTCOME_RETRY, "HTTP 425");
}

static void test_429_retry_after(void **state) {
        struct br_http_result res = {0};
        struct br_classified c;

        (void)state;
        res.status        = 429;
        res.retry_after_s = 30;
        br_classify(&res, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        assert_int_equal(c.retry_after_s, 30);
        assert_string_equal(c.reason, "HTTP 429");
        res.retry_after_s = -1;
        br_classify(&res, &c);
        assert_int_equal(c.retry_after_s, -1);
}

static void test_500_retry(void **state) {
        (void)state;
        expect(500, "{\"responseMessage\":\"Internal error\"}",
               BR_OUTCOME_RETRY, "HTTP 500: Internal error");
}

static void test_502_retry(void **state) {
        (void)state;
        expect(502, "<html>Bad Gateway</html>", BR_OUTCOME_RETRY, "HTTP 502");
}

static void test_503_retry(void **state) {
        struct br_http_result res = {0};
        struct br_classified c;

        (void)state;
        res.status        = 503;
        res.retry_after_s = 0; /* a date in the past */
        br_classify(&res, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        assert_int_equal(c.retry_after_s, 0);
        expect(599, NULL, BR_OUTCOME_RETRY, "HTTP 599");
}

static void test_other_statuses_retry(void **state) {
        (void)state;
        expect(0, NULL, BR_OUTCOME_RETRY, "no HTTP status");
        expect(101, NULL, BR_OUTCOME_RETRY, "HTTP 101");
        expect(301, NULL, BR_OUTCOME_RETRY, "HTTP 301");
        expect(307, NULL, BR_OUTCOME_RETRY, "HTTP 307");
        expect(600, NULL, BR_OUTCOME_RETRY, "HTTP 600");
        expect(999, NULL, BR_OUTCOME_RETRY, "HTTP 999");
}

static void test_transport_error(void **state) {
        struct br_http_result res = {0};
        struct br_classified c;

        (void)state;
        res.transport_error = CURLE_COULDNT_CONNECT;
        res.transport_msg   = "Connection refused";
        res.retry_after_s   = -1;
        br_classify(&res, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        assert_string_equal(c.reason, "transport: Connection refused");

        /* no buffer text: curl's own words */
        res.transport_msg = NULL;
        br_classify(&res, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        assert_true(strncmp(c.reason, "transport: ", 11) == 0);
        assert_string_equal(c.reason + 11,
                            curl_easy_strerror(CURLE_COULDNT_CONNECT));

        /* a transfer broken after a 200 header and a permanent-looking
         * body still retries */
        res.transport_error = CURLE_RECV_ERROR;
        res.transport_msg   = "Connection reset by peer";
        res.status          = 200;
        res.body            = NOT_FOUND;
        res.body_len        = strlen(NOT_FOUND);
        br_classify(&res, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        assert_string_equal(c.reason, "transport: Connection reset by peer");
        assert_string_equal(c.correlation_id, "");
}

static void test_timeout(void **state) {
        struct br_http_result res = {0};
        struct br_classified c;

        (void)state;
        res.transport_error = CURLE_OPERATION_TIMEDOUT;
        res.transport_msg =
            "Operation timed out after 10000 milliseconds with 0 bytes "
            "received";
        br_classify(&res, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        assert_string_equal(c.reason,
                            "timeout: Operation timed out after 10000 "
                            "milliseconds with 0 bytes received");
}

/* Bodies */

static void test_binary_garbage_body(void **state) {
        unsigned char body[512];
        struct br_classified c;
        size_t i;
        uint32_t x = 12345;

        (void)state;
        for (i = 0; i < sizeof(body); i++) {
                x       = x * 1103515245u + 12345u;
                body[i] = (unsigned char)(x >> 16);
        }
        body[0] = '{'; /* starts like JSON */
        classify(400, (const char *)body, sizeof(body), &c);
        assert_int_equal(c.outcome, BR_OUTCOME_PERMANENT);
        assert_string_equal(c.reason, "HTTP 400");
        classify(200, (const char *)body, sizeof(body), &c);
        assert_int_equal(c.outcome, BR_OUTCOME_DELIVERED);
        assert_string_equal(c.correlation_id, "");
        /* the words outside JSON do not count */
        classify_str(503, "The storage could not be found", &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        /* invalid UTF-8 inside an otherwise valid object: not parsed */
        classify_str(503,
                     "{\"responseMessage\":\"The storage could not be "
                     "found \xff\"}",
                     &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
}

static void test_truncated_and_trailing_body(void **state) {
        struct br_classified c;
        size_t len = strlen(NOT_FOUND);

        (void)state;
        /* cut short by the response cap: not JSON */
        classify(503, NOT_FOUND, len - 3, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        /* the length is honoured even when the buffer goes on */
        classify(503, RTP_OFF, 1, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        classify_str(503,
                     "{\"responseMessage\":\"The storage could not be "
                     "found\"}\r\n",
                     &c);
        assert_int_equal(c.outcome, BR_OUTCOME_PERMANENT);
        classify_str(503,
                     "{\"responseMessage\":\"The storage could not be "
                     "found\"} trailing",
                     &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        /* not an object */
        classify_str(503, "[\"The storage could not be found\"]", &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        /* responseMessage of the wrong type */
        classify_str(503,
                     "{\"responseMessage\":[\"The storage could not be "
                     "found\"]}",
                     &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
}

static void test_huge_body(void **state) {
        size_t len = BR_CLASSIFY_MAX_BODY + 100, pre, post;
        struct br_classified c;
        char *body = malloc(len);

        (void)state;
        assert_non_null(body);
        /* a valid object with the not-found message, padded past the cap:
         * left unparsed, the status decides */
        pre  = strlen("{\"pad\":\"");
        post = strlen("\",\"responseMessage\":\"The storage could not be "
                      "found\"}");
        memcpy(body, "{\"pad\":\"", pre);
        memset(body + pre, 'x', len - pre - post);
        memcpy(body + len - post,
               "\",\"responseMessage\":\"The storage could not be found\"}",
               post);
        classify(503, body, len, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        assert_string_equal(c.reason, "HTTP 503");
        /* the same shape under the cap is read */
        memmove(body + pre + 1000, body + len - post, post);
        classify(503, body, pre + 1000 + post, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_PERMANENT);
        free(body);
}

static void test_deep_body(void **state) {
        char body[2 * 200 + 1];
        struct br_classified c;
        int i;

        (void)state;
        for (i = 0; i < 200; i++) {
                body[i]       = '[';
                body[200 + i] = ']';
        }
        body[400] = '\0';
        classify_str(500, body, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_RETRY);
        assert_string_equal(c.reason, "HTTP 500");
}

static void test_reason_is_one_clean_line(void **state) {
        struct br_classified c;
        char body[1200];
        size_t i, n;

        (void)state;
        classify_str(400, "{\"responseMessage\":\"bad\\nline\\u0007\\ttab\"}",
                     &c);
        assert_string_equal(c.reason, "HTTP 400: bad line  tab");
        /* a long message of 3-byte characters is cut between characters */
        n = (size_t)snprintf(body, sizeof(body), "{\"responseMessage\":\"");
        for (i = 0; i < 300; i++) {
                memcpy(body + n, "\xe2\x82\xac", 3); /* EURO SIGN */
                n += 3;
        }
        memcpy(body + n, "\"}", 3);
        classify_str(400, body, &c);
        assert_int_equal(c.outcome, BR_OUTCOME_PERMANENT);
        n = strlen(c.reason);
        assert_true(n < sizeof(c.reason));
        assert_true(n > 240);
        assert_int_equal((n - strlen("HTTP 400: ")) % 3, 0);
        assert_memory_equal(c.reason + n - 3, "\xe2\x82\xac", 3);
        /* invalid UTF-8 in the curl text becomes '?' */
        {
                struct br_http_result res = {0};

                res.transport_error = CURLE_COULDNT_RESOLVE_HOST;
                res.transport_msg   = "no host \xc3(";
                br_classify(&res, &c);
                assert_string_equal(c.reason, "transport: no host ?(");
        }
}

static void test_outcome_names(void **state) {
        (void)state;
        assert_string_equal(br_outcome_name(BR_OUTCOME_DELIVERED), "delivered");
        assert_string_equal(br_outcome_name(BR_OUTCOME_RETRY), "retry");
        assert_string_equal(br_outcome_name(BR_OUTCOME_PERMANENT), "permanent");
        assert_string_equal(br_outcome_name(BR_OUTCOME_OUTAGE), "outage");
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_2xx_with_correlation_id),
            cmocka_unit_test(test_2xx_without_correlation_id),
            cmocka_unit_test(test_2xx_correlation_id_unsafe_dropped),
            cmocka_unit_test(test_storage_not_found_any_status),
            cmocka_unit_test(test_rtp_not_enabled_any_status),
            cmocka_unit_test(test_rtp_key_alone),
            cmocka_unit_test(test_rtp_message_variants),
            cmocka_unit_test(test_not_event_based_any_status),
            cmocka_unit_test(test_401_outage),
            cmocka_unit_test(test_403_outage),
            cmocka_unit_test(test_404_plain_permanent),
            cmocka_unit_test(test_400_permanent),
            cmocka_unit_test(test_408_retry),
            cmocka_unit_test(test_425_retry),
            cmocka_unit_test(test_429_retry_after),
            cmocka_unit_test(test_500_retry),
            cmocka_unit_test(test_502_retry),
            cmocka_unit_test(test_503_retry),
            cmocka_unit_test(test_other_statuses_retry),
            cmocka_unit_test(test_transport_error),
            cmocka_unit_test(test_timeout),
            cmocka_unit_test(test_binary_garbage_body),
            cmocka_unit_test(test_truncated_and_trailing_body),
            cmocka_unit_test(test_huge_body),
            cmocka_unit_test(test_deep_body),
            cmocka_unit_test(test_reason_is_one_clean_line),
            cmocka_unit_test(test_outcome_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
