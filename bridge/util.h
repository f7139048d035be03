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

/* UTF-8 per RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequence.  Returns len when s[0..len) is valid,
 * else the offset of the first byte of the first bad sequence. */
size_t br_utf8_check(const char *s, size_t len);
/* Length a sequence starting with lead byte should have (1..4), or 0 for
 * a byte that cannot start one. */
size_t br_utf8_seq_len(unsigned char lead);
/* Length of the valid sequence at s (1..4), or 0: invalid or cut short. */
size_t br_utf8_seq(const char *s, size_t n);

#endif
