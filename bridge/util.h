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

/* Standard base64 with padding (RFC 4648 section 4).  Both return a
 * malloc'd buffer (NUL-terminated) with its length, or NULL on allocation
 * failure; decode also returns NULL for input that is not base64. */
char *br_base64_encode(const void *data, size_t len, size_t *out_len);
void *br_base64_decode(const char *text, size_t len, size_t *out_len);

#endif
