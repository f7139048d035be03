/* Key decoding: form encoding (MinIO, AWS), UTF-8 validation, quoting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "adapters/decode.h"

/* Decodes in and expects want (NUL-terminated, no embedded NUL). */
static void decodes(const char *in, const char *want) {
        char out[4096], err[256] = "";
        size_t len = 0;
        int rc;

        rc = br_form_decode(in, strlen(in), out, &len, err, sizeof(err));
        if (rc != 0)
                fail_msg("\"%s\": %s", in, err);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(out, want, len);
}

/* Expects a failure whose reason contains want. */
static void refuses(const char *in, size_t in_len, const char *want) {
        char out[4096], err[256] = "";
        size_t len = 12345;

        assert_int_equal(
            br_form_decode(in, in_len, out, &len, err, sizeof(err)), -1);
        if (!strstr(err, want))
                fail_msg("reason \"%s\" lacks \"%s\"", err, want);
        assert_int_equal(len, 12345); /* untouched on failure */
}

/* FORMATS.md 1.3 and the fixtures. */
static void test_formats_examples(void **state) {
        (void)state;
        decodes("reports%2F2024+Q1%2F%C3%9Cberblick+%26+Zahlen%2Bfinal+100%"
                "25.pdf",
                "reports/2024 Q1/\xC3\x9C"
                "berblick & Zahlen+final 100%.pdf");
        decodes("photos%2F%F0%9F%90%B1+cat.jpg",
                "photos/\xF0\x9F\x90\xB1 cat.jpg");
        decodes("incoming/Q1+report+%28final%29%2Bv2+%E2%82%AC.pdf",
                "incoming/Q1 report (final)+v2 \xE2\x82\xAC.pdf");
        decodes("backups%2Fvm+images%2Fdisk-01.qcow2",
                "backups/vm images/disk-01.qcow2");
        decodes("red+flower.jpg", "red flower.jpg");
        decodes("logs/hd%3Dtest/file.txt", "logs/hd=test/file.txt");
        decodes("invoice.pdf", "invoice.pdf");
}

static void test_single_escapes(void **state) {
        (void)state;
        decodes("a%2Fb", "a/b");
        decodes("a%2fb", "a/b"); /* lower-case hex is still hex */
        decodes("a/b", "a/b");   /* AWS today leaves "/" alone */
        decodes("+", " ");
        decodes("++", "  ");
        decodes("%2B", "+");
        decodes("%25", "%");
        decodes("%2525", "%25"); /* decoded once, not twice */
        decodes("%20", " ");
        decodes("dir%2F", "dir/"); /* directory marker */
        decodes("~-_.", "~-_.");
        decodes("%7E", "~");
}

static void test_utf8_lengths(void **state) {
        (void)state;
        decodes("%C3%A9", "\xC3\xA9"); /* 2 bytes: é */
        decodes("%E4%B8%8A%E4%BC%A0", "\xE4\xB8\x8A\xE4\xBC\xA0"); /* 上传 */
        decodes("%F0%9F%98%80", "\xF0\x9F\x98\x80"); /* 4 bytes: emoji */
        decodes("%F4%8F%BF%BF", "\xF4\x8F\xBF\xBF"); /* U+10FFFF */
        /* raw UTF-8 next to escapes (AWS leaves some bytes raw) */
        decodes("\xC3\xA9+%C3%A9", "\xC3\xA9 \xC3\xA9");
        /* a sequence half escaped, half raw: bytes are bytes */
        decodes("%C3\xA9", "\xC3\xA9");
}

static void test_bad_percent(void **state) {
        (void)state;
        refuses("%", 1, "invalid percent-encoding at byte 0");
        refuses("%4", 2, "invalid percent-encoding at byte 0");
        refuses("abc%4", 5, "invalid percent-encoding at byte 3");
        refuses("%G1", 3, "invalid percent-encoding at byte 0");
        refuses("%1G", 3, "invalid percent-encoding at byte 0");
        refuses("ok%2Fthen%zz", 12, "invalid percent-encoding at byte 9");
        refuses("% 1", 3, "invalid percent-encoding at byte 0");
        refuses("%+1", 3, "invalid percent-encoding at byte 0");
        refuses("100%.pdf", 8, "invalid percent-encoding at byte 3");
}

static void test_nul(void **state) {
        (void)state;
        refuses("a%00b", 5, "percent-encoded NUL byte at byte 1");
        refuses("a\0b", 3, "NUL byte at byte 1");
}

