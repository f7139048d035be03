/* Backoff, give-up and circuit decisions: the only place that knows them
 * (STYLE.md 5).  Pure: the clock (monotonic microseconds) and the random
 * source are handed in, nothing is global, nothing is logged. */
#ifndef BR_RETRY_H
#define BR_RETRY_H

#include <stdint.h>

struct br_conf;

struct br_retry_policy {
        int64_t initial_backoff_ms; /* base of the full-jitter window */
        int64_t max_backoff_ms;     /* cap of the window */
        int64_t max_retry_after_ms; /* bound on a server's Retry-After */
        int64_t max_age_ms;         /* 0 = forever */
        int max_attempts;           /* 0 = unlimited */
};

/* The random source.  With next set, next(opaque) gives uniform 64-bit
 * values (tests inject one).  With next NULL, the built-in xorshift64*
 * generator runs on state: the struct can be copied, it holds no pointer
 * into itself. */
struct br_retry_rng {
        uint64_t (*next)(void *opaque);
        void *opaque;
        uint64_t state; /* built-in generator, never 0 */
};

/* Seeds the built-in generator from getrandom(2), falling back to the
 * clocks and the pid: jitter needs spread between processes, not
 * secrecy. */
void br_retry_rng_init(struct br_retry_rng *rng);
/* Seeds the built-in generator with a fixed value (reproducible runs). */
void br_retry_rng_seed(struct br_retry_rng *rng, uint64_t seed);
/* The next 64-bit value from rng. */
uint64_t br_retry_rng_next(struct br_retry_rng *rng);

void br_retry_policy_from_conf(struct br_retry_policy *p,
                               const struct br_conf *conf);

/* The wait before retry number `attempt` (>= 1: the first retry), in ms:
 * full jitter, uniform in [base, min(cap, base * 2^(attempt-1))], then
 * raised to retry_after_s * 1000 (clamped to max_retry_after) when
 * retry_after_s > 0.  Retry-After is honoured even above max_backoff; 0 (a
 * date in the past) or -1 (absent) raise nothing.  Overflow-safe for any
 * attempt. */
int64_t br_retry_delay_ms(const struct br_retry_policy *p,
                          struct br_retry_rng *rng, int attempt,
                          long retry_after_s);

/* After a failed attempt: retry, or give up.  attempts = attempts made so
 * far (>= 1); first_attempt_us and now_us are monotonic.
 *
 * Gives up (returns 0) when max_attempts > 0 and attempts >= max_attempts,
 * or when max_age > 0 and now - first >= max_age.  Otherwise returns 1
 * with *due_us = now + br_retry_delay_ms(attempts), except that a due past
 * first + max_age is pulled back to that deadline (never before now): the
 * last try then lands on the deadline and its failure gives up, so a
 * record gets its verdict within max_age plus one request, and a long
 * Retry-After cannot hold it past the operator's limit. */
int br_retry_next(const struct br_retry_policy *p, struct br_retry_rng *rng,
                  int attempts, int64_t first_attempt_us, int64_t now_us,
                  long retry_after_s, int64_t *due_us);

/* Per-endpoint circuit breaker.
 *
 * CLOSED: requests flow; consecutive failures are counted.  OPEN: nothing
 * goes until open_until_us.  HALF_OPEN: exactly one probe is out; its
 * success closes, its failure reopens with the next, longer backoff.
 *
 * What counts: a transport error, timeout, 408/425/429/5xx (a RETRY
 * outcome) is a failure; any answer the endpoint gave on purpose
 * (DELIVERED, PERMANENT, OUTAGE) is a success.
 *
 * Outage mode (br_circuit_outage) is the same machine with a fixed probe
 * interval instead of the backoff, for one storage unit whose setup is
 * wrong: records are held, one probe goes every interval, a success ends
 * it.  Functions that change the state return 1 when they did, so the
 * caller logs once per change. */
enum br_circuit_state {
        BR_CIRCUIT_CLOSED,
        BR_CIRCUIT_OPEN,
        BR_CIRCUIT_HALF_OPEN
};

struct br_circuit {
        int state;                 /* enum br_circuit_state */
        int failures;              /* consecutive, while closed */
        int opens;                 /* consecutive opens: the backoff step */
        int64_t open_until_us;     /* OPEN: when a probe may go */
        int probe_in_flight;       /* HALF_OPEN: the probe is out */
        int64_t probe_interval_us; /* > 0: outage mode, fixed interval */
};

void br_circuit_init(struct br_circuit *c);
/* May a request start now?  CLOSED: yes.  OPEN and due: yes, once, and
 * the circuit goes HALF_OPEN with that request as its probe.  Otherwise
 * no. */
int br_circuit_allow(struct br_circuit *c, int64_t now_us);
/* Closes (and leaves outage mode).  Returns 1 when the state changed. */
int br_circuit_success(struct br_circuit *c);
/* Counts a failure.  CLOSED: opens after threshold consecutive failures
 * (threshold <= 0: never).  HALF_OPEN: reopens at once.  OPEN: nothing
 * (late answers of requests started before it opened).  The open period
 * is br_retry_delay_ms(opens, retry_after_s), or the outage interval.
 * Returns 1 when it opened from CLOSED. */
int br_circuit_failure(struct br_circuit *c, const struct br_retry_policy *p,
                       struct br_retry_rng *rng, int threshold, int64_t now_us,
                       long retry_after_s);
/* Enters (or stays in) outage mode: open, next probe at now + interval.
 * Returns 1 when it entered (the state change to report). */
int br_circuit_outage(struct br_circuit *c, int64_t now_us,
                      int64_t interval_us);
/* The probe ended without a verdict (cancelled, shut down): the next
 * allow() may send another one. */
void br_circuit_release(struct br_circuit *c);
/* When a request may go, for the loop's timeout: open_until_us while
 * OPEN, now-or-earlier (0) in HALF_OPEN without a probe, and -1 when no
 * timer is needed (CLOSED: requests flow; probe out: its end wakes the
 * loop). */
int64_t br_circuit_next_us(const struct br_circuit *c);
/* In outage mode? */
int br_circuit_in_outage(const struct br_circuit *c);

#endif
