/* retry.c: backoff bounds and growth with a deterministic random source,
 * Retry-After, give-up rules, overflow, the circuit and outage mode. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bridge/conf.h"
#include "bridge/retry.h"

#define MS 1000LL /* microseconds */

/* A random source that returns one fixed value. */
static uint64_t fixed_next(void *opaque) {
        return *(const uint64_t *)opaque;
}

static struct br_retry_rng fixed_rng(uint64_t *value) {
        struct br_retry_rng rng = {fixed_next, value, 0};

        return rng;
}

static struct br_retry_policy policy(int64_t base, int64_t cap) {
        struct br_retry_policy p;

        memset(&p, 0, sizeof(p));
        p.initial_backoff_ms = base;
        p.max_backoff_ms     = cap;
        p.max_retry_after_ms = 120000;
        return p;
}

static int64_t window_upper(int64_t base, int64_t cap, int attempt) {
        int64_t upper = base;
        int i;

        for (i = 1; i < attempt && upper < cap; i++)
                upper *= 2;
        return upper < cap ? upper : cap;
}

static void test_backoff_bounds_many_draws(void **state) {
        struct br_retry_policy p = policy(100, 10000);
        struct br_retry_rng rng;
        int attempt, i;

        (void)state;
        br_retry_rng_seed(&rng, 42);
        for (attempt = 1; attempt <= 20; attempt++) {
                int64_t upper = window_upper(100, 10000, attempt);
                int64_t lo = INT64_MAX, hi = 0, slack = (upper - 100) / 20;

                for (i = 0; i < 5000; i++) {
                        int64_t d = br_retry_delay_ms(&p, &rng, attempt, -1);

                        assert_true(d >= 100);
                        assert_true(d <= upper);
                        assert_true(d <= 10000);
                        lo = d < lo ? d : lo;
                        hi = d > hi ? d : hi;
                }
                /* full jitter: the draws cover the whole window */
                assert_true(lo <= 100 + slack);
                assert_true(hi >= upper - slack);
        }
}

static void test_backoff_exact_window(void **state) {
        struct br_retry_policy p = policy(100, 10000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);

        (void)state;
        /* attempt 3: [100, 400], 301 values */
        assert_int_equal(br_retry_delay_ms(&p, &rng, 3, -1), 100);
        v = 300;
        assert_int_equal(br_retry_delay_ms(&p, &rng, 3, -1), 400);
        v = 301;
        assert_int_equal(br_retry_delay_ms(&p, &rng, 3, -1), 100);
        /* attempt 1: the window is [base, base] */
        v = 12345;
        assert_int_equal(br_retry_delay_ms(&p, &rng, 1, -1), 100);
        /* capped window [100, 10000] */
        v = 9900;
        assert_int_equal(br_retry_delay_ms(&p, &rng, 30, -1), 10000);
        v = 9901;
        assert_int_equal(br_retry_delay_ms(&p, &rng, 30, -1), 100);
        /* attempts below 1 are treated as the first */
        v = 5;
        assert_int_equal(br_retry_delay_ms(&p, &rng, 0, -1), 100);
        assert_int_equal(br_retry_delay_ms(&p, &rng, -7, -1), 100);
}

static void test_backoff_growth(void **state) {
        struct br_retry_policy p = policy(50, 100000);
        struct br_retry_rng rng;
        double prev = 0;
        int attempt, i;

        (void)state;
        br_retry_rng_seed(&rng, 7);
        /* the mean doubles-ish while below the cap: 50*2^10 > 100000/2 */
        for (attempt = 1; attempt <= 11; attempt++) {
                double sum = 0;

                for (i = 0; i < 2000; i++)
                        sum += (double)br_retry_delay_ms(&p, &rng, attempt, -1);
                sum /= 2000;
                if (attempt > 1)
                        assert_true(sum > prev * 1.3);
                prev = sum;
        }
}

static void test_retry_after_raises_above_cap(void **state) {
        struct br_retry_policy p = policy(100, 1000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);

        (void)state;
        /* honoured even above max_backoff */
        assert_int_equal(br_retry_delay_ms(&p, &rng, 1, 5), 5000);
        assert_int_equal(br_retry_delay_ms(&p, &rng, 50, 30), 30000);
}

