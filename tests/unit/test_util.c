/* Shared helpers: base64 both ways (dead-letter file and replay), RFC 3339. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bridge/log.h"
#include "bridge/util.h"

static void roundtrip(const char *raw, size_t len, const char *b64) {
        size_t enc_len = 0, dec_len = 0;
        char *enc = br_base64_encode(raw, len, &enc_len);
        unsigned char *dec;

        assert_non_null(enc);
        assert_string_equal(enc, b64);
        assert_int_equal(enc_len, strlen(b64));
        dec = br_base64_decode(enc, enc_len, &dec_len);
        assert_non_null(dec);
        assert_int_equal(dec_len, len);
        assert_memory_equal(dec, raw, len);
        free(enc);
        free(dec);
}

/* RFC 4648 section 10 test vectors, and bytes that are not UTF-8. */
static void test_base64_vectors(void **state) {
        (void)state;
        roundtrip("", 0, "");
        roundtrip("f", 1, "Zg==");
        roundtrip("fo", 2, "Zm8=");
        roundtrip("foo", 3, "Zm9v");
        roundtrip("foob", 4, "Zm9vYg==");
        roundtrip("fooba", 5, "Zm9vYmE=");
        roundtrip("foobar", 6, "Zm9vYmFy");
        roundtrip("\xe9\x00\xff\xfe", 4, "6QD//g==");
}

static void test_base64_rejects(void **state) {
        const char *bad[] = {
            "Zg=", "Zg=a", "Z===", "Zm9v!A==", "Zg==Zg==", "Zm 9", NULL};
        size_t len, i;

        (void)state;
        for (i = 0; bad[i]; i++)
                assert_null(br_base64_decode(bad[i], strlen(bad[i]), &len));
}

static void test_rfc3339(void **state) {
        char buf[40];

        (void)state;
        br_rfc3339(1764754662123456LL, buf, sizeof(buf));
        assert_string_equal(buf, "2025-12-03T09:37:42.123Z");
        br_rfc3339(0, buf, sizeof(buf));
        assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

/* A key with a quote and a newline cannot forge a log line. */
static void test_log_escape(void **state) {
        char buf[64];

        (void)state;
        assert_string_equal(br_log_escape(buf, sizeof(buf), "a\"b\nc\\d"),
                            "a\\x22b\\x0ac\\x5cd");
        assert_string_equal(br_log_escape(buf, sizeof(buf), "Überblick 🐱"),
                            "Überblick 🐱");
        assert_string_equal(br_log_escape(buf, sizeof(buf), NULL), "-");
        /* cut with a mark, never inside a character */
        assert_string_equal(br_log_escape(buf, 12, "abcdefgh🐱xyz"),
                            "abcdefg...");
        assert_true(strlen(br_log_escape(buf, 8, "0123456789")) < 8);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_base64_vectors),
            cmocka_unit_test(test_base64_rejects),
            cmocka_unit_test(test_rfc3339),
            cmocka_unit_test(test_log_escape),
        };

        return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
