/* Small shared helpers: clocks. */
#ifndef BR_UTIL_H
#define BR_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in microseconds. */
int64_t br_now_us(void);
/* Wall clock in microseconds since the epoch. */
int64_t br_wallclock_us(void);
/* RFC 3339 UTC with milliseconds, e.g. 2026-12-03T17:37:42.123Z. */
void br_rfc3339(int64_t wall_us, char *buf, size_t size);

#endif