static void test_retry_after_clamped(void **state) {
        struct br_retry_policy p = policy(100, 1000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);

        (void)state;
        p.max_retry_after_ms = 3000;
        assert_int_equal(br_retry_delay_ms(&p, &rng, 1, 10), 3000);
        assert_int_equal(br_retry_delay_ms(&p, &rng, 1, LONG_MAX), 3000);
        assert_int_equal(br_retry_delay_ms(&p, &rng, 1, 3), 3000);
        assert_int_equal(br_retry_delay_ms(&p, &rng, 1, 2), 2000);
        /* a huge bound: no overflow in seconds to milliseconds */
        p.max_retry_after_ms = INT64_MAX;
        assert_true(br_retry_delay_ms(&p, &rng, 1, LONG_MAX) == INT64_MAX);
        assert_int_equal(br_retry_delay_ms(&p, &rng, 1, 86400), 86400000);
}

static void test_retry_after_only_raises(void **state) {
        struct br_retry_policy p = policy(5000, 5000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);

        (void)state;
        assert_int_equal(br_retry_delay_ms(&p, &rng, 1, 1), 5000);
}

static void test_retry_after_past_date(void **state) {
        struct br_retry_policy p = policy(100, 10000);
        struct br_retry_rng rng;
        int i;

        (void)state;
        br_retry_rng_seed(&rng, 3);
        /* curl gives 0 for a date in the past: the backoff alone counts */
        for (i = 0; i < 1000; i++) {
                int64_t d = br_retry_delay_ms(&p, &rng, 4, 0);

                assert_true(d >= 100 && d <= 800);
        }
}

static void test_next_due_and_retry_after(void **state) {
        struct br_retry_policy p = policy(100, 1000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);
        int64_t now = 5000000 * MS, due = 0;

        (void)state;
        assert_int_equal(br_retry_next(&p, &rng, 1, now, now, -1, &due), 1);
        assert_int_equal(due, now + 100 * MS);
        assert_int_equal(br_retry_next(&p, &rng, 2, now, now, 7, &due), 1);
        assert_int_equal(due, now + 7000 * MS);
}

static void test_max_attempts(void **state) {
        struct br_retry_policy p = policy(100, 1000);
        struct br_retry_rng rng;
        int64_t due = -1;

        (void)state;
        br_retry_rng_seed(&rng, 1);
        p.max_attempts = 3;
        assert_int_equal(br_retry_next(&p, &rng, 1, 0, 0, -1, &due), 1);
        assert_int_equal(br_retry_next(&p, &rng, 2, 0, 0, -1, &due), 1);
        due = -1;
        assert_int_equal(br_retry_next(&p, &rng, 3, 0, 0, -1, &due), 0);
        assert_int_equal(due, -1); /* untouched on give-up */
        assert_int_equal(br_retry_next(&p, &rng, 4, 0, 0, -1, &due), 0);
        /* a Retry-After does not buy extra attempts */
        assert_int_equal(br_retry_next(&p, &rng, 3, 0, 0, 5, &due), 0);
        /* 0 = unlimited */
        p.max_attempts = 0;
        assert_int_equal(br_retry_next(&p, &rng, 100000, 0, 0, -1, &due), 1);
        /* max_attempts 1: no retry at all */
        p.max_attempts = 1;
        assert_int_equal(br_retry_next(&p, &rng, 1, 0, 0, -1, &due), 0);
}

static void test_max_age(void **state) {
        struct br_retry_policy p = policy(100, 1000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);
        int64_t first = 1000 * MS, due = 0;

        (void)state;
        p.max_age_ms = 60000;
        assert_int_equal(
            br_retry_next(&p, &rng, 5, first, first + 30000 * MS, -1, &due), 1);
        assert_int_equal(due, first + 30100 * MS);
        /* age reached: give up */
        assert_int_equal(
            br_retry_next(&p, &rng, 5, first, first + 60000 * MS, -1, &due), 0);
        assert_int_equal(
            br_retry_next(&p, &rng, 5, first, first + 90000 * MS, -1, &due), 0);
        /* 0 = forever */
        p.max_age_ms = 0;
        assert_int_equal(br_retry_next(&p, &rng, 5, first,
                                       first + 1000000000 * MS, -1, &due),
                         1);
}

static void test_max_age_clamps_due(void **state) {
        struct br_retry_policy p = policy(100, 1000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);
        int64_t first = 0, now = 59950 * MS, due = 0;

        (void)state;
        p.max_age_ms = 60000;
        /* backoff 100 ms would land past the deadline: pulled back */
        assert_int_equal(br_retry_next(&p, &rng, 2, first, now, -1, &due), 1);
        assert_int_equal(due, 60000 * MS);
        /* so does a long Retry-After */
        now = 10000 * MS;
        assert_int_equal(br_retry_next(&p, &rng, 2, first, now, 100, &due), 1);
        assert_int_equal(due, 60000 * MS);
        /* and the attempt at the deadline gives up */
        assert_int_equal(br_retry_next(&p, &rng, 3, first, due, -1, &due), 0);
}

