#include "bridge/retry.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bridge/conf.h"

/* ---- random source ---------------------------------------------------- */

/* splitmix64: spreads a weak seed (clock, pid) over all 64 bits and never
 * maps to the xorshift generator's forbidden 0 state in practice. */
static uint64_t splitmix64(uint64_t x) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

void br_retry_rng_seed(struct br_retry_rng *rng, uint64_t seed) {
        rng->next   = NULL;
        rng->opaque = NULL;
        rng->state  = splitmix64(seed);
        if (rng->state == 0) /* xorshift stays at 0 forever */
                rng->state = 0x9e3779b97f4a7c15ULL;
}

void br_retry_rng_init(struct br_retry_rng *rng) {
        uint64_t seed = 0;
        struct timespec ts;

        if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) !=
            (ssize_t)sizeof(seed)) {
                /* early boot or an old kernel: jitter only needs processes
                 * to differ, not secrecy */
                clock_gettime(CLOCK_REALTIME, &ts);
                seed =
                    (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                seed ^= splitmix64((uint64_t)ts.tv_nsec) ^
                        ((uint64_t)getpid() << 32);
        }
        br_retry_rng_seed(rng, seed);
}

uint64_t br_retry_rng_next(struct br_retry_rng *rng) {
        uint64_t x;

        if (rng->next)
                return rng->next(rng->opaque);
        /* xorshift64* (Vigna): tiny, fast, good enough for jitter */
        x = rng->state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        rng->state = x;
        return x * 0x2545f4914f6cdd1dULL;
}

/* ---- backoff ---------------------------------------------------------- */

void br_retry_policy_from_conf(struct br_retry_policy *p,
                               const struct br_conf *conf) {
        p->initial_backoff_ms = conf->retry.initial_backoff_ms;
        p->max_backoff_ms     = conf->retry.max_backoff_ms;
        p->max_retry_after_ms = conf->retry.max_retry_after_ms;
        p->max_age_ms         = conf->retry.max_age_ms;
        p->max_attempts       = conf->retry.max_attempts;
}

