/* The contiguous watermark: out-of-order completion, gaps, revoke. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bridge/offsets.h"

static void test_in_order(void **state) {
        struct br_offsets o;
        struct br_partition *p;

        (void)state;
        br_offsets_init(&o);
        p = br_offsets_partition(&o, "t", 0);
        assert_non_null(p);
        assert_int_equal(br_offsets_watermark(p), -1);
        assert_int_equal(br_offsets_track(&o, p, 0), 0);
        assert_int_equal(br_offsets_watermark(p), 0);
        br_offsets_mark_done(&o, p, 0);
        assert_int_equal(br_offsets_watermark(p), 1);
        assert_int_equal(o.open, 0);
        br_offsets_destroy(&o);
}

/* STYLE.md 3: open 10, 11, 12; 12 and 10 finish -> 11; 11 finishes -> 13 */
static void test_out_of_order(void **state) {
        struct br_offsets o;
        struct br_partition *p;

        (void)state;
        br_offsets_init(&o);
        p = br_offsets_partition(&o, "t", 3);
        br_offsets_track(&o, p, 10);
        br_offsets_track(&o, p, 11);
        br_offsets_track(&o, p, 12);
        br_offsets_mark_done(&o, p, 12);
        assert_int_equal(br_offsets_watermark(p), 10);
        br_offsets_mark_done(&o, p, 10);
        assert_int_equal(br_offsets_watermark(p), 11);
        assert_int_equal(o.open, 1);
        br_offsets_mark_done(&o, p, 11);
        assert_int_equal(br_offsets_watermark(p), 13);
        assert_int_equal(o.open, 0);
        br_offsets_destroy(&o);
}

/* Compacted topics and transaction markers leave gaps in offsets. */
static void test_gaps(void **state) {
        struct br_offsets o;
        struct br_partition *p;

        (void)state;
        br_offsets_init(&o);
        p = br_offsets_partition(&o, "t", 0);
        br_offsets_track(&o, p, 5);
        br_offsets_track(&o, p, 9);
        br_offsets_track(&o, p, 20);
        br_offsets_mark_done(&o, p, 9);
        assert_int_equal(br_offsets_watermark(p), 5);
        br_offsets_mark_done(&o, p, 5);
        assert_int_equal(br_offsets_watermark(p), 20);
        br_offsets_mark_done(&o, p, 20);
        assert_int_equal(br_offsets_watermark(p), 21);
        br_offsets_destroy(&o);
}

static void test_unknown_and_double_done(void **state) {
        struct br_offsets o;
        struct br_partition *p;

        (void)state;
        br_offsets_init(&o);
        p = br_offsets_partition(&o, "t", 0);
        br_offsets_track(&o, p, 1);
        br_offsets_track(&o, p, 2);
        br_offsets_mark_done(&o, p, 7); /* never tracked */
        br_offsets_mark_done(&o, p, 2);
        br_offsets_mark_done(&o, p, 2); /* twice must not count twice */
        assert_int_equal(o.open, 1);
        assert_int_equal(br_offsets_watermark(p), 1);
        br_offsets_destroy(&o);
}

/* The ring grows past its first size while the head is mid-array. */
static void test_growth_wraps(void **state) {
        struct br_offsets o;
        struct br_partition *p;
        int64_t i;

        (void)state;
        br_offsets_init(&o);
        p = br_offsets_partition(&o, "t", 0);
        for (i = 0; i < 50; i++)
                br_offsets_track(&o, p, i);
        for (i = 0; i < 40; i++)
                br_offsets_mark_done(&o, p, i);
        for (i = 50; i < 1000; i++)
                br_offsets_track(&o, p, i);
        assert_int_equal(br_offsets_watermark(p), 40);
        for (i = 999; i >= 41; i--)
                br_offsets_mark_done(&o, p, i);
        assert_int_equal(br_offsets_watermark(p), 40);
        br_offsets_mark_done(&o, p, 40);
        assert_int_equal(br_offsets_watermark(p), 1000);
        assert_int_equal(o.open, 0);
        br_offsets_destroy(&o);
}

/* Revoke: open messages become orphans; finishing them later changes
 * nothing, and a new assignment starts clean. */
static void test_revoke_orphans(void **state) {
        struct br_offsets o;
        struct br_partition *p;
        unsigned gen;

        (void)state;
        br_offsets_init(&o);
        p = br_offsets_partition(&o, "t", 0);
        br_offsets_track(&o, p, 100);
        br_offsets_track(&o, p, 101);
        gen = p->generation;
        br_offsets_orphan(&o, p);
        assert_int_not_equal(p->generation, gen);
        assert_int_equal(o.open, 0);
        assert_int_equal(br_offsets_watermark(p), -1);
        br_offsets_mark_done(&o, p, 100);
        assert_int_equal(o.open, 0);
        br_offsets_track(&o, p, 101);
        assert_int_equal(br_offsets_watermark(p), 101);
        br_offsets_destroy(&o);
}

/* Going back (seek, offset reset) orphans what was open. */
static void test_rewind(void **state) {
        struct br_offsets o;
        struct br_partition *p;

        (void)state;
        br_offsets_init(&o);
        p = br_offsets_partition(&o, "t", 0);
        br_offsets_track(&o, p, 10);
        br_offsets_track(&o, p, 11);
        br_offsets_track(&o, p, 3);
        assert_int_equal(o.open, 1);
        assert_int_equal(br_offsets_watermark(p), 3);
        br_offsets_destroy(&o);
}

static void test_partitions_apart(void **state) {
        struct br_offsets o;
        struct br_partition *a, *b;

        (void)state;
        br_offsets_init(&o);
        a = br_offsets_partition(&o, "t", 0);
        b = br_offsets_partition(&o, "t", 1);
        assert_ptr_not_equal(a, b);
        assert_ptr_equal(br_offsets_partition(&o, "t", 0), a);
        assert_ptr_not_equal(br_offsets_partition(&o, "u", 0), a);
        br_offsets_track(&o, a, 7);
        br_offsets_track(&o, b, 7);
        br_offsets_mark_done(&o, b, 7);
        assert_int_equal(br_offsets_watermark(a), 7);
        assert_int_equal(br_offsets_watermark(b), 8);
        br_offsets_destroy(&o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_in_order),
            cmocka_unit_test(test_out_of_order),
            cmocka_unit_test(test_gaps),
            cmocka_unit_test(test_unknown_and_double_done),
            cmocka_unit_test(test_growth_wraps),
            cmocka_unit_test(test_revoke_orphans),
            cmocka_unit_test(test_rewind),
            cmocka_unit_test(test_partitions_apart),
        };

        return cmocka_run_group_tests_name("offsets", tests, NULL, NULL);
}