static void test_overflow_huge_attempts(void **state) {
        struct br_retry_policy p = policy(100, 30000);
        struct br_retry_rng rng;
        int64_t due = 0;
        int i;

        (void)state;
        br_retry_rng_seed(&rng, 99);
        for (i = 0; i < 1000; i++) {
                int64_t d = br_retry_delay_ms(&p, &rng, 1000, -1);

                assert_true(d >= 100 && d <= 30000);
                d = br_retry_delay_ms(&p, &rng, INT_MAX, -1);
                assert_true(d >= 100 && d <= 30000);
        }
        /* big base: base * 2 already overflows int64 */
        p = policy(INT64_MAX / 2 + 1, INT64_MAX);
        for (i = 0; i < 100; i++) {
                int64_t d = br_retry_delay_ms(&p, &rng, 1000, -1);

                assert_true(d >= INT64_MAX / 2 + 1);
        }
        /* full window [0, INT64_MAX] */
        p = policy(0, INT64_MAX);
        for (i = 0; i < 100; i++)
                assert_true(br_retry_delay_ms(&p, &rng, 64, -1) >= 0);
        /* due saturates instead of wrapping */
        p = policy(INT64_MAX / 4, INT64_MAX / 2);
        assert_int_equal(
            br_retry_next(&p, &rng, 1000, 0, INT64_MAX - 5, -1, &due), 1);
        assert_true(due >= INT64_MAX - 5);
        p.max_age_ms = INT64_MAX;
        assert_int_equal(br_retry_next(&p, &rng, 1000, 0, 10, -1, &due), 1);
        assert_true(due > 10);
}

static void test_cap_below_base(void **state) {
        struct br_retry_policy p = policy(500, 100);
        struct br_retry_rng rng;
        int i;

        (void)state;
        br_retry_rng_seed(&rng, 5);
        for (i = 0; i < 100; i++)
                assert_int_equal(br_retry_delay_ms(&p, &rng, 1 + i, -1), 500);
}

static void test_rng(void **state) {
        struct br_retry_rng a, b, c;
        uint64_t v = 77, x;
        int i, same = 0;

        (void)state;
        br_retry_rng_seed(&a, 1234);
        br_retry_rng_seed(&b, 1234);
        for (i = 0; i < 100; i++)
                assert_true(br_retry_rng_next(&a) == br_retry_rng_next(&b));
        /* a copy goes on with the same sequence: no pointer to itself */
        c = a;
        x = br_retry_rng_next(&a);
        assert_true(br_retry_rng_next(&c) == x);
        /* seed 0 still gives a working generator */
        br_retry_rng_seed(&a, 0);
        assert_true(a.state != 0);
        assert_true(br_retry_rng_next(&a) != br_retry_rng_next(&a));
        /* two default generators differ */
        br_retry_rng_init(&a);
        br_retry_rng_init(&b);
        for (i = 0; i < 4; i++)
                same += br_retry_rng_next(&a) == br_retry_rng_next(&b);
        assert_true(same < 4);
        /* injected source wins */
        a = fixed_rng(&v);
        assert_true(br_retry_rng_next(&a) == 77);
}

static void test_policy_from_conf(void **state) {
        struct br_conf conf;
        struct br_retry_policy p;

        (void)state;
        memset(&conf, 0, sizeof(conf));
        conf.retry.initial_backoff_ms = 250;
        conf.retry.max_backoff_ms     = 30000;
        conf.retry.max_retry_after_ms = 600000;
        conf.retry.max_age_ms         = 86400000;
        conf.retry.max_attempts       = 9;
        br_retry_policy_from_conf(&p, &conf);
        assert_int_equal(p.initial_backoff_ms, 250);
        assert_int_equal(p.max_backoff_ms, 30000);
        assert_int_equal(p.max_retry_after_ms, 600000);
        assert_int_equal(p.max_age_ms, 86400000);
        assert_int_equal(p.max_attempts, 9);
}

/* ---- circuit ---------------------------------------------------------- */