static int64_t add_sat(int64_t a, int64_t b) {
        /* b >= 0 everywhere we add: only the upper bound can be hit */
        return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t ms_to_us_sat(int64_t ms) {
        return ms > INT64_MAX / 1000 ? INT64_MAX : ms * 1000;
}

int64_t br_retry_delay_ms(const struct br_retry_policy *p,
                          struct br_retry_rng *rng, int attempt,
                          long retry_after_s) {
        int64_t base = p->initial_backoff_ms > 0 ? p->initial_backoff_ms : 0;
        int64_t cap  = p->max_backoff_ms > base ? p->max_backoff_ms : base;
        int shift    = attempt > 1 ? attempt - 1 : 0;
        int64_t upper, delay, ra_ms, ra_cap;
        uint64_t span;

        /* base * 2^shift without overflow: once it would pass cap (or the
         * shift alone would overflow), the window is [base, cap] */
        if (shift >= 62 || base > (cap >> shift))
                upper = cap;
        else
                upper = base << shift;
        if (upper > cap)
                upper = cap;
        /* the window holds at most 2^63 values: fits in uint64 */
        span  = (uint64_t)(upper - base) + 1;
        delay = base + (int64_t)(br_retry_rng_next(rng) % span);

        if (retry_after_s > 0) {
                ra_cap = p->max_retry_after_ms > 0 ? p->max_retry_after_ms : 0;
                ra_ms  = retry_after_s > ra_cap / 1000
                             ? ra_cap
                             : (int64_t)retry_after_s * 1000;
                if (ra_ms > delay)
                        delay = ra_ms;
        }
        return delay;
}

int br_retry_next(const struct br_retry_policy *p, struct br_retry_rng *rng,
                  int attempts, int64_t first_attempt_us, int64_t now_us,
                  long retry_after_s, int64_t *due_us) {
        int64_t deadline = INT64_MAX, due;

        if (attempts < 1)
                attempts = 1;
        if (p->max_attempts > 0 && attempts >= p->max_attempts)
                return 0;
        if (p->max_age_ms > 0) {
                deadline =
                    add_sat(first_attempt_us, ms_to_us_sat(p->max_age_ms));
                if (now_us >= deadline)
                        return 0;
        }
        due = add_sat(now_us, ms_to_us_sat(br_retry_delay_ms(p, rng, attempts,
                                                             retry_after_s)));
        /* the last try lands on the deadline rather than after it */
        if (due > deadline)
                due = deadline;
        *due_us = due;
        return 1;
}

/* ---- circuit ---------------------------------------------------------- */

void br_circuit_init(struct br_circuit *c) {
        memset(c, 0, sizeof(*c));
        c->state = BR_CIRCUIT_CLOSED;
}

int br_circuit_allow(struct br_circuit *c, int64_t now_us) {
        switch (c->state) {
        case BR_CIRCUIT_CLOSED:
                return 1;
        case BR_CIRCUIT_OPEN:
                if (now_us < c->open_until_us)
                        return 0;
                c->state           = BR_CIRCUIT_HALF_OPEN;
                c->probe_in_flight = 1;
                return 1;
        case BR_CIRCUIT_HALF_OPEN:
                if (c->probe_in_flight)
                        return 0;
                c->probe_in_flight = 1;
                return 1;
        }
        return 0;
}

int br_circuit_success(struct br_circuit *c) {
        int changed = c->state != BR_CIRCUIT_CLOSED || c->probe_interval_us;

        br_circuit_init(c);
        return changed;
}

static void circuit_open(struct br_circuit *c, int64_t now_us,
                         int64_t delay_us) {
        c->state           = BR_CIRCUIT_OPEN;
        c->probe_in_flight = 0;
        c->open_until_us   = add_sat(now_us, delay_us);
}

int br_circuit_failure(struct br_circuit *c, const struct br_retry_policy *p,
                       struct br_retry_rng *rng, int threshold, int64_t now_us,
                       long retry_after_s) {
        int from_closed;

        if (c->state == BR_CIRCUIT_OPEN)
                return 0;
        if (c->probe_interval_us > 0) {
                /* outage mode: a failed probe tells nothing new about the
                 * unit's setup; keep the fixed rhythm */
                circuit_open(c, now_us, c->probe_interval_us);
                return 0;
        }
        from_closed = c->state == BR_CIRCUIT_CLOSED;
        if (from_closed) {
                if (c->failures < INT32_MAX)
                        c->failures++;
                if (threshold <= 0 || c->failures < threshold)
                        return 0;
        }
        /* the step only matters until the window reaches the cap (at most
         * 63 doublings), so stop counting there */
        if (c->opens < 64)
                c->opens++;
        circuit_open(
            c, now_us,
            ms_to_us_sat(br_retry_delay_ms(p, rng, c->opens, retry_after_s)));
        return from_closed;
}

int br_circuit_outage(struct br_circuit *c, int64_t now_us,
                      int64_t interval_us) {
        int entered = c->probe_interval_us == 0;

        c->probe_interval_us = interval_us > 0 ? interval_us : 1;
        c->failures          = 0;
        c->opens             = 0;
        circuit_open(c, now_us, c->probe_interval_us);
        return entered;
}

void br_circuit_release(struct br_circuit *c) {
        if (c->state == BR_CIRCUIT_HALF_OPEN)
                c->probe_in_flight = 0;
}

int64_t br_circuit_next_us(const struct br_circuit *c) {
        switch (c->state) {
        case BR_CIRCUIT_OPEN:
                return c->open_until_us;
        case BR_CIRCUIT_HALF_OPEN:
                return c->probe_in_flight ? -1 : 0;
        default:
                return -1;
        }
}

int br_circuit_in_outage(const struct br_circuit *c) {
        return c->probe_interval_us > 0;
}