static void test_bad_utf8_after_decoding(void **state) {
        (void)state;
        /* Latin-1 é */
        refuses("r%E9sum%E9", 10, "not valid UTF-8 after decoding at byte 1");
        /* overlong "/" and overlong NUL */
        refuses("a%C0%AF", 7, "not valid UTF-8 after decoding at byte 1");
        refuses("%C0%80", 6, "at byte 0");
        /* overlong 3-byte form of "/" */
        refuses("x%E0%80%AF", 10, "at byte 1");
        /* UTF-16 surrogate U+D800 */
        refuses("%ED%A0%80", 9, "at byte 0");
        /* above U+10FFFF */
        refuses("%F4%90%80%80", 12, "at byte 0");
        refuses("%F5%80%80%80", 12, "at byte 0");
        /* truncated sequences */
        refuses("ab%E2%82", 8, "at byte 2");
        refuses("%F0%9F%98", 9, "at byte 0");
        /* lone continuation byte */
        refuses("ok%80", 5, "at byte 2");
        /* offsets count encoded bytes: "+" and raw bytes are one each */
        refuses("a+b%2F%FF", 9, "at byte 6");
}

static void test_utf8_check(void **state) {
        static const char ascii[] = "a fairly long ASCII string, 40 bytes..!";

        (void)state;
        assert_int_equal(br_utf8_check("", 0), 0);
        assert_int_equal(br_utf8_check(ascii, sizeof(ascii) - 1),
                         sizeof(ascii) - 1);
        /* the fast path must not hide a bad byte after 8-byte words */
        assert_int_equal(br_utf8_check("0123456789abcdef\xFF", 17), 16);
        assert_int_equal(br_utf8_check("01234567\x80", 9), 8);
        assert_int_equal(br_utf8_check("\xC2\xA9", 2), 2);
        assert_int_equal(br_utf8_check("\xC2", 1), 0);
        assert_int_equal(br_utf8_check("\xC1\xBF", 2), 0);
        assert_int_equal(br_utf8_check("\xEF\xBF\xBD", 3), 3);
        assert_int_equal(br_utf8_check("\xED\x9F\xBF", 3), 3); /* U+D7FF */
        assert_int_equal(br_utf8_check("\xED\xA0\x80", 3), 0);
        assert_int_equal(br_utf8_check("\xEE\x80\x80", 3), 3); /* U+E000 */
        assert_int_equal(br_utf8_check("\xF0\x90\x80\x80", 4), 4);
        assert_int_equal(br_utf8_check("\xF0\x8F\xBF\xBF", 4), 0);
        assert_int_equal(br_utf8_check("\xF4\x8F\xBF\xBF", 4), 4);
        assert_int_equal(br_utf8_check("ab\xF0\x9F\x98", 5), 2);
        assert_int_equal(br_utf8_check("ab\xF0\x9F\x98x", 6), 2);
        assert_int_equal(br_utf8_check("\xF8\x88\x80\x80\x80", 5), 0);
}

static void test_quote(void **state) {
        char buf[160], small[8];
        char long_in[200];

        (void)state;
        assert_string_equal(br_quote(buf, sizeof(buf), "foo:s3", 6),
                            "\"foo:s3\"");
        assert_string_equal(br_quote(buf, sizeof(buf), "a\"b\\c\n", 6),
                            "\"a\\x22b\\x5Cc\\x0A\"");
        assert_string_equal(br_quote(buf, sizeof(buf), "\xC3\x9C\xFF", 3),
                            "\"\xC3\x9C\\xFF\"");
        memset(long_in, 'x', sizeof(long_in));
        br_quote(buf, sizeof(buf), long_in, sizeof(long_in));
        assert_int_equal(strlen(buf), 1 + 64 + 1 + 3);
        assert_string_equal(buf + 66, "...");
        /* tiny buffers never overflow */
        br_quote(small, sizeof(small), long_in, sizeof(long_in));
        assert_true(strlen(small) < sizeof(small));
        br_quote(buf, 12, long_in, sizeof(long_in));
        assert_true(strlen(buf) < 12);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_formats_examples),
            cmocka_unit_test(test_single_escapes),
            cmocka_unit_test(test_utf8_lengths),
            cmocka_unit_test(test_bad_percent),
            cmocka_unit_test(test_nul),
            cmocka_unit_test(test_bad_utf8_after_decoding),
            cmocka_unit_test(test_utf8_check),
            cmocka_unit_test(test_quote),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