static void test_circuit_opens_after_threshold(void **state) {
        struct br_retry_policy p = policy(100, 10000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);
        struct br_circuit c;
        int64_t now = 1000 * MS;

        (void)state;
        br_circuit_init(&c);
        assert_int_equal(br_circuit_next_us(&c), -1);
        assert_int_equal(br_circuit_allow(&c, now), 1);
        assert_int_equal(br_circuit_failure(&c, &p, &rng, 3, now, -1), 0);
        assert_int_equal(br_circuit_failure(&c, &p, &rng, 3, now, -1), 0);
        assert_int_equal(br_circuit_allow(&c, now), 1);
        /* a success in between resets the count */
        assert_int_equal(br_circuit_success(&c), 0);
        assert_int_equal(br_circuit_failure(&c, &p, &rng, 3, now, -1), 0);
        assert_int_equal(br_circuit_failure(&c, &p, &rng, 3, now, -1), 0);
        assert_int_equal(br_circuit_allow(&c, now), 1);
        assert_int_equal(br_circuit_failure(&c, &p, &rng, 3, now, -1), 1);
        assert_int_equal(c.state, BR_CIRCUIT_OPEN);
        assert_int_equal(br_circuit_next_us(&c), now + 100 * MS);
        assert_int_equal(br_circuit_allow(&c, now), 0);
        assert_int_equal(br_circuit_allow(&c, now + 99 * MS), 0);
}

static void test_circuit_one_probe_at_a_time(void **state) {
        struct br_retry_policy p = policy(100, 10000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);
        struct br_circuit c;
        int64_t now = 0;

        (void)state;
        br_circuit_init(&c);
        br_circuit_failure(&c, &p, &rng, 1, now, -1);
        now += 100 * MS;
        assert_int_equal(br_circuit_allow(&c, now), 1);
        assert_int_equal(c.state, BR_CIRCUIT_HALF_OPEN);
        assert_int_equal(br_circuit_next_us(&c), -1);
        assert_int_equal(br_circuit_allow(&c, now), 0);
        assert_int_equal(br_circuit_allow(&c, now + 1000000 * MS), 0);
        /* a probe that ended without a verdict frees the slot */
        br_circuit_release(&c);
        assert_int_equal(br_circuit_next_us(&c), 0);
        assert_int_equal(br_circuit_allow(&c, now), 1);
        assert_int_equal(br_circuit_allow(&c, now), 0);
}

static void test_circuit_closes_on_success(void **state) {
        struct br_retry_policy p = policy(100, 10000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);
        struct br_circuit c;

        (void)state;
        br_circuit_init(&c);
        br_circuit_failure(&c, &p, &rng, 1, 0, -1);
        assert_int_equal(br_circuit_allow(&c, 100 * MS), 1);
        assert_int_equal(br_circuit_success(&c), 1);
        assert_int_equal(c.state, BR_CIRCUIT_CLOSED);
        assert_int_equal(br_circuit_next_us(&c), -1);
        assert_int_equal(br_circuit_allow(&c, 100 * MS), 1);
        assert_int_equal(br_circuit_allow(&c, 100 * MS), 1);
        /* the backoff step starts over: next open is base again */
        assert_int_equal(br_circuit_failure(&c, &p, &rng, 1, 0, -1), 1);
        assert_int_equal(br_circuit_next_us(&c), 100 * MS);
}

static void test_circuit_reopens_on_probe_failure(void **state) {
        struct br_retry_policy p = policy(100, 1000);
        uint64_t v               = 1u << 30; /* never the window's start */
        struct br_retry_rng rng  = fixed_rng(&v);
        struct br_retry_rng seeded;
        struct br_circuit c;
        int64_t now = 0, until;
        int k;

        (void)state;
        br_circuit_init(&c);
        br_circuit_failure(&c, &p, &rng, 1, now, -1);
        for (k = 2; k <= 8; k++) {
                now = br_circuit_next_us(&c);
                assert_int_equal(br_circuit_allow(&c, now), 1);
                /* the probe fails: open again, no new state change */
                assert_int_equal(br_circuit_failure(&c, &p, &rng, 1, now, -1),
                                 0);
                assert_int_equal(c.state, BR_CIRCUIT_OPEN);
                assert_int_equal(br_circuit_allow(&c, now), 0);
                until = br_circuit_next_us(&c);
                assert_true(until >= now + 100 * MS);
                assert_true(until <= now + window_upper(100, 1000, k) * MS);
        }
        /* late failures of requests sent before it opened change nothing */
        until = br_circuit_next_us(&c);
        assert_int_equal(br_circuit_failure(&c, &p, &rng, 1, now + 5, -1), 0);
        assert_int_equal(br_circuit_next_us(&c), until);
        /* the window grows with each reopen (statistically) */
        br_retry_rng_seed(&seeded, 11);
        {
                double first = 0, later = 0;
                int i;

                for (i = 0; i < 500; i++) {
                        br_circuit_init(&c);
                        br_circuit_failure(&c, &p, &seeded, 1, 0, -1);
                        br_circuit_allow(&c, c.open_until_us);
                        br_circuit_failure(&c, &p, &seeded, 1, 0, -1);
                        first += (double)c.open_until_us;
                        br_circuit_allow(&c, c.open_until_us);
                        br_circuit_failure(&c, &p, &seeded, 1, 0, -1);
                        br_circuit_allow(&c, c.open_until_us);
                        br_circuit_failure(&c, &p, &seeded, 1, 0, -1);
                        later += (double)c.open_until_us;
                }
                assert_true(later > first * 1.5);
        }
}

static void test_circuit_retry_after(void **state) {
        struct br_retry_policy p = policy(100, 1000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);
        struct br_circuit c;

        (void)state;
        br_circuit_init(&c);
        assert_int_equal(br_circuit_failure(&c, &p, &rng, 1, 0, 20), 1);
        assert_int_equal(br_circuit_next_us(&c), 20000 * MS);
}

static void test_circuit_threshold_zero_never_opens(void **state) {
        struct br_retry_policy p = policy(100, 1000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);
        struct br_circuit c;
        int i;

        (void)state;
        br_circuit_init(&c);
        for (i = 0; i < 1000; i++)
                assert_int_equal(br_circuit_failure(&c, &p, &rng, 0, 0, -1), 0);
        assert_int_equal(br_circuit_allow(&c, 0), 1);
        assert_int_equal(br_circuit_next_us(&c), -1);
}

static void test_circuit_outage(void **state) {
        struct br_retry_policy p = policy(100, 1000);
        uint64_t v               = 0;
        struct br_retry_rng rng  = fixed_rng(&v);
        struct br_circuit c;
        int64_t now = 10 * MS, every = 30000 * MS;

        (void)state;
        br_circuit_init(&c);
        assert_int_equal(br_circuit_in_outage(&c), 0);
        assert_int_equal(br_circuit_outage(&c, now, every), 1);
        assert_int_equal(br_circuit_in_outage(&c), 1);
        assert_int_equal(br_circuit_next_us(&c), now + every);
        assert_int_equal(br_circuit_allow(&c, now + every - 1), 0);
        now += every;
        assert_int_equal(br_circuit_allow(&c, now), 1);
        assert_int_equal(br_circuit_allow(&c, now), 0);
        /* the probe says outage again: no change to report */
        assert_int_equal(br_circuit_outage(&c, now, every), 0);
        assert_int_equal(br_circuit_next_us(&c), now + every);
        now += every;
        assert_int_equal(br_circuit_allow(&c, now), 1);
        /* the probe hit a 503: keep the fixed rhythm, not the backoff */
        assert_int_equal(br_circuit_failure(&c, &p, &rng, 1, now, -1), 0);
        assert_int_equal(br_circuit_in_outage(&c), 1);
        assert_int_equal(br_circuit_next_us(&c), now + every);
        now += every;
        assert_int_equal(br_circuit_allow(&c, now), 1);
        /* the probe went through: one change to report */
        assert_int_equal(br_circuit_success(&c), 1);
        assert_int_equal(br_circuit_in_outage(&c), 0);
        assert_int_equal(br_circuit_allow(&c, now), 1);
        assert_int_equal(br_circuit_success(&c), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_backoff_bounds_many_draws),
            cmocka_unit_test(test_backoff_exact_window),
            cmocka_unit_test(test_backoff_growth),
            cmocka_unit_test(test_retry_after_raises_above_cap),
            cmocka_unit_test(test_retry_after_clamped),
            cmocka_unit_test(test_retry_after_only_raises),
            cmocka_unit_test(test_retry_after_past_date),
            cmocka_unit_test(test_next_due_and_retry_after),
            cmocka_unit_test(test_max_attempts),
            cmocka_unit_test(test_max_age),
            cmocka_unit_test(test_max_age_clamps_due),
            cmocka_unit_test(test_overflow_huge_attempts),
            cmocka_unit_test(test_cap_below_base),
            cmocka_unit_test(test_rng),
            cmocka_unit_test(test_policy_from_conf),
            cmocka_unit_test(test_circuit_opens_after_threshold),
            cmocka_unit_test(test_circuit_one_probe_at_a_time),
            cmocka_unit_test(test_circuit_closes_on_success),
            cmocka_unit_test(test_circuit_reopens_on_probe_failure),
            cmocka_unit_test(test_circuit_retry_after),
            cmocka_unit_test(test_circuit_threshold_zero_never_opens),
            cmocka_unit_test(test_circuit_outage),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
